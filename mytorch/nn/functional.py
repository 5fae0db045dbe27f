"""Losses and helpers for training: fused softmax cross-entropy, MSE, weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..ops import Op, softmax
from ..recording import is_grad_enabled
from ..tensor import Tensor


class SoftmaxCrossEntropy(Op):
    """mean_i [ logsumexp(z_i) - z_i[y_i] ] for integer targets y, in one stable op.

    Fusing avoids ever forming log(softmax) separately, where a tiny probability would
    underflow to 0 and its log to -inf (the ln(1 + e^-x) overflow, in another guise).
    """

    symbol = "CE"

    def __init__(self, targets: np.ndarray) -> None:
        self.targets = np.asarray(targets, dtype=np.intp)

    def compute(self, logits):
        if logits.ndim != 2 or self.targets.shape != (logits.shape[0],):
            raise ValueError(
                f"cross_entropy expects logits (batch, classes) and integer targets (batch,); "
                f"got logits {logits.shape} and targets {self.targets.shape}"
            )
        rows = np.arange(logits.shape[0])
        shifted = logits - logits.max(axis=1, keepdims=True)  # so that exp cannot overflow
        exps = np.exp(shifted)
        totals = exps.sum(axis=1, keepdims=True)
        # Kept for the fast gradient below: softmax comes for free from the forward pass.
        self.probabilities = exps / totals
        losses = np.log(totals[:, 0]) - shifted[rows, self.targets]  # logsumexp(z) - z[y]
        return np.asarray(losses.sum() / len(losses), dtype=logits.dtype)  # the mean

    def _one_hot(self, logits: Tensor) -> Tensor:
        one_hot = np.zeros(logits.shape, dtype=logits.dtype)
        one_hot[np.arange(logits.shape[0]), self.targets] = 1.0
        return Tensor._wrap(one_hot)

    def gradient(self, out_grad, node):
        (logits,) = node.inputs
        batch = logits.shape[0]
        if not is_grad_enabled():  # plain backward: reuse the forward pass's softmax
            grad = self.probabilities.copy()
            grad[np.arange(batch), self.targets] -= 1.0  # softmax - one_hot
            grad *= out_grad.data / batch
            return (Tensor._wrap(grad),)
        # create_graph=True: build the gradient from ops so it can be differentiated again
        return ((softmax(logits, axis=1) - self._one_hot(logits)) * (out_grad / float(batch)),)

    def tangent(self, tangents, node):
        (logits,), (d_logits,) = node.inputs, tangents
        return ((softmax(logits, axis=1) - self._one_hot(logits)) * d_logits).mean(0).sum()


def cross_entropy(logits: Tensor, targets: Any) -> Tensor:
    """Softmax cross-entropy of (batch, classes) logits against integer class targets."""
    if isinstance(targets, Tensor):
        targets = targets.data
    return SoftmaxCrossEntropy(targets)(logits)


def mse_loss(prediction: Tensor, target: Any) -> Tensor:
    """Mean squared error."""
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=prediction.dtype))
    diff = prediction - target
    return (diff * diff).mean()


def weight_decay(parameters: Iterable[Tensor], strength: float) -> Tensor:
    """The L2 penalty (strength / 2) * sum ||p||^2, to add to a loss.

    Its gradient is strength * p, the same as ``SGD(weight_decay=strength)``.
    """
    total: Tensor | None = None
    for p in parameters:
        term = (p * p).sum()
        total = term if total is None else total + term
    if total is None:
        return Tensor(0.0)
    return total * (0.5 * strength)
