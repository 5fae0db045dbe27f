"""Drivers of assignment 01-derivatives: they run in the student's kernel (shipped as source).

Each driver calls the student's function (from ``student``, the notebook's namespace) on one
probe and returns plain JSON. The test functions are defined here once, so the kernel and
the grading process evaluate bit-identical values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

SCALAR_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "cube": lambda x: x**3,
    "sin": np.sin,
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "recip": lambda x: 1.0 / x,
}


def array_function(probe: dict) -> Callable[[np.ndarray], float]:
    """The scalar function of an array named by ``probe["f"]``."""
    name = probe["f"]
    if name == "sum_cubes":
        return lambda v: float(np.sum(np.asarray(v) ** 3))
    if name == "coupled":
        return lambda v: float(np.sum(np.sin(v)) * (1.0 + np.sum(np.asarray(v) ** 2)))
    if name == "chain":
        return lambda v: float(
            np.sum(np.ravel(v)[:-1] * np.ravel(v)[1:]) + np.sum(np.cos(np.ravel(v)))
        )
    if name == "logsumexp":
        return lambda v: float(np.log(np.sum(np.exp(v))))
    A = np.asarray(probe["A"], dtype=np.float64)  # quadratic
    return lambda v: float(0.5 * np.ravel(v) @ A @ np.ravel(v))


def array_gradient(probe: dict, x: np.ndarray) -> np.ndarray:
    """The analytic gradient of ``array_function(probe)``, spoiled as ``probe["grad"]`` asks."""
    name, x = probe["f"], np.asarray(x, dtype=np.float64)
    if name == "sum_cubes":
        g = 3.0 * x**2
    elif name == "coupled":
        g = np.cos(x) * (1.0 + np.sum(x**2)) + np.sum(np.sin(x)) * 2.0 * x
    elif name == "chain":
        flat = x.reshape(-1)
        g = -np.sin(flat)
        g[:-1] += flat[1:]
        g[1:] += flat[:-1]
        g = g.reshape(x.shape)
    elif name == "logsumexp":
        e = np.exp(x - np.max(x))
        g = e / np.sum(e)
    else:
        A = np.asarray(probe["A"], dtype=np.float64)
        g = (0.5 * (A + A.T) @ x.reshape(-1)).reshape(x.shape)
    g = np.array(g, dtype=np.float64)
    variant = probe.get("grad", "exact")
    if variant == "scaled":
        g = g * 1.05
    elif variant == "one_wrong":
        g.reshape(-1)[probe["k"] % g.size] += probe["delta"]
    elif variant == "negated":
        g = -g
    elif variant == "zeros":
        g = np.zeros_like(g)
    return g


def central_numerical_gradient(f: Callable, x: np.ndarray, h: float) -> np.ndarray:
    """The grader's own central-difference gradient (lent to the student's grad_check)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f(x)
        x[idx] = old - h
        fm = f(x)
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * h)
    return grad


def difference(probe: dict, student: Mapping[str, Any]) -> list | float:
    x = np.array(probe["x"]) if isinstance(probe["x"], list) else float(probe["x"])
    value = student[probe["fn"]](SCALAR_FUNCTIONS[probe["f"]], x, probe["h"])
    return np.asarray(value, dtype=np.float64).tolist()


def numerical_gradient(probe: dict, student: Mapping[str, Any]) -> dict:
    x, f, calls = np.array(probe["x"], dtype=np.float64), array_function(probe), [0]

    def counted(v: np.ndarray) -> float:
        calls[0] += 1
        return f(v)

    grad = student["numerical_gradient"](counted, x, probe["h"])
    return {"grad": np.asarray(grad, dtype=np.float64).tolist(), "x": x.tolist(), "calls": calls[0]}


def derivatives(probe: dict, student: Mapping[str, Any]) -> dict:
    x = np.array(probe["x"]) if isinstance(probe["x"], list) else float(probe["x"])
    return {
        name: np.asarray(student[name](x), dtype=np.float64).tolist()
        for name in ("d_cube", "d_wiggle")
    }


def grad_check(probe: dict, student: Mapping[str, Any]) -> dict:
    x, f = np.array(probe["x"], dtype=np.float64), array_function(probe)
    check = student["grad_check"]
    # Grade grad_check on its own: if it calls numerical_gradient, lend it a correct one.
    namespace = getattr(check, "__globals__", {})
    saved = namespace.get("numerical_gradient", central_numerical_gradient)
    namespace["numerical_gradient"] = central_numerical_gradient
    try:
        err = check(f, lambda v: array_gradient(probe, v), x, probe["h"])
    finally:
        namespace["numerical_gradient"] = saved
    return {"err": float(err), "x": x.tolist()}


def gradient_descent(probe: dict, student: Mapping[str, Any]) -> dict:
    A, b = np.array(probe["A"]), np.array(probe["b"])
    x0 = np.array(probe["x0"], dtype=np.float64)
    path = student["gradient_descent"](lambda v: A @ np.asarray(v) - b, x0, probe["lr"], probe["n"])
    return {"path": np.asarray(path, dtype=np.float64).tolist(), "x0": x0.tolist()}
