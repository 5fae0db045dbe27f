"""Forward mode and function transforms, in the shape of ``torch.func``.

* ``jvp(f, primals, tangents)`` -> ``(outputs, output_tangents)``: J v in one forward walk.
* ``vjp(f, *primals)`` -> ``(outputs, vjp_fn)``: ``vjp_fn(u)`` is J^T u, one reverse walk.
* ``jacobian(f, x, mode="reverse" | "forward")``: a row per output element (reverse) or a
  column per input element (forward); pick the mode with fewer passes.
* ``hvp(f, x, v, mode="reverse" | "forward")``: H v, reverse-over-reverse (Pearlmutter) or
  forward-over-reverse.

The forward walk mirrors the reverse walk: ``f`` runs once with its inputs recorded on the
tape; then the records it depends on are visited in tape order and each op's ``tangent()``
turns its inputs' tangents into its output's tangent. Tangents are keyed by tensor slot,
like the memory buffer's spots.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import grad, graph_operations
from .recording import enable_grad, no_grad
from .tensor import GradientError, Tensor


def _leaf(value: Any) -> Tensor:
    """A fresh leaf that requires a gradient (float64 unless already floating point)."""
    data = value.data if isinstance(value, Tensor) else value
    return Tensor(data, requires_grad=True)


def _zeros_like(t: Tensor, dtype: Any) -> Tensor:
    is_float = np.issubdtype(t.dtype, np.floating)
    return Tensor._wrap(np.zeros(t.shape, dtype=t.dtype if is_float else dtype))


def forward_walk(
    outputs: Sequence[Tensor], tangents: dict[int, Tensor], create_graph: bool = False
) -> dict[int, Tensor]:
    """Push ``tangents`` (slot -> tangent of a leaf) forward through the graph of ``outputs``.

    Returns the dict, now also holding the tangent of every tensor the seeds reach.
    """
    records = sorted(
        {id(r): r for out in outputs for r in graph_operations(out)}.values(),
        key=lambda r: r.seq,
    )
    with enable_grad() if create_graph else no_grad():
        for record in records:
            given = [tangents.get(t.slot) for t in record.inputs]
            if all(t is None for t in given):
                continue  # no seed reaches this op: its output's tangent is zero
            node = record.output
            filled = tuple(
                t if t is not None else _zeros_like(x, node.dtype)
                for t, x in zip(given, record.inputs, strict=True)
            )
            tangent = record.op.tangent(filled, node)
            tangents[record.output_slot] = _checked_tangent(record.op, tangent, node)
    return tangents


def _checked_tangent(op: Any, tangent: Any, node: Tensor) -> Tensor:
    name = type(op).__name__
    if not isinstance(tangent, Tensor):
        if tangent is None:
            raise GradientError(f"{name}.tangent() returned None; return the output's tangent.")
        tangent = Tensor._wrap(np.asarray(tangent, dtype=node.dtype))
    if tangent.shape != node.shape:
        try:  # a tangent may still need broadcasting to the output (e.g. only one input moved)
            tangent = tangent.expand(node.shape)
        except ValueError:
            raise GradientError(
                f"{name}.tangent() returned shape {tangent.shape}, but the output has shape "
                f"{node.shape}. A tangent has the shape of the value it belongs to."
            ) from None
    if tangent.dtype != node.dtype:
        tangent = tangent.astype(node.dtype)
    return tangent


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Evaluate ``f(*primals)`` and its Jacobian-vector product with ``tangents``.

    ``primals`` and ``tangents`` are tuples with one entry per argument of ``f``, each
    tangent shaped like its primal. Returns ``(outputs, output_tangents)``, each a Tensor
    (or a tuple, if ``f`` returns a tuple).
    """
    primals, tangents = _as_tuple(primals), _as_tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    leaves = [_leaf(p) for p in primals]
    seeds: dict[int, Tensor] = {}
    for index, (leaf, tangent) in enumerate(zip(leaves, tangents, strict=True)):
        seed = tangent if isinstance(tangent, Tensor) else Tensor(tangent, dtype=leaf.dtype)
        if seed.shape != leaf.shape:
            raise ValueError(
                f"jvp: tangent {index} has shape {seed.shape}, its primal has {leaf.shape}"
            )
        seeds[leaf.slot] = seed
    with enable_grad():
        result = f(*leaves)
    outputs = _as_tuple(result)
    walked = forward_walk(outputs, seeds)
    out_tangents = tuple(walked.get(out.slot, _zeros_like(out, out.dtype)) for out in outputs)
    plain = tuple(out.detach() for out in outputs)
    if isinstance(result, tuple | list):
        return plain, out_tangents
    return plain[0], out_tangents[0]


def vjp(f: Callable[..., Tensor], *primals: Any) -> tuple[Tensor, Callable[[Any], tuple]]:
    """Evaluate ``f(*primals)``; return ``(output, vjp_fn)`` with ``vjp_fn(u)`` = J^T u.

    ``vjp_fn`` returns a tuple with one gradient per primal and may be called many times.
    """
    leaves = [_leaf(p) for p in primals]
    with enable_grad():
        output = f(*leaves)

    def vjp_fn(cotangent: Any) -> tuple[Tensor, ...]:
        if not output.requires_grad:  # f does not depend on its inputs
            return tuple(Tensor._wrap(np.zeros_like(leaf.data)) for leaf in leaves)
        return tuple(grad(output, leaves, out_grad=cotangent))

    return output.detach(), vjp_fn


def jacobian(f: Callable[[Tensor], Tensor], x: Any, mode: str = "reverse") -> Tensor:
    """The Jacobian of ``f`` at ``x``, shaped ``f(x).shape + x.shape``.

    ``mode="reverse"`` takes one vector-Jacobian product per output element (rows);
    ``mode="forward"`` one Jacobian-vector product per input element (columns).
    """
    leaf = _leaf(x)
    with enable_grad():
        out = f(leaf)
    jac = np.zeros(out.shape + leaf.shape, dtype=out.dtype)
    if mode == "forward":
        columns = jac.reshape(out.size, leaf.size)
        for i in range(leaf.size):
            basis = np.zeros(leaf.size, dtype=leaf.dtype)
            basis[i] = 1.0
            walked = forward_walk([out], {leaf.slot: Tensor._wrap(basis.reshape(leaf.shape))})
            if out.slot in walked:
                columns[:, i] = walked[out.slot].data.reshape(-1)
    elif mode == "reverse":
        rows = jac.reshape(out.size, leaf.size)
        if out.requires_grad:
            for j in range(out.size):
                basis = np.zeros(out.size, dtype=out.dtype)
                basis[j] = 1.0
                (row,) = grad(out, [leaf], out_grad=basis.reshape(out.shape))
                rows[j] = row.data.reshape(-1)
    else:
        raise ValueError(f'jacobian: mode must be "forward" or "reverse", not {mode!r}')
    return Tensor._wrap(jac)


def hvp(f: Callable[[Tensor], Tensor], x: Any, v: Any, mode: str = "reverse") -> Tensor:
    """Hessian-vector product H(x) v of a scalar function.

    Both modes first record the gradient g = grad(f(x), create_graph=True). Then
    ``"reverse"`` (Pearlmutter's reverse-over-reverse) differentiates sum(g * v) again, and
    ``"forward"`` (forward-over-reverse) pushes the tangent v through g's graph.
    """
    x = _leaf(x)
    v = v if isinstance(v, Tensor) else Tensor(v, dtype=x.dtype)
    if mode not in ("forward", "reverse"):
        raise ValueError(f'hvp: mode must be "forward" or "reverse", not {mode!r}')
    with enable_grad():
        (g,) = grad(f(x), [x], create_graph=True)
        if not g.requires_grad:  # f is (at most) linear: its Hessian is zero
            return Tensor._wrap(np.zeros_like(x.data))
        if mode == "reverse":
            (hv,) = grad((g * v).sum(), [x])
            return hv
        return forward_walk([g], {x.slot: v})[g.slot].detach()


__all__ = ["forward_walk", "hvp", "jacobian", "jvp", "vjp"]
