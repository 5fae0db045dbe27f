"""Linear algebra: matrix products (batched, broadcast, 1-D) and the affine map."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .base import Op, unbroadcast


def _swap_last(t: Tensor) -> Tensor:
    return t.transpose(-1, -2)


class MatMul(Op):
    """Matrix product with numpy's rules: batched, broadcast batch dims, 1-D operands."""

    symbol = "@"

    def compute(self, a, b):
        return np.matmul(a, b)

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        a, b = node.inputs
        if a.ndim == 2 and b.ndim == 2:  # the common case, without reshapes
            return (
                out_grad @ b.T if a.requires_grad else None,
                a.T @ out_grad if b.requires_grad else None,
            )
        # View 1-D operands as matrices, as numpy does, then undo it at the end.
        a2 = a.reshape((1, a.shape[0])) if a.ndim == 1 else a
        b2 = b.reshape((b.shape[0], 1)) if b.ndim == 1 else b
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g = out_grad.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        grad_a = grad_b = None
        if a.requires_grad:  # batch axes that a was broadcast along are summed away
            grad_a = unbroadcast(g @ _swap_last(b2), a2.shape).reshape(a.shape)
        if b.requires_grad:
            grad_b = unbroadcast(_swap_last(a2) @ g, b2.shape).reshape(b.shape)
        return grad_a, grad_b
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        (a, b), (da, db) = node.inputs, tangents
        return da @ b + a @ db
        # END EXERCISE


def matmul(a: Any, b: Any) -> Tensor:
    return MatMul()(a, b)


class Affine(Op):
    """x @ W + b in one op (what nn.Linear uses): one record instead of two."""

    symbol = "affine"

    def compute(self, x, weight, bias):
        out = x @ weight
        out += bias  # in place on the fresh product: no extra temporary
        return out

    def gradient(self, out_grad, node):
        # BEGIN EXERCISE 04-tensor-gradients
        x, weight, bias = node.inputs
        return (
            out_grad @ weight.T if x.requires_grad else None,
            x.T @ out_grad if weight.requires_grad else None,
            unbroadcast(out_grad, bias.shape) if bias.requires_grad else None,
        )
        # END EXERCISE

    def tangent(self, tangents, node):
        # BEGIN EXERCISE 06-beyond-backprop
        (x, weight, _), (dx, dweight, dbias) = node.inputs, tangents
        return dx @ weight + x @ dweight + dbias
        # END EXERCISE


def affine(x: Any, weight: Any, bias: Any) -> Tensor:
    """x @ weight + bias for a batch of rows x (batch, in), weight (in, out), bias (out,)."""
    return Affine()(x, weight, bias)
