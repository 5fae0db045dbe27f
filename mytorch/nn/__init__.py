"""Neural-network building blocks: Module, Linear, activations, Sequential."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from . import functional


class Parameter(Tensor):
    """A Tensor that a Module trains (requires_grad=True)."""

    __slots__ = ()

    def __init__(self, data: Any, name: str | None = None) -> None:
        super().__init__(data, requires_grad=True, name=name)


class Module:
    """Base class: sub-modules and Parameters assigned as attributes are found automatically."""

    training: bool = True

    def forward(self, *args: Any) -> Tensor:
        raise NotImplementedError

    def __call__(self, *args: Any) -> Tensor:
        return self.forward(*args)

    def children(self) -> Iterator[Module]:
        for value in vars(self).values():
            if isinstance(value, Module):
                yield value
            elif isinstance(value, list | tuple):
                yield from (v for v in value if isinstance(v, Module))

    def parameters(self) -> list[Parameter]:
        found: list[Parameter] = []
        for value in vars(self).values():
            if isinstance(value, Parameter):
                found.append(value)
        for child in self.children():
            found.extend(child.parameters())
        return found

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)


class Linear(Module):
    """y = x @ W + b, with W of shape (in_features, out_features).

    W is stored (in, out) rather than PyTorch's (out, in) so the forward pass needs no
    transpose. Initialised like PyTorch: uniform in ±1/sqrt(in_features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        # BEGIN EXERCISE 05-networks (Linear)
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(
            rng.uniform(-bound, bound, (in_features, out_features)).astype(dtype), name="W"
        )
        self.bias = (
            Parameter(rng.uniform(-bound, bound, out_features).astype(dtype), name="b")
            if bias
            else None
        )
        # END EXERCISE

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN EXERCISE 05-networks (Linear)
        if self.bias is not None and x.ndim == 2:
            return ops.affine(x, self.weight, self.bias)  # the common case, as one op
        out = x @ self.weight
        return out + self.bias if self.bias is not None else out
        # END EXERCISE

    def __repr__(self) -> str:
        n_in, n_out = self.weight.shape
        return f"Linear({n_in}, {n_out}, bias={self.bias is not None})"


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x)

    def __repr__(self) -> str:
        return "ReLU()"


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)

    def __repr__(self) -> str:
        return "Sigmoid()"


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)

    def __repr__(self) -> str:
        return "Tanh()"


class Sequential(Module):
    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


__all__ = ["Linear", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh", "functional"]
