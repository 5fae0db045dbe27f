"""Differentiable operations: each op's ``compute`` and ``gradient`` sit side by side.

The contract (the thing students write in the assignments):

* ``compute(self, *arrays) -> ndarray`` runs the forward pass on plain numpy arrays.
* ``gradient(self, out_grad, node) -> one gradient per input`` gets the upstream gradient
  (a Tensor shaped like the output) and the output tensor ``node`` (``node.inputs`` are the
  inputs). It returns a Tensor per input (or ``None`` for an input that needs none).

Gradients are built from Tensor operations, so when the engine records the backward pass
(``create_graph=True``) a gradient can itself be differentiated. If a gradient comes back
with a broadcast shape the engine sums it back to the input's shape (``unbroadcast``), so
no op below has to think about broadcasting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import GradientError, Tensor, _GradMode, tape, unbroadcast

Axis = int | tuple[int, ...] | None


class Op:
    """Base class for operations. Subclass it; apply it with ``MyOp()(*tensors)``."""

    #: Set on ops whose ``compute`` legitimately returns a view of its input (reshape, ...).
    returns_view: bool = False

    def compute(self, *arrays: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.compute() is not written yet")

    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor | tuple[Tensor | None, ...]:
        raise NotImplementedError(f"{type(self).__name__}.gradient() is not written yet")

    def __call__(self, *inputs: Any) -> Tensor:
        tensors = tuple([x if isinstance(x, Tensor) else Tensor(x) for x in inputs])
        data = self.compute(*[t.data for t in tensors])
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        if not _GradMode.enabled:  # evaluation and plain backward: no bookkeeping at all
            return Tensor._wrap(data)
        for t in tensors:
            if t.requires_grad:
                break
        else:
            return Tensor._wrap(data)
        if not self.returns_view:
            self._check_no_alias(data, tensors)
        out = Tensor._wrap(data, True)
        out.record = tape.add_operation(self, tensors, out)
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


def _needs(node: Tensor, index: int) -> bool:
    """Does input ``index`` of ``node`` want a gradient? Skipping saves whole matmuls."""
    return node.inputs[index].requires_grad


def _const(array: np.ndarray) -> Tensor:
    return Tensor._wrap(array)


def _lift(value: Any, like: Tensor) -> Tensor:
    """Turn a Python/numpy constant into a Tensor of ``like``'s dtype (never upcast)."""
    if isinstance(value, Tensor):
        return value
    return Tensor._wrap(np.asarray(value, dtype=like.dtype))


def _axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim if ndim else a for a in axis)


def _keepdims_shape(shape: tuple[int, ...], axis: Axis) -> tuple[int, ...]:
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# --- elementwise arithmetic -----------------------------------------------------------


class Add(Op):
    def compute(self, a, b):
        return a + b

    def gradient(self, out_grad, node):
        return out_grad, out_grad


class Sub(Op):
    def compute(self, a, b):
        return a - b

    def gradient(self, out_grad, node):
        return out_grad, -out_grad if _needs(node, 1) else None


class Neg(Op):
    def compute(self, a):
        return -a

    def gradient(self, out_grad, node):
        return (-out_grad,)


class Mul(Op):
    def compute(self, a, b):
        return a * b

    def gradient(self, out_grad, node):
        a, b = node.inputs
        return (
            out_grad * b if a.requires_grad else None,
            out_grad * a if b.requires_grad else None,
        )


class Div(Op):
    def compute(self, a, b):
        return a / b

    def gradient(self, out_grad, node):
        a, b = node.inputs
        return (
            out_grad / b if a.requires_grad else None,
            -out_grad * node / b if b.requires_grad else None,  # d(a/b)/db = -(a/b)/b
        )


class PowerScalar(Op):
    """a ** p for a constant exponent p."""

    def __init__(self, exponent: float) -> None:
        self.exponent = exponent

    def compute(self, a):
        return a**self.exponent

    def gradient(self, out_grad, node):
        (a,) = node.inputs
        p = self.exponent
        if p == 0:
            return (out_grad * 0.0,)
        return (out_grad * p * a ** (p - 1),)

    def __repr__(self) -> str:
        return f"PowerScalar({self.exponent:g})"


class Pow(Op):
    """a ** b with a tensor exponent (needs a > 0 for the exponent's gradient)."""

    def compute(self, a, b):
        return a**b

    def gradient(self, out_grad, node):
        a, b = node.inputs
        return (
            out_grad * b * a ** (b - 1.0) if a.requires_grad else None,
            out_grad * node * log(a) if b.requires_grad else None,
        )


# --- elementwise functions --------------------------------------------------------------


class Exp(Op):
    def compute(self, a):
        return np.exp(a)

    def gradient(self, out_grad, node):
        return (out_grad * node,)


class Log(Op):
    def compute(self, a):
        return np.log(a)

    def gradient(self, out_grad, node):
        return (out_grad / node.inputs[0],)


class Sin(Op):
    def compute(self, a):
        return np.sin(a)

    def gradient(self, out_grad, node):
        return (out_grad * cos(node.inputs[0]),)


class Cos(Op):
    def compute(self, a):
        return np.cos(a)

    def gradient(self, out_grad, node):
        return (-out_grad * sin(node.inputs[0]),)


class Tanh(Op):
    def compute(self, a):
        return np.tanh(a)

    def gradient(self, out_grad, node):
        return (out_grad * (1.0 - node * node),)


class Sigmoid(Op):
    def compute(self, a):
        # Two branches so that neither exp can overflow.
        out = np.empty_like(a)
        positive = a >= 0
        out[positive] = 1.0 / (1.0 + np.exp(-a[positive]))
        exp_a = np.exp(a[~positive])
        out[~positive] = exp_a / (1.0 + exp_a)
        return out

    def gradient(self, out_grad, node):
        return (out_grad * node * (1.0 - node),)


class ReLU(Op):
    def compute(self, a):
        return np.maximum(a, 0)

    def gradient(self, out_grad, node):
        (a,) = node.inputs
        return (out_grad * _const(a.data > 0),)  # a bool mask: no float temporary


class Maximum(Op):
    """Elementwise max of two tensors; a tie sends half the gradient each way."""

    def compute(self, a, b):
        return np.maximum(a, b)

    def gradient(self, out_grad, node):
        a, b = node.inputs
        dtype = node.dtype
        to_a = (a.data > b.data).astype(dtype) + 0.5 * (a.data == b.data).astype(dtype)
        return out_grad * _const(to_a), out_grad * _const(1.0 - to_a)


# --- reductions ---------------------------------------------------------------------------


class Reduction(Op):
    """An op that reduces over ``axis`` (None: all axes), keeping them as 1s if asked."""

    def __init__(self, axis: Axis = None, keepdims: bool = False) -> None:
        self.axis, self.keepdims = axis, keepdims


class Sum(Reduction):
    def compute(self, a):
        return a.sum(axis=self.axis, keepdims=self.keepdims)

    def gradient(self, out_grad, node):
        shape = node.inputs[0].shape
        return (broadcast_to(out_grad.reshape(_keepdims_shape(shape, self.axis)), shape),)


class Mean(Reduction):
    def compute(self, a):
        return a.mean(axis=self.axis, keepdims=self.keepdims)

    def gradient(self, out_grad, node):
        shape = node.inputs[0].shape
        count = int(np.prod([shape[i] for i in _axes(self.axis, len(shape))]))
        grad = broadcast_to(out_grad.reshape(_keepdims_shape(shape, self.axis)), shape)
        return (grad / float(count),)


class Max(Reduction):
    """Max over axes; tied maxima share the gradient equally."""

    def compute(self, a):
        return a.max(axis=self.axis, keepdims=self.keepdims)

    def gradient(self, out_grad, node):
        (a,) = node.inputs
        keep = _keepdims_shape(a.shape, self.axis)
        winners = (a.data == node.data.reshape(keep)).astype(a.dtype)
        winners /= winners.sum(axis=_axes(self.axis, a.ndim), keepdims=True)
        return (out_grad.reshape(keep) * _const(winners),)


class LogSumExp(Reduction):
    def compute(self, a):
        # Subtract the max so exp never overflows.
        top = np.max(a, axis=self.axis, keepdims=True)
        out = np.log(np.sum(np.exp(a - top), axis=self.axis, keepdims=True)) + top
        return out if self.keepdims else out.reshape(np.sum(a, axis=self.axis).shape)

    def gradient(self, out_grad, node):
        (a,) = node.inputs
        keep = _keepdims_shape(a.shape, self.axis)
        return (out_grad.reshape(keep) * exp(a - node.reshape(keep)),)


class Softmax(Op):
    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def compute(self, a):
        shifted = np.exp(a - np.max(a, axis=self.axis, keepdims=True))
        return shifted / np.sum(shifted, axis=self.axis, keepdims=True)

    def gradient(self, out_grad, node):
        s = node
        return (s * (out_grad - (out_grad * s).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Op):
    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def compute(self, a):
        top = np.max(a, axis=self.axis, keepdims=True)
        return a - (np.log(np.sum(np.exp(a - top), axis=self.axis, keepdims=True)) + top)

    def gradient(self, out_grad, node):
        return (out_grad - exp(node) * out_grad.sum(axis=self.axis, keepdims=True),)


# --- shapes -------------------------------------------------------------------------------


class Reshape(Op):
    returns_view = True

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def compute(self, a):
        return a.reshape(self.shape)

    def gradient(self, out_grad, node):
        return (out_grad.reshape(node.inputs[0].shape),)


class Transpose(Op):
    """Permute axes (default: reverse them, like ``.T``)."""

    returns_view = True

    def __init__(self, axes: tuple[int, ...] | None = None) -> None:
        self.axes = axes

    def compute(self, a):
        return a.transpose(self.axes)

    def gradient(self, out_grad, node):
        if self.axes is None:
            return (out_grad.transpose(),)
        return (out_grad.transpose(tuple(np.argsort(self.axes))),)


class BroadcastTo(Op):
    returns_view = True

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def compute(self, a):
        return np.broadcast_to(a, self.shape)

    def gradient(self, out_grad, node):
        return (unbroadcast(out_grad, node.inputs[0].shape),)


class GetItem(Op):
    """Indexing ``a[index]``; the gradient scatters back into zeros of ``a``'s shape."""

    returns_view = True

    def __init__(self, index: Any) -> None:
        self.index = index

    def compute(self, a):
        return a[self.index]

    def gradient(self, out_grad, node):
        return (ScatterAdd(self.index, node.inputs[0].shape)(out_grad),)


class ScatterAdd(Op):
    """zeros(shape) with ``values`` added at ``index`` (the adjoint of GetItem)."""

    def __init__(self, index: Any, shape: tuple[int, ...]) -> None:
        self.index, self.shape = index, shape

    def compute(self, values):
        out = np.zeros(self.shape, dtype=values.dtype)
        np.add.at(out, self.index, values)  # add.at so repeated indices accumulate
        return out

    def gradient(self, out_grad, node):
        return (out_grad[self.index],)


# --- linear algebra -----------------------------------------------------------------------


def _swap_last(t: Tensor) -> Tensor:
    axes = tuple(range(t.ndim - 2)) + (t.ndim - 1, t.ndim - 2)
    return t.transpose(axes)


class MatMul(Op):
    """Matrix product with numpy's rules: batched, broadcast batch dims, 1-D operands."""

    def compute(self, a, b):
        return np.matmul(a, b)

    def gradient(self, out_grad, node):
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
        if a.requires_grad:
            grad_a = unbroadcast(g @ _swap_last(b2), a2.shape).reshape(a.shape)
        if b.requires_grad:
            grad_b = unbroadcast(_swap_last(a2) @ g, b2.shape).reshape(b.shape)
        return grad_a, grad_b


class Affine(Op):
    """x @ W + b in one op (what nn.Linear uses): one record instead of two, no un-broadcast."""

    def compute(self, x, weight, bias):
        out = x @ weight
        out += bias  # in place on the fresh product: no extra temporary
        return out

    def gradient(self, out_grad, node):
        x, weight, bias = node.inputs
        return (
            out_grad @ weight.T if x.requires_grad else None,
            x.T @ out_grad if weight.requires_grad else None,
            out_grad.sum(axis=0) if bias.requires_grad else None,
        )


# --- functional wrappers (the public API) -------------------------------------------------


def _binary(op: Op, a: Any, b: Any) -> Tensor:
    if not isinstance(a, Tensor):
        a = _lift(a, b) if isinstance(b, Tensor) else Tensor(a)
    if not isinstance(b, Tensor):
        b = _lift(b, a)
    return op(a, b)


_ADD, _SUB, _MUL, _DIV, _NEG, _MATMUL = Add(), Sub(), Mul(), Div(), Neg(), MatMul()
_EXP, _LOG, _SIN, _COS, _TANH, _SIGMOID, _RELU = (
    Exp(),
    Log(),
    Sin(),
    Cos(),
    Tanh(),
    Sigmoid(),
    ReLU(),
)


def add(a: Any, b: Any) -> Tensor:
    return _binary(_ADD, a, b)


def sub(a: Any, b: Any) -> Tensor:
    return _binary(_SUB, a, b)


def mul(a: Any, b: Any) -> Tensor:
    return _binary(_MUL, a, b)


def div(a: Any, b: Any) -> Tensor:
    return _binary(_DIV, a, b)


def neg(a: Tensor) -> Tensor:
    return _NEG(a)


def power(a: Any, b: Any) -> Tensor:
    if isinstance(b, Tensor):
        return _binary(Pow(), a, b)
    return PowerScalar(float(b) if not isinstance(b, int) else b)(a)


def exp(a: Tensor) -> Tensor:
    return _EXP(a)


def log(a: Tensor) -> Tensor:
    return _LOG(a)


def sin(a: Tensor) -> Tensor:
    return _SIN(a)


def cos(a: Tensor) -> Tensor:
    return _COS(a)


def tanh(a: Tensor) -> Tensor:
    return _TANH(a)


def sigmoid(a: Tensor) -> Tensor:
    return _SIGMOID(a)


def relu(a: Tensor) -> Tensor:
    return _RELU(a)


def maximum(a: Any, b: Any) -> Tensor:
    return _binary(Maximum(), a, b)


def matmul(a: Any, b: Any) -> Tensor:
    return _binary(_MATMUL, a, b)


def sum(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Sum(axis, keepdims)(a)


def mean(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return Mean(axis, keepdims)(a)


def max(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Max(axis, keepdims)(a)


def logsumexp(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return LogSumExp(axis, keepdims)(a)


def softmax(a: Tensor, axis: int = -1) -> Tensor:
    return Softmax(axis)(a)


def log_softmax(a: Tensor, axis: int = -1) -> Tensor:
    return LogSoftmax(axis)(a)


def reshape(a: Tensor, shape: tuple[int, ...]) -> Tensor:
    return Reshape(tuple(shape))(a)


def transpose(a: Tensor, axes: tuple[int, ...] | None = None) -> Tensor:
    return Transpose(None if axes is None else tuple(axes))(a)


def broadcast_to(a: Tensor, shape: tuple[int, ...]) -> Tensor:
    if a.shape == tuple(shape):
        return a
    return BroadcastTo(shape)(a)


# --- Tensor methods and operators ------------------------------------------------------


def _reshape_method(self: Tensor, *shape: Any) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    if tuple(shape) == self.shape:
        return self
    return Reshape(tuple(shape))(self)


def _transpose_method(self: Tensor, *axes: Any) -> Tensor:
    if len(axes) == 1 and isinstance(axes[0], tuple | list):
        axes = tuple(axes[0])
    return Transpose(tuple(axes) if axes else None)(self)


def _getitem(self: Tensor, index: Any) -> Tensor:
    if isinstance(index, Tensor):
        index = index.data.astype(np.intp)
    return GetItem(index)(self)


def _operator(op: Op, reflected: bool = False) -> Any:
    """Make a Tensor operator method; constants take the tensor's dtype (never upcast)."""
    if reflected:

        def method(self: Tensor, other: Any) -> Tensor:
            return op(other if isinstance(other, Tensor) else _lift(other, self), self)

    else:

        def method(self: Tensor, other: Any) -> Tensor:
            return op(self, other if isinstance(other, Tensor) else _lift(other, self))

    return method


Tensor.__add__ = _operator(_ADD)
Tensor.__radd__ = _operator(_ADD, reflected=True)
Tensor.__sub__ = _operator(_SUB)
Tensor.__rsub__ = _operator(_SUB, reflected=True)
Tensor.__mul__ = _operator(_MUL)
Tensor.__rmul__ = _operator(_MUL, reflected=True)
Tensor.__truediv__ = _operator(_DIV)
Tensor.__rtruediv__ = _operator(_DIV, reflected=True)
Tensor.__matmul__ = _operator(_MATMUL)
Tensor.__rmatmul__ = _operator(_MATMUL, reflected=True)
Tensor.__pow__ = lambda self, other: power(self, other)
Tensor.__rpow__ = lambda self, other: _binary(Pow(), other, self)
Tensor.__neg__ = lambda self: _NEG(self)
Tensor.__getitem__ = _getitem
Tensor.sum = lambda self, axis=None, keepdims=False: Sum(axis, keepdims)(self)
Tensor.mean = lambda self, axis=None, keepdims=False: Mean(axis, keepdims)(self)
Tensor.max = lambda self, axis=None, keepdims=False: Max(axis, keepdims)(self)
Tensor.reshape = _reshape_method
Tensor.transpose = _transpose_method
Tensor.T = property(lambda self: Transpose(None)(self))
Tensor.exp = lambda self: _EXP(self)
Tensor.log = lambda self: _LOG(self)
Tensor.tanh = lambda self: _TANH(self)
Tensor.sigmoid = lambda self: _SIGMOID(self)
Tensor.relu = lambda self: _RELU(self)
