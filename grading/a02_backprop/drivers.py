"""Drivers of assignment 02-backprop: they run in the student's kernel (shipped as source).

Each driver calls the student's code (from ``student``, the notebook's namespace) on one
probe and returns plain JSON; it never judges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import mytorch


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


def gradient_derivative(op_class: type, inputs: list, g: Any, direction: list) -> dict:
    """The derivative of ``op_class().gradient(g, op(*inputs))`` along ``direction`` (one
    tangent per input, then one for g), taken through Tensor operations only.

    Forward mode: while the gradient runs, every Op that is applied also carries a tangent,
    its own ``compute()`` differenced along its inputs' tangents. It needs no op's gradient
    and no reverse walk (an assignment's edition may have neither). A value that leaves the
    Tensor operations (numpy on ``.data``, finite or complex-step differences, a fresh
    ``Tensor(...)``) carries no tangent: its derivative is 0, and the grader's finite
    differences of the reference gradient show the difference.
    """
    op_base, plain_call = mytorch.ops.Op, mytorch.ops.Op.__call__
    tangents: dict[int, np.ndarray] = {}
    alive: list = []  # keeps every keyed tensor alive, so that no id is reused meanwhile

    def tangent_of(x: Any) -> np.ndarray | None:
        return tangents.get(id(x)) if isinstance(x, mytorch.Tensor) else None

    def carried_call(self: Any, *args: Any) -> Any:
        out = plain_call(self, *args)
        moving = [tangent_of(a) for a in args]
        if any(t is not None for t in moving):
            values = [np.asarray(a.data if isinstance(a, mytorch.Tensor) else a) for a in args]
            steps = [
                np.zeros(np.shape(v)) if t is None else t
                for v, t in zip(values, moving, strict=True)
            ]
            tangents[id(out)] = _directional(self.compute, values, steps)
            alive.append(out)
        return out

    xs = [mytorch.Tensor(np.array(x, dtype=np.float64)) for x in inputs]
    upstream = mytorch.Tensor(np.array(g, dtype=np.float64))
    for tensor, tangent in zip([*xs, upstream], direction, strict=True):
        tangents[id(tensor)] = np.array(tangent, dtype=np.float64)
        alive.append(tensor)
    op_base.__call__ = carried_call
    try:
        op = op_class()
        node = mytorch.apply_op(op, *xs)  # off the tape
        grads = op.gradient(upstream, node)
    finally:
        op_base.__call__ = plain_call
    grads = grads if isinstance(grads, tuple | list) else (grads,)
    out = {}
    for name, grad in zip("ab", grads, strict=False):
        tangent = tangent_of(grad)
        if tangent is None:  # no Tensor operation led to it: constant
            tangent = np.zeros(np.shape(grad.data if isinstance(grad, mytorch.Tensor) else grad))
        out[f"d(gradient of {name}) along a random direction"] = tangent.tolist()
    return out


def _directional(f: Any, values: list, tangents: list) -> np.ndarray:
    """Central difference of ``f`` along ``tangents`` (one step for the whole direction)."""
    biggest_x = max(float(np.max(np.abs(v), initial=0.0)) for v in values)
    biggest_t = max(float(np.max(np.abs(t), initial=0.0)) for t in tangents)
    if biggest_t == 0.0:
        return np.zeros(np.shape(f(*values)))
    h = 1e-6 * max(1.0, biggest_x) / biggest_t
    plus = f(*[v + h * t for v, t in zip(values, tangents, strict=True)])
    minus = f(*[v - h * t for v, t in zip(values, tangents, strict=True)])
    return (np.asarray(plus, dtype=np.float64) - np.asarray(minus, dtype=np.float64)) / (2 * h)


def topological_order(probe: dict, student: Mapping[str, Any]) -> list[str]:
    graph = {name: (op, list(parents)) for name, (op, parents) in probe["graph"].items()}
    return [str(name) for name in student["topological_order"](graph, probe["output"])]


def backward_pass(probe: dict, student: Mapping[str, Any]) -> dict:
    graph = {name: (op, list(parents)) for name, (op, parents) in probe["graph"].items()}
    adjoints = student["backward_pass"](
        graph, list(probe["order"]), dict(probe["values"]), probe["output"], probe["seed"]
    )
    return {f"dL/d{name}": float(value) for name, value in adjoints.items()}
