"""Drivers of assignment 06-beyond-backprop: they run in the student's kernel (as source).

Each driver calls the student's code on one probe and returns plain JSON; it never judges.
Functions handed to the student (a Jacobian's JVP and VJP, a gradient, a noisy gradient)
are built here from the probe, and count their calls where the part grades the count.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import mytorch

DUAL_BINARY = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
}
CHEAPER = "cheaper mode (-1 forward, 0 either, +1 reverse)"
MODES = {"forward": -1.0, "either": 0.0, "reverse": 1.0}


def _array(value: Any) -> list | float:
    """A student's result (Tensor, array or number) as plain JSON numbers."""
    data = value.data if isinstance(value, mytorch.Tensor) else value
    return np.asarray(data, dtype=np.float64).tolist()


def _number(value: Any) -> float:
    """A number the student returned, as a float (anything else raises: "your code raised")."""
    return float(value)


# --- dual numbers -------------------------------------------------------------------------


def _evaluate(node: dict, xs: tuple, student: Mapping[str, Any]) -> Any:
    """Evaluate an expression tree with the student's Dual arithmetic and functions."""
    op = node["op"]
    if op == "var":
        return xs[node["i"]]
    if op == "const":
        return float(node["c"])  # a plain number: Dual must mix with numbers on either side
    args = [_evaluate(arg, xs, student) for arg in node["args"]]
    if op in DUAL_BINARY:
        return DUAL_BINARY[op](*args)
    if op == "neg":
        return -args[0]
    return student[op](args[0])


def dual_sweep(probe: dict, student: Mapping[str, Any]) -> dict:
    """``forward_sweep(f, point, i)`` on the probe's expression: (value, df/dx_i)."""

    def f(*xs: Any) -> Any:
        return _evaluate(probe["tree"], xs, student)

    value, derivative = student["forward_sweep"](f, list(probe["point"]), probe["wrt"])
    return {"value": _number(value), "derivative": _number(derivative)}


# --- tangent rules of engine ops ------------------------------------------------------------


def _param(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value  # JSON lists back to tuples


def op_tangent(probe: dict, student: Mapping[str, Any]) -> dict:
    """The student's op on the inputs, its ``tangent(tangents, node)``, and the dot test of
    that tangent against the same op's ``gradient()``: <u, J v> and <J^T u, v>."""
    op = student[probe["cls"]](**{k: _param(v) for k, v in probe["params"].items()})
    inputs = [
        mytorch.Tensor(np.array(x, dtype=np.float64), requires_grad=True) for x in probe["inputs"]
    ]
    node = op(*inputs)
    tangents = [np.array(t, dtype=np.float64) for t in probe["tangents"]]
    tangent = op.tangent(tuple(mytorch.Tensor(t) for t in tangents), node)
    u = np.array(probe["u"], dtype=np.float64)
    grads = op.gradient(mytorch.Tensor(u), node)
    if not isinstance(grads, tuple | list):
        grads = (grads,)
    transposed = sum(
        float(np.sum(np.asarray(_array(g)) * t)) for g, t in zip(grads, tangents, strict=True)
    )
    result = np.asarray(_array(tangent))
    return {
        "tangent": result.tolist(),
        "<u, J v>": float(np.sum(u * result)) if result.shape == u.shape else None,
        "<J^T u, v>": transposed,
    }


# --- a Jacobian two ways --------------------------------------------------------------------


def _linear_map(probe: dict) -> tuple[np.ndarray, np.ndarray]:
    """The probe's map f(x) = tanh(A x) (or A x) at x: its Jacobian is diag(slope) A."""
    matrix, x = np.array(probe["A"]), np.array(probe["x"])
    slope = 1.0 - np.tanh(matrix @ x) ** 2 if probe["map"] == "tanh" else np.ones(len(matrix))
    return matrix, slope


def jacobian_two_ways(probe: dict, student: Mapping[str, Any]) -> dict:
    matrix, slope = _linear_map(probe)
    m, n = matrix.shape
    calls = {"jvp": 0, "vjp": 0}

    def jvp(v: Any) -> np.ndarray:  # J v, a column combination
        calls["jvp"] += 1
        return slope * (matrix @ np.asarray(v, dtype=np.float64))

    def vjp(u: Any) -> np.ndarray:  # u^T J, a row combination
        calls["vjp"] += 1
        return matrix.T @ (slope * np.asarray(u, dtype=np.float64))

    forward = student["jacobian_forward"](jvp, n)
    reverse = student["jacobian_reverse"](vjp, m)
    return {
        "forward-mode J": _array(forward),
        "JVP calls": calls["jvp"],
        "reverse-mode J": _array(reverse),
        "VJP calls": calls["vjp"],
    }


# --- the cost of the two modes ----------------------------------------------------------------


def mode_cost(probe: dict, student: Mapping[str, Any]) -> dict:
    widths = list(probe["widths"])
    return {
        "one pass": _number(student["pass_cost"](list(widths))),
        "forward Jacobian": _number(student["jacobian_cost"](list(widths), "forward")),
        "reverse Jacobian": _number(student["jacobian_cost"](list(widths), "reverse")),
        "forward / reverse": _number(student["cost_ratio"](list(widths))),
        CHEAPER: MODES.get(str(student["cheaper_mode"](list(widths)))),
    }


# --- Hessian-vector products ------------------------------------------------------------------


def _test_function(probe: dict) -> Callable[[Any], Any]:
    """The scalar function of a Tensor named by the probe, from the engine's ops."""
    kind = probe["fn"]
    if kind == "rosenbrock":
        a, b = probe["a"], probe["b"]
        return lambda x: ((a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2)
    if kind == "quadratic":
        matrix = mytorch.Tensor(np.array(probe["M"]))
        return lambda x: 0.5 * (x @ (matrix @ x))
    if kind == "log_sum_exp":
        matrix = mytorch.Tensor(np.array(probe["M"]))
        return lambda x: (matrix @ x).exp().sum().log()
    weights = mytorch.Tensor(np.array(probe["w"]))  # "sin_cubic"
    return lambda x: (x.sin() * weights).sum() + (x**3).sum() / 6.0


def hvp(probe: dict, student: Mapping[str, Any]) -> dict:
    x, v = np.array(probe["x"]), np.array(probe["v"])
    if probe["kind"] == "hessian":
        return {"Hessian": _array(student["rosenbrock_hessian"](*x, probe["a"], probe["b"]))}
    f = _test_function(probe)
    if probe["kind"] == "differences":
        return {"H v by differences": _array(student["hvp_differences"](f, x, v, probe["h"]))}
    return {"H v": _array(student["hvp"](f, x, v))}


# --- Newton's method --------------------------------------------------------------------------


def _quadratic(probe: dict) -> tuple[Callable, Callable]:
    matrix, b = np.array(probe["A"]), np.array(probe["b"])
    return (lambda x: matrix @ np.asarray(x) - b), (lambda x: matrix.copy())


def _rosenbrock(probe: dict) -> tuple[Callable, Callable]:
    a, b = probe["a"], probe["b"]

    def gradient(x: Any) -> np.ndarray:
        x0, x1 = np.asarray(x, dtype=np.float64)
        return np.array([-2 * (a - x0) - 4 * b * x0 * (x1 - x0**2), 2 * b * (x1 - x0**2)])

    def hessian(x: Any) -> np.ndarray:
        x0, x1 = np.asarray(x, dtype=np.float64)
        return np.array([[2 - 4 * b * x1 + 12 * b * x0**2, -4 * b * x0], [-4 * b * x0, 2 * b]])

    return gradient, hessian


def newton(probe: dict, student: Mapping[str, Any]) -> dict:
    gradient, hessian = (_quadratic if probe["fn"] == "quadratic" else _rosenbrock)(probe)
    x0 = np.array(probe["x0"], dtype=np.float64)
    if probe["kind"] == "step":
        return {"one step": _array(student["newton_step"](x0.copy(), gradient, hessian))}
    path = student["newton"](x0.copy(), gradient, hessian, probe["steps"])
    return {"iterates": _array(path)}


# --- gradient descent through Taylor, and Robbins-Monro -----------------------------------


def descent(probe: dict, student: Mapping[str, Any]) -> dict:
    kind = probe["kind"]
    if kind == "model":
        x, x0, g0 = (np.array(probe[k], dtype=np.float64) for k in ("x", "x0", "g0"))
        value = student["taylor_model"](x, x0, probe["f0"], g0, probe["eps"])
        step = student["model_minimizer"](x0, g0, probe["eps"])
        return {"model value": _number(value), "model minimizer": _array(step)}
    if kind == "schedule":
        verdict = student["satisfies_robbins_monro"](probe["power"])
        return {"Robbins-Monro": 1.0 if verdict is True else 0.0 if verdict is False else None}
    noise = np.array(probe["noise"], dtype=np.float64)
    target = np.array(probe["target"], dtype=np.float64)
    calls = []

    def noisy_gradient(x: Any) -> np.ndarray:  # the gradient of |x - target|^2 / 2, plus noise
        k = len(calls)
        calls.append(1)
        return np.asarray(x, dtype=np.float64) - target + noise[k % len(noise)]

    def step_size(t: int) -> float:
        return probe["c"] / t ** probe["power"]

    path = student["sgd"](noisy_gradient, np.array(probe["x0"], dtype=np.float64), step_size,
                          probe["steps"])  # fmt: skip
    return {"iterates": _array(path)}
