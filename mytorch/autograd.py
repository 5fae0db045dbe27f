"""Reverse mode: the memory buffer, backward, ``grad``, and the checks on every gradient.

How it fits together
--------------------
* The tape (``recording.py``) lists the recorded operations in the order they ran, so
  backward is one reverse walk over it, with no recursion.
* During backward a ``MemoryBuffer`` holds one gradient "spot" per tensor on the path
  from the loss. Spots are keyed by the tensor's ``slot`` (a unique integer handed out when
  the tensor is made), never by a numpy data pointer: views share pointers and freed
  addresses get reused. Gradients reaching a tensor from several uses are summed (``+=``).
* Every gradient an op returns is checked before it is used (``checked_gradients``): the
  count, None for an input that needs one, the shape, the dtype, and NaN/inf.

Lifecycle
---------
* Leaf tensors (made by the user, ``requires_grad=True``) accumulate ``.grad`` across
  ``backward()`` calls until zeroed (``zero_grad()`` or ``t.grad = None``).
* Intermediate spots are freed as soon as their gradient has been passed on; only
  ``backward(retain_grad=True)`` keeps them (on each tensor's ``.grad``) for inspection.

Shapes: lenient or strict
-------------------------
By default a gradient that comes back with a broadcast shape (say (4, 3) for an input of
shape (3,)) is summed back to the input's shape. Under ``strict_shapes()`` (or
``backward(..., strict_shapes=True)``, or ``set_strict_shapes(True)``) it is an error that
names the op, the input and both shapes: the check a tensor-gradients assignment needs.
The built-in ops un-broadcast their own gradients, so they pass either way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .ops import cast, unbroadcast
from .recording import Operation, PluggedEngine, enable_grad, no_grad, tape
from .tensor import GradientError, Tensor

# --------------------------------------------------------------------------------------
# Strict shapes
# --------------------------------------------------------------------------------------


class _ShapeMode:
    """Whether a gradient with a broadcast shape is an error (strict) or summed (lenient)."""

    strict: bool = False


def set_strict_shapes(strict: bool) -> None:
    """Make strict shapes the default for every backward pass from now on (or undo it)."""
    _ShapeMode.strict = strict


@contextmanager
def strict_shapes(strict: bool = True) -> Iterator[None]:
    """Inside the block, a ``gradient()`` must return exactly its input's shape."""
    previous = _ShapeMode.strict
    _ShapeMode.strict = strict
    try:
        yield
    finally:
        _ShapeMode.strict = previous


def is_strict_shapes() -> bool:
    return _ShapeMode.strict


# --------------------------------------------------------------------------------------
# The memory buffer
# --------------------------------------------------------------------------------------


class MemoryBuffer:
    """Gradient spots during one backward pass, keyed by tensor slot (never data pointer)."""

    def __init__(self) -> None:
        self.spots: dict[int, Tensor] = {}

    def accumulate(self, slot: int, grad: Tensor) -> None:
        """Add ``grad`` to the spot of the tensor with this slot (open the spot if new)."""
        # BEGIN EXERCISE 03-engine memory_buffer
        if slot in self.spots:  # branching: a tensor used twice receives the sum
            self.spots[slot] = self.spots[slot] + grad
        else:
            self.spots[slot] = grad
        # END EXERCISE 03-engine memory_buffer

    def pop(self, slot: int) -> Tensor | None:
        """Take the gradient out of a spot, freeing it (None if no gradient reached it)."""
        # BEGIN EXERCISE 03-engine memory_buffer
        return self.spots.pop(slot, None)
        # END EXERCISE 03-engine memory_buffer

    def __len__(self) -> int:
        return len(self.spots)

    def __contains__(self, slot: int) -> bool:
        return slot in self.spots


# --------------------------------------------------------------------------------------
# Checking what a gradient() returned
# --------------------------------------------------------------------------------------


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


def checked_gradients(
    record: Operation, grads: Any, check_finite: bool, strict: bool = False
) -> list[Tensor | None]:
    """Validate what a ``gradient()`` returned: count, None-ness, shape, dtype, finiteness.

    Mixed input dtypes (a float32 tensor times a float64 one) give each input a gradient
    of its own dtype, as PyTorch does. When all inputs share a dtype, a gradient of another
    dtype is a bug in ``gradient()`` (a float64 constant upcasting float32) and is reported.
    """
    op_name = type(record.op).__name__
    inputs = record.inputs
    if type(grads) is not tuple and not isinstance(grads, list):
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
        if (  # the common case, first: a Tensor of the input's shape and dtype
            type(grad) is Tensor
            and grad.data.shape == inp.data.shape
            and grad.data.dtype == inp.data.dtype
            and not check_finite
        ):
            checked.append(grad)
            continue
        if grad is None:
            raise GradientError(
                f"{op_name}.gradient() returned None for input {index} (shape {inp.shape}), "
                "but that input requires a gradient."
            )
        if type(grad) is not Tensor:
            grad = _as_grad_tensor(grad, inp)
        if grad.data.shape != inp.data.shape:
            if not _broadcastable_to(inp.shape, grad.shape):
                raise GradientError(
                    f"{op_name}.gradient() returned a gradient of shape {grad.shape} for "
                    f"input {index}, whose shape is {inp.shape}. A gradient must have the "
                    "same shape as its input (did you forget a transpose or a sum?)."
                )
            if strict:
                raise GradientError(
                    f"strict shapes: {op_name}.gradient() returned a gradient of shape "
                    f"{grad.shape} for input {index}, whose shape is {inp.shape}. The input "
                    "was broadcast in the forward pass: sum the gradient over the broadcast "
                    "axes (unbroadcast) before returning it."
                )
            grad = unbroadcast(grad, inp.shape)
        if grad.data.dtype != inp.data.dtype:
            if len({t.data.dtype for t in inputs}) == 1:
                raise GradientError(
                    f"{op_name}.gradient() returned dtype {grad.dtype} for input {index} "
                    f"(shape {inp.shape}), whose dtype is {inp.dtype}. Keep the input's dtype "
                    "(a float64 constant can silently upcast float32)."
                )
            grad = cast(grad, inp.data.dtype)  # mixed inputs: each gets its own dtype back
        if check_finite and not np.isfinite(grad.data).all():
            bad = np.argwhere(~np.isfinite(grad.data))[0]
            raise GradientError(
                f"{op_name}.gradient() returned a non-finite value "
                f"({grad.data[tuple(bad)]}) at index {tuple(int(i) for i in bad)} for input "
                f"{index} (shape {inp.shape}). Check for log(0), division by zero or overflow."
            )
        checked.append(grad)
    return checked


# --------------------------------------------------------------------------------------
# Backward
# --------------------------------------------------------------------------------------


def seed_gradient(tensor: Tensor, out_grad: Any) -> Tensor:
    """The gradient backward starts from: ``out_grad``, or 1 for a scalar."""
    if out_grad is None:
        if tensor.size != 1:
            raise GradientError(
                f"backward() without an out_grad needs a scalar, but this tensor has shape "
                f"{tensor.shape}. Pass out_grad (same shape) or reduce it first (.sum())."
            )
        return Tensor._wrap(np.ones(tensor.shape, tensor.dtype))
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
    strict_shapes: bool | None = None,
) -> None:
    """Walk the tape backwards from ``tensor`` and accumulate leaf gradients into ``.grad``.

    ``create_graph=True`` records the backward pass itself, so the resulting gradients can
    be differentiated again (Hessian-vector products). ``retain_grad=True`` also stores
    every intermediate tensor's gradient on its ``.grad``. ``strict_shapes`` overrides the
    current shape mode for this pass (see the module docstring).

    NaN/inf is checked cheaply on the final leaf gradients; if any is non-finite, the pass
    is replayed with per-op checks so the error names the first op that produced it.
    """
    if not tensor.requires_grad:
        raise GradientError(
            "backward() was called on a tensor that does not require a gradient: no input of "
            "its graph has requires_grad=True (or it was computed under no_grad())."
        )
    if PluggedEngine.backward is not None:  # the student's engine, from use_engine()
        if create_graph or retain_grad or check_finite or strict_shapes:
            raise GradientError(
                "the engine plugged in with mytorch.use_engine() runs backward(out_grad) only; "
                "call mytorch.use_engine() with no arguments to get the library's engine back."
            )
        PluggedEngine.backward(tensor, out_grad)
        return
    seed = seed_gradient(tensor, out_grad)
    strict = _ShapeMode.strict if strict_shapes is None else strict_shapes
    leaf_grads = reverse_walk(tensor, seed, create_graph, retain_grad, check_finite, strict)
    if not check_finite and not all_finite([g.data for _, g in leaf_grads]):
        # Replay with per-op checks to name the culprit (raises); fall through if it doesn't.
        reverse_walk(tensor, seed, create_graph, False, True, strict)
    for leaf, grad in leaf_grads:
        leaf.grad = grad if leaf.grad is None else leaf.grad + grad


def use_engine(add_operation: Callable | None = None, backward: Callable | None = None) -> None:
    """Plug your own engine core into mytorch (assignment 3); no arguments: the library's.

    ``add_operation(tape, op, inputs, output)`` is then called for every op that runs (it
    returns the record it appended to ``tape``, or None when nothing is recorded), and
    ``backward(tensor, out_grad)`` by every ``tensor.backward(out_grad)``. Everything built on
    them (graphs, layers, optimizers, training) then runs on your code. Give both: each is
    also used on its own, and a piece left out is the library's.
    """
    PluggedEngine.add_operation = add_operation
    PluggedEngine.backward = backward


def plugged_engine() -> tuple[Callable | None, Callable | None]:
    """What ``use_engine`` last plugged in: (add_operation, backward); None: the library's."""
    return PluggedEngine.add_operation, PluggedEngine.backward


def all_finite(arrays: Iterable[np.ndarray]) -> bool:
    """True if no entry of any array is NaN or inf: one fast read pass, no temporaries.

    A NaN or inf entry makes the dot product of an array with itself NaN or inf. The dot
    product runs in BLAS, about twice as fast as ``sum`` and ``isfinite(...).all()``. A
    finite array whose squares overflow also gives inf (silently): the caller's exact
    check then finds nothing, so that only costs time.
    """
    with np.errstate(over="ignore"):
        for array in arrays:
            flat = array.reshape(-1)  # a view when the array is contiguous
            if not math.isfinite(np.dot(flat, flat)):  # math: faster on one number
                return False
    return True


def _norm(t: Tensor | None) -> float | None:
    return None if t is None else float(np.linalg.norm(t.data))


#: Called after each op's gradients are delivered: (record, buffer). Used for pictures.
Observer = Callable[[Operation, MemoryBuffer], None]


def reverse_walk(
    tensor: Tensor,
    seed: Tensor,
    create_graph: bool = False,
    retain_grad: bool = False,
    check_finite: bool = False,
    strict: bool = False,
    record_norms: bool = False,
    observer: Observer | None = None,
) -> list[tuple[Tensor, Tensor]]:
    """The reverse walk from ``tensor``; returns (leaf, gradient) pairs, .grad untouched."""
    buffer = MemoryBuffer()
    leaf_spots: dict[int, tuple[Tensor, Tensor]] = {}

    def deliver(target: Tensor, grad: Tensor) -> None:
        if target.record is None:  # a leaf: its gradient is a result, not a spot
            previous = leaf_spots.get(target.slot)
            leaf_spots[target.slot] = (target, grad if previous is None else previous[1] + grad)
        else:
            buffer.accumulate(target.slot, grad)

    with enable_grad() if create_graph else no_grad():
        deliver(tensor, seed)
        if tensor.record is not None:
            # BEGIN EXERCISE 03-engine reverse_walk
            for record in tape.reversed_from(tensor.record.seq):
                out_grad = buffer.pop(record.output_slot)  # frees the spot
                if out_grad is None:  # not on the path from `tensor`
                    continue
                node = record.output
                if retain_grad and node is not None:
                    node.grad = out_grad
                grads = record.op.gradient(out_grad, node)
                grads = checked_gradients(record, grads, check_finite, strict)
                if record_norms:
                    record.grad_norms = (_norm(out_grad), [_norm(g) for g in grads])
                for inp, grad in zip(record.inputs, grads, strict=True):
                    if grad is not None:
                        deliver(inp, grad)
                if observer is not None:
                    observer(record, buffer)
                if not buffer.spots:  # every gradient has reached a leaf
                    break
            # END EXERCISE 03-engine reverse_walk
    return list(leaf_spots.values())


def grad(
    output: Tensor,
    inputs: Sequence[Tensor],
    out_grad: Any = None,
    create_graph: bool = False,
    strict_shapes: bool | None = None,
) -> list[Tensor]:
    """Gradients of ``output`` w.r.t. ``inputs`` without touching anyone's ``.grad``.

    With ``create_graph=True`` the results are recorded and can be differentiated again,
    e.g. a Hessian-vector product: ``g = grad(f, [x], create_graph=True)[0]``, then
    ``grad((g * v).sum(), [x])[0]`` is H v.
    """
    if not output.requires_grad:
        raise GradientError("grad(): the output does not depend on anything with requires_grad")
    for x in inputs:
        if not x.is_leaf:
            raise GradientError("grad(): inputs must be leaf tensors (made by you, not by an op)")
    seed = seed_gradient(output, out_grad)
    strict = _ShapeMode.strict if strict_shapes is None else strict_shapes
    walked = reverse_walk(output, seed, create_graph, False, True, strict)
    leaf_grads = {leaf.slot: g for leaf, g in walked}
    return [leaf_grads.get(x.slot, Tensor._wrap(np.zeros_like(x.data))) for x in inputs]


def graph_operations(root: Tensor) -> list[Operation]:
    """The records that ``root`` depends on, in tape (forward) order."""
    seen: set[int] = set()
    records: list[Operation] = []
    stack = [root]
    while stack:
        t = stack.pop()
        if t.record is None or id(t.record) in seen:
            continue
        seen.add(id(t.record))
        records.append(t.record)
        stack.extend(t.record.inputs)
    records.sort(key=lambda r: r.seq)
    return records


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

    reverse_walk(output, seed_gradient(output, out_grad), observer=observe)
    return snapshots
