"""Drivers shared by several assignments; they run in the student's kernel (shipped as source).

A drivers module takes these with a relative import (``from ..shared_drivers import ...``);
the kernel has no grading package, so this module's source is shipped in front of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import mytorch


def gradient_derivative(
    make_op: Callable[[], Any], inputs: list, g: Any, direction: list
) -> dict[str, list]:
    """The derivative of ``op.gradient(g, op(*inputs))`` along ``direction`` (one tangent per
    input, then one for g), for ``op = make_op()``, taken through Tensor operations only.

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
        op = make_op()
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
