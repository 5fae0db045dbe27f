"""Drivers of assignment 03-engine: they run in the student's kernel (shipped as source).

Each driver calls one piece of the student's engine on one probe and returns plain JSON; it
never judges. Every other piece is replaced by the reference below, so that a mistake in one
part costs that part only. The student edition of this assignment has no engine core, so the
reference lives here, and graphs are built with the ops below (their gradients are those of
assignment 2, without broadcasting).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

import mytorch
from mytorch import Operation, Tensor
from mytorch.ops import Op


class Add(Op):
    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def gradient(self, out_grad: Tensor, node: Tensor) -> tuple:
        return out_grad, out_grad


class Mul(Op):
    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def gradient(self, out_grad: Tensor, node: Tensor) -> tuple:
        a, b = node.inputs
        return out_grad * b, out_grad * a


class Tanh(Op):
    def compute(self, a: np.ndarray) -> np.ndarray:
        return np.tanh(a)

    def gradient(self, out_grad: Tensor, node: Tensor) -> tuple:
        return (out_grad * (1.0 - node * node),)


OPS = {"add": Add, "mul": Mul, "tanh": Tanh}


# --- the reference engine ------------------------------------------------------------------


def reference_add_operation(tape: Any, op: Op, inputs: tuple, output: Tensor) -> Any:
    if not mytorch.is_grad_enabled() or not any(t.requires_grad for t in inputs):
        return None
    return tape.append(Operation.new(op, inputs, output))


class ReferenceBuffer:
    """Spots keyed by slot; counts what the walk asked of it."""

    def __init__(self) -> None:
        self.spots: dict[int, Tensor] = {}

    def accumulate(self, tensor: Tensor, grad: Tensor) -> None:
        key = tensor.slot
        self.spots[key] = grad if key not in self.spots else self.spots[key] + grad

    def get(self, tensor: Tensor) -> Tensor | None:
        return self.spots.get(tensor.slot)

    def pop(self, tensor: Tensor) -> Tensor | None:
        return self.spots.pop(tensor.slot, None)

    def __len__(self) -> int:
        return len(self.spots)


def reference_walk(records: list, loss: Tensor, seed: Tensor, buffer: Any) -> list:
    buffer.accumulate(loss, seed)
    leaves = {loss.slot: loss} if loss.is_leaf else {}
    for record in reversed(records):
        out_grad = buffer.pop(record.output)
        if out_grad is None:
            continue
        grads = record.op.gradient(out_grad, record.output)
        for tensor, grad in zip(record.inputs, grads, strict=True):
            if grad is not None and tensor.requires_grad:
                buffer.accumulate(tensor, grad)
                if tensor.is_leaf:
                    leaves[tensor.slot] = tensor
    return [(leaf, buffer.pop(leaf)) for leaf in leaves.values()]


def reference_backward(loss: Tensor, out_grad: Any = None) -> None:
    seed = Tensor(np.ones_like(loss.data) if out_grad is None else np.asarray(out_grad))
    with mytorch.no_grad():
        pairs = reference_walk(mytorch.tape.until(loss), loss, seed, ReferenceBuffer())
    for leaf, grad in pairs:
        leaf.grad = grad if leaf.grad is None else leaf.grad + grad


@contextmanager
def reference_engine() -> Iterator[None]:
    """Record and walk with the reference inside the block; then plug back what was there."""
    previous = mytorch.plugged_engine()
    mytorch.use_engine(add_operation=reference_add_operation, backward=reference_backward)
    try:
        yield
    finally:
        mytorch.use_engine(*previous)


def _array(value: Any) -> Any:
    """A gradient as JSON (None stays None)."""
    if value is None:
        return None
    return np.asarray(getattr(value, "data", value), dtype=np.float64).tolist()


# --- part 1: add_operation -------------------------------------------------------------------


def add_operation(probe: dict, student: Mapping[str, Any]) -> dict:
    tape = mytorch.OperationList()
    pool = [
        Tensor(np.array(v, dtype=np.float64), requires_grad=flag)
        for v, flag in zip(probe["values"], probe["requires_grad"], strict=True)
    ]
    returned = []
    for call in probe["calls"]:
        op = OPS[call["op"]]()
        inputs = tuple(pool[i] for i in call["inputs"])
        out = Tensor(op.compute(*[t.data for t in inputs]))
        mode = mytorch.enable_grad() if call["grad_mode"] else mytorch.no_grad()
        with mode:
            record = student["add_operation"](tape, op, inputs, out)
        if record is not None:
            out.requires_grad, out.record = True, record
        pool.append(out)
        returned.append(record is not None)
    where = {id(t): i for i, t in enumerate(pool)}
    listed = []
    for record in tape:
        output = record.output
        listed.append(
            {
                "op": type(record.op).__name__.lower(),
                "inputs": [where.get(id(t), -1) for t in record.inputs],
                "output": where.get(id(output), -1) if output is not None else -1,
            }
        )
    return {"returned": returned, "tape": listed}


# --- part 2: the memory buffer ---------------------------------------------------------------


def memory_buffer(probe: dict, student: Mapping[str, Any]) -> list:
    buffer = student["MemoryBuffer"]()
    pool: dict[int, Tensor] = {}
    given: list[tuple[Tensor, np.ndarray]] = []  # every gradient handed in, and its values
    seen = []
    for action in probe["script"]:
        kind = action[0]
        if kind == "new":
            pool[action[1]] = Tensor(np.full(action[2], 0.5))
        elif kind == "view":  # shares the numbers (and their address) of another tensor
            pool[action[1]] = Tensor(pool[action[2]].data.reshape(action[3]))
        elif kind == "acc":
            grad = Tensor(np.array(action[2], dtype=np.float64))
            given.append((grad, grad.data.copy()))
            buffer.accumulate(pool[action[1]], grad)
        elif kind == "get":
            seen.append(_array(buffer.get(pool[action[1]])))
        elif kind == "pop":
            seen.append(_array(buffer.pop(pool[action[1]])))
        elif kind == "len":
            seen.append(len(buffer))
        elif kind == "forget":  # the tensor is gone; its spot was never emptied
            del pool[action[1]]  # reference counting frees it here
        elif kind == "fresh":  # new tensors made (and dropped) one after the other
            found = []
            for _ in range(action[2]):
                fresh = Tensor(np.full(action[1], 0.5))
                found.append(_array(buffer.get(fresh)))
                del fresh
            seen.append(found)
        elif kind == "untouched":
            seen.append(all(np.array_equal(g.data, values) for g, values in given))
    return seen


# --- part 3: the reverse walk ----------------------------------------------------------------


def build_graph(probe: dict) -> tuple[list[Tensor], list[Tensor]]:
    """The probe's leaves and every tensor its ops make (recorded by the reference)."""
    leaves = [
        Tensor(np.array(v, dtype=np.float64), requires_grad=flag)
        for v, flag in zip(probe["values"], probe["requires_grad"], strict=True)
    ]
    pool = list(leaves)
    with reference_engine():
        for op, *inputs in probe["ops"]:
            pool.append(OPS[op]()(*(pool[i] for i in inputs)))
    return leaves, pool


def reverse_walk(probe: dict, student: Mapping[str, Any]) -> dict:
    leaves, pool = build_graph(probe)
    loss = pool[probe["loss"]]
    records = mytorch.tape.until(loss)
    buffer = ReferenceBuffer()
    with mytorch.no_grad():
        pairs = student["reverse_walk"](records, loss, Tensor(np.array(probe["seed"])), buffer)
    where = {id(t): i for i, t in enumerate(pool)}
    grads: dict[str, Any] = {}
    for leaf, grad in pairs:
        key = str(where.get(id(leaf), -1))
        grads[key] = _array(grad) if key not in grads else "twice"
    return {
        "leaf gradients": grads,
        "spots left": len(buffer),
        "grad touched": [i for i, t in enumerate(leaves) if t.grad is not None],
    }


# --- part 4: .grad accumulates until zeroed --------------------------------------------------


def accumulate_and_zero_grad(probe: dict, student: Mapping[str, Any]) -> list:
    leaves = [Tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in probe["values"]]
    given: list[tuple[Tensor, np.ndarray]] = []
    seen: list[Any] = []
    for action in probe["script"]:
        kind = action[0]
        if kind == "acc":
            pairs = []
            for index, values in action[1]:
                grad = Tensor(np.array(values, dtype=np.float64))
                given.append((grad, grad.data.copy()))
                pairs.append((leaves[index], grad))
            student["accumulate_grads"](pairs)
            seen.append([_array(t.grad) for t in leaves])
        elif kind == "zero":
            student["zero_grad"]([leaves[i] for i in action[1]])
            seen.append([_array(t.grad) for t in leaves])
        elif kind == "seed":
            loss = Tensor(np.full(action[1], 0.25))
            out_grad = None if action[2] is None else np.array(action[2], dtype=np.float64)
            try:
                seen.append({"seed": _array(student["seed_gradient"](loss, out_grad))})
            except ValueError as err:
                seen.append({"raised": f"ValueError: {err}"})
        elif kind == "untouched":
            seen.append(all(np.array_equal(g.data, values) for g, values in given))
    return seen


# --- part 5: y = w x + b, predicted ----------------------------------------------------------


def wx_plus_b_trace(probe: dict, student: Mapping[str, Any]) -> dict:
    w, x, b, g = (np.array(probe[k], dtype=np.float64) for k in "wxbg")
    records, buffers = student["predict_wx_plus_b"](
        w.copy(), x.copy(), b.copy(), g.copy(), set(probe["needs_grad"])
    )
    return {
        "records": [str(r) for r in records],
        "buffers": [{str(k): _array(v) for k, v in state.items()} for state in buffers],
    }


# --- part 6: the tanh network by hand -------------------------------------------------------


def tanh_network_by_hand(probe: dict, student: Mapping[str, Any]) -> dict:
    args = [np.array(probe[k], dtype=np.float64) for k in ("x", "A", "a", "B", "c", "dz")]
    out = student["tanh_network_backward"](*args)
    return {k: _array(out[k]) for k in ("z", "dx", "dA", "da", "dB", "dc") if k in out}


# --- part 7: a dynamic graph -----------------------------------------------------------------


def dynamic_graph(probe: dict, student: Mapping[str, Any]) -> dict:
    """The student's iterate() with the notebook's add/mul/tanh swapped for the ops above,
    recorded and walked by the reference engine."""
    namespace = student["iterate"].__globals__
    saved = {name: namespace.get(name) for name in OPS}
    namespace.update({name: (lambda *xs, cls=cls: cls()(*xs)) for name, cls in OPS.items()})
    try:
        with reference_engine():
            x = Tensor(np.array(probe["x"], dtype=np.float64), requires_grad=True)
            out = student["iterate"](x, probe["limit"])
            ops = [type(r.op).__name__.lower() for r in mytorch.tape.until(out) if _depends(out, r)]
            if isinstance(out, Tensor) and out.requires_grad:
                out.backward(np.array(probe["seed"]))
    finally:
        namespace.update(saved)
    value = np.asarray(getattr(out, "data", out), dtype=np.float64)
    grad = None if x.grad is None else float(x.grad.data)
    return {"value": value.tolist(), "tape": " ".join(ops), "gradient": grad}


def _depends(out: Any, record: Any) -> bool:
    """Whether ``out`` depends on ``record``'s output (other records may share the tape)."""
    if not isinstance(out, Tensor) or out.record is None:
        return False
    stack, seen = [out], set()
    while stack:
        t = stack.pop()
        if t.record is None or id(t.record) in seen:
            continue
        if t.record is record:
            return True
        seen.add(id(t.record))
        stack.extend(t.record.inputs)
    return False
