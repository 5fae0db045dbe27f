"""Tensor: an n-dimensional array that remembers the operation that made it.

This is the bottom layer of the engine. The layers, each importing only those below it::

    tensor      Tensor, GradientError                       (this file)
    recording   grad mode (no_grad) and the operation list (the tape)
    ops         the operations, one module per family; each op's compute, gradient, tangent
    autograd    the memory buffer, backward, grad, gradient validation, strict shapes
    func        forward mode and friends: jvp, vjp, jacobian, hvp
    check, draw, nn, optim

Every operator and method of ``Tensor`` is written in the class body below. The ops are
built on ``Tensor`` (they take and make tensors), so this file cannot import them when it
loads; the methods reach them at call time through ``_ops()``, the one late import.
(``backward`` likewise reaches ``autograd`` when it is called.)

Names follow PyTorch where PyTorch has the name (``transpose(dim0, dim1)``, ``permute``,
``view``, ``expand``, ``dim=``/``keepdim=``); reductions accept numpy's ``axis=`` and
``keepdims=`` as well.
"""

from __future__ import annotations

import itertools
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .ops import Op
    from .recording import Operation

_slot_counter = itertools.count()

Axis = int | tuple[int, ...] | None


class GradientError(RuntimeError):
    """Something a gradient computation was given or returned cannot be used."""


@cache
def _ops() -> ModuleType:
    """The ops package, imported on first use (it imports this module, so not at load)."""
    from . import ops

    return ops


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    array = np.asarray(data, dtype=dtype)
    if dtype is None and array.dtype.kind != "f":  # kind "f": any float (np.issubdtype is slow)
        array = array.astype(np.float64)  # data without a dtype becomes float64
    return array


def _check_can_require_grad(data: np.ndarray) -> None:
    if not np.issubdtype(data.dtype, np.floating):
        raise GradientError(
            f"only floating-point tensors can require gradients, but this one has dtype "
            f"{data.dtype}. Make it with a float dtype (e.g. dtype=np.float64)."
        )


def _axis(axis: Axis, dim: Axis) -> Axis:
    """numpy's ``axis=`` or PyTorch's ``dim=`` (not both)."""
    if dim is not None:
        if axis is not None:
            raise TypeError("give axis= or dim=, not both")
        return dim
    return axis


def _dims(args: tuple[Any, ...]) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` both mean the tuple (2, 3)."""
    if len(args) == 1 and isinstance(args[0], tuple | list):
        return tuple(args[0])
    return tuple(args)


class Tensor:
    """An n-dimensional array that remembers the operation that made it."""

    __slots__ = ("data", "requires_grad", "grad", "name", "slot", "record", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data: np.ndarray = _as_array(data, dtype)
        if requires_grad:
            _check_can_require_grad(self.data)
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.name = name
        self.slot = next(_slot_counter)  # the tensor's key in the memory buffer
        self.record: Operation | None = None

    @classmethod
    def _wrap(cls, data: np.ndarray, requires_grad: bool = False) -> Tensor:
        """Fast constructor for engine-made arrays (no conversion, no checks)."""
        tensor = object.__new__(cls)
        tensor.data = data
        tensor.requires_grad = requires_grad
        tensor.grad = None
        tensor.name = None
        tensor.slot = next(_slot_counter)
        tensor.record = None
        return tensor

    # --- basic properties -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self.record is None

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        """The tensors this one was computed from (empty for a leaf)."""
        return self.record.inputs if self.record is not None else ()

    @property
    def op(self) -> Op | None:
        return self.record.op if self.record is not None else None

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        return Tensor._wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Start (or stop) tracking gradients of this leaf, in place; returns self."""
        if requires_grad:
            _check_can_require_grad(self.data)
        self.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        label = f", name={self.name!r}" if self.name else ""
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        return f"Tensor({body}{grad}{label})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    # Tensors compare elementwise (==, < ...), so hashing cannot follow ==: a tensor hashes
    # by identity, and tensors stay usable as dict keys and in sets, as in PyTorch.
    __hash__ = object.__hash__

    # --- backward ---------------------------------------------------------------------
    def backward(
        self,
        out_grad: Any = None,
        create_graph: bool = False,
        retain_grad: bool = False,
    ) -> None:
        """Reverse-mode differentiation from this tensor; see ``mytorch.autograd.backward``."""
        from .autograd import backward  # a late import, like _ops(): autograd sits above

        backward(self, out_grad, create_graph=create_graph, retain_grad=retain_grad)

    # --- arithmetic operators (constants take the tensor's dtype: never an upcast) ----
    def __add__(self, other: Any) -> Tensor:
        return _ops().add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops().add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops().sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops().sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops().mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops().mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops().div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops().div(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops().matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops().matmul(other, self)

    def __pow__(self, exponent: Any) -> Tensor:
        return _ops().power(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return _ops().power(base, self)

    def __neg__(self) -> Tensor:
        return _ops().neg(self)

    def __abs__(self) -> Tensor:
        return _ops().abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops().getitem(self, index)

    # --- comparisons: bool tensors, never recorded (they have no gradient) ------------
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops().eq(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops().ne(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _ops().lt(self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops().le(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops().gt(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops().ge(self, other)

    # --- elementwise functions --------------------------------------------------------
    def exp(self) -> Tensor:
        return _ops().exp(self)

    def log(self) -> Tensor:
        return _ops().log(self)

    def sin(self) -> Tensor:
        return _ops().sin(self)

    def cos(self) -> Tensor:
        return _ops().cos(self)

    def tanh(self) -> Tensor:
        return _ops().tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops().sigmoid(self)

    def relu(self) -> Tensor:
        return _ops().relu(self)

    def sqrt(self) -> Tensor:
        return _ops().sqrt(self)

    def abs(self) -> Tensor:
        return _ops().abs(self)

    def matmul(self, other: Any) -> Tensor:
        return _ops().matmul(self, other)

    def astype(self, dtype: Any) -> Tensor:
        """This tensor's values in another float dtype (differentiable)."""
        return _ops().cast(self, dtype)

    # --- reductions: numpy's axis=/keepdims= or PyTorch's dim=/keepdim= ----------------
    def sum(
        self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool = False
    ) -> Tensor:
        return _ops().sum(self, _axis(axis, dim), keepdims or keepdim)

    def mean(
        self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool = False
    ) -> Tensor:
        return _ops().mean(self, _axis(axis, dim), keepdims or keepdim)

    def max(
        self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool = False
    ) -> Tensor:
        """The largest values (PyTorch's ``max(dim)`` also returns indices; this does not)."""
        return _ops().max(self, _axis(axis, dim), keepdims or keepdim)

    # --- shapes -----------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``; -1 infers one length."""
        return _ops().reshape(self, _dims(shape))

    def view(self, *shape: Any) -> Tensor:
        """PyTorch's name for reshape (here always a view when numpy can make one)."""
        return _ops().reshape(self, _dims(shape))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two axes, as PyTorch does (use ``permute`` for any order, ``.T`` to reverse)."""
        order = list(range(self.ndim))
        order[dim0], order[dim1] = order[dim1], order[dim0]
        return _ops().transpose(self, tuple(order))

    def permute(self, *dims: Any) -> Tensor:
        """Reorder the axes: ``t.permute(2, 0, 1)`` (numpy's ``transpose(a, axes)``)."""
        return _ops().transpose(self, _dims(dims))

    @property
    def T(self) -> Tensor:  # noqa: N802 (numpy's and PyTorch's name)
        """The axes in reverse order."""
        return _ops().transpose(self, None)

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast to ``shape`` without copying; -1 keeps a length (PyTorch's expand)."""
        target = _dims(shape)
        extra = len(target) - self.ndim
        target = tuple(
            self.shape[i - extra] if n == -1 and i >= extra else n for i, n in enumerate(target)
        )
        return _ops().broadcast_to(self, target)
