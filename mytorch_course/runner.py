"""The part runner: a graded part is declared as a :class:`Part`; :func:`grade` does the rest.

A part declares its probes (drawn from a seed), a driver (a real function of the
assignment's ``drivers.py``; it runs in the student's kernel as ``driver(probe, student)``,
where ``student`` is the notebook's namespace, and only *computes*), the reference that gives
the expected result, an optional float64 finite-difference witness, named known-wrong
candidates with the hint each deserves, and invariants. A part where students write an op's
``gradient()`` also declares a ``second_order`` witness: float64 finite differences of the
reference gradient's own derivative, which the driver's derivative of the student's gradient,
taken through Tensor operations only, must match, so a gradient computed with finite or
complex-step differences, or in numpy and wrapped, fails although its values are right. A
part done by hand declares ``forbidden`` names (see :mod:`.forbidden`). :func:`grade` runs in
the grading process, where student code cannot reach, and owns what is the same for every
part: forbidden names, the length check, "your code raised ...", missing fields and shapes,
NaN/inf (always a failure), hints, the first matching known-wrong candidate, the second-order
check, all-or-nothing or partial scoring, and the "k of n test cases failed; first failure:
..." message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checks import close, compare, describe, is_error
from .forbidden import forbidden_uses

Probe = dict[str, Any]
Tolerance = tuple[float, Any]  # (rtol, atol); atol may be an array (per element)
# Finite differences of a gradient are good to ~1e-8; a gradient the engine cannot
# differentiate is off by the whole second derivative.
SECOND_ORDER_RTOL = 1e-5
NOT_BUILT = (
    "your gradient is not built from Tensor operations: its own derivative {key} is {got}, "
    "but float64 finite differences of the gradient give {expected}.\n    Write gradient() "
    "with Tensor operations on out_grad and node (out_grad * b, ...), so that the engine can "
    "differentiate it again; finite or complex-step differences, or numbers computed in numpy "
    "and wrapped in a Tensor, give the right values but not a gradient."
)


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


@dataclass(frozen=True)
class Part:
    """One graded part (see the module docstring). Results may be a value or a dict of fields;
    ``expected``, ``witness`` and every ``mistakes`` entry return the same structure (a
    mistake may give only some fields; its hint is a string, or a function of the probe when
    the words depend on it). ``context`` adds a line under a failure (e.g. the worst entry).
    ``tolerance`` is (rtol, atol), per probe if callable, per field if it returns a dict.
    ``check`` replaces ``expected`` for results that are judged by rules rather than compared
    (it returns a message or None). ``second_order`` gives, per probe, fields the driver also
    returns (the derivative of the student's gradient through Tensor operations), checked
    once the result is right. ``forbidden``: names the solution cell must not use (a part
    done by hand)."""

    points: float
    probes: Callable[[np.random.Generator], list[Probe]]
    driver: Callable[[Probe, Mapping[str, Any]], Any]
    label: Callable[[Probe], str]
    expected: Callable[[Probe], Any] | None = None
    check: Callable[[Probe, Any], str | None] | None = None
    tolerance: Tolerance | Callable[[Probe], Tolerance | dict[str, Tolerance]] = (1e-9, 1e-12)
    witness: Callable[[Probe], Any] | None = None
    mistakes: Mapping[str | Callable[[Probe], str], Callable[[Probe], Any]] = field(
        default_factory=dict
    )
    context: Callable[[Probe], str] | None = None
    invariants: tuple[Callable[[Probe, Any], str | None], ...] = ()
    second_order: Callable[[Probe], dict[str, Any]] | None = None
    forbidden: tuple[str, ...] = ()
    title: str = ""
    seed: int = 0  # the draw without a submission (tests, demos); grading draws per submission
    partial: bool = False
    solution_cell: str | None = None  # default: the nearest solution cell before the test
    time_budget: float = 10.0  # seconds for all probes in the kernel

    def __post_init__(self) -> None:
        if self.points <= 0:
            raise ValueError("Part.points must be positive")
        if (self.expected is None) == (self.check is None):
            raise ValueError("a Part needs exactly one of expected= and check=")

    def draw(self, seed: int | None = None) -> list[Probe]:
        """The probes for ``seed`` (default: the part's own), as plain JSON values."""
        rng = np.random.default_rng(self.seed if seed is None else seed)
        return json.loads(json.dumps(self.probes(rng), allow_nan=False))


def grade(part: Part, probes: list[Probe], results: Any, source: str = "") -> Verdict:
    """The verdict on a student's ``results`` (one per probe, in order); ``source``: the
    submitted solution cell, read for the part's forbidden names."""
    if part.forbidden and (uses := forbidden_uses(source, part.forbidden)):
        return Verdict.fail(
            f"{part.title}: this part is done by hand, without {', '.join(part.forbidden)}; "
            f"your solution cell uses {', '.join(uses)}."
        )
    if not isinstance(results, list) or len(results) != len(probes):
        return Verdict.fail(f"expected {len(probes)} results, got {describe(results)}")
    failures = [m for p, r in zip(probes, results, strict=True) if (m := check_one(part, p, r))]
    if not failures:
        return Verdict.ok(len(probes))
    n, k = len(probes), len(failures)
    head = f"{part.title}: {k} of {n} test cases failed. First failure:\n"
    return Verdict((n - k) / n if part.partial else 0.0, head + failures[0])


def check_one(part: Part, probe: Probe, got: Any) -> str | None:
    """None when ``got`` is right for ``probe``; else the message for the student."""
    label = part.label(probe)
    if is_error(got):
        return f"{label}: your code raised {got['error']}"
    if part.check is not None:
        msg = part.check(probe, got)
        return msg and f"{label}: {msg}"
    expected = part.expected(probe)
    fields = expected if isinstance(expected, dict) else {None: expected}
    if isinstance(expected, dict) and not isinstance(got, dict):
        return f"{label}: expected {', '.join(expected)}; got {describe(got)}"
    tolerance = part.tolerance(probe) if callable(part.tolerance) else part.tolerance
    for key, exp in fields.items():
        if key is not None and key not in got:
            return f"{label}: no value for {key!r} was returned"
        value = got if key is None else got[key]
        rtol, atol = tolerance[key] if isinstance(tolerance, dict) else tolerance
        msg = compare(
            label if key is None else f"{label}, {key}",
            exp,
            value,
            rtol,
            atol,
            hint=lambda r=rtol, a=atol: _mistake(part, probe, got, expected, r, a),
        )
        if msg:
            return msg + _witness(part, probe, key) + _context(part, probe)
    for invariant in part.invariants:
        if msg := invariant(probe, got):
            return f"{label}: {msg}"
    return _second_order(part, probe, got) if part.second_order else None


def _second_order(part: Part, probe: Probe, got: dict) -> str | None:
    witness = part.second_order(probe)
    if not witness:  # this probe has no gradient() of the student's to differentiate
        return None
    scale = max(float(np.max(np.abs(v), initial=0.0)) for v in witness.values())
    for key, expected in witness.items():
        if key not in got:
            return f"{part.label(probe)}: no value for {key!r} was returned"
        if not close(got[key], expected, SECOND_ORDER_RTOL, SECOND_ORDER_RTOL * scale):
            detail = NOT_BUILT.format(key=key, got=describe(got[key]), expected=describe(expected))
            return f"{part.label(probe)}: {detail}"
    return None


def _mistake(part: Part, probe: Probe, got: Any, expected: Any, rtol: float, atol: Any) -> str:
    """The hint of the first known-wrong candidate that ``got`` matches, else ''. A candidate
    that agrees with the expected result on this probe is never named."""
    for hint, candidate in part.mistakes.items():
        try:
            wrong = candidate(probe)
        except (ValueError, ZeroDivisionError):  # the mistake cannot even be made here
            continue
        if wrong is None:  # the candidate does not apply to this probe
            continue
        if isinstance(wrong, dict):
            mine, right = (got if isinstance(got, dict) else {}), expected
        else:
            wrong, mine, right = {None: wrong}, {None: got}, {None: expected}
        tol = max(rtol, 1e-9)
        differs = any(not close(v, right.get(k), tol, atol) for k, v in wrong.items())
        if differs and all(k in mine and close(mine[k], v, tol, atol) for k, v in wrong.items()):
            return hint(probe) if callable(hint) else hint
    return ""


def _context(part: Part, probe: Probe) -> str:
    return "" if part.context is None else f"\n    {part.context(probe)}"


def _witness(part: Part, probe: Probe, key: str | None) -> str:
    if part.witness is None:
        return ""
    value = part.witness(probe)
    value = value.get(key) if isinstance(value, dict) else value
    return "" if value is None else f"\n    (float64 finite differences give {describe(value)})"
