"""Optimisers."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .tensor import Tensor


class SGD:
    """Stochastic gradient descent with optional momentum and (L2) weight decay.

    Update: g = grad + weight_decay * p;  v = momentum * v + g;  p -= lr * v.
    Parameters are updated in place (``p.data``), outside any graph.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        if lr <= 0:
            raise ValueError(f"SGD: lr must be positive, got {lr}")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self._velocity: list[np.ndarray | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay or self.momentum:
                g = self._decay_and_momentum(i, p, g)
            # BEGIN EXERCISE 01-derivatives (gradient_descent)
            p.data -= self.lr * g
            # END EXERCISE

    def _decay_and_momentum(self, i: int, p: Tensor, g: np.ndarray) -> np.ndarray:
        """The step direction: the gradient plus decay, averaged into the velocity."""
        # BEGIN EXERCISE 05-networks (SGD with momentum and weight decay)
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        if self.momentum:
            v = self._velocity[i]
            v = g.copy() if v is None else self.momentum * v + g
            self._velocity[i] = v
            g = v
        return g
        # END EXERCISE
