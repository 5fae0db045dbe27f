"""Grading of assignment 03-engine ("The MyTorch engine"): one declared Part each.

Each piece of the engine is graded on its own: its driver calls the student's piece with the
reference engine (``drivers.py``) doing everything else. The references here are written
independently of that engine (plain numpy reverse passes over the probe's graph), and the
gradients have float64 central-difference witnesses; the prediction of the y = w x + b trace
is compared with the trace of the engine itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mytorch_course.checks import close, compare, describe
from mytorch_course.numeric import central_difference
from mytorch_course.runner import Part

from . import drivers

# The engine must not do the work of a part done by hand (the student edition lacks it too).
ENGINE = (
    "autograd",
    "backward",
    "vjp",
    "jacobian",
    "trace_backward",
    "use_engine",
    "plugged_engine",
    "PluggedEngine",
)
BY_HAND = (
    "mytorch",
    "Tensor",
    "backward",
    "reverse_walk",
    "accumulate_grads",
    "use_engine",
    "Add",
    "Mul",
    "Tanh",
    "add",
    "mul",
)
TOL = 1e-9, 1e-12
FORWARD = {"add": np.add, "mul": np.multiply, "tanh": np.tanh}


def _values(rng: np.random.Generator, n: int, size: int) -> list:
    return [
        (rng.uniform(0.3, 1.5, size) * rng.choice([-1.0, 1.0], size)).tolist() for _ in range(n)
    ]


def _grad_mismatch(label: str, expected: Any, got: Any) -> str | None:
    """None when two gradients agree (None, or zeros, means "no gradient" here)."""
    if expected is None:
        return None if got is None else f"{label}: expected no gradient (None), got {describe(got)}"
    if got is None:
        return f"{label}: expected {describe(expected)}, got None"
    return compare(label, expected, got, *TOL)


# --- part 1: add_operation ------------------------------------------------------------------


def add_operation_probes(rng: np.random.Generator) -> list[dict]:
    probes = []
    for _ in range(24):
        size = int(rng.integers(1, 4))
        flags = [True, False, bool(rng.integers(2)), True]
        calls = [  # one of each case, shuffled, then random ones
            {"op": "mul", "inputs": [0, 1], "grad_mode": True},  # recorded
            {"op": "add", "inputs": [1, 0], "grad_mode": True},  # second input only: recorded
            {"op": "tanh", "inputs": [0], "grad_mode": False},  # no_grad(): not recorded
            {"op": "mul", "inputs": [1, 1], "grad_mode": True},  # constants: not recorded
        ]
        calls = [calls[i] for i in rng.permutation(4)]
        for _ in range(int(rng.integers(2, 5))):
            pool = len(flags) + len(calls)
            op = str(rng.choice(["add", "mul", "tanh"]))
            arity = 1 if op == "tanh" else 2
            calls.append(
                {
                    "op": op,
                    "inputs": [int(i) for i in rng.integers(0, pool, arity)],
                    "grad_mode": bool(rng.random() < 0.7),
                }
            )
        probes.append(
            {"values": _values(rng, len(flags), size), "requires_grad": flags, "calls": calls}
        )
    return probes


def _expected_tape(probe: dict) -> tuple[list[bool], list[dict]]:
    needs = list(probe["requires_grad"])
    returned, tape = [], []
    for call in probe["calls"]:
        recorded = call["grad_mode"] and any(needs[i] for i in call["inputs"])
        returned.append(recorded)
        if recorded:
            tape.append({"op": call["op"], "inputs": call["inputs"], "output": len(needs)})
        needs.append(recorded)
    return returned, tape


def _call_text(probe: dict, index: int) -> str:
    call = probe["calls"][index]
    args = ", ".join(f"t{i}" for i in call["inputs"])
    mode = "" if call["grad_mode"] else " inside no_grad()"
    return f"call {index + 1}, t{len(probe['values']) + index} = {call['op']}({args}){mode}"


def add_operation_check(probe: dict, got: Any) -> str | None:
    if not isinstance(got, dict) or not isinstance(got.get("returned"), list):
        return f"expected the calls' records and the tape, got {describe(got)}"
    returned, tape = _expected_tape(probe)
    needs = list(probe["requires_grad"])
    for index, (want, have) in enumerate(zip(returned, got["returned"], strict=False)):
        call = probe["calls"][index]
        if want != have:
            text = _call_text(probe, index)
            if want:
                return f"{text}: an input requires a gradient, so it is recorded; you returned None"
            if not call["grad_mode"]:
                return f"{text}: nothing is recorded under no_grad(), but you returned a record"
            return (
                f"{text}: none of its inputs requires a gradient, so nothing is recorded, but "
                "you returned a record"
            )
        needs.append(want)
    if len(got["returned"]) != len(returned):
        return f"expected {len(returned)} calls, got {describe(got['returned'])}"
    if got.get("tape") != tape:
        listed = [
            f"{r['op']}({', '.join(f't{i}' for i in r['inputs'])}) -> t{r['output']}"
            for r in got.get("tape") or []
            if isinstance(r, dict)
        ]
        wanted = [
            f"{r['op']}({', '.join(f't{i}' for i in r['inputs'])}) -> t{r['output']}" for r in tape
        ]
        return (
            f"the tape should hold, in call order, {wanted}; yours holds {listed} (append "
            "each record once, with its op, its inputs in order and its output)"
        )
    return None


def add_operation_label(probe: dict) -> str:
    flags = ", ".join(
        f"t{i}{'' if f else ' (constant)'}" for i, f in enumerate(probe["requires_grad"])
    )
    return f"leaves {flags}; {len(probe['calls'])} calls"


ADD_OPERATION = Part(
    points=10,
    probes=add_operation_probes,
    driver=drivers.add_operation,
    label=add_operation_label,
    check=add_operation_check,
    title="add_operation",
    seed=301,
    forbidden=("add_operation", *ENGINE),
)


# --- part 2: the memory buffer --------------------------------------------------------------


def memory_buffer_probes(rng: np.random.Generator) -> list[dict]:
    probes = []
    for i in range(22):
        rows, cols = int(rng.integers(1, 4)), int(rng.integers(2, 4))
        flat, table, other = [rows * cols], [rows, cols], [int(rng.integers(1, 5))]

        def grad(shape: list, rng: np.random.Generator = rng) -> list:
            return rng.normal(size=shape).tolist()

        script = [["new", 0, flat], ["view", 1, 0, table]]
        first, second, third = grad(flat), grad(table), grad(flat)
        script += [["acc", 0, first], ["acc", 1, second], ["get", 0], ["get", 1]]
        script += [["acc", 0, third], ["get", 0], ["untouched"], ["len"]]
        script += [["pop", 1], ["len"], ["get", 1], ["pop", 1]]
        script += [["new", 2, other], ["acc", 2, grad(other)], ["forget", 2], ["fresh", other, 8]]
        script += [["new", 3, other], ["get", 3], ["pop", 0], ["len"], ["untouched"]]
        if i % 2:  # the view first, its base second
            script[2], script[3] = ["acc", 1, second], ["acc", 0, first]
        probes.append({"script": script})
    return probes


def memory_buffer_expected(probe: dict) -> list:
    spots: dict[int, np.ndarray] = {}
    seen: list[Any] = []
    for action in probe["script"]:
        kind = action[0]
        if kind == "acc":
            g = np.array(action[2])
            spots[action[1]] = g if action[1] not in spots else spots[action[1]] + g
        elif kind == "get":
            seen.append(spots.get(action[1]))
        elif kind == "pop":
            seen.append(spots.pop(action[1], None))
        elif kind == "len":
            seen.append(len(spots))
        elif kind == "fresh":
            seen.append([None] * action[2])
        elif kind == "untouched":
            seen.append(True)
    return seen


def _action_text(action: list) -> str:
    kind = action[0]
    if kind in ("get", "pop"):
        return f"buffer.{kind}(t{action[1]})"
    if kind == "len":
        return "len(buffer)"
    if kind == "fresh":
        return f"buffer.get(new tensor) for {action[2]} new tensors of shape {tuple(action[1])}"
    return "the gradients passed to accumulate"


def memory_buffer_check(probe: dict, got: Any) -> str | None:
    expected = memory_buffer_expected(probe)
    if not isinstance(got, list) or len(got) != len(expected):
        return f"expected {len(expected)} observations, got {describe(got)}"
    observed = [a for a in probe["script"] if a[0] in ("get", "pop", "len", "fresh", "untouched")]
    for step, (action, want, have) in enumerate(zip(observed, expected, got, strict=True)):
        text = f"step {step + 1}, {_action_text(action)}"
        if action[0] == "untouched":
            if have is not True:
                return (
                    f"{text}: accumulate changed a gradient it was given. Add with + (a new "
                    "tensor) instead of changing a stored gradient in place: the same "
                    "gradient is often handed to several inputs"
                )
        elif action[0] == "fresh":
            if not isinstance(have, list) or any(h is not None for h in have):
                return (
                    f"{text}: a new tensor has no spot, but your buffer returned a gradient "
                    "left by a tensor that is gone. Python reuses the memory (and the id) of "
                    "freed objects: key the spots by tensor.slot, which is never reused"
                )
        elif action[0] == "len":
            if have != want:
                return (
                    f"{text}: expected {want} spot(s), got {describe(have)} (pop frees the "
                    "spot it reads)"
                )
        elif (msg := _grad_mismatch(text, want, have)) is not None:
            return msg + _buffer_hint(probe, action, want, have)
    return None


def _buffer_hint(probe: dict, action: list, want: Any, have: Any) -> str:
    if want is not None and have is not None and action[1] in (0, 1):
        grads = {a[1]: [] for a in probe["script"] if a[0] == "acc"}
        for a in probe["script"]:
            if a[0] == "acc":
                grads[a[1]].append(np.array(a[2]))
        mine = grads.get(action[1], [])
        if len(mine) == 2 and close(have, mine[-1], *TOL):
            return "\n    Likely cause: the second gradient replaced the first (= instead of +=)"
        if np.size(have) == np.size(want) and not close(have, want, *TOL):
            return (
                "\n    Likely cause: t0 and t1 share their numbers (t1 is a reshaped view of "
                "t0) and got one spot: key by tensor.slot, not by the data's address"
            )
    return ""


MEMORY_BUFFER = Part(
    points=15,
    probes=memory_buffer_probes,
    driver=drivers.memory_buffer,
    label=lambda p: "t1 is a reshaped view of t0; t2 is dropped with its spot still open",
    check=memory_buffer_check,
    title="memory_buffer",
    seed=302,
    forbidden=("mytorch", "autograd", "recording"),
)


# --- part 3: the reverse walk ---------------------------------------------------------------


def graph_probe(rng: np.random.Generator) -> dict:
    """Leaves a, b, c (require a gradient) and k (a constant); an op nobody uses before the
    loss (its record is on the tape, not on the path); a tensor used twice."""
    size = int(rng.integers(1, 4))
    flags = [True, True, True, False]
    ops: list[list] = [["tanh", 2]]  # index 4: not used by the loss
    while True:
        ops = ops[:1]
        for _ in range(int(rng.integers(4, 7))):
            pool = 4 + len(ops)
            candidates = [i for i in range(pool) if i != 4]
            op = str(rng.choice(["add", "mul", "mul", "tanh"]))
            if op == "tanh":
                ops.append([op, int(rng.choice(candidates[-3:]))])
            elif rng.random() < 0.3:  # x * x, x + x
                i = int(rng.choice(candidates[-2:]))
                ops.append([op, i, i])
            else:
                ops.append([op, int(rng.choice(candidates[-3:])), int(rng.choice(candidates))])
        loss = 4 + len(ops) - 1
        parents = _parents(ops, loss)
        used = [i for op in ops for i in op[1:] if i in parents or i == loss]
        reached = {i for i in parents if i < 3}
        twice = any(used.count(i) > 1 for i in set(used))
        if len(reached) >= 2 and twice and 4 not in parents:
            break
    return {
        "values": _values(rng, 4, size),
        "requires_grad": flags,
        "ops": ops,
        "loss": loss,
        "seed": (rng.normal(size=size) * 1.5).tolist(),
    }


def _parents(ops: list, loss: int) -> set[int]:
    """Every tensor index the loss depends on (leaves included)."""
    found, stack = set(), [loss]
    while stack:
        i = stack.pop()
        if i in found:
            continue
        found.add(i)
        if i >= 4:
            stack.extend(ops[i - 4][1:])
    return found - {loss}


def forward_values(probe: dict, values: list | None = None) -> list[np.ndarray]:
    pool = [np.array(v) for v in (values or probe["values"])]
    for op, *inputs in probe["ops"]:
        pool.append(FORWARD[op](*(pool[i] for i in inputs)))
    return pool


def walk_reference(probe: dict) -> dict:
    """A plain reverse pass in numpy: one adjoint per index, summed over uses."""
    pool = forward_values(probe)
    adjoint = [np.zeros_like(v) for v in pool]
    adjoint[probe["loss"]] = np.array(probe["seed"])
    for position in range(probe["loss"] - 4, -1, -1):
        op, *inputs = probe["ops"][position]
        out, g = 4 + position, adjoint[4 + position]
        if op == "add":
            adjoint[inputs[0]] += g
            adjoint[inputs[1]] += g
        elif op == "mul":
            adjoint[inputs[0]] += g * pool[inputs[1]]
            adjoint[inputs[1]] += g * pool[inputs[0]]
        else:
            adjoint[inputs[0]] += g * (1 - pool[out] ** 2)
    reached = _parents(probe["ops"], probe["loss"])
    grads = {str(i): adjoint[i] for i in range(4) if probe["requires_grad"][i] and i in reached}
    return {"leaf gradients": grads, "spots left": 0, "grad touched": []}


def walk_witness(probe: dict) -> dict:
    leaves = [np.array(v) for v in probe["values"]]
    reached = _parents(probe["ops"], probe["loss"])
    keys = [i for i in range(4) if probe["requires_grad"][i] and i in reached]

    def loss_of(*arrays: np.ndarray) -> np.ndarray:
        return forward_values(probe, [a.tolist() for a in arrays])[probe["loss"]]

    fd = central_difference(loss_of, leaves, np.array(probe["seed"]))
    return {str(i): fd[i] for i in keys}


def reverse_walk_check(probe: dict, got: Any) -> str | None:
    expected = walk_reference(probe)
    if not isinstance(got, dict) or not isinstance(got.get("leaf gradients"), dict):
        return f"expected (leaf, gradient) pairs, got {describe(got)}"
    have, want = got["leaf gradients"], expected["leaf gradients"]
    for key in have:
        if key not in want:
            leaf = int(key)
            why = (
                "it is a constant (requires_grad=False)"
                if 0 <= leaf < 4 and not probe["requires_grad"][leaf]
                else "the loss does not depend on it"
            )
            return f"you returned a gradient for t{key}, but {why}: leave it out"
        if have[key] == "twice":
            return f"you returned t{key} twice: one (leaf, gradient) pair per leaf"
    for key, value in want.items():
        if key not in have:
            return (
                f"no gradient for the leaf t{key}, which the loss depends on (did you walk "
                "the records newest first?)"
            )
        if (msg := compare(f"the gradient of t{key}", value, have[key], *TOL)) is not None:
            witness = walk_witness(probe).get(key)
            return (
                msg
                + _walk_hint(probe, key, have[key])
                + (f"\n    (float64 finite differences give {describe(witness)})")
            )
    if got.get("spots left") != 0:
        return (
            f"{got.get('spots left')} spot(s) were left in the buffer after the walk: take "
            "each gradient out with pop (which frees the spot), leaves included"
        )
    if got.get("grad touched"):
        return "reverse_walk set .grad of a leaf: leave .grad to accumulate_grads (Part 4)"
    return None


def _walk_hint(probe: dict, key: str, have: Any) -> str:
    ones = walk_reference(probe | {"seed": np.ones_like(probe["seed"]).tolist()})
    if close(have, ones["leaf gradients"][key], *TOL):
        return "\n    Likely cause: the walk started from ones instead of the seed"
    return ""


def walk_label(probe: dict) -> str:
    names = [f"t{i}" for i in range(4)]
    lines = []
    for position, (op, *inputs) in enumerate(probe["ops"]):
        names.append(f"t{4 + position}")
        lines.append(f"t{4 + position} = {op}({', '.join(f't{i}' for i in inputs)})")
    values = "; ".join(f"t{i} = {describe(v)}" for i, v in enumerate(probe["values"]))
    return (
        f"graph {'; '.join(lines)} with {values} (t3 constant), loss t{probe['loss']}, "
        f"seed {describe(probe['seed'])}"
    )


REVERSE_WALK = Part(
    points=20,
    probes=lambda rng: [graph_probe(rng) for _ in range(24)],
    driver=drivers.reverse_walk,
    label=walk_label,
    check=reverse_walk_check,
    title="reverse_walk",
    seed=303,
    forbidden=ENGINE,
)


# --- part 4: accumulate and zero_grad -------------------------------------------------------


def accumulate_probes(rng: np.random.Generator) -> list[dict]:
    probes = []
    for _ in range(22):
        size = int(rng.integers(1, 4))

        def g(rng: np.random.Generator = rng, size: int = size) -> list:
            return rng.normal(size=size).tolist()

        script = [
            ["acc", [[0, g()], [1, g()]]],
            ["acc", [[0, g()]]],
            ["zero", [1]],
            ["acc", [[1, g()], [2, g()], [1, g()]]],
            ["untouched"],
            ["zero", [0, 1, 2]],
            ["acc", [[2, g()]]],
        ]
        script += [
            ["seed", [], None],
            ["seed", [1], None],
            ["seed", [3], None],
            ["seed", [size], g()],
            ["seed", [], float(rng.normal())],
        ]
        probes.append({"values": _values(rng, 3, size), "script": script})
    return probes


def accumulate_expected(probe: dict) -> list:
    grads: list[Any] = [None, None, None]
    seen: list[Any] = []
    for action in probe["script"]:
        kind = action[0]
        if kind == "acc":
            for index, values in action[1]:
                g = np.array(values)
                grads[index] = g if grads[index] is None else grads[index] + g
            seen.append(list(grads))
        elif kind == "zero":
            for index in action[1]:
                grads[index] = None
            seen.append(list(grads))
        elif kind == "seed":
            if action[2] is not None:
                seen.append({"seed": np.array(action[2])})
            elif int(np.prod(action[1])) == 1:
                seen.append({"seed": np.ones(action[1])})
            else:
                seen.append({"raised": "ValueError"})
        elif kind == "untouched":
            seen.append(True)
    return seen


def _no_grad_yet(value: Any) -> bool:
    return value is None or (close(value, np.zeros(np.shape(value)), 0.0, 0.0))


def accumulate_check(probe: dict, got: Any) -> str | None:
    expected = accumulate_expected(probe)
    if not isinstance(got, list) or len(got) != len(expected):
        return f"expected {len(expected)} observations, got {describe(got)}"
    for step, (action, want, have) in enumerate(zip(probe["script"], expected, got, strict=True)):
        kind = action[0]
        if kind == "untouched" and have is not True:
            return (
                f"step {step + 1}: accumulate_grads changed a gradient it was given: build "
                "the sum as a new tensor (leaf.grad + grad), never in place"
            )
        if kind in ("acc", "zero"):
            what = (
                "after accumulate_grads(" + ", ".join(f"(t{i}, g)" for i, _ in action[1]) + ")"
                if kind == "acc"
                else f"after zero_grad([{', '.join(f't{i}' for i in action[1])}])"
            )
            if not isinstance(have, list) or len(have) != 3:
                return (
                    f"step {step + 1}, {what}: expected the .grad of 3 leaves, got {describe(have)}"
                )
            for index, (w, h) in enumerate(zip(want, have, strict=True)):
                label = f"step {step + 1}, {what}: t{index}.grad"
                if w is None:
                    if not _no_grad_yet(h):
                        return f"{label}: expected None (zeroed), got {describe(h)}"
                elif (msg := _grad_mismatch(label, w, h)) is not None:
                    if kind == "acc" and any(i == index for i, _ in action[1]) and h is not None:
                        last = [np.array(v) for i, v in action[1] if i == index][-1]
                        if close(h, last, *TOL):
                            msg += (
                                "\n    Likely cause: the new gradient replaced .grad (=) "
                                "instead of adding to it (+=)"
                            )
                    return msg
        if kind == "seed":
            shape, out_grad = tuple(action[1]), action[2]
            label = (
                f"step {step + 1}, seed_gradient(loss of shape {shape}, "
                f"out_grad={'None' if out_grad is None else describe(out_grad)})"
            )
            if "raised" in want:
                if not (isinstance(have, dict) and "raised" in have):
                    return (
                        f"{label}: a loss with {int(np.prod(shape))} entries needs out_grad; "
                        f"raise a ValueError instead of returning {describe(have)}"
                    )
            elif not isinstance(have, dict) or "seed" not in have:
                return f"{label}: expected {describe(want['seed'])}, got {describe(have)}"
            elif (msg := compare(label, want["seed"], have["seed"], *TOL)) is not None:
                return msg
    return None


ACCUMULATE = Part(
    points=15,
    probes=accumulate_probes,
    driver=drivers.accumulate_and_zero_grad,
    label=lambda p: f"three leaves of shape ({len(p['values'][0])},)",
    check=accumulate_check,
    title="accumulate_and_zero_grad",
    seed=304,
    forbidden=("autograd", "backward", "optim", "nn", "use_engine", "plugged_engine"),
)


# --- part 5: y = w x + b, predicted ---------------------------------------------------------

SUBSETS = [s for n in range(1, 8) if (s := [k for i, k in enumerate("wxb") if n >> i & 1])]


def wx_probes(rng: np.random.Generator) -> list[dict]:
    probes = []
    for _ in range(3):
        for needs in SUBSETS:
            n = int(rng.integers(1, 4))
            w, x, b = (v for v in _values(rng, 3, n))
            probes.append(
                {"w": w, "x": x, "b": b, "g": rng.normal(size=n).tolist(), "needs_grad": needs}
            )
    return probes


def engine_trace(probe: dict) -> dict:
    """The reference engine's own records and buffer, step by step."""
    names: dict[int, str] = {}
    leaves = {}
    for k in "wxb":
        t = drivers.Tensor(np.array(probe[k]), requires_grad=k in probe["needs_grad"])
        leaves[k], names[t.slot] = t, k
    with drivers.reference_engine():
        z = drivers.Mul()(leaves["w"], leaves["x"])
        y = drivers.Add()(z, leaves["b"])
    names[z.slot], names[y.slot] = "z", "y"
    records = [r for r in drivers.mytorch.tape.until(y) if r.output_slot in names]
    symbol = {"Mul": "*", "Add": "+"}
    texts = [
        f"{names[r.output_slot]} = {names[r.inputs[0].slot]} "
        f"{symbol[type(r.op).__name__]} {names[r.inputs[1].slot]}"
        for r in records
    ]
    buffer = drivers.ReferenceBuffer()
    buffer.accumulate(y, drivers.Tensor(np.array(probe["g"])))
    states = [{names[k]: v.data for k, v in buffer.spots.items()}]
    with drivers.mytorch.no_grad():
        for record in reversed(records):  # the reference walk, one snapshot per record
            out_grad = buffer.pop(record.output)
            grads = record.op.gradient(out_grad, record.output)
            for tensor, grad in zip(record.inputs, grads, strict=True):
                if tensor.requires_grad:
                    buffer.accumulate(tensor, grad)
            states.append({names[k]: v.data for k, v in buffer.spots.items()})
    return {"records": texts, "buffers": states}


def wx_check(probe: dict, got: Any) -> str | None:
    expected = engine_trace(probe)
    if not isinstance(got, dict) or not isinstance(got.get("records"), list):
        return f"expected (records, buffers), got {describe(got)}"
    if got["records"] != expected["records"]:
        return (
            f"the operation list should be {expected['records']}, got {got['records']} (an "
            "operation none of whose inputs requires a gradient is not recorded)"
        )
    buffers = got.get("buffers")
    if not isinstance(buffers, list) or len(buffers) != len(expected["buffers"]):
        return (
            f"expected {len(expected['buffers'])} buffer states (the seed, then one per "
            f"record visited), got {describe(buffers)}"
        )
    for step, (want, have) in enumerate(zip(expected["buffers"], buffers, strict=True)):
        when = (
            "before the walk"
            if step == 0
            else (f"after the walk visits {expected['records'][-step]!r}")
        )
        if not isinstance(have, dict) or sorted(have) != sorted(want):
            mine = sorted(have) if isinstance(have, dict) else have
            return f"{when}: the buffer holds spots for {sorted(want)}, you predicted " f"{mine}"
        for name, value in want.items():
            if (msg := compare(f"{when}: the spot of {name}", value, have[name], *TOL)) is not None:
                return msg
    return None


WX_PLUS_B = Part(
    points=10,
    probes=wx_probes,
    driver=drivers.wx_plus_b_trace,
    check=wx_check,
    label=lambda p: (
        f"y = w * x + b with w = {describe(p['w'])}, x = {describe(p['x'])}, "
        f"b = {describe(p['b'])}, seed {describe(p['g'])}; requiring a gradient: "
        f"{', '.join(p['needs_grad'])}"
    ),
    title="wx_plus_b_trace",
    seed=305,
    forbidden=BY_HAND,
)


# --- part 6: the tanh network by hand -------------------------------------------------------

NET = ("x", "A", "a", "B", "c")


def net_probes(rng: np.random.Generator) -> list[dict]:
    probes = []
    for i in range(24):
        scale = 0.5 if i % 3 else 1.2  # every third: saturating units
        p = {k: (rng.normal(size=(2,) if k == "x" else (2, 2)) * scale).tolist() for k in NET}
        probes.append(p | {"dz": (rng.normal(size=2) * 2).tolist()})
    return probes


def net_forward(x: np.ndarray, A: np.ndarray, a: np.ndarray, B: np.ndarray, c: np.ndarray) -> tuple:
    y = np.tanh(A @ x + a.sum(axis=1))
    return y, np.tanh(B @ y + c.sum(axis=1))


def net_gradients(p: dict, shared: Callable = np.sum) -> dict:
    """Vectorised reverse pass; ``shared`` combines the contributions to a shared unit."""
    x, A, a, B, c, dz = (np.array(p[k]) for k in (*NET, "dz"))
    y, z = net_forward(x, A, a, B, c)
    do = dz * (1 - z**2)
    dy = shared(do[:, None] * B, axis=0)
    di = dy * (1 - y**2)
    dx = shared(di[:, None] * A, axis=0)
    return {
        "z": z,
        "dx": dx,
        "dA": np.outer(di, x),
        "da": np.repeat(di[:, None], 2, axis=1),
        "dB": np.outer(do, y),
        "dc": np.repeat(do[:, None], 2, axis=1),
    }


def net_witness(p: dict) -> dict:
    arrays = [np.array(p[k]) for k in NET]
    fd = central_difference(lambda *v: net_forward(*v)[1], arrays, np.array(p["dz"]))
    return {f"d{k}": g for k, g in zip(NET, fd, strict=True)}


def _last(values: np.ndarray, axis: int = 0) -> np.ndarray:
    return np.take(values, -1, axis=axis)


SHARED_UNIT = "y_1 and y_2 each feed both output units: add the two contributions (+=, not =)"


def _no_tanh_prime(p: dict) -> dict:
    x, A, a, B, c, dz = (np.array(p[k]) for k in (*NET, "dz"))
    y, _ = net_forward(x, A, a, B, c)
    return {"dB": np.outer(dz, y)}


TANH_NETWORK = Part(
    points=15,
    probes=net_probes,
    driver=drivers.tanh_network_by_hand,
    label=lambda p: ", ".join(f"{k} = {describe(p[k])}" for k in (*NET, "dz")),
    expected=net_gradients,
    witness=net_witness,
    tolerance=TOL,
    mistakes={
        SHARED_UNIT: lambda p: {
            "dx": net_gradients(p, _last)["dx"],
            "dA": net_gradients(p, _last)["dA"],
        },
        "the output unit's tanh: multiply dz by 1 - tanh^2(o) = 1 - z^2 first": _no_tanh_prime,
    },
    title="tanh_network_by_hand",
    seed=306,
    forbidden=BY_HAND,
)


# --- part 7: a dynamic graph ----------------------------------------------------------------


def iterate_reference(x: float, limit: float) -> tuple[float, float, list[str], float]:
    """(value, d value/dx, ops, the smallest gap between |y| and the limit)."""
    y, dy, ops, gap, steps = x, 1.0, [], abs(abs(x) - limit), 0
    while abs(y) < limit and steps < 6:
        y, dy = y * y + x, 2 * y * dy + 1
        ops += ["mul", "add"]
        steps += 1
        gap = min(gap, abs(abs(y) - limit))
    return float(np.tanh(y)), float((1 - np.tanh(y) ** 2) * dy), [*ops, "tanh"], gap


def dynamic_probes(rng: np.random.Generator) -> list[dict]:
    probes: list[dict] = []
    while len(probes) < 24:
        limit = float(rng.uniform(1.5, 3.0))
        kind = len(probes) % 3  # short loops, long loops, no loop at all
        x = float(rng.uniform(0.6, 1.4) if kind == 0 else rng.uniform(-0.6, 0.25))
        if kind == 2:
            x = float(rng.uniform(limit + 0.1, limit + 1.0) * rng.choice([-1.0, 1.0]))
        _, grad, _, gap = iterate_reference(x, limit)
        if gap > 1e-3 and abs(grad) > 1e-6:
            probes.append({"x": x, "limit": limit, "seed": float(rng.uniform(0.5, 2.0))})
    return probes


def dynamic_check(probe: dict, got: Any) -> str | None:
    value, grad, ops, _ = iterate_reference(probe["x"], probe["limit"])
    if not isinstance(got, dict) or "tape" not in got:
        return f"expected the value, the tape and the gradient, got {describe(got)}"
    if (msg := compare("the value", value, got.get("value"), *TOL)) is not None:
        return msg + f"\n    ({len(ops) // 2} step(s) of y <- y*y + x run here, then tanh)"
    if got["tape"] != " ".join(ops):
        return (
            f"the tape should record {' '.join(ops)!r}, got {got['tape']!r}: every step must "
            "run with mul and add (a value computed in numpy is not recorded)"
        )
    h = 1e-6
    fd = (
        iterate_reference(probe["x"] + h, probe["limit"])[0]
        - iterate_reference(probe["x"] - h, probe["limit"])[0]
    ) / (2 * h)
    if got.get("gradient") is None:
        return "no gradient reached x: is every value computed with the recorded operations?"
    msg = compare("the gradient of x", probe["seed"] * grad, got["gradient"], 1e-9, 1e-12)
    return msg and msg + f"\n    (float64 finite differences give {probe['seed'] * fd:.10g})"


DYNAMIC_GRAPH = Part(
    points=15,
    probes=dynamic_probes,
    driver=drivers.dynamic_graph,
    check=dynamic_check,
    label=lambda p: f"iterate(x={p['x']:.6g}, limit={p['limit']:.6g}), seed {p['seed']:.4g}",
    title="dynamic_graph",
    seed=307,
)


PARTS = {
    "add_operation": ADD_OPERATION,
    "memory_buffer": MEMORY_BUFFER,
    "reverse_walk": REVERSE_WALK,
    "accumulate_and_zero_grad": ACCUMULATE,
    "wx_plus_b_trace": WX_PLUS_B,
    "tanh_network_by_hand": TANH_NETWORK,
    "dynamic_graph": DYNAMIC_GRAPH,
}
