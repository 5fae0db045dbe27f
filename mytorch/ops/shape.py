"""Ops that move values around without arithmetic: reshape, transpose, broadcast, index.

Each is linear, so its tangent is the op itself applied to the input's tangent, and its
gradient is the op's adjoint: reshape back, the inverse permutation, a sum over the
broadcast axes, a scatter into zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .base import Op, unbroadcast


class Reshape(Op):
    returns_view = True

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def compute(self, a):
        return a.reshape(self.shape)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad.reshape(node.inputs[0].shape),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0].reshape(node.shape)
        # END EXERCISE

    def __repr__(self) -> str:
        return f"Reshape({self.shape})"


def reshape(a: Tensor, shape: tuple[int, ...]) -> Tensor:
    shape = tuple(shape)
    if shape == a.shape:
        return a
    return Reshape(shape)(a)


class Transpose(Op):
    """Permute axes as numpy's ``transpose(a, axes)`` does (default: reverse them)."""

    returns_view = True

    def __init__(self, axes: tuple[int, ...] | None = None) -> None:
        self.axes = axes

    def compute(self, a):
        return a.transpose(self.axes)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        if self.axes is None:
            return (out_grad.T,)
        # The inverse permutation puts axis axes[i] back at place axes[i]. Count negative
        # axes from the end first: argsort of (-1, 0) is not the inverse of (1, 0).
        ndim = out_grad.ndim
        inverse = np.argsort([axis % ndim for axis in self.axes])
        return (out_grad.permute(tuple(int(i) for i in inverse)),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return transpose(tangents[0], self.axes)
        # END EXERCISE

    def __repr__(self) -> str:
        return "Transpose" if self.axes is None else f"Transpose({self.axes})"


def transpose(a: Tensor, axes: tuple[int, ...] | None = None) -> Tensor:
    """numpy's ``transpose``: reorder all axes (default: reverse them).

    PyTorch's ``torch.transpose(a, dim0, dim1)`` swaps two axes; that is the method
    ``a.transpose(dim0, dim1)``. ``a.permute(*axes)`` is this function.
    """
    return Transpose(None if axes is None else tuple(axes))(a)


class BroadcastTo(Op):
    returns_view = True

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def compute(self, a):
        return np.broadcast_to(a, self.shape)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (unbroadcast(out_grad, node.inputs[0].shape),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return broadcast_to(tangents[0], self.shape)
        # END EXERCISE

    def __repr__(self) -> str:
        return f"BroadcastTo({self.shape})"


def broadcast_to(a: Tensor, shape: tuple[int, ...]) -> Tensor:
    if a.shape == tuple(shape):
        return a
    return BroadcastTo(shape)(a)


class GetItem(Op):
    """Indexing ``a[index]``; the gradient scatters back into zeros of ``a``'s shape."""

    returns_view = True

    def __init__(self, index: Any) -> None:
        self.index = index

    def compute(self, a):
        return a[self.index]

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (ScatterAdd(self.index, node.inputs[0].shape)(out_grad),)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return tangents[0][self.index]
        # END EXERCISE


def getitem(a: Tensor, index: Any) -> Tensor:
    """``a[index]``; an index held in a Tensor is used as integers."""
    if isinstance(index, Tensor):
        index = index.data if index.dtype == np.bool_ else index.data.astype(np.intp)
    return GetItem(index)(a)


class ScatterAdd(Op):
    """zeros(shape) with ``values`` added at ``index`` (the adjoint of GetItem)."""

    def __init__(self, index: Any, shape: tuple[int, ...]) -> None:
        self.index, self.shape = index, shape

    def compute(self, values):
        out = np.zeros(self.shape, dtype=values.dtype)
        np.add.at(out, self.index, values)  # add.at so repeated indices accumulate
        return out

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        return (out_grad[self.index],)
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        return ScatterAdd(self.index, self.shape)(tangents[0])
        # END EXERCISE
