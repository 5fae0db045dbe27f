"""Ops along axes: sum, mean, max, logsumexp, softmax, log_softmax.

``axis`` may be an int, a tuple of ints (negative ones count from the end) or None (all
axes). The gradient of a reduction spreads ``out_grad`` back over the reduced axes:
reshape it to the keepdims shape, then broadcast it to the input's shape.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .base import Axis, Op, const, keepdims_shape, normalized_axes


class Reduction(Op):
    """An op that reduces over ``axis`` (None: all axes), keeping them as 1s if asked."""

    def __init__(self, axis: Axis = None, keepdims: bool = False) -> None:
        self.axis, self.keepdims = axis, keepdims

    def kept(self, t: Tensor, like: Tensor) -> Tensor:
        """``t`` (shaped like the output) reshaped as if reduced with keepdims=True."""
        return t.reshape(keepdims_shape(like.shape, self.axis))


class Sum(Reduction):
    symbol = "Σ"

    def compute(self, a):
        return a.sum(axis=self.axis, keepdims=self.keepdims)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        (a,) = node.inputs
        return (self.kept(out_grad, a).expand(a.shape),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0].sum(self.axis, self.keepdims)
        # END EXERCISE


def sum(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Sum(axis, keepdims)(a)


class Mean(Reduction):
    symbol = "mean"

    def compute(self, a):
        return a.mean(axis=self.axis, keepdims=self.keepdims)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        (a,) = node.inputs
        count = a.size // node.size if node.size else 1  # elements averaged per output
        return (self.kept(out_grad, a).expand(a.shape) / float(count),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0].mean(self.axis, self.keepdims)
        # END EXERCISE


def mean(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return Mean(axis, keepdims)(a)


class Max(Reduction):
    """Max over axes; tied maxima share the gradient equally."""

    symbol = "max"

    def compute(self, a):
        return a.max(axis=self.axis, keepdims=self.keepdims)

    def winners(self, node: Tensor) -> Tensor:
        """1/k at each of the k places that hold the maximum, 0 elsewhere."""
        a = node.inputs[0].data
        won = (a == node.data.reshape(keepdims_shape(a.shape, self.axis))).astype(a.dtype)
        return const(won / won.sum(axis=normalized_axes(self.axis, a.ndim), keepdims=True))

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (self.kept(out_grad, node.inputs[0]) * self.winners(node),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return (tangents[0] * self.winners(node)).sum(self.axis, self.keepdims)
        # END EXERCISE


def max(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Max(axis, keepdims)(a)


class LogSumExp(Reduction):
    symbol = "lse"

    def compute(self, a):
        # Subtract the max so exp never overflows.
        top = np.max(a, axis=self.axis, keepdims=True)
        out = np.log(np.sum(np.exp(a - top), axis=self.axis, keepdims=True)) + top
        return out if self.keepdims else out.reshape(np.sum(a, axis=self.axis).shape)

    def softmax(self, node: Tensor) -> Tensor:
        """d logsumexp(a) / da = softmax(a) = exp(a - logsumexp(a))."""
        (a,) = node.inputs
        return (a - self.kept(node, a)).exp()

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (self.kept(out_grad, node.inputs[0]) * self.softmax(node),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return (tangents[0] * self.softmax(node)).sum(self.axis, self.keepdims)
        # END EXERCISE


def logsumexp(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(a))) over ``axis``, computed without overflow."""
    return LogSumExp(axis, keepdims)(a)


class Softmax(Op):
    symbol = "softmax"

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def compute(self, a):
        shifted = np.exp(a - np.max(a, axis=self.axis, keepdims=True))
        return shifted / np.sum(shifted, axis=self.axis, keepdims=True)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        s = node
        return (s * (out_grad - (out_grad * s).sum(self.axis, keepdims=True)),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        s, (da,) = node, tangents
        return s * (da - (s * da).sum(self.axis, keepdims=True))
        # END EXERCISE


def softmax(a: Tensor, axis: int = -1) -> Tensor:
    return Softmax(axis)(a)


class LogSoftmax(Op):
    symbol = "log softmax"

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def compute(self, a):
        top = np.max(a, axis=self.axis, keepdims=True)
        return a - (np.log(np.sum(np.exp(a - top), axis=self.axis, keepdims=True)) + top)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad - node.exp() * out_grad.sum(self.axis, keepdims=True),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        (da,) = tangents
        return da - (node.exp() * da).sum(self.axis, keepdims=True)
        # END EXERCISE


def log_softmax(a: Tensor, axis: int = -1) -> Tensor:
    return LogSoftmax(axis)(a)
