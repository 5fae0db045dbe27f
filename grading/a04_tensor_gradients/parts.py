"""Grading of assignment 04-tensor-gradients ("Gradients of tensor operations").

Op parts take each op's forward rule, VJP and typical mistakes from the op catalogue and
call the student's ``gradient()`` directly (strict shapes), on tensors of rank 0 to 3 with a
random upstream gradient (never all ones) and a float64 central-difference witness.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mytorch_course.catalogue import (
    BINARY_SHAPES,
    RULES,
    UNARY_SHAPES,
    Case,
    anywhere,
    nonzero,
    positive,
    softmax,
    softmax_vjp,
    unbroadcast,
)
from mytorch_course.checks import describe
from mytorch_course.numeric import central_difference, directional_difference
from mytorch_course.runner import Part

from . import drivers

FORWARD = "forward value"
GRADIENTS = drivers.GRADIENT_NAMES
ONES_HINT = (
    "a gradient of all ones is the rule for nothing here: multiply out_grad by the op's "
    "local derivative"
)


def _inputs(p: dict) -> list[np.ndarray]:
    return [np.array(x, dtype=np.float64) for x in p["inputs"]]


def _params(p: dict) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in p["params"].items()}


def _gradients(p: dict, vjp: Callable) -> dict:
    grads = vjp(np.array(p["g"], dtype=np.float64), *_inputs(p), **_params(p))
    return dict(zip(GRADIENTS, grads, strict=False))


def op_probe(op: str, case: Case, rng: np.random.Generator, cls: str = "") -> dict:
    out = RULES[op].forward(*case.inputs, **case.params)
    g = nonzero(rng, out.shape)  # a random upstream gradient, never all ones
    return {
        "op": op,
        "cls": cls or RULES[op].op_class,  # the student's class, named as the engine's
        "inputs": [x.tolist() for x in case.inputs],
        "params": dict(case.params),
        "g": g.tolist(),
        # the direction the gradient's own derivative is taken along: inputs, then g
        "direction": [rng.normal(size=np.shape(x)).tolist() for x in (*case.inputs, g)],
    }


def op_expected(p: dict) -> dict:
    forward = RULES[p["op"]].forward(*_inputs(p), **_params(p))
    return {FORWARD: forward} | _gradients(p, RULES[p["op"]].vjp)


def op_witness(p: dict) -> dict:
    rule, params = RULES[p["op"]], _params(p)
    fd = central_difference(lambda *xs: rule.forward(*xs, **params), _inputs(p), p["g"])
    return dict(zip(GRADIENTS, fd, strict=False))


def op_second_order(p: dict) -> dict:
    """Finite differences of the reference gradient along the probe's direction."""
    vjp, params = RULES[p["op"]].vjp, _params(p)
    xs = [np.array(p["g"], dtype=np.float64), *_inputs(p)]  # vjp's argument order
    direction = [np.array(d) for d in (p["direction"][-1], *p["direction"][:-1])]
    return {
        f"d({name}) along a random direction": directional_difference(
            lambda *args, i=i: vjp(*args, **params)[i], xs, direction
        )
        for i, name in enumerate(GRADIENTS[: len(p["inputs"])])
    }


def op_label(p: dict) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in _params(p).items())
    inputs = ", ".join(f"{n}={describe(x)}" for n, x in zip("ab", _inputs(p), strict=False))
    return f"{p['cls']}({params}).gradient with {inputs}, out_grad={describe(p['g'])}"


def op_tolerance(p: dict) -> dict:
    """Relative 1e-10, and an absolute floor scaled by the terms a gradient entry sums."""
    xs, g = _inputs(p), np.abs(np.array(p["g"]))
    terms = max([g.size, *(x.size for x in xs)])
    scale = (1.0 + g.max(initial=0.0)) * np.prod([1.0 + np.abs(x).max(initial=0.0) for x in xs])
    atol = 1e-13 * terms * scale
    return {FORWARD: (1e-12, atol)} | dict.fromkeys(GRADIENTS, (1e-10, atol))


def op_mistakes(ops: list[str], skip: tuple[str, ...] = ()) -> dict[str, Callable[[dict], Any]]:
    """The catalogue's typical mistakes of ``ops`` (one hint may serve several ops), but for
    those in ``skip``: mistakes the part's probes cannot tell from the rule."""
    by_hint: dict[str, dict[str, Callable]] = {}
    for op in ops:
        for m in RULES[op].mistakes:
            if m.name in skip:
                continue
            by_hint.setdefault(m.hint, {})[op] = m.vjp
    mistakes: dict[str, Callable[[dict], Any]] = {
        ONES_HINT: lambda p: {
            k: np.ones_like(x) for k, x in zip(GRADIENTS, _inputs(p), strict=False)
        }
    }
    for hint, table in by_hint.items():
        mistakes[hint] = lambda p, t=table: _gradients(p, t[p["op"]]) if p["op"] in t else None
    return mistakes


def op_part(
    ops: list[str], cases: Callable[[np.random.Generator], list[Case]] | dict, points: float,
    seed: int, title: str, cls: str = "", skip: tuple[str, ...] = (),
) -> Part:  # fmt: skip
    """A part whose probes are ``cases[op](rng)`` for each op (``cases`` may be one function
    of ``(op, rng)`` instead), graded against the catalogue's rules."""

    def probes(rng: np.random.Generator) -> list[dict]:
        out = []
        for op in ops:
            drawn = cases[op](rng) if isinstance(cases, dict) else cases(op, rng)
            out += [op_probe(op, case, rng, cls) for case in drawn]
        return out

    return Part(
        points, probes, drivers.op_gradient, op_label, op_expected, witness=op_witness,
        mistakes=op_mistakes(ops, skip), tolerance=op_tolerance, seed=seed, title=title,
        second_order=op_second_order,
    )  # fmt: skip


# --- probes of each op part -------------------------------------------------------------

SAME_SHAPES = [*UNARY_SHAPES, (1, 5)]
BINARY_DOMAINS = {
    "add": (anywhere, anywhere),
    "mul": (anywhere, anywhere),
    "div": (anywhere, nonzero),  # the denominator away from its pole
    "pow": (positive, anywhere),  # a ** b for real b needs a > 0
}


def same_shape_cases(op: str, rng: np.random.Generator) -> list[Case]:
    """Both inputs of one shape, rank 0 to 3 (broadcasting is the un-broadcast part's)."""
    da, db = BINARY_DOMAINS[op]
    return [Case((da(rng, s), db(rng, s))) for s in SAME_SHAPES]


def catalogue_cases(op: str, rng: np.random.Generator) -> list[Case]:
    return RULES[op].cases(rng)


def matmul_2d_cases(op: str, rng: np.random.Generator) -> list[Case]:
    """Matrices only, mostly non-square (a forgotten transpose then cannot even run)."""
    shapes = [((2, 3), (3, 4)), ((3, 3), (3, 3)), ((1, 4), (4, 2)), ((4, 1), (1, 3))]
    shapes += [tuple((int(m), int(n)) for m, n in rng.integers(1, 6, (2, 2))) for _ in range(18)]
    shapes = [((a[0], a[1]), (a[1], b[1])) for a, b in shapes]  # inner lengths agree
    return [Case((anywhere(rng, sa), anywhere(rng, sb))) for sa, sb in shapes]


BATCHED_SHAPES = [
    ((5, 10, 20), (20, 30)),  # the worked example: B is shared by the batch of 5
    ((2, 3, 4), (2, 4, 5)),  # one B per batch entry: nothing to sum
    ((2, 1, 3, 4), (5, 4, 2)),  # batch axes (2, 1) and (5,) broadcast to (2, 5)
    ((3, 4), (2, 4, 5)),  # A is shared
    ((2, 3, 4), (4, 5)),
    ((1, 3, 2), (4, 2, 3)),  # a batch axis of length 1, stretched
    ((2, 2, 3, 3), (3, 3)),  # square matrices: a forgotten transpose still runs
    ((3, 2, 4), (1, 4, 2)),
    ((2, 3, 1, 4), (3, 4, 2)),
    ((4, 2), (3, 2, 5)),
    ((2, 2, 3), (2, 3, 2)),
]


def batched_cases(op: str, rng: np.random.Generator) -> list[Case]:
    return [Case((anywhere(rng, sa), anywhere(rng, sb))) for sa, sb in BATCHED_SHAPES * 2]


# --- un-broadcasting: the student's unbroadcast() and their BroadcastTo op ---------------

UNBROADCAST_HINTS = {
    "no sum at all": (
        lambda g, shape: g,
        "sum the gradient over the axes that broadcasting added or stretched, so that it "
        "has the input's shape",
    ),
    "stretched axes": (
        lambda g, shape: g.sum(axis=tuple(range(g.ndim - len(shape)))),
        "also sum over the axes of length 1 that broadcasting stretched, keeping the 1 "
        "(keepdims=True)",
    ),
    "trailing axes": (
        lambda g, shape: g.sum(axis=tuple(range(len(shape), g.ndim))) if len(shape) else g.sum(),
        "broadcasting lines shapes up at their LAST axes, so the added axes are the leading "
        "ones: sum over axis 0, 1, ... first",
    ),
}


def unbroadcast_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for sa, sb in BINARY_SHAPES:  # each operand of each broadcast pair, as the target shape
        big = np.broadcast_shapes(sa, sb)
        for shape in {sa, sb}:
            out.append({"kind": "function", "shape": list(shape), "g": nonzero(rng, big).tolist()})
    extra = [((4, 3), (3,)), ((2, 3, 4), (1, 4)), ((5, 2, 1), (2, 1)), ((3, 1, 2), (1, 1, 1))]
    for big, shape in extra:
        out.append({"kind": "function", "shape": list(shape), "g": nonzero(rng, big).tolist()})
    for case in RULES["broadcast_to"].cases(rng):
        out.append({"kind": "op"} | op_probe("broadcast_to", case, rng))
    return out


def unbroadcast_expected(p: dict) -> dict:
    if p["kind"] == "op":
        return op_expected(p)
    return {GRADIENTS[0]: unbroadcast(np.array(p["g"]), tuple(p["shape"]))}


def unbroadcast_witness(p: dict) -> dict:
    if p["kind"] == "op":
        return op_witness(p)
    big = np.array(p["g"]).shape
    x = np.zeros(tuple(p["shape"]))
    fd = central_difference(lambda v: np.broadcast_to(v, big), [x], p["g"])
    return {GRADIENTS[0]: fd[0]}


def unbroadcast_label(p: dict) -> str:
    if p["kind"] == "op":
        return op_label(p)
    return f"unbroadcast(grad={describe(p['g'])}, shape={tuple(p['shape'])})"


def _unbroadcast_mistake(fn: Callable) -> Callable[[dict], Any]:
    def wrong(p: dict) -> dict | None:
        if p["kind"] != "function":
            return None
        return {GRADIENTS[0]: np.asarray(fn(np.array(p["g"]), tuple(p["shape"])))}

    return wrong


def _only_ops(mistake: Callable[[dict], Any]) -> Callable[[dict], Any]:
    return lambda p: mistake(p) if p["kind"] == "op" else None


UNBROADCAST_MISTAKES = {
    hint: _only_ops(wrong) for hint, wrong in op_mistakes(["broadcast_to"]).items()
} | {hint: _unbroadcast_mistake(fn) for fn, hint in UNBROADCAST_HINTS.values()}


# --- vector rules from the seeds -------------------------------------------------------

VECTOR_FIELDS = {
    "dot_backward": ["gradient of x", "gradient of y"],
    "square_norm_backward": ["gradient of x"],
    "matvec_backward": ["gradient of W", "gradient of x"],
}


def vector_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(8):
        n, m = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        m = n if i % 4 == 0 else m  # sometimes square: a transposed W still has the shape
        g = float(nonzero(rng, ()))
        cases = {
            "dot_backward": [anywhere(rng, (n,)), anywhere(rng, (n,)), g],
            "square_norm_backward": [anywhere(rng, (n,)), g],
            "matvec_backward": [anywhere(rng, (m, n)), anywhere(rng, (n,)), nonzero(rng, (m,))],
        }
        for fn, args in cases.items():
            out.append({"fn": fn, "args": [np.asarray(a).tolist() for a in args],
                        "fields": VECTOR_FIELDS[fn]})  # fmt: skip
    return out


def _vector_args(p: dict) -> list[np.ndarray]:
    return [np.array(a, dtype=np.float64) for a in p["args"]]


def vector_expected(p: dict, two_branches: bool = True, transpose: bool = True) -> dict:
    args = _vector_args(p)
    if p["fn"] == "dot_backward":
        x, y, g = args
        return {"gradient of x": g * y, "gradient of y": g * x}
    if p["fn"] == "square_norm_backward":
        x, g = args
        return {"gradient of x": (2.0 if two_branches else 1.0) * g * x}
    w, x, e = args
    if not transpose:
        return {"gradient of W": np.outer(x, e), "gradient of x": w @ e}
    return {"gradient of W": np.outer(e, x), "gradient of x": w.T @ e}


VECTOR_FORWARD = {
    "dot_backward": lambda x, y: y @ x,
    "square_norm_backward": lambda x: x @ x,
    "matvec_backward": lambda w, x: w @ x,
}


def vector_witness(p: dict) -> dict:
    *inputs, g = _vector_args(p)
    fd = central_difference(VECTOR_FORWARD[p["fn"]], inputs, g)
    return dict(zip(p["fields"], fd, strict=True))


def vector_label(p: dict) -> str:
    names = {"dot_backward": "x y out_grad", "square_norm_backward": "x out_grad",
             "matvec_backward": "W x out_grad"}[p["fn"]]  # fmt: skip
    args = ", ".join(
        f"{n}={describe(a)}" for n, a in zip(names.split(), _vector_args(p), strict=True)
    )
    return f"{p['fn']}({args})"


def _when(fn: str, result: Callable[[dict], dict]) -> Callable[[dict], dict | None]:
    return lambda p: result(p) if p["fn"] == fn else None


VECTOR_MISTAKES = {
    "multiply by out_grad: the chain rule scales every gradient by the upstream gradient": (
        lambda p: vector_expected(p | {"args": [*p["args"][:-1], np.ones_like(
            np.array(p["args"][-1])).tolist()]})),
    "x reaches the dot product along two branches (the split): add both contributions, "
    "2 x, not x": _when("square_norm_backward", lambda p: vector_expected(p, two_branches=False)),
    "each entry W[i, j] multiplies x[j] into y[i]: its gradient is out_grad[i] * x[j], the "
    "outer product e x^T, and x gets W^T e": _when(
        "matvec_backward", lambda p: vector_expected(p, transpose=False)),
    "the dot product cross-amplifies: x's gradient is out_grad * y, y's is out_grad * x": _when(
        "dot_backward", lambda p: {"gradient of x": p["args"][2] * np.array(p["args"][0]),
                                   "gradient of y": p["args"][2] * np.array(p["args"][1])}),
}  # fmt: skip


# --- Jacobians and VJPs ------------------------------------------------------------------


def jacobian_probes(rng: np.random.Generator) -> list[dict]:
    out: list[dict] = []
    for i in range(8):
        m, n = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        out.append(
            {
                "fn": "jacobian_from_vjp",
                "map": ["linear", "tanh"][i % 2],
                "A": anywhere(rng, (m, n)).tolist(),
                "x": anywhere(rng, (n,)).tolist(),
            }
        )
        out.append(
            {"fn": "softmax_jacobian", "z": rng.uniform(-3, 3, int(rng.integers(1, 7))).tolist()}
        )
        shape = UNARY_SHAPES[1 + i % 4]  # rank 1 to 3
        out.append({"fn": "softmax_backward", "z": rng.uniform(-3, 3, shape).tolist(),
                    "g": nonzero(rng, shape).tolist()})  # fmt: skip
    return out


def _true_jacobian(p: dict) -> np.ndarray:
    matrix, x = np.array(p["A"]), np.array(p["x"])
    if p["map"] == "tanh":
        return (1.0 - np.tanh(matrix @ x) ** 2)[:, None] * matrix
    return matrix


def jacobian_expected(p: dict) -> dict:
    if p["fn"] == "softmax_jacobian":
        s = softmax(np.array(p["z"]), -1)
        return {"jacobian": np.diag(s) - np.outer(s, s)}
    if p["fn"] == "softmax_backward":
        return {"gradient of z": softmax_vjp(np.array(p["g"]), np.array(p["z"]), -1)[0]}
    return {"jacobian": _true_jacobian(p), "VJP calls": float(len(p["A"]))}


def jacobian_witness(p: dict) -> dict:
    z = np.array(p.get("z", 0.0))
    if p["fn"] == "softmax_backward":
        return {"gradient of z": central_difference(lambda v: softmax(v, -1), [z], p["g"])[0]}
    if p["fn"] == "softmax_jacobian":  # row i: the VJP with the i-th unit vector
        rows = [central_difference(lambda v: softmax(v, -1), [z], u)[0] for u in np.eye(z.size)]
        return {"jacobian": np.array(rows)}
    matrix, x = np.array(p["A"]), np.array(p["x"])
    fn = (lambda v: np.tanh(matrix @ v)) if p["map"] == "tanh" else (lambda v: matrix @ v)
    rows = [central_difference(fn, [x], u)[0] for u in np.eye(len(matrix))]
    return {"jacobian": np.array(rows)}


def jacobian_label(p: dict) -> str:
    if p["fn"] == "jacobian_from_vjp":
        what = "tanh(A x)" if p["map"] == "tanh" else "A x"
        return (f"jacobian_from_vjp(vjp of f(x) = {what}, {len(p['A'])}) with "
                f"A={describe(p['A'])}, x={describe(p['x'])}")  # fmt: skip
    extra = f", out_grad={describe(p['g'])}" if "g" in p else ""
    return f"{p['fn']}(z={describe(p['z'])}{extra})"


def _softmax_diagonal(p: dict) -> dict:
    s = softmax(np.array(p["z"]), -1)
    if p["fn"] == "softmax_jacobian":
        return {"jacobian": np.diag(s * (1 - s))}
    return {"gradient of z": np.array(p["g"]) * s * (1 - s)}


JACOBIAN_MISTAKES = {
    "vjp(u) = u^T J gives one ROW of the Jacobian: put the result for the i-th unit vector "
    "in row i": _when("jacobian_from_vjp", lambda p: {"jacobian": _true_jacobian(p).T}),
    "softmax's outputs share one denominator, so its Jacobian is not diagonal: "
    "diag(p) - p p^T": lambda p: _softmax_diagonal(p) if "z" in p else None,
    "multiply by out_grad: softmax's VJP is p * (g - sum(g * p))": _when(
        "softmax_backward", lambda p: {"gradient of z": softmax_vjp(
            np.ones_like(np.array(p["g"])), np.array(p["z"]), -1)[0]}),
}  # fmt: skip


def _small_tolerance(p: dict) -> tuple[float, float]:
    return (1e-10, 1e-13 * (1.0 + np.max(np.abs(p.get("g", 1.0)))))


# fmt: off
PARTS: dict[str, Part] = {
    "elementwise_ops": op_part(["add", "mul", "div", "pow"], same_shape_cases, 10, 401,
                               "Add / Mul / Div / Pow", skip=("no_unbroadcast",)),
    "unary_ops": op_part(["power", "exp", "log", "tanh", "relu"], catalogue_cases, 15, 402,
                         "PowerScalar / Exp / Log / Tanh / ReLU"),
    "shape_ops": op_part(["sum", "reshape", "transpose"], catalogue_cases, 15, 403,
                         "Sum / Reshape / Transpose"),
    "unbroadcast": Part(
        15, unbroadcast_probes, drivers.unbroadcast, unbroadcast_label, unbroadcast_expected,
        witness=unbroadcast_witness, mistakes=UNBROADCAST_MISTAKES, seed=404,
        second_order=lambda p: op_second_order(p) if p["kind"] == "op" else {},
        tolerance=lambda p: op_tolerance(p) if p["kind"] == "op" else (1e-12, 1e-12),
        title="unbroadcast / BroadcastTo"),
    "matmul": op_part(["matmul"], matmul_2d_cases, 15, 405, "MatMul", skip=("no_batch_sum",)),
    "batched_matmul": op_part(["matmul"], batched_cases, 10, 406, "BatchedMatMul",
                              cls="BatchedMatMul", skip=("forgot_transpose",)),
    "vector_rules": Part(
        10, vector_probes, drivers.vector_rule, vector_label, vector_expected,
        witness=vector_witness, mistakes=VECTOR_MISTAKES, seed=407, title="vector rules",
        tolerance=(1e-10, 1e-12)),
    "jacobian_vjp": Part(
        10, jacobian_probes, drivers.jacobian, jacobian_label, jacobian_expected,
        witness=jacobian_witness, mistakes=JACOBIAN_MISTAKES, seed=408,
        tolerance=_small_tolerance, title="Jacobians and VJPs"),
}
# fmt: on
