"""Checking gradients: finite differences, gradcheck, and the tape bisector."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .autograd import checked_gradients, grad, graph_operations
from .func import hvp
from .ops import Op
from .recording import Operation, no_grad, tape
from .tensor import Tensor


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Central-difference gradient of a scalar function ``f`` at ``x`` (float64).

    Costs 2 evaluations of ``f`` per element of ``x``; ``x`` is restored afterwards.
    """
    # BEGIN EXERCISE 01-derivatives (the student edition of assignment 1 leaves this out)
    x = np.array(x, dtype=np.float64)  # a private float64 copy: never disturb the caller's
    gradient = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), gradient.reshape(-1)
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + h
        f_plus = float(f(x))
        flat_x[i] = original - h
        f_minus = float(f(x))
        flat_x[i] = original
        flat_g[i] = (f_plus - f_minus) / (2 * h)
    return gradient
    # END EXERCISE


@dataclass
class Mismatch:
    """The worst disagreement between the analytic and the numerical gradient."""

    input_index: int
    element: tuple[int, ...]
    analytic: float
    numerical: float
    error: float  # |analytic - numerical| / (atol + rtol * |numerical|); > 1 fails

    def __str__(self) -> str:
        return (
            f"input {self.input_index}, element {self.element}: analytic (your gradient) "
            f"{self.analytic:.6g} vs numerical (finite differences) {self.numerical:.6g}"
        )


@dataclass
class GradcheckReport:
    """Result of ``gradcheck``: truthy when every input's gradient matched."""

    ok: bool
    worst: Mismatch | None
    analytic: list[np.ndarray] = field(repr=False)
    numerical: list[np.ndarray] = field(repr=False)
    message: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.message


def _to_float64_leaves(inputs: Sequence[Any]) -> list[Tensor]:
    return [
        Tensor(
            np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64), requires_grad=True
        )
        for x in inputs
    ]


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    seed: int | None = 0,
    out_grad: np.ndarray | None = None,
    name: str | None = None,
) -> GradcheckReport:
    """Compare ``fn``'s backward pass with float64 central differences.

    A random upstream gradient ``u`` (never all ones, which hides many bugs) is pushed back
    through ``fn``; the result is compared with the finite-difference gradient of
    ``sum(fn(x) * u)``. Inputs are copied to float64 leaves, so callers' tensors are safe.
    """
    leaves = _to_float64_leaves(inputs)
    out = fn(*leaves)
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(out.shape) if out_grad is None else np.asarray(out_grad, np.float64)
    label = name or getattr(fn, "__name__", "fn")

    if out.requires_grad:
        analytic = [g.data for g in grad(out, leaves, out_grad=u)]
    else:
        analytic = [np.zeros_like(leaf.data) for leaf in leaves]
    return _compare(fn, leaves, u, analytic, label, eps, rtol, atol)


def _compare(
    fn: Callable[..., Tensor],
    leaves: list[Tensor],
    u: np.ndarray,
    analytic: list[np.ndarray],
    label: str,
    eps: float,
    rtol: float,
    atol: float,
) -> GradcheckReport:
    """Compare ``analytic`` with central differences of ``sum(fn(*leaves) * u)``."""
    numerical = []
    for index, leaf in enumerate(leaves):

        def scalar(x: np.ndarray, index: int = index) -> float:
            args = [Tensor(x) if i == index else Tensor(l.data) for i, l in enumerate(leaves)]
            return float(np.sum(fn(*args).data * u))

        numerical.append(numerical_gradient(scalar, leaf.data, eps))

    worst: Mismatch | None = None
    for index, (a, n) in enumerate(zip(analytic, numerical, strict=True)):
        if a.size == 0:
            continue
        ratio = np.abs(a - n) / (atol + rtol * np.abs(n))
        at = np.unravel_index(int(np.argmax(ratio)), a.shape) if a.ndim else ()
        candidate = Mismatch(
            index, tuple(int(i) for i in at), float(a[at]), float(n[at]), float(ratio[at])
        )
        if worst is None or candidate.error > worst.error:
            worst = candidate
    ok = worst is None or worst.error <= 1.0
    verdict = "passed" if ok else "FAILED"
    message = f"gradcheck {verdict} for {label}"
    if worst is not None:
        message += f"; worst element: {worst}"
    return GradcheckReport(ok, worst, analytic, numerical, message)


# --- one op by hand: no tape, no reverse walk ----------------------------------------------


def apply_op(op: Op, *inputs: Any) -> Tensor:
    """``op(*inputs)`` as a graph of one node kept off the tape (``node.inputs`` are the inputs).

    For calling ``op.gradient(out_grad, node)`` yourself, without the engine that records
    and walks graphs (assignment 2 tests its ops this way; assignment 3 writes that engine).
    """
    tensors = tuple(x if isinstance(x, Tensor) else Tensor(x) for x in inputs)
    with no_grad():
        node = op(*tensors)
    node.requires_grad = any(t.requires_grad for t in tensors)
    node.record = Operation(op, tensors, weakref.ref(node), node.slot, -1)
    return node


def op_gradients(op: Op, *inputs: Any, out_grad: Any) -> tuple[Tensor | None, ...]:
    """What ``op.gradient`` returns for ``op(*inputs)`` and the upstream ``out_grad``, checked.

    Every input gets a gradient (inputs are made to require one). The result is checked as
    ``backward()`` checks it: one gradient per input, each of its input's shape, finite.
    """
    arrays = [np.asarray(x.data if isinstance(x, Tensor) else x, np.float64) for x in inputs]
    tensors = tuple(Tensor(a, requires_grad=True) for a in arrays)
    node = apply_op(op, *tensors)
    upstream = Tensor(np.asarray(out_grad, dtype=node.dtype))
    if upstream.shape != node.shape:
        raise ValueError(f"out_grad has shape {upstream.shape}; the output has {node.shape}")
    with no_grad():
        grads = op.gradient(upstream, node)
        return tuple(checked_gradients(node.record, grads, check_finite=True, strict=True))


def gradcheck_op(
    op: Op,
    *inputs: Any,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    seed: int | None = 0,
) -> GradcheckReport:
    """Compare ``op.gradient`` itself with float64 central differences of ``op.compute``.

    Like :func:`gradcheck`, with a random upstream gradient, but it calls ``gradient()``
    directly instead of running ``backward()``: it needs no engine.
    """
    leaves = _to_float64_leaves(inputs)
    out = apply_op(op, *leaves)
    u = np.random.default_rng(seed).standard_normal(out.shape)
    analytic = [g.data for g in op_gradients(op, *leaves, out_grad=u)]

    def forward(*args: Tensor) -> Tensor:
        with no_grad():
            return op(*args)

    return _compare(forward, leaves, u, analytic, type(op).__name__, eps, rtol, atol)


@dataclass
class BisectReport:
    """Where the first wrong ``gradient()`` is on a loss's tape (or that none is)."""

    ok: bool
    checked: int
    culprit: Operation | None = None
    position: int | None = None
    report: GradcheckReport | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"all {self.checked} recorded ops passed their local gradient check"
        assert self.culprit is not None and self.report is not None
        shapes = ", ".join(str(t.shape) for t in self.culprit.inputs)
        return (
            f"first wrong gradient: op #{self.position} {self.culprit.op!r} (inputs {shapes}) — "
            f"{self.report.worst}"
        )


def bisect_tape(
    loss: Tensor, eps: float = 1e-6, rtol: float = 1e-4, atol: float = 1e-6
) -> BisectReport:
    """Re-check every op on ``loss``'s tape locally; name the FIRST whose gradient is wrong.

    Each op is checked on its own recorded inputs (copied to float64) with a random
    upstream gradient, so one wrong op cannot hide behind, or blame, its neighbours.
    """
    records = graph_operations(loss)
    for position, record in enumerate(records):
        op = record.op
        report = gradcheck(
            lambda *xs, op=op: op(*xs),
            *[t.data for t in record.inputs],
            eps=eps,
            rtol=rtol,
            atol=atol,
            seed=position,
            name=repr(op),
        )
        if not report:
            return BisectReport(False, position + 1, record, position, report)
    return BisectReport(True, len(records))


__all__ = [
    "BisectReport",
    "GradcheckReport",
    "Mismatch",
    "bisect_tape",
    "gradcheck",
    "graph_operations",
    "hvp",
    "numerical_gradient",
    "tape",
]
