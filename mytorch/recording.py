"""Grad mode and the operation list (the tape).

* Every differentiable op that runs while recording is on, **and has an input that needs
  a gradient**, appends an ``Operation`` record (op, input tensors, output tensor) to the
  global ``OperationList``. (An op whose inputs need no gradient is not recorded: nothing
  could flow back through it.) Records are appended in call order, so the list is already
  a topological order: backward is one reverse walk over it, with no recursion.

Lifecycle (documented in the book's engine chapter and tested in tests/test_lifecycle.py)
---------------------------------------------------------------------------------------
* A tensor owns the record that made it; the tape only holds weak references to records.
  So a graph lives exactly as long as its tensors, and an evaluation loop that forgets
  ``no_grad()`` frees each graph when its tensors go away: memory stays bounded.
* Nothing is a singleton, so re-running a notebook cell just builds a new graph.
* ``mytorch.use_engine(add_operation=...)`` plugs in another ``add_operation`` (assignment 3
  writes its own): ``OperationList.add_operation`` then hands every call to it.
"""

from __future__ import annotations

import bisect
import itertools
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ops import Op
    from .tensor import Tensor


class _GradMode:
    """Whether new operations are recorded on the tape."""

    enabled: bool = True


class _SetGradMode:
    """A with-block that sets grad mode and restores the previous mode on exit.

    (A small class rather than a @contextmanager generator: backward enters one per pass,
    and the class costs a fraction of the generator machinery.)
    """

    __slots__ = ("enabled", "previous")

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.previous = _GradMode.enabled

    def __enter__(self) -> None:
        self.previous = _GradMode.enabled
        _GradMode.enabled = self.enabled

    def __exit__(self, *exc_info: object) -> None:
        _GradMode.enabled = self.previous


def no_grad() -> _SetGradMode:
    """Run a block without recording operations (evaluation, optimizer steps)."""
    return _SetGradMode(False)


def enable_grad() -> _SetGradMode:
    """Record operations inside the block, even within ``no_grad()``."""
    return _SetGradMode(True)


def is_grad_enabled() -> bool:
    return _GradMode.enabled


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

    @classmethod
    def new(cls, op: Op, inputs: tuple[Tensor, ...], output: Tensor) -> Operation:
        """The record of ``output = op(*inputs)``, not yet on any list (``seq`` is -1)."""
        return cls(op, tuple(inputs), weakref.ref(output), output.slot, -1)


class PluggedEngine:
    """The engine pieces a student plugged in with ``mytorch.use_engine`` (None: the library's).

    Assignment 3 writes the engine's core in its notebook: ``add_operation(tape, op, inputs,
    output)`` (called for every op that runs) and ``backward(tensor, out_grad)`` (called by
    ``Tensor.backward``). Its student edition of mytorch leaves the library's own out.
    """

    add_operation: Callable[[OperationList, Op, tuple[Tensor, ...], Tensor], Any] | None = None
    backward: Callable[[Tensor, Any], None] | None = None


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

    def add_operation(self, op: Op, inputs: tuple[Tensor, ...], output: Tensor) -> Operation | None:
        """Record ``output = op(*inputs)`` at the end of the list and return the record, or
        return None and record nothing: under ``no_grad()``, or when no input needs a
        gradient (nothing could flow back through the op). ``Op.__call__`` calls it for
        every op that runs."""
        if PluggedEngine.add_operation is not None:  # the student's, from use_engine()
            return PluggedEngine.add_operation(self, op, inputs, output)
        # The library's checks stay in every student edition, so that arithmetic on constants
        # and under no_grad() runs without an engine (assignments 1 and 2 need it).
        if not _GradMode.enabled:
            return None
        for t in inputs:
            if t.requires_grad:
                break
        else:
            return None
        # BEGIN EXERCISE 03-engine add_operation
        return self.append(Operation.new(op, inputs, output))
        # END EXERCISE 03-engine add_operation

    def append(self, record: Operation) -> Operation:
        """Put ``record`` at the end of the list (it gets the next sequence number)."""
        record.seq = next(self._seq)
        self._refs.append(weakref.ref(record))  # weak: the output tensor owns the record
        self._seqs.append(record.seq)
        if len(self._refs) >= self._prune_at:
            self.prune()
        return record

    def until(self, tensor: Tensor) -> list[Operation]:
        """The live records up to and including the one that made ``tensor``, in call
        order ([] for a tensor no recorded op made)."""
        if tensor.record is None or tensor.record.seq < 0:
            return []
        end = bisect.bisect_right(self._seqs, tensor.record.seq)
        return [record for ref in self._refs[:end] if (record := ref()) is not None]

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
