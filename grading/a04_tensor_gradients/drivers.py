"""Drivers of assignment 04-tensor-gradients: they run in the student's kernel (as source).

Op parts call the student's ``gradient()`` directly on a node built by their ``compute``,
so a gradient of the wrong shape is seen as such (the engine's own un-broadcast in
``backward()`` would hide a missing sum). Each driver only computes; it never judges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import mytorch

from ..shared_drivers import gradient_derivative

GRADIENT_NAMES = ("gradient of a", "gradient of b")


def _array(value: Any) -> list | float:
    """A student's result (Tensor, array or number) as plain JSON numbers."""
    data = value.data if isinstance(value, mytorch.Tensor) else value
    return np.asarray(data, dtype=np.float64).tolist()


def _param(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value  # JSON lists back to tuples


def op_gradient(probe: dict, student: Mapping[str, Any]) -> dict:
    """``cls(**params)`` applied to the inputs, then its ``gradient(out_grad, node)``, and
    that gradient's derivative along the probe's direction (built from Tensor operations?)."""
    params = {k: _param(v) for k, v in probe["params"].items()}
    op = student[probe["cls"]](**params)
    inputs = [
        mytorch.Tensor(np.array(x, dtype=np.float64), requires_grad=True) for x in probe["inputs"]
    ]
    node = op(*inputs)
    grads = op.gradient(mytorch.Tensor(np.array(probe["g"], dtype=np.float64)), node)
    if not isinstance(grads, tuple | list):
        grads = (grads,)
    result = {"forward value": _array(node)}
    for name, grad in zip(GRADIENT_NAMES, grads, strict=False):
        result[name] = None if grad is None else _array(grad)
    make_op = lambda: student[probe["cls"]](**params)  # noqa: E731
    return result | gradient_derivative(make_op, probe["inputs"], probe["g"], probe["direction"])


def unbroadcast(probe: dict, student: Mapping[str, Any]) -> dict:
    """Either the student's ``unbroadcast(grad, shape)`` or their ``BroadcastTo`` op."""
    if probe["kind"] == "op":
        return op_gradient(probe, student)
    grad = mytorch.Tensor(np.array(probe["g"], dtype=np.float64))
    return {"gradient of a": _array(student["unbroadcast"](grad, tuple(probe["shape"])))}


def vector_rule(probe: dict, student: Mapping[str, Any]) -> dict:
    args = [np.array(x, dtype=np.float64) for x in probe["args"]]
    grads = student[probe["fn"]](*args)
    if not isinstance(grads, tuple | list):
        grads = (grads,)
    return {name: _array(g) for name, g in zip(probe["fields"], grads, strict=False)}


def jacobian(probe: dict, student: Mapping[str, Any]) -> dict:
    if probe["fn"] == "softmax_jacobian":
        return {"jacobian": _array(student["softmax_jacobian"](np.array(probe["z"])))}
    if probe["fn"] == "softmax_backward":
        z, g = np.array(probe["z"]), np.array(probe["g"])
        return {"gradient of z": _array(student["softmax_backward"](z, g))}
    matrix, x = np.array(probe["A"]), np.array(probe["x"])
    slope = 1.0 - np.tanh(matrix @ x) ** 2 if probe["map"] == "tanh" else np.ones(len(matrix))
    calls = []

    def vjp(u: np.ndarray) -> np.ndarray:  # u^T J for J = diag(slope) A
        calls.append(1)
        return matrix.T @ (slope * np.asarray(u, dtype=np.float64))

    result = student["jacobian_from_vjp"](vjp, len(matrix))
    return {"jacobian": _array(result), "VJP calls": len(calls)}
