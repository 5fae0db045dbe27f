"""Grading of assignment 02-backprop ("Backpropagation by hand"): one declared Part each.

The op parts take their rules (forward, VJP, typical mistakes) from the op catalogue; every
gradient part has a float64 central-difference witness and random upstream gradients.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from mytorch_course.catalogue import RULES, Mistake, nonzero
from mytorch_course.checks import describe
from mytorch_course.numeric import central_difference, directional_difference
from mytorch_course.runner import Part

from . import drivers

E, LOG = math.exp, "log_example_backward"
# The reverse passes by hand: the engine would do them for the student.
BY_HAND = ("mytorch", "Tensor", "backward", "grad", "gradcheck", "numerical_gradient")
# fmt: off
# name -> (arguments, forward, partials at dout = 1, sizes of the terms of each partial, label)
EXAMPLES: dict[str, tuple] = {
    "circuit_backward": (
        "x y z w", lambda x, y, z, w: 3.0 * (x * y + max(z, w)),
        lambda x, y, z, w: (3.0 * y, 3.0 * x, 3.0 * float(z > w), 3.0 * float(w > z)),
        lambda x, y, z, w: (3 * abs(y), 3 * abs(x), 0.0, 0.0), "f = 3(xy + max(z, w))"),
    "exp_affine_backward": (
        "w x b", lambda w, x, b: E(w * x + b),
        lambda w, x, b: (E(w * x + b) * x, E(w * x + b) * w, E(w * x + b)),
        lambda w, x, b: (E(w * x + b) * abs(x), E(w * x + b) * abs(w), E(w * x + b)),
        "y = exp(w x + b)"),
    "ratio_backward": (
        "x y", lambda x, y: x / (x + y), lambda x, y: (y / (x + y) ** 2, -x / (x + y) ** 2),
        lambda x, y: (1 / abs(x + y) + abs(x) / (x + y) ** 2, abs(x) / (x + y) ** 2),
        "f = x / (x + y)"),
    "log_example_backward": (
        "x1 x2", lambda x1, x2: math.log(x1) + x1 * x2 - math.sin(x2),
        lambda x1, x2: (1.0 / x1 + x2, x1 - math.cos(x2)),
        lambda x1, x2: (1 / x1 + abs(x2), x1 + abs(math.cos(x2))), "y = ln(x1) + x1 x2 - sin(x2)"),
}
EXAMPLE_MISTAKES = [  # (example, hint, partials at dout = 1 that the mistake gives)
    ("circuit_backward", "the factor 3 from the last gate is missing",
     lambda x, y, z, w: (y, x, z > w, w > z)),
    ("circuit_backward", "the max gate must route the whole gradient to the larger input only",
     lambda x, y, z, w: (3 * y, 3 * x, 1.5, 1.5)),
    ("circuit_backward", "the multiply gate swaps its inputs: dL/dx uses y and dL/dy uses x",
     lambda x, y, z, w: (3 * x, 3 * y, 3.0 * (z > w), 3.0 * (w > z))),
    ("ratio_backward", "x is used twice (numerator and sum): add both contributions (+=, not =)",
     lambda x, y: (1 / (x + y), -x / (x + y) ** 2)),
    ("ratio_backward", "x is used twice: you kept only the contribution through the sum",
     lambda x, y: (-x / (x + y) ** 2, -x / (x + y) ** 2)),
    (LOG, "x1 is used twice (ln and product): add both contributions (+=, not =)",
     lambda x1, x2: (x2, x1 - math.cos(x2))),
    (LOG, "x2 is used twice (product and sin): add both contributions (+=, not =)",
     lambda x1, x2: (1 / x1 + x2, -math.cos(x2))),
    (LOG, "the subtraction gate flips the sign of the gradient to sin(x2)",
     lambda x1, x2: (1 / x1 + x2, x1 + math.cos(x2))),
    ("exp_affine_backward", "the multiply gate swaps its inputs: dL/dw uses x and dL/dx uses w",
     lambda w, x, b: (E(w * x + b) * w, E(w * x + b) * x, E(w * x + b))),
]
# fmt: on


def _signed(rng: np.random.Generator, lo: float, hi: float, size: Any = None) -> Any:
    return rng.uniform(lo, hi, size=size) * rng.choice([-1.0, 1.0], size=size)


def _example_args(rng: np.random.Generator, fn: str, i: int) -> list[float]:
    if fn == "circuit_backward":
        x, y, z = *_signed(rng, 0.2, 5.0, 2), rng.uniform(-5, 5)
        return [x, y, z, z + _signed(rng, 0.1, 4.0)]  # never a tie
    if (
        fn == "exp_affine_backward"
    ):  # every third: large outputs, where finite differences lose digits
        big = i % 3 == 0
        return [
            *_signed(rng, 0.3, 2.5 if big else 1.5, 2),
            rng.uniform(0.5, 2.0) if big else rng.uniform(-3, 1),
        ]
    if fn == "ratio_backward":
        x, s = (
            _signed(rng, 0.1, 4.0),
            _signed(rng, 0.05 if i % 4 == 0 else 0.3, 3.0),
        )  # x + y away from 0
        return [x, s - x]
    return [rng.uniform(0.02, 0.2) if i % 3 == 0 else rng.uniform(0.2, 6.0), rng.uniform(-6, 6)]


def _named_args(p: dict) -> zip:
    return zip(EXAMPLES[p["fn"]][0].split(), p["args"], strict=True)


def example_part(fns: list[str], points: float, seed: int, title: str) -> Part:
    def probes(rng: np.random.Generator) -> list[dict]:
        return [
            {"fn": fn, "args": [float(a) for a in _example_args(rng, fn, i)],
             "dout": float(_signed(rng, 0.3, 3.0)),
             "fields": ["value"] + [f"dL/d{n}" for n in EXAMPLES[fn][0].split()]}
            for fn in fns for i in range(15)
        ]  # fmt: skip

    def grads(p: dict, partials: Callable) -> dict:
        return {
            k: p["dout"] * d for k, d in zip(p["fields"][1:], partials(*p["args"]), strict=True)
        }

    def expected(p: dict) -> dict:
        return {"value": EXAMPLES[p["fn"]][1](*p["args"])} | grads(p, EXAMPLES[p["fn"]][2])

    def tolerance(p: dict) -> dict:
        exact, scales = expected(p), EXAMPLES[p["fn"]][3](*p["args"])
        tol = {"value": (1e-12, 1e-12 * (1.0 + sum(abs(a) for a in p["args"]) ** 2))}
        for k, s in zip(p["fields"][1:], scales, strict=True):
            size = max(abs(p["dout"]) * s, abs(exact[k])) + 1e-13 * abs(p["dout"])
            tol[k] = (0.0, 1e-11 * size)
        return tol

    def witness(p: dict) -> dict:
        forward = EXAMPLES[p["fn"]][1]
        args = [np.array(a) for a in p["args"]]
        fd = central_difference(lambda *v: np.array(forward(*map(float, v))), args, p["dout"])
        return dict(zip(p["fields"][1:], (float(d) for d in fd), strict=True))

    no_dout = "you did not multiply by dout (the upstream gradient dL/df)"
    mistakes = {no_dout: lambda p: grads(p | {"dout": 1.0}, EXAMPLES[p["fn"]][2])}
    for fn, hint, partials in EXAMPLE_MISTAKES:
        if fn in fns:
            mistakes[hint] = lambda p, fn=fn, d=partials: grads(p, d) if p["fn"] == fn else None
    return Part(
        points, probes, drivers.example, seed=seed, expected=expected, tolerance=tolerance,
        witness=witness, mistakes=mistakes, title=title, forbidden=BY_HAND,
        label=lambda p: f"{p['fn']}({', '.join(f'{n}={a:.6g}' for n, a in _named_args(p))}, "
                        f"dout={p['dout']:.4g})  [{EXAMPLES[p['fn']][4]}]",
    )  # fmt: skip


GRADIENTS = ("gradient of a", "gradient of b")
CLASSES = {"mul": "Multiply", "div": "Divide", "maximum": "Maximum", "sigmoid": "Sigmoid"}
GRAPHS = {  # how an op is wired into a little graph; L = sum(g * out)
    "plain": "out = {op}({args})",
    "reuse": "out = {op}(a, a)  (one tensor used twice)",
    "diamond": "out = {op}({op}(a, b), b)  (b used twice)",
    "twice": "two backward() calls on out = {op}({args}) (gradients accumulate)",
}
UNARY_REUSE = "out = {op}({op}(a))  (the op applied twice)"
LOCAL_MISTAKES = {  # beyond the catalogue's
    "maximum": (Mistake("split", lambda g, a, b: (0.5 * g, 0.5 * g),
                        "the max gate routes, it does not split: the larger input gets it all"),),
    "sigmoid": (Mistake("no_sigma", lambda g, a: (g * (1 - RULES["sigmoid"].forward(a)),),
                        "sigma'(x) = sigma(x) (1 - sigma(x)); the factor sigma(x) is missing"),),
}  # fmt: skip


def graph_forward(op: str, graph: str, *xs: np.ndarray) -> np.ndarray:
    f = RULES[op].forward
    if graph == "reuse":  # unary: op(op(a)); binary: op(a, a)
        return f(f(xs[0])) if len(xs) == 1 else f(xs[0], xs[0])
    return f(f(*xs), xs[1]) if graph == "diamond" else f(*xs)


def graph_vjp(op: str, vjp: Callable, graph: str, g: np.ndarray, *xs: np.ndarray) -> tuple:
    """One gradient per tensor of the little graph, chained through ``vjp``."""
    f = RULES[op].forward
    if graph == "reuse" and len(xs) == 1:
        return vjp(vjp(g, f(xs[0]))[0], xs[0])
    if graph == "reuse":
        return (sum(vjp(g, xs[0], xs[0])),)
    if graph == "diamond":
        dc, db = vjp(g, f(*xs), xs[1])
        da, db1 = vjp(dc, *xs)
        return da, db + db1
    return tuple((2 if graph == "twice" else 1) * d for d in vjp(g, *xs))


def _op_inputs(p: dict) -> list[np.ndarray]:
    return [np.array(x, dtype=np.float64) for x in p["inputs"]]


def _used(p: dict) -> list[np.ndarray]:
    """The distinct tensors of the graph (reuse: a only)."""
    return _op_inputs(p)[:1] if p["graph"] == "reuse" else _op_inputs(p)


def _op_result(p: dict, vjp: Callable) -> dict:
    xs, g = _op_inputs(p), np.array(p["g"])
    grads = graph_vjp(p["op"], vjp, p["graph"], g, *xs)
    return dict(zip(GRADIENTS, grads, strict=False))


def op_part(ops: list[str], n: int, points: float, seed: int, title: str) -> Part:
    def probes(rng: np.random.Generator) -> list[dict]:
        out = []
        for op in ops:
            cases: list = []
            while len(cases) < n:  # the notebook's ops take inputs of one shape (no broadcasting)
                cases += [c for c in RULES[op].cases(rng) if len({x.shape for x in c.inputs}) == 1]
            for i, case in enumerate(cases[:n]):
                graph = list(GRAPHS)[i % 4]
                if graph != "twice" and (op == "maximum" or len(case.inputs) == 1):
                    graph = "plain" if op == "maximum" or graph == "diamond" else graph
                g = nonzero(rng, case.inputs[0].shape)  # a random upstream gradient, never all ones
                inputs = [x.tolist() for x in case.inputs]
                # the direction the gradient's own derivative is taken along: inputs, then g
                direction = [rng.normal(size=np.shape(x)).tolist() for x in (*inputs, g)]
                out.append(
                    {
                        "op": op,
                        "cls": CLASSES[op],
                        "graph": graph,
                        "inputs": inputs,
                        "g": g.tolist(),
                        "direction": direction,
                    }
                )
        return out

    def expected(p: dict) -> dict:
        graph = "plain" if p["graph"] == "twice" else p["graph"]
        forward = graph_forward(p["op"], graph, *_op_inputs(p))
        return {"forward value": forward} | _op_result(p, RULES[p["op"]].vjp)

    def witness(p: dict) -> dict:
        graph = "plain" if p["graph"] == "twice" else p["graph"]
        arity = len(p["inputs"])
        fd = central_difference(
            lambda *v: graph_forward(p["op"], graph, *(v * (arity // len(v)))), _used(p), p["g"]
        )
        times = 2 if p["graph"] == "twice" else 1
        return dict(zip(GRADIENTS, (times * d for d in fd), strict=False))

    def second_order(p: dict) -> dict:
        """Finite differences of the reference gradient along the probe's direction."""
        xs, vjp = [np.array(p["g"]), *_op_inputs(p)], RULES[p["op"]].vjp
        direction = [np.array(d) for d in (p["direction"][-1], *p["direction"][:-1])]
        return {
            f"d(gradient of {name}) along a random direction": directional_difference(
                lambda *args, i=i: vjp(*args)[i], xs, direction
            )
            for i, name in enumerate("ab"[: len(p["inputs"])])
        }

    def label(p: dict) -> str:
        names = "a, b" if len(p["inputs"]) == 2 else "a"
        graph = GRAPHS[p["graph"]] if names == "a, b" or p["graph"] != "reuse" else UNARY_REUSE
        inputs = ", ".join(f"{n}={describe(x)}" for n, x in zip("ab", _used(p), strict=False))
        graph = graph.format(op=p["cls"] + "()", args=names)
        return f"{p['cls']}: {graph} with {inputs}, upstream gradient {describe(p['g'])}"

    by_hint: dict[str, dict[str, Mistake]] = {}  # ops may share a mistake's hint
    for op in ops:
        for m in (*RULES[op].mistakes, *LOCAL_MISTAKES.get(op, ())):
            if m.name != "no_unbroadcast":  # the probes' inputs have one shape: cannot happen
                by_hint.setdefault(m.hint, {})[op] = m
    mistakes: dict[str, Callable] = {
        hint: lambda p, t=table: _op_result(p, t[p["op"]].vjp) if p["op"] in t else None
        for hint, table in by_hint.items()
    }
    mistakes["the second backward() must add to .grad: return fresh tensors"] = lambda p: (
        _op_result(p | {"graph": "plain"}, RULES[p["op"]].vjp) if p["graph"] == "twice" else None
    )
    return Part(
        points, probes, drivers.op_graph, label, expected, seed=seed, witness=witness,
        mistakes=mistakes, title=title, second_order=second_order,
        tolerance=lambda p: {"forward value": (1e-12, 1e-14)} | dict.fromkeys(
            GRADIENTS, (1e-10, 1e-13 * (1 + np.max(np.abs(p["g"]))))),
    )  # fmt: skip


# The seeds' example y = ln(x1) + x1*x2 - sin(x2), and the smallest graph with reuse.
FIXED_GRAPHS = [
    ({"y": ("sub", ["v6", "v5"]), "v5": ("sin", ["x2"]), "x1": ("input", []),
      "v6": ("add", ["v3", "v4"]), "v4": ("mul", ["x1", "x2"]), "x2": ("input", []),
      "v3": ("log", ["x1"])}, "y"),
    ({"sq": ("mul", ["x", "x"]), "y": ("exp", ["sq"]), "x": ("input", [])}, "y"),
]  # fmt: skip


def random_graph(rng: np.random.Generator) -> tuple[dict, str]:
    """A random DAG whose nodes reuse earlier ones (x*x, diamonds), listed in random order."""
    n_leaves, n_ops = int(rng.integers(1, 4)), int(rng.integers(3, 10))
    names = [f"x{i + 1}" for i in range(n_leaves)]
    graph: dict[str, tuple[str, list[str]]] = {n: ("input", []) for n in names}
    positive = set(names)  # nodes known to be positive (for log)
    for j in range(n_ops):
        recent = names[-4:]
        if rng.random() < 0.6:
            op, first = str(rng.choice(["add", "sub", "mul"])), str(rng.choice(recent))
            parents = [
                first,
                first if rng.random() < 0.2 else str(rng.choice(names)),
            ]  # sometimes x op x
        else:
            op, parents = (
                str(rng.choice(["exp", "sin", "log", "neg", "cos"])),
                [str(rng.choice(recent))],
            )
            op = "exp" if op == "log" and parents[0] not in positive else op
        if op == "exp" or (op == "mul" and parents[0] == parents[1]):
            positive.add(f"v{j + 1}")
        graph[f"v{j + 1}"] = (op, parents)
        names.append(f"v{j + 1}")
    graph["out"] = ("add", [names[-1], str(rng.choice(names[n_leaves:-1] or names[:1]))])
    for k in range(int(rng.integers(1, 3))):  # nodes the output does not need
        graph[f"unused{k + 1}"] = ("mul", [str(rng.choice(names)), str(rng.choice(names))])
    keys = list(graph)
    rng.shuffle(keys)
    return {k: graph[k] for k in keys}, "out"


def ancestors(graph: dict, output: str) -> set[str]:
    seen, stack = set(), [output]
    while stack:
        if (name := stack.pop()) not in seen:
            seen.add(name)
            stack.extend(graph[name][1])
    return seen


def ref_order(graph: dict, output: str) -> list[str]:
    order: list[str] = []

    def place(name: str) -> None:
        if name not in order:
            for parent in graph[name][1]:
                place(parent)
            order.append(name)

    place(output)
    return order


def ref_forward(graph: dict, order: list[str], leaves: dict[str, float]) -> dict[str, float]:
    values: dict[str, float] = {}
    for name in order:
        op, parents = graph[name]
        values[name] = (
            leaves[name]
            if op == "input"
            else float(RULES[op].forward(*(np.float64(values[q]) for q in parents)))
        )
    return values


def ref_backward(
    p: dict, seed: float | None = None, accumulate: bool = True, walk: int = -1
) -> dict:
    """Adjoints from the catalogue's VJPs (``accumulate=False``, ``walk=1``: two mistakes)."""
    graph, values = p["graph"], p["values"]
    adjoint = dict.fromkeys(p["order"], 0.0) | {p["output"]: p["seed"] if seed is None else seed}
    for name in p["order"][::walk]:
        op, parents = graph[name]
        if op != "input":
            grads = RULES[op].vjp(
                np.float64(adjoint[name]), *(np.float64(values[q]) for q in parents)
            )
            for parent, grad in zip(parents, grads, strict=True):
                adjoint[parent] = adjoint[parent] * accumulate + float(grad)
    return {f"dL/d{name}": adjoint[name] for name in reversed(p["order"])}  # output first


def shared_input_hint(p: dict) -> str:
    """The accumulation hint, naming the node of ``p`` that feeds the most gate inputs."""
    uses = Counter(q for name in p["order"] for q in p["graph"][name][1])
    node, count = max(uses.items(), key=lambda item: item[1], default=("", 0))
    if count < 2:
        return "a node used by several gates gets the SUM of their contributions (+=, not =)"
    return (
        f"{node!r} feeds {count} gate inputs; its adjoint is the SUM of the contributions "
        "from all of them (+=, not =)"
    )


def graph_probes(n: int, with_values: bool) -> Callable[[np.random.Generator], list[dict]]:
    def probes(rng: np.random.Generator) -> list[dict]:
        out: list[dict] = []
        while len(out) < n:
            graph, output = (
                FIXED_GRAPHS[len(out)] if len(out) < len(FIXED_GRAPHS) else random_graph(rng)
            )
            probe: dict[str, Any] = {"graph": graph, "output": output}
            if with_values:
                order = ref_order(graph, output)
                leaves = {q: rng.uniform(0.3, 1.2) for q in order if graph[q][0] == "input"}
                values = ref_forward(graph, order, {"x1": 2.0, "x2": 5.0} if not out else leaves)
                if not all(math.isfinite(v) and abs(v) < 1e6 for v in values.values()):
                    continue
                probe |= {"order": order, "values": values, "seed": float(_signed(rng, 0.3, 3.0))}
            out.append(probe)
        return out

    return probes


def shown(p: dict) -> str:
    nodes = p.get("order", p["graph"])
    return (
        "{"
        + ", ".join(
            f"{k}=" + (f"{op}({', '.join(ps)})" if ps else "input")
            for k, (op, ps) in p["graph"].items()
            if k in nodes
        )
        + "}"
    )


def check_order(p: dict, got: Any) -> str | None:
    graph, output = p["graph"], p["output"]
    if not isinstance(got, list):
        return f"return a list of node names, got {describe(got)}"
    need, position = ancestors(graph, output), {n: i for i, n in enumerate(got)}
    dupes, extra, missing = (
        sorted({n for n in got if got.count(n) > 1}),
        sorted(set(got) - need),
        sorted(need - set(got)),
    )
    late = [
        (n, q) for n in got if n in graph for q in graph[n][1] if position.get(q, -1) > position[n]
    ]
    if dupes:
        msg = (
            f"{', '.join(dupes)} appear(s) more than once. A node reached along two paths (a "
            "diamond, or x*x) must be listed once: remember which nodes you have already visited."
        )
    elif missing:
        msg = f"missing node(s) {', '.join(missing)}, which {output!r} depends on."
    elif extra:
        msg = (
            f"{', '.join(extra)} should not be listed: {output!r} does not depend on it. "
            "List only the nodes reachable backwards from the output."
        )
    elif late:
        node, parent = late[0]
        msg = f"{node!r} comes before its input {parent!r}. Every node must come after its inputs."
    else:
        return None
    valid, yours = ", ".join(ref_order(graph, output)), ", ".join(map(str, got))
    return f"{msg}\n    one valid order: {valid}\n    your order:      {yours}"


def backward_witness(p: dict) -> dict:
    leaves = [q for q in p["order"] if p["graph"][q][0] == "input"]

    def loss(*v: np.ndarray) -> np.ndarray:
        return np.array(
            ref_forward(p["graph"], p["order"], dict(zip(leaves, map(float, v), strict=True)))[
                p["output"]
            ]
        )

    fd = central_difference(loss, [np.array(p["values"][q]) for q in leaves], np.array(p["seed"]))
    return {f"dL/d{q}": float(d) for q, d in zip(leaves, fd, strict=True)}


# fmt: off
PARTS: dict[str, Part] = {
    "gate_examples": example_part(["circuit_backward", "exp_affine_backward"], 15, 201,
                                  "circuit_backward / exp_affine_backward"),
    "branching_examples": example_part(["ratio_backward", LOG], 15, 202,
                                       "ratio_backward / log_example_backward"),
    "multiply_divide_ops": op_part(["mul", "div"], 14, 15, 203, "Multiply / Divide"),
    "maximum_op": op_part(["maximum"], 20, 10, 204, "Maximum"),
    "sigmoid_op": op_part(["sigmoid"], 20, 15, 205, "Sigmoid"),
    "topological_order": Part(
        15, graph_probes(24, False), drivers.topological_order, check=check_order, seed=206,
        label=lambda p: f"topological_order(graph, {p['output']!r}) for the graph {shown(p)}",
        title="topological_order"),
    "backward_pass": Part(
        20, graph_probes(24, True), drivers.backward_pass, expected=ref_backward, seed=207,
        label=lambda p: f"backward_pass on {shown(p)}, seed dL/d{p['output']} = {p['seed']:.3g}",
        witness=backward_witness, title="backward_pass", forbidden=BY_HAND,
        tolerance=lambda p: (1e-9, 1e-12 * max(abs(v) for v in ref_backward(p).values())),
        mistakes={
            "every adjoint is 1: multiply by the local derivatives on the way back":
                lambda p: dict.fromkeys(ref_backward(p), 1.0),
            "start the backward pass from the given seed, not from 1":
                lambda p: ref_backward(p, seed=1.0),
            shared_input_hint: lambda p: ref_backward(p, accumulate=False),
            "walk the nodes in reverse topological order (the output first)":
                lambda p: ref_backward(p, walk=1),
        }),
}
# fmt: on
