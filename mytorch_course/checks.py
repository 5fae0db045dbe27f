"""Comparing a student's result with the expected one, in words a student understands.

One copy of each: :func:`compare` (labels expected vs got, names the worst element, and
says the likely cause), :func:`describe` (a short rendering of a value), :func:`likely_cause`
(the generic hints) and :func:`close`. Finite-difference witnesses come from
:mod:`mytorch_course.numeric`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

Hint = str | Callable[[], str]


def is_error(result: Any) -> bool:
    """True when the student's code raised (the emitter records ``{"error": ...}``)."""
    return isinstance(result, dict) and set(result) == {"error"}


def as_array(value: Any) -> np.ndarray | None:
    """``value`` as a float64 array, or None when it is not numbers."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def describe(value: Any, limit: int = 160) -> str:
    """Short, readable rendering of a probe or a value for a message."""
    arr = as_array(value)
    if arr is None:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    elif arr.ndim == 0:
        text = f"{float(arr):.6g}"
    else:
        text = np.array2string(arr, precision=4, separator=", ", threshold=12)
        text = f"{text} (shape {arr.shape})"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def close(got: Any, expected: Any, rtol: float, atol: Any) -> bool:
    """Same shape, all finite, and ``|got - expected| <= atol + rtol |expected|`` everywhere."""
    a, b = as_array(got), as_array(expected)
    if a is None or b is None or a.shape != b.shape or not np.all(np.isfinite(a)):
        return False
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def likely_cause(exp: np.ndarray, got: np.ndarray) -> str:
    """Guess the most likely cause of a mismatch from the numbers alone (same shapes)."""
    if exp.size == 0:
        return ""
    if np.all(got == 1.0) and not np.allclose(exp, 1.0):
        return (
            "your result is all ones: is it computed at all (and multiplied by the upstream "
            "gradient, where there is one)?"
        )
    if np.all(got == 0.0):
        return "your result is all zeros: is it computed (and returned) at all?"
    if exp.ndim >= 2 and exp.shape[-1] == exp.shape[-2] and not np.allclose(exp, got):
        # A square matrix: only say "transpose" when the transpose really matches.
        if np.allclose(got, np.swapaxes(exp, -1, -2)):
            return "the transpose of the expected result matches: did you forget a transpose?"
    nonzero = np.abs(exp) > 1e-12
    if np.count_nonzero(nonzero) >= 2:  # one entry always has "a constant ratio"
        ratio = got[nonzero] / exp[nonzero]
        r = float(ratio.flat[0])
        if np.allclose(ratio, r, rtol=1e-6) and abs(r - 1) > 1e-4:
            if np.isclose(r, -1):
                return "the sign is flipped"
            if abs(r - 1) < 0.05:
                return f"every entry is off by the same factor {r:.4g}: a constant is slightly off"
            return f"every entry is off by the same factor {r:.4g}: check constant factors"
    rel = float(np.max(np.abs(got - exp) / (np.abs(exp) + 1e-12)))
    if 1e-12 < rel < 1e-4:
        return (
            f"close but not exact (relative error {rel:.1e}; an exact formula agrees to "
            "~1e-15): are you using finite differences instead of the analytic derivative?"
        )
    return ""


def compare(
    name: str, expected: Any, got: Any, rtol: float = 1e-9, atol: Any = 1e-12, hint: Hint = ""
) -> str | None:
    """None when ``got`` matches ``expected``; else a message for the student.

    ``name`` says what was computed on what input. NaN or inf in ``got`` always fails.
    ``hint`` (a string, or a function called only on a mismatch) wins over the generic guess.
    """
    if is_error(got):
        return f"{name}: your code raised {got['error']}"
    exp, arr = as_array(expected), as_array(got)
    if arr is None or exp is None:
        return f"{name}: expected a number or an array, got {describe(got)}"
    if arr.shape != exp.shape:
        cause = hint() if callable(hint) else hint
        if not cause and arr.size > exp.size:
            cause = "did you sum over the broadcast axes (un-broadcast to the input's shape)?"
        msg = f"{name}: wrong shape. expected shape {exp.shape}, got shape {arr.shape}"
        return f"{msg}. Likely cause: {cause}" if cause else msg
    if not np.all(np.isfinite(arr)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        where = f" at index {idx}" if arr.ndim else ""
        return f"{name}: got {arr[idx]}{where} where {exp[idx]:.6g} was expected"
    excess = np.abs(arr - exp) - (atol + rtol * np.abs(exp))
    if not np.any(excess > 0):
        return None
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), exp.shape))
    lines = [
        f"{name}: wrong value" + (f" at index {worst}." if exp.ndim else "."),
        f"    expected: {exp[worst]:.10g}",
        f"    got:      {arr[worst]:.10g}",
    ]
    if exp.ndim and exp.size <= 24:
        lines += [f"    expected (all): {describe(exp)}", f"    got (all):      {describe(arr)}"]
    cause = (hint() if callable(hint) else hint) or likely_cause(exp, arr)
    if cause:
        lines.append(f"    Likely cause: {cause}")
    return "\n".join(lines)
