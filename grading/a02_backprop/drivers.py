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
    """Builds the probe's little graph from the student's Op class and runs backward()."""
    op, graph = student[probe["cls"]], probe["graph"]
    xs = [
        mytorch.Tensor(np.array(x, dtype=np.float64), requires_grad=True) for x in probe["inputs"]
    ]
    if graph == "reuse":
        xs = xs[:1]
    for _ in range(2 if graph == "twice" else 1):  # twice: gradients accumulate in .grad
        if graph == "reuse":
            out = op()(op()(xs[0])) if len(probe["inputs"]) == 1 else op()(xs[0], xs[0])
        elif graph == "diamond":
            out = op()(op()(*xs), xs[1])
        else:
            out = op()(*xs)
        out.backward(np.array(probe["g"], dtype=np.float64))
    result = {"forward value": np.asarray(out.data, dtype=np.float64).tolist()}
    for name, x in zip("ab", xs, strict=False):
        result[f"gradient of {name}"] = None if x.grad is None else np.asarray(x.grad.data).tolist()
    return result


def topological_order(probe: dict, student: Mapping[str, Any]) -> list[str]:
    graph = {name: (op, list(parents)) for name, (op, parents) in probe["graph"].items()}
    return [str(name) for name in student["topological_order"](graph, probe["output"])]


def backward_pass(probe: dict, student: Mapping[str, Any]) -> dict:
    graph = {name: (op, list(parents)) for name, (op, parents) in probe["graph"].items()}
    adjoints = student["backward_pass"](
        graph, list(probe["order"]), dict(probe["values"]), probe["output"], probe["seed"]
    )
    return {f"dL/d{name}": float(value) for name, value in adjoints.items()}
