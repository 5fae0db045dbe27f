"""Grading machinery shared by every assignment (no answers in here).

An assignment's instructor file ``grading/<assignment-id>.py`` defines
``PARTS: dict[str, Part]`` keyed by the nbgrader ``grade_id`` of the graded test cell.

* ``Part.driver`` is Python source defining ``run(probe)``; it runs in the student's kernel
  and only *computes* the student's answer for one probe (JSON-serialisable).
* ``Part.check(probes, results)`` runs in the grading process, where student code cannot
  reach, and returns a :class:`Verdict`.

The helpers below (:func:`compare`, :func:`per_probe`, :func:`central_difference`) build
student-friendly messages: which op and input, expected vs got, the worst element and a
likely cause.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Part",
    "Verdict",
    "central_difference",
    "compare",
    "describe",
    "is_error",
    "per_probe",
    "seeded_rng",
]


@dataclass(frozen=True)
class Verdict:
    """The grade of one part: ``score`` in [0, 1] (fraction of the points) and a message."""

    score: float
    message: str

    def __post_init__(self) -> None:
        if not (0.0 <= self.score <= 1.0) or math.isnan(self.score):
            raise ValueError(f"Verdict.score must lie in [0, 1], got {self.score!r}")

    @property
    def passed(self) -> bool:
        return self.score >= 1.0

    @classmethod
    def ok(cls, n_probes: int) -> Verdict:
        return cls(1.0, f"OK: part passed ({n_probes} probes)")

    @classmethod
    def fail(cls, message: str) -> Verdict:
        return cls(0.0, message)


@dataclass
class Part:
    """One graded part of an assignment (see the module docstring)."""

    points: float
    probes: list[Any]
    driver: str
    check: Callable[[list[Any], list[Any]], Verdict]
    title: str = ""
    # Seconds the in-kernel loop may spend on all probes together (per probe: a share of it).
    time_budget: float = 10.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Fail early, in the instructor's hands, rather than at grading time.
        json.dumps(self.probes, allow_nan=True)
        compile(self.driver, "<driver>", "exec")
        if self.points <= 0:
            raise ValueError("Part.points must be positive")


def seeded_rng(seed: int) -> np.random.Generator:
    """A numpy generator for choosing probes; seeding keeps every grading run identical."""
    return np.random.default_rng(seed)


def is_error(result: Any) -> bool:
    """True when the student's ``run(probe)`` raised (the emitter records ``{"error": ...}``)."""
    return isinstance(result, dict) and set(result) == {"error"}


def describe(value: Any, limit: int = 160) -> str:
    """Short, readable rendering of a probe or a value for a message."""
    try:
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 0:
            text = f"{float(arr):.6g}"
        else:
            text = np.array2string(arr, precision=4, separator=", ", threshold=12)
            text = f"{text} (shape {arr.shape})"
    except (TypeError, ValueError):
        text = json.dumps(value, default=str) if not isinstance(value, str) else value
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_array(value: Any) -> np.ndarray | None:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def _hint(exp: np.ndarray, got: np.ndarray, rtol: float) -> str:
    """Guess the most likely cause of a mismatch, from the numbers alone."""
    if exp.size == 0:
        return ""
    if np.all(got == 1.0) and not np.allclose(exp, 1.0):
        return "your result is all ones: did you forget to multiply by the upstream gradient?"
    if np.all(got == 0.0):
        return "your result is all zeros: is the gradient computed (and returned) at all?"
    if (
        exp.ndim >= 2
        and exp.shape == got.shape[::-1]
        or (exp.ndim >= 2 and got.shape == exp.shape and np.allclose(got, exp.swapaxes(-1, -2)))
    ):
        return "the transpose of the expected result matches: did you forget a transpose?"
    nz = np.abs(exp) > 1e-12
    if np.count_nonzero(nz) >= 2:  # one entry always has "a constant ratio"
        ratio = got[nz] / exp[nz]
        if np.allclose(ratio, ratio.flat[0], rtol=1e-6) and abs(ratio.flat[0] - 1) > 1e-4:
            r = float(ratio.flat[0])
            if abs(r - 1) < 0.05:
                return (
                    f"every entry is off by the same factor {r:.4g}: a constant is slightly wrong"
                )
            if np.isclose(r, -1):
                return "the sign is flipped"
            return f"every entry is off by the same factor {r:.4g}: check constant factors"
    rel = np.max(np.abs(got - exp) / (np.abs(exp) + 1e-12))
    if 1e-12 < rel < 1e-4:
        return (
            f"close but not exact (relative error {rel:.1e}): are you using finite "
            "differences instead of the analytic derivative?"
        )
    return ""


def compare(
    name: str,
    expected: Any,
    got: Any,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    hint: str = "",
) -> str | None:
    """Compare one student result with the expected one; None when it matches.

    ``name`` says what was computed on what input (e.g. ``"d/dx of x*y at x=..., y=..."``).
    The message labels expected vs got, names the worst element and gives a likely cause
    (``hint`` from the caller wins over the generic guess).
    """
    if is_error(got):
        return f"{name}: your code raised {got['error']}"
    exp = _as_array(expected)
    arr = _as_array(got)
    if arr is None or exp is None:
        return f"{name}: expected a number or an array, got {describe(got)}"
    if arr.shape != exp.shape:
        cause = hint
        if not cause and arr.size > exp.size:
            cause = "did you sum over the broadcast axes (un-broadcast to the input's shape)?"
        msg = f"{name}: wrong shape. expected shape {exp.shape}, got shape {arr.shape}"
        return f"{msg}. Likely cause: {cause}" if cause else msg
    bad_nan = ~np.isfinite(arr) & np.isfinite(exp)
    if np.any(bad_nan):
        idx = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        return f"{name}: got {arr[idx]} at index {idx} where {exp[idx]:.6g} was expected"
    with np.errstate(invalid="ignore"):
        excess = np.abs(arr - exp) - (atol + rtol * np.abs(exp))
    excess = np.where(np.isfinite(exp), excess, np.where(arr == exp, -1.0, np.inf))
    if not np.any(excess > 0):
        return None
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), exp.shape))
    where = f" at index {worst}" if exp.ndim else ""
    lines = [
        f"{name}: wrong value{where}.",
        f"    expected: {exp[worst]:.10g}",
        f"    got:      {arr[worst]:.10g}",
    ]
    if exp.ndim and exp.size <= 24:
        lines += [f"    expected (all): {describe(exp)}", f"    got (all):      {describe(arr)}"]
    cause = hint or _hint(exp, arr, rtol)
    if cause:
        lines.append(f"    Likely cause: {cause}")
    return "\n".join(lines)


def central_difference(f: Callable[[np.ndarray], float], x: Any, h: float = 1e-6) -> np.ndarray:
    """float64 central differences of a scalar function ``f`` at ``x`` (any shape).

    The step is relative (``h * max(1, |x_i|)``) so that large inputs keep their accuracy.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        step = h * max(1.0, abs(float(old)))
        x[idx] = old + step
        fp = float(f(x.copy()))
        x[idx] = old - step
        fm = float(f(x.copy()))
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * step)
    return grad


def per_probe(
    reference: Callable[[Any], Any],
    name: Callable[[Any], str] | str,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    extra: Sequence[Callable[[Any, Any], str | None]] = (),
    partial: bool = False,
) -> Callable[[list[Any], list[Any]], Verdict]:
    """Build a ``check`` that compares every result with ``reference(probe)``.

    ``name(probe)`` (or a fixed string) names the op and input in messages. ``extra`` are
    further checks ``(probe, got) -> message | None`` (e.g. against finite differences).
    All-or-nothing by default; ``partial=True`` gives the fraction of probes passed.
    """

    def check(probes: list[Any], results: list[Any]) -> Verdict:
        if len(results) != len(probes):
            return Verdict.fail(f"expected {len(probes)} results, got {len(results)}")
        failures: list[str] = []
        for probe, got in zip(probes, results, strict=True):
            label = name(probe) if callable(name) else f"{name} on {describe(probe)}"
            msg = compare(label, reference(probe), got, rtol=rtol, atol=atol)
            for more in extra:
                if msg is None:
                    msg = more(probe, got)
            if msg is not None:
                failures.append(msg)
                if not partial:
                    break
        if not failures:
            return Verdict.ok(len(probes))
        if partial:
            passed = len(probes) - len(failures)
            return Verdict(
                passed / len(probes),
                f"{passed}/{len(probes)} probes passed. First failure:\n{failures[0]}",
            )
        return Verdict.fail(failures[0])

    return check
