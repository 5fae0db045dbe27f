"""Elementwise ops: arithmetic (broadcasting like numpy), functions, casts.

A binary op's inputs may broadcast against each other; its gradient for each input is
summed back to that input's shape with ``unbroadcast`` (forgetting this is the classic
bug that strict shapes catch).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .base import Op, const, unbroadcast


def _needs(node: Tensor, index: int) -> bool:
    """Does input ``index`` of ``node`` want a gradient? Skipping saves whole products."""
    return node.inputs[index].requires_grad


# --- arithmetic -----------------------------------------------------------------------


class Add(Op):
    symbol = "+"

    def compute(self, a, b):
        return a + b

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        a, b = node.inputs
        return unbroadcast(out_grad, a.shape), unbroadcast(out_grad, b.shape)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        da, db = tangents
        return da + db
        # END EXERCISE


def add(a: Any, b: Any) -> Tensor:
    """a + b."""
    return Add()(a, b)


class Sub(Op):
    symbol = "−"

    def compute(self, a, b):
        return a - b

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        a, b = node.inputs
        return (
            unbroadcast(out_grad, a.shape) if a.requires_grad else None,
            unbroadcast(-out_grad, b.shape) if b.requires_grad else None,
        )
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        da, db = tangents
        return da - db
        # END EXERCISE


def sub(a: Any, b: Any) -> Tensor:
    """a - b."""
    return Sub()(a, b)


class Neg(Op):
    symbol = "−x"

    def compute(self, a):
        return -a

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (-out_grad,)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        (da,) = tangents
        return -da
        # END EXERCISE


def neg(a: Any) -> Tensor:
    """-a."""
    return Neg()(a)


class Mul(Op):
    symbol = "×"

    def compute(self, a, b):
        return a * b

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 02-backprop 04-tensor-gradients
        a, b = node.inputs
        return (
            unbroadcast(out_grad * b, a.shape) if a.requires_grad else None,
            unbroadcast(out_grad * a, b.shape) if b.requires_grad else None,
        )
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        a, b = node.inputs
        da, db = tangents
        return da * b + a * db
        # END EXERCISE


def mul(a: Any, b: Any) -> Tensor:
    """a * b."""
    return Mul()(a, b)


class Div(Op):
    symbol = "÷"

    def compute(self, a, b):
        return a / b

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 02-backprop 04-tensor-gradients
        a, b = node.inputs
        return (
            unbroadcast(out_grad / b, a.shape) if a.requires_grad else None,
            # d(a/b)/db = -a/b^2 = -(a/b)/b, and a/b is the output
            unbroadcast(-out_grad * node / b, b.shape) if b.requires_grad else None,
        )
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        (_, b), (da, db) = node.inputs, tangents
        return (da - node * db) / b
        # END EXERCISE


def div(a: Any, b: Any) -> Tensor:
    """a / b."""
    return Div()(a, b)


class PowerScalar(Op):
    """a ** p for a constant exponent p."""

    def __init__(self, exponent: float) -> None:
        self.exponent = exponent

    def compute(self, a):
        return a**self.exponent

    def _derivative(self, a: Tensor) -> Tensor:
        p = self.exponent
        return a * 0.0 if p == 0 else p * a ** (p - 1)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad * self._derivative(node.inputs[0]),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0] * self._derivative(node.inputs[0])
        # END EXERCISE

    def __repr__(self) -> str:
        return f"PowerScalar({self.exponent:g})"


class Pow(Op):
    """a ** b with a tensor exponent (needs a > 0 for the exponent's gradient)."""

    symbol = "**"

    def compute(self, a, b):
        return a**b

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        a, b = node.inputs
        return (
            unbroadcast(out_grad * b * a ** (b - 1.0), a.shape) if a.requires_grad else None,
            unbroadcast(out_grad * node * a.log(), b.shape) if b.requires_grad else None,
        )
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        (a, b), (da, db) = node.inputs, tangents
        return da * b * a ** (b - 1.0) + db * node * a.log()
        # END EXERCISE


def power(a: Any, b: Any) -> Tensor:
    """a ** b: a constant exponent is PowerScalar, a tensor exponent Pow."""
    if isinstance(b, Tensor):
        return Pow()(a, b)
    return PowerScalar(b if isinstance(b, int) else float(b))(a)


# --- functions ----------------------------------------------------------------------------


class Exp(Op):
    symbol = "exp"

    def compute(self, a):
        return np.exp(a)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad * node,)  # the output is exp(a) already
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0] * node
        # END EXERCISE


def exp(a: Any) -> Tensor:
    """e ** a."""
    return Exp()(a)


class Log(Op):
    symbol = "log"

    def compute(self, a):
        return np.log(a)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad / node.inputs[0],)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0] / node.inputs[0]
        # END EXERCISE


def log(a: Any) -> Tensor:
    """The natural logarithm."""
    return Log()(a)


class Sin(Op):
    symbol = "sin"

    def compute(self, a):
        return np.sin(a)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad * node.inputs[0].cos(),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0] * node.inputs[0].cos()
        # END EXERCISE


def sin(a: Any) -> Tensor:
    return Sin()(a)


class Cos(Op):
    symbol = "cos"

    def compute(self, a):
        return np.cos(a)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (-out_grad * node.inputs[0].sin(),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return -tangents[0] * node.inputs[0].sin()
        # END EXERCISE


def cos(a: Any) -> Tensor:
    return Cos()(a)


class Tanh(Op):
    symbol = "tanh"

    def compute(self, a):
        return np.tanh(a)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad * (1.0 - node * node),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0] * (1.0 - node * node)
        # END EXERCISE


def tanh(a: Any) -> Tensor:
    return Tanh()(a)


class Sigmoid(Op):
    symbol = "σ"

    def compute(self, a):
        # Two branches so that neither exp can overflow.
        out = np.empty_like(a)
        positive = a >= 0
        out[positive] = 1.0 / (1.0 + np.exp(-a[positive]))
        exp_a = np.exp(a[~positive])
        out[~positive] = exp_a / (1.0 + exp_a)
        return out

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 02-backprop 04-tensor-gradients
        return (out_grad * node * (1.0 - node),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0] * node * (1.0 - node)
        # END EXERCISE


def sigmoid(a: Any) -> Tensor:
    """1 / (1 + e ** -a), computed without overflow."""
    return Sigmoid()(a)


class ReLU(Op):
    symbol = "relu"

    def compute(self, a):
        return np.maximum(a, 0)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad * const(node.inputs[0].data > 0),)  # a bool mask: no float temporary
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0] * const(node.inputs[0].data > 0)
        # END EXERCISE


def relu(a: Any) -> Tensor:
    """max(a, 0)."""
    return ReLU()(a)


class Sqrt(Op):
    symbol = "√"

    def compute(self, a):
        return np.sqrt(a)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad / (2.0 * node),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0] / (2.0 * node)
        # END EXERCISE


def sqrt(a: Any) -> Tensor:
    return Sqrt()(a)


class Abs(Op):
    """|a|; its derivative at 0 is taken to be 0, as in PyTorch."""

    symbol = "|x|"

    def compute(self, a):
        return np.abs(a)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad * const(np.sign(node.inputs[0].data)),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0] * const(np.sign(node.inputs[0].data))
        # END EXERCISE


def abs(a: Any) -> Tensor:  # noqa: A001 (numpy's and PyTorch's name)
    return Abs()(a)


class Maximum(Op):
    """Elementwise max of two tensors; a tie sends half the gradient each way."""

    symbol = "max"

    def compute(self, a, b):
        return np.maximum(a, b)

    def _share_of_a(self, node: Tensor) -> Tensor:
        a, b = node.inputs[0].data, node.inputs[1].data
        return const(((a > b) + 0.5 * (a == b)).astype(node.dtype))

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 02-backprop 04-tensor-gradients
        a, b = node.inputs
        to_a = self._share_of_a(node)
        return (
            unbroadcast(out_grad * to_a, a.shape) if a.requires_grad else None,
            unbroadcast(out_grad * (1.0 - to_a), b.shape) if b.requires_grad else None,
        )
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        to_a = self._share_of_a(node)
        return tangents[0] * to_a + tangents[1] * (1.0 - to_a)
        # END EXERCISE


def maximum(a: Any, b: Any) -> Tensor:
    return Maximum()(a, b)


class Cast(Op):
    """The same values in another dtype; the gradient goes back in the input's dtype."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)

    def compute(self, a):
        return a.astype(self.dtype)

    def gradient(self, out_grad, node):
        return (cast(out_grad, node.inputs[0].dtype),)

    def tangent(self, tangents, node):
        return cast(tangents[0], self.dtype)

    def __repr__(self) -> str:
        return f"Cast({self.dtype})"


def cast(a: Tensor, dtype: Any) -> Tensor:
    """``a`` as ``dtype`` (a no-op when it already is)."""
    if a.dtype == np.dtype(dtype):
        return a
    return Cast(dtype)(a)
