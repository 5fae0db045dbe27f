"""The engine core: Tensor, the operation list (tape), the memory buffer and backward.

How it fits together
--------------------
* Every differentiable op that runs while recording is on appends an ``Operation``
  record (op, input tensors, output tensor) to the global ``OperationList``. Records are
  appended in call order, so the list is already a topological order: backward is one
  reverse walk over it, with no recursion.
* During backward a ``MemoryBuffer`` holds one gradient "spot" per tensor on the path
  from the loss. Spots are keyed by the tensor's ``slot`` (a unique integer handed out when
  the tensor is made), never by a numpy data pointer: views share pointers and freed
  addresses get reused. Gradients reaching a tensor from several uses are summed (``+=``).

Lifecycle (documented in the book's engine chapter and tested in tests/test_lifecycle.py)
---------------------------------------------------------------------------------------
* A tensor owns the record that made it; the tape only holds weak references to records.
  So a graph lives exactly as long as its tensors, and an evaluation loop that forgets
  ``no_grad()`` frees each graph when its tensors go away: memory stays bounded.
* Leaf tensors (made by the user, ``requires_grad=True``) accumulate ``.grad`` across
  ``backward()`` calls until zeroed (``zero_grad()`` or ``t.grad = None``).
* Intermediate spots are freed as soon as their gradient has been passed on; only
  ``backward(retain_grad=True)`` keeps them (on each tensor's ``.grad``) for inspection.
* Nothing is a singleton, so re-running a notebook cell just builds a new graph.
"""

from __future__ import annotations

import bisect
import itertools
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .ops import Op

_slot_counter = itertools.count()


class _GradMode:
    """Whether new operations are recorded on the tape."""

    enabled: bool = True


@contextmanager
def no_grad() -> Iterator[None]:
    """Run a block without recording operations (evaluation, optimizer steps)."""
    previous = _GradMode.enabled
    _GradMode.enabled = False
    try:
        yield
    finally:
        _GradMode.enabled = previous


@contextmanager
def enable_grad() -> Iterator[None]:
    previous = _GradMode.enabled
    _GradMode.enabled = True
    try:
        yield
    finally:
        _GradMode.enabled = previous


def is_grad_enabled() -> bool:
    return _GradMode.enabled


# --------------------------------------------------------------------------------------
# The operation list (tape)
# --------------------------------------------------------------------------------------


@dataclass(eq=False, slots=True, weakref_slot=True)
class Operation:
    """One record on the tape: ``output = op(*inputs)``.

    The output tensor owns this record; the record refers back to the output weakly so that
    no reference cycle keeps a graph alive after its tensors are gone.
    """

    op: Op
    inputs: tuple[Tensor, ...]
    output_ref: weakref.ref
    output_slot: int
    seq: int
    # (|out_grad|, [|grad| per input]) from the last backward that measured them
    grad_norms: tuple[float, list[float | None]] | None = None

    @property
    def output(self) -> Tensor | None:
        return self.output_ref()


class OperationList:
    """The tape: operation records in the order they ran.

    Holds weak references only, and drops dead ones now and then, so its length is bounded
    by the number of live graphs, not by how many operations ever ran.
    """

    def __init__(self) -> None:
        self._refs: list[weakref.ref] = []
        self._seqs: list[int] = []  # sequence numbers of _refs, to find a loss's place fast
        self._seq = itertools.count()
        self._prune_at = 1024

    def add_operation(self, op: Op, inputs: tuple[Tensor, ...], output: Tensor) -> Operation:
        record = Operation(op, inputs, weakref.ref(output), output.slot, next(self._seq))
        self._refs.append(weakref.ref(record))
        self._seqs.append(record.seq)
        if len(self._refs) >= self._prune_at:
            self.prune()
        return record

    def prune(self) -> None:
        """Drop references to records whose tensors are gone."""
        live = [(ref, seq) for ref, seq in zip(self._refs, self._seqs, strict=True) if ref()]
        self._refs = [ref for ref, _ in live]
        self._seqs = [seq for _, seq in live]
        self._prune_at = max(1024, 2 * len(self._refs))

    def reversed_from(self, seq: int) -> Iterator[Operation]:
        """Live records with sequence number <= seq, newest first."""
        refs = self._refs
        for position in range(bisect.bisect_right(self._seqs, seq) - 1, -1, -1):
            record = refs[position]()
            if record is not None:
                yield record

    def __iter__(self) -> Iterator[Operation]:
        for ref in self._refs:
            record = ref()
            if record is not None:
                yield record

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def clear(self) -> None:
        """Forget all records (tensors keep their own graphs; this only empties the list)."""
        self._refs.clear()
        self._seqs.clear()


tape = OperationList()


class MemoryBuffer:
    """Gradient spots during one backward pass, keyed by tensor slot (never data pointer)."""

    def __init__(self) -> None:
        self.spots: dict[int, Tensor] = {}

    def accumulate(self, slot: int, grad: Tensor) -> None:
        # Branching: a tensor used twice receives the sum of both gradients.
        if slot in self.spots:
            self.spots[slot] = self.spots[slot] + grad
        else:
            self.spots[slot] = grad

    def pop(self, slot: int) -> Tensor | None:
        return self.spots.pop(slot, None)

    def __len__(self) -> int:
        return len(self.spots)

    def __contains__(self, slot: int) -> bool:
        return slot in self.spots


# --------------------------------------------------------------------------------------
# Tensor
# --------------------------------------------------------------------------------------


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    array = np.asarray(data, dtype=dtype)
    if dtype is None and not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


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
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.name = name
        self.slot = next(_slot_counter)
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

    # --- backward ---------------------------------------------------------------------
    def backward(
        self,
        out_grad: Any = None,
        create_graph: bool = False,
        retain_grad: bool = False,
    ) -> None:
        """Reverse-mode differentiation from this tensor; see ``mytorch.tensor.backward``."""
        backward(self, out_grad, create_graph=create_graph, retain_grad=retain_grad)

    # --- operators (implemented in ops.py, attached there) ------------------------------
    # __add__, __mul__, sum, reshape, ... are added by mytorch.ops to keep this file short.


# --------------------------------------------------------------------------------------
# Backward
# --------------------------------------------------------------------------------------


class GradientError(RuntimeError):
    """A ``gradient()`` returned something the engine cannot use."""


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape``.

    This is the one place where broadcasting is undone. It uses differentiable ops so
    that it also works when gradients are themselves being recorded.
    """
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


def _broadcastable_to(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    if len(small) > len(big):
        return False
    for s, b in zip(reversed(small), reversed(big), strict=False):
        if s != b and s != 1:
            return False
    return True


def _as_grad_tensor(value: Any, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._wrap(value)
    return Tensor._wrap(np.asarray(value, dtype=like.dtype))


def _checked_gradients(record: Operation, grads: Any, check_finite: bool) -> list[Tensor | None]:
    """Validate what a ``gradient()`` returned: count, None-ness, shape, dtype, finiteness."""
    op_name = type(record.op).__name__
    inputs = record.inputs
    if not isinstance(grads, tuple | list):
        grads = (grads,)
    if len(grads) != len(inputs):
        raise GradientError(
            f"{op_name}.gradient() returned {len(grads)} gradient(s) but {op_name} has "
            f"{len(inputs)} input(s); return one gradient per input, in order "
            "(use None for an input that needs no gradient)."
        )
    checked: list[Tensor | None] = []
    for index, inp in enumerate(inputs):
        grad = grads[index]
        if not inp.requires_grad:
            checked.append(None)
            continue
        if grad is None:
            raise GradientError(
                f"{op_name}.gradient() returned None for input {index} (shape {inp.shape}), "
                "but that input requires a gradient."
            )
        if type(grad) is not Tensor:
            grad = _as_grad_tensor(grad, inp)
        if grad.data.shape != inp.data.shape:
            if _broadcastable_to(inp.shape, grad.shape):
                grad = unbroadcast(grad, inp.shape)
            else:
                raise GradientError(
                    f"{op_name}.gradient() returned a gradient of shape {grad.shape} for "
                    f"input {index}, whose shape is {inp.shape}. A gradient must have the "
                    "same shape as its input (did you forget a transpose or a sum?)."
                )
        if grad.data.dtype != inp.data.dtype:
            raise GradientError(
                f"{op_name}.gradient() returned dtype {grad.dtype} for input {index} "
                f"(shape {inp.shape}), whose dtype is {inp.dtype}. Keep the input's dtype "
                "(a float64 constant can silently upcast float32)."
            )
        if check_finite and not np.isfinite(grad.data).all():
            bad = np.argwhere(~np.isfinite(grad.data))[0]
            raise GradientError(
                f"{op_name}.gradient() returned a non-finite value "
                f"({grad.data[tuple(bad)]}) at index {tuple(int(i) for i in bad)} for input "
                f"{index} (shape {inp.shape}). Check for log(0), division by zero or overflow."
            )
        checked.append(grad)
    return checked


def _seed_gradient(tensor: Tensor, out_grad: Any) -> Tensor:
    if out_grad is None:
        if tensor.size != 1:
            raise GradientError(
                f"backward() without an out_grad needs a scalar, but this tensor has shape "
                f"{tensor.shape}. Pass out_grad (same shape) or reduce it first (.sum())."
            )
        return Tensor._wrap(np.ones_like(tensor.data))
    seed = out_grad if isinstance(out_grad, Tensor) else Tensor(out_grad, dtype=tensor.dtype)
    if seed.shape != tensor.shape:
        raise GradientError(
            f"backward(out_grad) got shape {seed.shape}, but the tensor has shape {tensor.shape}."
        )
    return seed


def backward(
    tensor: Tensor,
    out_grad: Any = None,
    create_graph: bool = False,
    retain_grad: bool = False,
    check_finite: bool = False,
) -> None:
    """Walk the tape backwards from ``tensor`` and accumulate leaf gradients into ``.grad``.

    ``create_graph=True`` records the backward pass itself, so the resulting gradients can
    be differentiated again (Hessian-vector products). ``retain_grad=True`` also stores
    every intermediate tensor's gradient on its ``.grad``.

    NaN/inf is checked cheaply on the final leaf gradients; if any is non-finite, the pass
    is replayed with per-op checks so the error names the first op that produced it.
    """
    if not tensor.requires_grad:
        raise GradientError(
            "backward() was called on a tensor that does not require a gradient: no input of "
            "its graph has requires_grad=True (or it was computed under no_grad())."
        )
    seed = _seed_gradient(tensor, out_grad)
    leaf_grads = _reverse_walk(tensor, seed, create_graph, retain_grad, check_finite)
    # One read pass per gradient: any NaN or inf makes the sum NaN or inf. (A finite sum
    # that overflows only triggers the exact replay, which then finds nothing.)
    if not check_finite and not all(np.isfinite(g.data.sum()) for _, g in leaf_grads):
        # Replay with per-op checks to name the culprit (raises); fall through if it doesn't.
        _reverse_walk(tensor, seed, create_graph, False, True)
    for leaf, grad in leaf_grads:
        leaf.grad = grad if leaf.grad is None else leaf.grad + grad


def _norm(t: Tensor | None) -> float | None:
    return None if t is None else float(np.linalg.norm(t.data))


def _reverse_walk(
    tensor: Tensor,
    seed: Tensor,
    create_graph: bool,
    retain_grad: bool,
    check_finite: bool,
    record_norms: bool = False,
    observer: Callable[[Operation, MemoryBuffer], None] | None = None,
) -> list[tuple[Tensor, Tensor]]:
    buffer = MemoryBuffer()
    leaf_spots: dict[int, tuple[Tensor, Tensor]] = {}

    def deliver(target: Tensor, grad: Tensor) -> None:
        if target.record is None:
            if target.slot in leaf_spots:
                leaf_spots[target.slot] = (target, leaf_spots[target.slot][1] + grad)
            else:
                leaf_spots[target.slot] = (target, grad)
        else:
            buffer.accumulate(target.slot, grad)

    with enable_grad() if create_graph else no_grad():
        deliver(tensor, seed)
        if tensor.record is not None:
            for record in tape.reversed_from(tensor.record.seq):
                out_grad = buffer.pop(record.output_slot)  # frees the spot
                if out_grad is None:
                    continue
                node = record.output
                if retain_grad and node is not None:
                    node.grad = out_grad
                grads = record.op.gradient(out_grad, node)
                grads = _checked_gradients(record, grads, check_finite)
                if record_norms:
                    record.grad_norms = (_norm(out_grad), [_norm(g) for g in grads])
                for inp, grad in zip(record.inputs, grads, strict=True):
                    if grad is not None:
                        deliver(inp, grad)
                if observer is not None:
                    observer(record, buffer)
                if not buffer:
                    break
    return list(leaf_spots.values())


def grad(
    output: Tensor,
    inputs: Sequence[Tensor],
    out_grad: Any = None,
    create_graph: bool = False,
) -> list[Tensor]:
    """Gradients of ``output`` w.r.t. ``inputs`` without touching anyone's ``.grad``.

    With ``create_graph=True`` the results are recorded and can be differentiated again,
    e.g. a Hessian-vector product: ``g = grad(f, [x], create_graph=True)[0]``, then
    ``grad((g * v).sum(), [x])[0]`` is H v.
    """
    if not output.requires_grad:
        raise GradientError("grad(): the output does not depend on anything with requires_grad")
    seed = _seed_gradient(output, out_grad)
    leaf_grads = {
        leaf.slot: g for leaf, g in _reverse_walk(output, seed, create_graph, False, True)
    }
    results = []
    for x in inputs:
        if not x.is_leaf:
            raise GradientError("grad(): inputs must be leaf tensors (made by you, not by an op)")
        g = leaf_grads.get(x.slot)
        results.append(g if g is not None else Tensor._wrap(np.zeros_like(x.data)))
    return results


@dataclass
class BufferSnapshot:
    """The memory buffer right after one op's gradient() ran during backward."""

    step: int
    op: str
    spots: dict[int, tuple[int, ...]]  # slot -> shape of the gradient held there
    bytes: int


def trace_backward(output: Tensor, out_grad: Any = None) -> list[BufferSnapshot]:
    """Run a backward pass and record how the memory buffer fills and empties.

    Nothing's ``.grad`` is touched. Useful for pictures of the reverse walk.
    """
    snapshots: list[BufferSnapshot] = []

    def observe(record: Operation, buffer: MemoryBuffer) -> None:
        spots = {slot: g.shape for slot, g in buffer.spots.items()}
        size = sum(g.data.nbytes for g in buffer.spots.values())
        snapshots.append(BufferSnapshot(len(snapshots) + 1, repr(record.op), spots, size))

    seed = _seed_gradient(output, out_grad)
    _reverse_walk(output, seed, False, False, False, observer=observe)
    return snapshots
