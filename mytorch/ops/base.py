"""The ``Op`` base class, and the helpers every family of ops shares.

An op is a small class with its rules side by side (the thing students write):

* ``compute(self, *arrays) -> ndarray`` runs the forward pass on plain numpy arrays;
* ``gradient(self, out_grad, node)`` gets the upstream gradient (a Tensor shaped like the
  output) and the output tensor ``node`` (``node.inputs`` are the inputs) and returns one
  gradient per input, each shaped like its input (``None`` for an input needing none);
* ``tangent(self, tangents, node)`` is forward mode: given one tangent per input (a Tensor
  shaped like that input, or zeros for an input that carries none) it returns the output's
  tangent, J v.
* ``symbol`` is how ``mytorch.draw`` labels the op's gate.

Gradients and tangents are built from Tensor operations, so when the engine records the
backward pass (``create_graph=True``) a gradient can itself be differentiated. The built-in
ops un-broadcast their own gradients (``unbroadcast``), so they pass under strict shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..recording import PluggedEngine, _GradMode, tape
from ..tensor import GradientError, Tensor

Axis = int | tuple[int, ...] | None


class Op:
    """Base class for operations. Subclass it; apply it with ``MyOp()(*tensors)``."""

    #: How ``mytorch.draw`` labels this op's gate (default: ``repr(op)``, the class name).
    symbol: str | None = None
    #: Set on ops whose ``compute`` legitimately returns a view of its input (reshape, ...).
    returns_view: bool = False

    def compute(self, *arrays: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.compute() is not written yet")

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor | tuple[Tensor | None, ...]:
        raise NotImplementedError(f"{type(self).__name__}.gradient() is not written yet")

    def tangent(self, tangents: tuple[Tensor, ...], node: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}.tangent() is not written yet")

    def __call__(self, *inputs: Any) -> Tensor:
        for x in inputs:
            if not isinstance(x, Tensor):
                inputs = _lift_constants(inputs)
                break
        data = self.compute(*[t.data for t in inputs])
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        out = Tensor._wrap(data)
        if not _GradMode.enabled and PluggedEngine.add_operation is None:
            return out  # evaluation, plain backward: the library records nothing (fast path)
        record = tape.add_operation(self, inputs, out)  # None: nothing to record
        if record is not None:
            if not self.returns_view:
                self._check_no_alias(data, inputs)
            out.requires_grad = True
            out.record = record
        return out

    def _check_no_alias(self, data: np.ndarray, tensors: tuple[Tensor, ...]) -> None:
        # An output that is an input, or a view of one, means compute() returned (and maybe
        # modified in place) its input: the value gradient() needs would be corrupted.
        # Comparing the arrays that own the memory is enough, and much cheaper than
        # np.may_share_memory on every recorded op.
        owner = data if data.base is None else data.base
        for index, t in enumerate(tensors):
            if owner is t.data or owner is t.data.base:
                raise GradientError(
                    f"{type(self).__name__}.compute() returned an array that shares memory "
                    f"with input {index} (shape {t.shape}). Return a new array (e.g. "
                    "a + b instead of a += b; .copy() for an identity)."
                )

    def __repr__(self) -> str:
        return type(self).__name__


def _lift_constants(inputs: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Constants take the dtype of the first float tensor (no upcast), else become float64."""
    dtype = None
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            dtype = x.dtype
            break
    return tuple([x if isinstance(x, Tensor) else Tensor(x, dtype=dtype) for x in inputs])


def const(array: Any) -> Tensor:
    """A constant tensor (no gradient) around a numpy array."""
    return Tensor._wrap(np.asarray(array))


def normalized_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative axes (None: all of them)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim if ndim else a for a in axis)


def keepdims_shape(shape: tuple[int, ...], axis: Axis) -> tuple[int, ...]:
    """The shape of a reduction over ``axis`` with keepdims=True."""
    axes = normalized_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape``.

    Broadcasting copies an input along new or length-1 axes; the adjoint of a copy is a
    sum. Built from differentiable ops, so it also works while gradients are recorded.
    """
    # BEGIN EXERCISE 04-tensor-gradients unbroadcast
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    leading = tuple(range(extra))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    if leading:  # axes that broadcasting prepended: sum them away
        grad = grad.sum(axis=leading)
    if stretched:  # axes of length 1 that broadcasting stretched: sum, keep the 1
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
    # END EXERCISE
