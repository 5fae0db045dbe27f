"""Drivers of assignment 02-backprop: they run in the student's kernel (shipped as source).

Each driver calls the student's code (from ``student``, the notebook's namespace) on one
probe and returns plain JSON; it never judges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import mytorch

from ..shared_drivers import gradient_derivative


def example(probe: dict, student: Mapping[str, Any]) -> dict | list:
    result = student[probe["fn"]](*probe["args"], dout=probe["dout"])
    values = [float(np.asarray(v, dtype=np.float64)) for v in result]
    return (
        dict(zip(probe["fields"], values, strict=True))
        if len(values) == len(probe["fields"])
        else values
    )


def op_graph(probe: dict, student: Mapping[str, Any]) -> dict:
    """Wires the student's Op class into the probe's little graph and chains its gradient()
    calls by hand, as ``parts.graph_vjp`` does (this edition has no engine: assignment 3)."""
    op, graph = student[probe["cls"]], probe["graph"]
    xs = [np.array(x, dtype=np.float64) for x in probe["inputs"]]
    g = np.array(probe["g"], dtype=np.float64)

    def forward(*args: Any) -> np.ndarray:
        return mytorch.apply_op(op(), *args).data

    def vjp(upstream: Any, *args: Any) -> list[np.ndarray]:
        return [t.data for t in mytorch.op_gradients(op(), *args, out_grad=upstream)]

    if graph == "reuse" and len(xs) == 1:  # op(op(a))
        out = forward(forward(xs[0]))
        grads = vjp(vjp(g, forward(xs[0]))[0], xs[0])
    elif graph == "reuse":  # op(a, a): both uses add up
        out = forward(xs[0], xs[0])
        grads = [sum(vjp(g, xs[0], xs[0]))]
    elif graph == "diamond":  # op(op(a, b), b)
        inner = forward(*xs)
        out = forward(inner, xs[1])
        d_inner, d_b = vjp(g, inner, xs[1])
        d_a, d_b1 = vjp(d_inner, *xs)
        grads = [d_a, d_b + d_b1]
    else:  # plain, or twice: two backward passes add into .grad
        out = forward(*xs)
        grads = vjp(g, *xs)
        if graph == "twice":
            grads = [a + b for a, b in zip(grads, vjp(g, *xs), strict=True)]
    result = {"forward value": np.asarray(out, dtype=np.float64).tolist()}
    for name, grad in zip("ab", grads, strict=False):
        result[f"gradient of {name}"] = np.asarray(grad, dtype=np.float64).tolist()
    return result | gradient_derivative(op, probe["inputs"], probe["g"], probe["direction"])


def topological_order(probe: dict, student: Mapping[str, Any]) -> list[str]:
    graph = {name: (op, list(parents)) for name, (op, parents) in probe["graph"].items()}
    return [str(name) for name in student["topological_order"](graph, probe["output"])]


def backward_pass(probe: dict, student: Mapping[str, Any]) -> dict:
    graph = {name: (op, list(parents)) for name, (op, parents) in probe["graph"].items()}
    adjoints = student["backward_pass"](
        graph, list(probe["order"]), dict(probe["values"]), probe["output"], probe["seed"]
    )
    return {f"dL/d{name}": float(value) for name, value in adjoints.items()}
