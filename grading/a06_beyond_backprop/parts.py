"""Grading of assignment 06-beyond-backprop ("Beyond backprop").

Dual numbers and the seeds' forward sweeps, forward-mode tangent rules of engine ops (checked
against the op's own gradient with the dot test <u, J v> = <J^T u, v>), a Jacobian built
both ways with its passes counted, the cost of the two modes, Hessian-vector products and
Newton's method, and gradient descent seen through Taylor's expansion next to Robbins-Monro
step sizes. Every reference below is written independently of the engine's forward mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mytorch_course.catalogue import RULES, anywhere, nonzero
from mytorch_course.checks import describe
from mytorch_course.runner import Part

from . import drivers

# A part done by hand must not call the library's own forward mode or Hessian products.
LIBRARY_TRANSFORMS = ("jvp", "vjp", "jacobian", "hvp", "forward_walk", "func")


# --- dual numbers -------------------------------------------------------------------------

FUNCTIONS = {
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda a: -np.sin(a)),
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda a: 1.0 / a),
}
LEFT_CONSTANT = 0.3  # how often a binary op gets a plain number as one operand


def dual_reference(node: dict, point: list[float], wrt: int) -> tuple[float, float]:
    """(value, derivative along input ``wrt``) of an expression tree, by forward sweep on
    (value, tangent) pairs. Raises ValueError outside the grader's chosen domain."""
    op = node["op"]
    if op == "var":
        return float(point[node["i"]]), float(node["i"] == wrt)
    if op == "const":
        return float(node["c"]), 0.0
    args = [dual_reference(arg, point, wrt) for arg in node["args"]]
    if op == "neg":
        return -args[0][0], -args[0][1]
    if op in FUNCTIONS:
        (a, da), (f, df) = args[0], FUNCTIONS[op]
        if (op == "log" and a < 0.2) or (op == "exp" and a > 4.0):
            raise ValueError("outside the domain drawn")
        return float(f(a)), float(df(a) * da)
    (a, da), (b, db) = args
    if op == "add":
        return a + b, da + db
    if op == "sub":
        return a - b, da - db
    if op == "mul":
        return a * b, da * b + a * db
    if abs(b) < 0.3:
        raise ValueError("a denominator too close to 0")
    return a / b, da / b - a * db / b**2


def _tree(rng: np.random.Generator, n_vars: int, depth: int, root: str | None = None) -> dict:
    if root is None and (depth == 0 or rng.random() < 0.2):
        if rng.random() < 0.8:
            return {"op": "var", "i": int(rng.integers(n_vars))}
        return {"op": "const", "c": round(float(rng.uniform(-3.0, 3.0)), 3)}
    op = root or str(rng.choice(["add", "sub", "mul", "div", "neg", *FUNCTIONS]))
    if op in FUNCTIONS or op == "neg":
        return {"op": op, "args": [_tree(rng, n_vars, depth - 1)]}
    args = [_tree(rng, n_vars, depth - 1), _tree(rng, n_vars, depth - 1)]
    if rng.random() < LEFT_CONSTANT:  # number op Dual, or Dual op number
        args[int(rng.integers(2))] = {"op": "const", "c": round(float(rng.uniform(0.5, 3.0)), 3)}
    return {"op": op, "args": args}


def _var(i: int) -> dict:
    return {"op": "var", "i": i}


def _call(op: str, *args: dict) -> dict:
    return {"op": op, "args": list(args)}


# The seeds' worked examples: ln x1 + x1 x2 - sin x2 at (2, 5) gives 5.5 and 1.716; the per-
# input sweeps of (x + y) z at (-2, 5, -4) give z, z and x + y.
LOG_EXAMPLE = _call("sub", _call("add", _call("log", _var(0)), _call("mul", _var(0), _var(1))),
                    _call("sin", _var(1)))  # fmt: skip
SUM_TIMES = _call("mul", _call("add", _var(0), _var(1)), _var(2))
SEED_SWEEPS = [(LOG_EXAMPLE, [2.0, 5.0], 0), (LOG_EXAMPLE, [2.0, 5.0], 1)] + [
    (SUM_TIMES, [-2.0, 5.0, -4.0], i) for i in range(3)
]
# A plain number on the left of - and /: Dual's __rsub__ and __rtruediv__.
NUMBER_LEFT = [
    _call("sub", {"op": "const", "c": 2.5}, _call("mul", _var(0), _var(1))),
    _call("div", {"op": "const", "c": 1.5}, _call("add", _var(0), {"op": "const", "c": 3.0})),
]


def dual_probes(rng: np.random.Generator) -> list[dict]:
    out = [{"tree": t, "point": p, "wrt": i} for t, p, i in SEED_SWEEPS]
    for tree in NUMBER_LEFT:  # x0 in [-2, 2] keeps x0 + 3 away from 0
        point = [round(float(v), 4) for v in rng.uniform(0.2, 2.0, 2) * rng.choice([-1, 1], 2)]
        out.append({"tree": tree, "point": point, "wrt": 0})
    roots = ["add", "sub", "mul", "div", "neg", *FUNCTIONS] + [None] * 12
    for root in roots:
        for _ in range(500):
            n_vars = int(rng.integers(1, 4))
            probe = {
                "tree": _tree(rng, n_vars, 3, root),
                "point": [round(float(v), 4) for v in rng.uniform(-2.0, 2.0, n_vars)],
                "wrt": int(rng.integers(n_vars)),
            }
            try:
                value, derivative = dual_reference(probe["tree"], probe["point"], probe["wrt"])
            except ValueError:
                continue
            if abs(value) < 1e3 and 1e-3 < abs(derivative) < 1e3:
                out.append(probe)
                break
    return out


def _expression(node: dict) -> str:
    op = node["op"]
    if op == "var":
        return f"x{node['i']}"
    if op == "const":
        return f"{node['c']:g}"
    args = [_expression(a) for a in node["args"]]
    if op == "neg":
        return f"-({args[0]})"
    if op in FUNCTIONS:
        return f"{op}({args[0]})"
    symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
    return f"({args[0]} {symbol} {args[1]})"


def dual_label(p: dict) -> str:
    point = ", ".join(f"x{i}={v:g}" for i, v in enumerate(p["point"]))
    return f"forward_sweep(f, i={p['wrt']}) for f = {_expression(p['tree'])} at {point}"


def dual_expected(p: dict) -> dict:
    value, derivative = dual_reference(p["tree"], p["point"], p["wrt"])
    return {"value": value, "derivative": derivative}


def dual_witness(p: dict) -> dict:
    h, point = 1e-6, np.array(p["point"], dtype=np.float64)
    step = np.eye(len(point))[p["wrt"]] * h
    up = dual_reference(p["tree"], list(point + step), p["wrt"])[0]
    down = dual_reference(p["tree"], list(point - step), p["wrt"])[0]
    return {"derivative": (up - down) / (2 * h)}


def _every_input_seeded(p: dict) -> dict | None:
    if len(p["point"]) == 1:
        return None
    total = sum(dual_reference(p["tree"], p["point"], i)[1] for i in range(len(p["point"])))
    return {"derivative": total}


DUAL_MISTAKES = {
    "seed only input i with tangent 1 and every other input with 0: one sweep gives one "
    "partial derivative": _every_input_seeded,
}


# --- tangent rules ------------------------------------------------------------------------

TANGENT_OPS = {  # catalogue rule -> the student's class (a subclass of the engine's op)
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "exp": "Exp", "log": "Log",
    "sin": "Sin", "cos": "Cos", "tanh": "Tanh", "power": "PowerScalar", "sum": "Sum",
    "matmul": "MatMul",
}  # fmt: skip


def tangent_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for op, cls in TANGENT_OPS.items():
        for case in RULES[op].cases(rng):
            output = RULES[op].forward(*case.inputs, **case.params)
            out.append(
                {
                    "op": op,
                    "cls": cls,
                    "inputs": [x.tolist() for x in case.inputs],
                    "params": dict(case.params),
                    "tangents": [anywhere(rng, x.shape).tolist() for x in case.inputs],
                    "u": nonzero(rng, output.shape).tolist(),
                }
            )
    return out


def _arrays(p: dict, key: str) -> list[np.ndarray]:
    return [np.array(x, dtype=np.float64) for x in p[key]]


def _params(p: dict) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in p["params"].items()}


def _jvp(p: dict, tangents: list[np.ndarray] | None = None) -> np.ndarray:
    tangents = _arrays(p, "tangents") if tangents is None else tangents
    return RULES[p["op"]].jvp(tuple(tangents), *_arrays(p, "inputs"), **_params(p))


def tangent_expected(p: dict) -> dict:
    jv = _jvp(p)
    dot = float(np.sum(np.array(p["u"]) * jv))
    return {"tangent": jv, "<u, J v>": dot, "<J^T u, v>": dot}


def tangent_witness(p: dict) -> dict:
    """Central differences of the forward rule along the tangents, (f(x+hv) - f(x-hv)) / 2h."""
    h, rule, params = 1e-6, RULES[p["op"]], _params(p)
    xs, vs = _arrays(p, "inputs"), _arrays(p, "tangents")
    up = rule.forward(*(x + h * v for x, v in zip(xs, vs, strict=True)), **params)
    down = rule.forward(*(x - h * v for x, v in zip(xs, vs, strict=True)), **params)
    return {"tangent": (up - down) / (2 * h)}


def tangent_label(p: dict) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in _params(p).items())
    inputs = ", ".join(f"{n}={describe(x)}" for n, x in zip("ab", p["inputs"], strict=False))
    dots = ", ".join(f"d{n}={describe(t)}" for n, t in zip("ab", p["tangents"], strict=False))
    return f"{p['cls']}({params}).tangent with {inputs}, tangents {dots}"


def tangent_tolerance(p: dict) -> dict:
    xs, vs = _arrays(p, "inputs"), _arrays(p, "tangents")
    terms = max(x.size for x in xs)
    scale = np.prod([1.0 + np.abs(x).max(initial=0.0) for x in xs]) ** 2
    scale *= 1.0 + max(np.abs(v).max(initial=0.0) for v in vs)
    atol = 1e-13 * terms * scale
    dot_atol = atol * (1.0 + np.abs(np.array(p["u"])).sum())
    return {"tangent": (1e-10, atol), "<u, J v>": (1e-10, dot_atol),
            "<J^T u, v>": (1e-10, dot_atol)}  # fmt: skip


def _tangent_mistake(op: str, wrong: Callable[[list, list], np.ndarray]) -> Callable:
    def candidate(p: dict) -> dict | None:
        if p["op"] != op:
            return None
        jv = np.asarray(wrong(_arrays(p, "inputs"), _arrays(p, "tangents")), dtype=np.float64)
        return {"tangent": jv}

    return candidate


TANGENT_MISTAKES = {
    "a product moves when either factor moves: d(a b) = da * b + a * db": _tangent_mistake(
        "mul", lambda x, v: v[0] * x[1]),
    "d(a / b) = da / b - a * db / b**2: the denominator's term is negative": _tangent_mistake(
        "div", lambda x, v: v[0] / x[1] + x[0] * v[1] / x[1] ** 2),
    "d(cos a) = -sin(a) da: mind the minus sign": _tangent_mistake(
        "cos", lambda x, v: np.sin(x[0]) * v[0]),
    "d(log a) = da / a: divide the tangent by the input": _tangent_mistake(
        "log", lambda x, v: x[0] * v[0]),
    "d(tanh a) = (1 - tanh(a)**2) da: square the output": _tangent_mistake(
        "tanh", lambda x, v: (1.0 - np.tanh(x[0])) * v[0]),
    "d(A B) = dA B + A dB: both factors move": _tangent_mistake(
        "matmul", lambda x, v: np.matmul(v[0], x[1])),
}  # fmt: skip


# --- a Jacobian two ways ------------------------------------------------------------------


def jacobian_probes(rng: np.random.Generator) -> list[dict]:
    sizes = [(3, 3), (1, 4), (4, 1), (2, 5), (5, 2)]
    sizes += [(int(m), int(n)) for m, n in rng.integers(1, 7, (15, 2))]
    return [
        {"map": ["tanh", "linear"][i % 2], "A": anywhere(rng, (m, n)).tolist(),
         "x": anywhere(rng, (n,)).tolist()}
        for i, (m, n) in enumerate(sizes)
    ]  # fmt: skip


def _true_jacobian(p: dict) -> np.ndarray:
    matrix, slope = drivers._linear_map(p)
    return slope[:, None] * matrix


def jacobian_expected(p: dict) -> dict:
    jac = _true_jacobian(p)
    m, n = jac.shape
    return {"forward-mode J": jac, "JVP calls": float(n), "reverse-mode J": jac,
            "VJP calls": float(m)}  # fmt: skip


def jacobian_witness(p: dict) -> dict:
    matrix, x = np.array(p["A"]), np.array(p["x"])
    f = (lambda v: np.tanh(matrix @ v)) if p["map"] == "tanh" else (lambda v: matrix @ v)
    h = 1e-6
    columns = [(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))]
    jac = np.array(columns).T
    return {"forward-mode J": jac, "reverse-mode J": jac}


def jacobian_label(p: dict) -> str:
    what = "tanh(A x)" if p["map"] == "tanh" else "A x"
    m, n = np.shape(p["A"])
    return (f"jacobian_forward(jvp, {n}) and jacobian_reverse(vjp, {m}) of f(x) = {what}, "
            f"A={describe(p['A'])}, x={describe(p['x'])}")  # fmt: skip


JACOBIAN_MISTAKES = {
    "jvp(e_j) = J e_j is COLUMN j of J: stack the columns, then transpose": lambda p: {
        "forward-mode J": _true_jacobian(p).T},
    "vjp(e_i) = e_i^T J is ROW i of J: stack the rows as they come": lambda p: {
        "reverse-mode J": _true_jacobian(p).T},
    "forward mode takes one pass per INPUT (n JVPs), reverse mode one per OUTPUT (m VJPs)": (
        lambda p: {"JVP calls": float(np.shape(p["A"])[0]),
                   "VJP calls": float(np.shape(p["A"])[1])}),
}  # fmt: skip


# --- the cost of the two modes ------------------------------------------------------------

CHEAPER = drivers.CHEAPER


def cost_probes(rng: np.random.Generator) -> list[dict]:
    fixed = [[3, 4, 5, 6, 3], [1000, 100, 10, 1], [1, 10, 100, 1000], [7, 7], [4, 9, 2, 4]]
    out = [{"widths": w} for w in fixed]
    for i in range(17):
        widths = [int(w) for w in rng.integers(1, 60, int(rng.integers(2, 7)))]
        if i % 3 == 0:
            widths[-1] = widths[0]  # the crossover, n = m
        out.append({"widths": widths})
    return out


def _pass(widths: list[int]) -> float:
    return float(sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True)))


def cost_expected(p: dict) -> dict:
    widths = p["widths"]
    n, m, one = widths[0], widths[-1], _pass(widths)
    return {"one pass": one, "forward Jacobian": n * one, "reverse Jacobian": m * one,
            "forward / reverse": n / m, CHEAPER: float(np.sign(n - m))}  # fmt: skip


def cost_label(p: dict) -> str:
    w = p["widths"]
    return f"widths {w} (n = {w[0]} inputs, m = {w[-1]} outputs)"


COST_MISTAKES = {
    "one pass multiplies a vector through every Jacobian of the chain: the cost is the sum "
    "over neighbouring widths of their product": lambda p: {
        "one pass": float(np.prod(p["widths"]))},
    "forward mode takes one pass per input (n of them), reverse mode one per output (m)": (
        lambda p: {"forward Jacobian": p["widths"][-1] * _pass(p["widths"]),
                   "reverse Jacobian": p["widths"][0] * _pass(p["widths"])}),
    "forward costs n passes, reverse m: their ratio is n / m": lambda p: {
        "forward / reverse": p["widths"][-1] / p["widths"][0]},
    "at n = m the two modes cost the same: answer 'either'": lambda p: (
        {CHEAPER: -1.0} if p["widths"][0] == p["widths"][-1] else None),
}  # fmt: skip


# --- Hessian-vector products --------------------------------------------------------------


def _symmetric(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.normal(size=(n, n))
    return (a + a.T) / 2


def hvp_probes(rng: np.random.Generator) -> list[dict]:
    out: list[dict] = []
    functions = ["rosenbrock", "quadratic", "log_sum_exp", "sin_cubic"]
    for i in range(16):
        fn = functions[i % 4]
        n = 2 if fn == "rosenbrock" else int(rng.integers(1, 6))
        probe = {"kind": "hvp" if i < 12 else "differences", "fn": fn,
                 "x": rng.uniform(-1.5, 1.5, n).tolist(), "v": nonzero(rng, (n,)).tolist(),
                 "h": 1e-5}  # fmt: skip
        if fn == "rosenbrock":
            probe |= {
                "a": round(float(rng.uniform(0.5, 2.0)), 3),
                "b": float(rng.choice([10, 100])),
            }
        elif fn == "sin_cubic":
            probe["w"] = anywhere(rng, (n,)).tolist()
        else:
            probe["M"] = (
                _symmetric(rng, n).tolist()
                if fn == "quadratic"
                else (anywhere(rng, (int(rng.integers(1, 5)), n)).tolist())
            )
        out.append(probe)
    points = [[1.0, 1.0], [-1.2, 1.0], [0.0, 0.0]] + rng.uniform(-1.5, 1.5, (5, 2)).tolist()
    for k, x in enumerate(points):
        a, b = (1.0, 100.0) if k < 3 else (round(float(rng.uniform(0.5, 2.0)), 3), 100.0)
        out.append({"kind": "hessian", "fn": "rosenbrock", "x": x, "v": [1.0, 1.0],
                    "a": a, "b": b})  # fmt: skip
    return out


def rosenbrock_gradient(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.array(
        [-2 * (a - x[0]) - 4 * b * x[0] * (x[1] - x[0] ** 2), 2 * b * (x[1] - x[0] ** 2)]
    )


def rosenbrock_hessian(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.array([[2 - 4 * b * x[1] + 12 * b * x[0] ** 2, -4 * b * x[0]],
                     [-4 * b * x[0], 2 * b]])  # fmt: skip


def _gradient_and_hessian(p: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if p["fn"] == "rosenbrock":
        return rosenbrock_gradient(x, p["a"], p["b"]), rosenbrock_hessian(x, p["a"], p["b"])
    if p["fn"] == "quadratic":
        matrix = np.array(p["M"])
        return matrix @ x, matrix
    if p["fn"] == "log_sum_exp":
        matrix = np.array(p["M"])
        z = matrix @ x
        q = np.exp(z - z.max())
        q = q / q.sum()
        return matrix.T @ q, matrix.T @ (np.diag(q) - np.outer(q, q)) @ matrix
    w = np.array(p["w"])
    return w * np.cos(x) + x**2 / 2, np.diag(-w * np.sin(x) + x)


HVP_FIELD = {"hvp": "H v", "differences": "H v by differences", "hessian": "Hessian"}


def hvp_expected(p: dict) -> dict:
    x = np.array(p["x"], dtype=np.float64)
    hessian = _gradient_and_hessian(p, x)[1]
    if p["kind"] == "hessian":
        return {"Hessian": hessian}
    return {HVP_FIELD[p["kind"]]: hessian @ np.array(p["v"])}


def hvp_witness(p: dict) -> dict:
    """Central differences of the gradient along v (of the gradient along e_j for H)."""
    x, h = np.array(p["x"], dtype=np.float64), 1e-5
    directions = np.eye(len(x)) if p["kind"] == "hessian" else [np.array(p["v"])]
    columns = [
        (_gradient_and_hessian(p, x + h * d)[0] - _gradient_and_hessian(p, x - h * d)[0]) / (2 * h)
        for d in directions
    ]
    if p["kind"] == "hessian":
        return {"Hessian": np.array(columns).T}
    return {HVP_FIELD[p["kind"]]: columns[0]}


def hvp_label(p: dict) -> str:
    if p["kind"] == "hessian":
        return f"rosenbrock_hessian(x={p['x'][0]:g}, y={p['x'][1]:g}, a={p['a']:g}, b={p['b']:g})"
    name = {
        "rosenbrock": f"the Rosenbrock function (a={p.get('a')}, b={p.get('b')})",
        "quadratic": f"0.5 x^T M x with M={describe(p.get('M'))}",
        "log_sum_exp": f"log(sum(exp(M x))) with M={describe(p.get('M'))}",
        "sin_cubic": f"sum(w sin x) + sum(x^3) / 6 with w={describe(p.get('w'))}",
    }[p["fn"]]
    call = "hvp" if p["kind"] == "hvp" else f"hvp_differences(h={p['h']:g})"
    return f"{call} of {name} at x={describe(p['x'])}, v={describe(p['v'])}"  # fmt: skip


def hvp_tolerance(p: dict) -> dict:
    x = np.array(p["x"], dtype=np.float64)
    gradient, hessian = _gradient_and_hessian(p, x)
    scale = 1.0 + np.abs(hessian).sum() * (1.0 + np.abs(np.array(p["v"])).max())
    if p["kind"] == "differences":  # truncation h^2 and rounding eps / h, with room
        return {"H v by differences": (1e-7, 1e-7 * scale)}
    return {HVP_FIELD[p["kind"]]: (1e-10, 1e-12 * scale)}


def _hvp_mistake(p: dict) -> dict | None:
    if p["kind"] == "hessian":
        return None
    hessian = _gradient_and_hessian(p, np.array(p["x"], dtype=np.float64))[1]
    return {HVP_FIELD[p["kind"]]: hessian @ np.ones(len(p["x"]))}


def _hessian_mistake(change: Callable[[np.ndarray, dict], np.ndarray]) -> Callable:
    def candidate(p: dict) -> dict | None:
        if p["kind"] != "hessian":
            return None
        x = np.array(p["x"], dtype=np.float64)
        return {"Hessian": change(rosenbrock_hessian(x, p["a"], p["b"]), p)}

    return candidate


def _forgot_product_rule(hessian: np.ndarray, p: dict) -> np.ndarray:
    wrong = hessian.copy()
    wrong[0, 0] -= 8 * p["b"] * p["x"][0] ** 2
    return wrong


HVP_MISTAKES = {
    "H v is the gradient of <grad f, v>: multiply the gradient by v before differentiating "
    "again (the gradient of sum(grad f) is H times a vector of ones)": _hvp_mistake,
    "d/dx of -4 b x (y - x^2) needs the product rule: -4 b (y - x^2) + 8 b x^2": (
        _hessian_mistake(_forgot_product_rule)),
    "the mixed derivative of b (y - x^2)^2 is -4 b x, negative for x > 0": _hessian_mistake(
        lambda hess, p: hess * np.array([[1.0, -1.0], [-1.0, 1.0]])),
}  # fmt: skip


# --- Newton's method ----------------------------------------------------------------------

ROSENBROCK_STARTS = [[-1.2, 1.0], [0.0, 0.0], [1.5, 2.0], [-0.5, 0.5], [0.8, 0.5]]


def _spd(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def newton_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(8):
        n = int(rng.integers(1, 6))
        out.append({"kind": "step" if i < 6 else "path", "fn": "quadratic",
                    "A": _spd(rng, n).tolist(), "b": anywhere(rng, (n,)).tolist(),
                    "x0": anywhere(rng, (n,)).tolist(), "steps": 3})  # fmt: skip
    for _ in range(6):
        x0 = [round(float(v), 3) for v in rng.uniform(-1.5, 1.5, 2)]
        out.append({"kind": "step", "fn": "rosenbrock", "a": 1.0, "b": 100.0, "x0": x0})
    starts = ROSENBROCK_STARTS + [
        [round(float(v), 3) for v in rng.uniform([-1.5, -0.5], [1.5, 2.0])] for _ in range(20)
    ]
    for x0 in starts:
        probe = {"kind": "path", "fn": "rosenbrock", "a": 1.0, "b": 100.0, "x0": x0, "steps": 8}
        if np.allclose(newton_path(probe)[-1], [1.0, 1.0], atol=1e-9) or x0 in ROSENBROCK_STARTS:
            out.append(probe)
        if len(out) >= 14 + 9:
            break
    return out


def _newton_functions(p: dict) -> tuple[Callable, Callable]:
    if p["fn"] == "quadratic":
        matrix, b = np.array(p["A"]), np.array(p["b"])
        return (lambda x: matrix @ x - b), (lambda x: matrix)
    return (lambda x: rosenbrock_gradient(x, p["a"], p["b"])), (
        lambda x: rosenbrock_hessian(x, p["a"], p["b"])
    )


def newton_path(p: dict, update: Callable | None = None) -> np.ndarray:
    gradient, hessian = _newton_functions(p)
    update = update or (lambda x, g, h: x - np.linalg.solve(h, g))
    path = [np.array(p["x0"], dtype=np.float64)]
    with np.errstate(all="ignore"):  # a wrong update may diverge: its NaN fails, quietly
        for _ in range(p.get("steps", 1)):
            x = path[-1]
            path.append(update(x, gradient(x), hessian(x)))
    return np.array(path)


def newton_expected(p: dict, update: Callable | None = None) -> dict:
    path = newton_path(p, update)
    return {"one step": path[1]} if p["kind"] == "step" else {"iterates": path}


def newton_label(p: dict) -> str:
    where = (
        f"the quadratic 0.5 x^T A x - b^T x with A={describe(p['A'])}, b={describe(p['b'])}"
        if p["fn"] == "quadratic"
        else "the Rosenbrock function (a=1, b=100)"
    )
    call = "newton_step" if p["kind"] == "step" else f"newton(..., steps={p['steps']})"
    return f"{call} on {where} from x0={describe(p['x0'])}"  # fmt: skip


def newton_tolerance(p: dict) -> tuple[float, float]:
    return (1e-8, 1e-10) if p["fn"] == "rosenbrock" else (1e-9, 1e-10)


NEWTON_MISTAKES = {
    "Newton's step solves H d = grad f and moves to x - d (against the gradient)": (
        lambda p: newton_expected(p, lambda x, g, h: x + np.linalg.solve(h, g))),
    "Newton's step uses the whole Hessian, not only its diagonal": (
        lambda p: newton_expected(p, lambda x, g, h: x - g / np.diag(h))),
    "that is a gradient step: Newton's step is x - H^-1 grad f": (
        lambda p: newton_expected(p, lambda x, g, h: x - g)),
}  # fmt: skip


# --- gradient descent through Taylor, and Robbins-Monro -----------------------------------

POWERS = [0.0, 0.25, 0.5, 0.6, 0.75, 1.0, 1.5, 2.0]


def descent_probes(rng: np.random.Generator) -> list[dict]:
    out: list[dict] = []
    for _ in range(8):
        n = int(rng.integers(1, 5))
        eps = round(float(rng.uniform(0.05, 1.0)), 3)
        out.append({"kind": "model", "x": anywhere(rng, (n,)).tolist(),
                    "x0": anywhere(rng, (n,)).tolist(), "g0": nonzero(rng, (n,)).tolist(),
                    "f0": float(anywhere(rng, ())), "eps": eps})  # fmt: skip
    out += [{"kind": "schedule", "power": p} for p in POWERS]
    for power in [0.0, 0.5, 1.0, 2.0, 1.0, 0.75]:
        n, steps = int(rng.integers(1, 4)), 12
        out.append({"kind": "sgd", "power": power, "c": round(float(rng.uniform(0.3, 0.9)), 3),
                    "x0": anywhere(rng, (n,)).tolist(), "target": anywhere(rng, (n,)).tolist(),
                    "noise": (0.3 * rng.normal(size=(steps, n))).tolist(),
                    "steps": steps})  # fmt: skip
    return out


def sgd_path(p: dict, first_t: int = 1, sign: float = -1.0, keep_x0: bool = True) -> np.ndarray:
    x, target, noise = (np.array(p[k], dtype=np.float64) for k in ("x0", "target", "noise"))
    path = [x]
    for k in range(p["steps"]):
        t = k + first_t
        step = p["c"] / t ** p["power"]
        path.append(path[-1] + sign * step * (path[-1] - target + noise[k]))
    return np.array(path if keep_x0 else path[1:])


def descent_expected(p: dict) -> dict:
    if p["kind"] == "model":
        x, x0, g0 = (np.array(p[k], dtype=np.float64) for k in ("x", "x0", "g0"))
        d = x - x0
        return {"model value": p["f0"] + g0 @ d + d @ d / (2 * p["eps"]),
                "model minimizer": x0 - p["eps"] * g0}  # fmt: skip
    if p["kind"] == "schedule":
        return {"Robbins-Monro": float(0.5 < p["power"] <= 1.0)}
    return {"iterates": sgd_path(p)}


def descent_label(p: dict) -> str:
    if p["kind"] == "model":
        return (f"taylor_model and model_minimizer with x={describe(p['x'])}, "
                f"x0={describe(p['x0'])}, f0={p['f0']:.4g}, g0={describe(p['g0'])}, "
                f"eps={p['eps']:g}")  # fmt: skip
    if p["kind"] == "schedule":
        return f"satisfies_robbins_monro({p['power']:g}) (step sizes c / t**{p['power']:g})"
    return (f"sgd on |x - target|^2 / 2 with noisy gradients, step_size(t) = "
            f"{p['c']:g} / t**{p['power']:g}, steps={p['steps']}, "
            f"x0={describe(p['x0'])}")  # fmt: skip


def _model_mistake(field: str, fn: Callable[[dict], Any]) -> Callable:
    return lambda p: {field: fn(p)} if p["kind"] == "model" else None


DESCENT_MISTAKES = {
    "the quadratic term of the model is |x - x0|^2 / (2 eps): keep the 1/2": _model_mistake(
        "model value", lambda p: descent_expected(p)["model value"]
        + np.sum((np.array(p["x"]) - np.array(p["x0"])) ** 2) / (2 * p["eps"])),
    "the model's minimizer steps against the gradient: x0 - eps g0": _model_mistake(
        "model minimizer", lambda p: np.array(p["x0"]) + p["eps"] * np.array(p["g0"])),
    "Robbins-Monro needs both: sum of steps infinite (power <= 1) and sum of squares finite "
    "(power > 1/2)": lambda p: ({"Robbins-Monro": float(p["power"] <= 1.0)}
                                if p["kind"] == "schedule" else None),
    "the first step is step_size(1): t counts from 1": lambda p: (
        {"iterates": sgd_path(p, first_t=2)} if p["kind"] == "sgd" else None),
    "return every iterate, x0 first (steps + 1 rows)": lambda p: (
        {"iterates": sgd_path(p, keep_x0=False)} if p["kind"] == "sgd" else None),
}  # fmt: skip


# fmt: off
PARTS: dict[str, Part] = {
    "dual_numbers": Part(
        15, dual_probes, drivers.dual_sweep, dual_label, dual_expected, witness=dual_witness,
        mistakes=DUAL_MISTAKES, tolerance=(1e-10, 1e-10), forbidden=("mytorch",), seed=601,
        title="dual numbers"),
    "tangent_rules": Part(
        15, tangent_probes, drivers.op_tangent, tangent_label, tangent_expected,
        witness=tangent_witness, mistakes=TANGENT_MISTAKES, tolerance=tangent_tolerance,
        forbidden=LIBRARY_TRANSFORMS, seed=602, title="tangent rules"),
    "jacobian_two_ways": Part(
        10, jacobian_probes, drivers.jacobian_two_ways, jacobian_label, jacobian_expected,
        witness=jacobian_witness, mistakes=JACOBIAN_MISTAKES, tolerance=(1e-12, 1e-13),
        forbidden=LIBRARY_TRANSFORMS, seed=603, title="a Jacobian two ways"),
    "mode_cost": Part(
        10, cost_probes, drivers.mode_cost, cost_label, cost_expected, mistakes=COST_MISTAKES,
        tolerance=(1e-12, 0.0), seed=604, title="the cost of forward and reverse mode"),
    "hvp": Part(
        15, hvp_probes, drivers.hvp, hvp_label, hvp_expected, witness=hvp_witness,
        mistakes=HVP_MISTAKES, tolerance=hvp_tolerance, forbidden=LIBRARY_TRANSFORMS,
        seed=605, title="Hessian-vector products"),
    "newton": Part(
        15, newton_probes, drivers.newton, newton_label, newton_expected,
        mistakes=NEWTON_MISTAKES, tolerance=newton_tolerance, seed=606, title="Newton's method"),
    "descent": Part(
        20, descent_probes, drivers.descent, descent_label, descent_expected,
        mistakes=DESCENT_MISTAKES, tolerance=(1e-10, 1e-12), seed=607,
        title="gradient descent through Taylor, and Robbins-Monro"),
}
# fmt: on
