"""Visible checks: the grader's comparison and hints, for the checks students run themselves.

The test cell under each exercise calls these, and the grader words its verdicts with the
same :func:`compare`, so a visible check and the grade speak alike: which case, which input,
expected vs got (labelled), the worst element, and the likely cause. A failed check raises
:class:`CheckFailed` (an ``AssertionError``) whose message is that text.

* :func:`check` compares one value; :func:`check_fields` the values of a function that
  returns several (``(f, dL/dx, dL/dy)``). Both take ``mistakes``: hint -> what that mistake
  gives on this very case (numbers, never the rule), and name the first one the student's
  result matches.
* :func:`check_op` calls an op's ``gradient()`` directly, with a random upstream gradient,
  and compares it with float64 central differences of the op's ``compute``; it recognises
  the mistakes that need no rule to spot (out_grad ignored, the two gradients swapped, a
  missing un-broadcast, a sign, a constant factor, a transpose, finite differences).

Nothing here holds an answer: the expected values come from the test cell or from finite
differences of the student's own ``compute``. The comparison is numpy only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .check import apply_op
from .ops import Op
from .recording import no_grad
from .tensor import Tensor

Hint = str | Callable[[], str]

IGNORES_OUT_GRAD = (
    "multiply by out_grad: the chain rule scales the local derivative by the upstream "
    "gradient (your result is right only when out_grad is all ones)"
)
SWAPPED = (
    "your gradients of a and b are each other's: return them in the order of the inputs, "
    "and check which input each one belongs to"
)
FD_NOTE = "(the expected values are float64 central differences of your compute)"
NOT_A_TENSOR = (
    "gradient() returned {kind} for input {index}: build each gradient from Tensor operations "
    "on out_grad and node (out_grad * ..., .sum(...), .reshape(...)), so that the engine can "
    "record it and differentiate it again"
)


class CheckFailed(AssertionError):
    """A visible check failed; the message says which case, expected vs got, and why."""


# --- the comparison (the grader uses these very functions) -----------------------------------


def is_error(result: Any) -> bool:
    """True when the student's code raised (the emitter records ``{"error": ...}``)."""
    return isinstance(result, dict) and set(result) == {"error"}


def as_array(value: Any) -> np.ndarray | None:
    """``value`` as a float64 array (a Tensor's data), or None when it is not numbers."""
    data = value.data if isinstance(value, Tensor) else value
    try:
        return np.asarray(data, dtype=np.float64)
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


# --- the checks a test cell calls --------------------------------------------------------------


def _matching_mistake(
    got: Mapping[Any, Any], expected: Mapping[Any, Any], mistakes: Mapping[str, Any], tol: tuple
) -> str:
    """The hint of the first mistake whose values ``got`` has (and which is not right)."""
    rtol, atol = tol
    for hint, wrong in mistakes.items():
        wrong = wrong if isinstance(wrong, Mapping) else {None: wrong}
        differs = any(not close(v, expected.get(k), rtol, atol) for k, v in wrong.items())
        if differs and all(k in got and close(got[k], v, rtol, atol) for k, v in wrong.items()):
            return hint
    return ""


def _fail_unless(
    name: str, got: Any, expected: Any, rtol: float, atol: float, mistake: str, hint: str
) -> None:
    """Raise with :func:`compare`'s message, the likely cause being ``mistake``, else ``hint``,
    else compare's generic guess."""
    if message := compare(name, expected, got, rtol, atol, hint=mistake or hint):
        raise CheckFailed(message)


def check(
    name: str,
    got: Any,
    expected: Any,
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    mistakes: Mapping[str, Any] | None = None,
    hint: str = "",
) -> None:
    """Raise :class:`CheckFailed` unless ``got`` matches ``expected``.

    ``name`` says what was computed on which input (``"d_cube(2.0)"``). ``mistakes`` maps a
    hint to the value that mistake gives on this case; the first match is the likely cause.
    ``hint`` is said on any other mismatch (without it: the grader's generic guesses).
    """
    mistake = _matching_mistake({None: got}, {None: expected}, mistakes or {}, (rtol, atol))
    _fail_unless(name, got, expected, rtol, atol, mistake, hint)


def check_fields(
    name: str,
    got: Any,
    expected: Mapping[str, Any],
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    mistakes: Mapping[str, Mapping[str, Any]] | None = None,
    hints: Mapping[str, str] | None = None,
) -> None:
    """Check a function that returns several values, in the order of ``expected``'s keys.

    ``got`` is that tuple (or a dict with those keys). ``mistakes`` maps a hint to the values
    of some fields that the mistake gives on this case; ``hints`` maps a field to what to say
    when it is wrong and no mistake matches.
    """
    fields = list(expected)
    if isinstance(got, Mapping):
        values = dict(got)
    elif isinstance(got, Sequence) and not isinstance(got, str):
        if len(got) != len(fields):
            raise CheckFailed(
                f"{name}: returned {len(got)} values; expected {len(fields)}: "
                f"({', '.join(fields)})"
            )
        values = dict(zip(fields, got, strict=True))
    else:
        raise CheckFailed(f"{name}: expected a tuple ({', '.join(fields)}); got {describe(got)}")
    mistake = _matching_mistake(values, expected, mistakes or {}, (rtol, atol))
    for field in fields:
        if field not in values:
            raise CheckFailed(f"{name}: no value for {field!r} was returned")
        hint = (hints or {}).get(field, "")
        _fail_unless(f"{name}, {field}", values[field], expected[field], rtol, atol, mistake, hint)


def central_vjp(
    compute: Callable[..., Any], arrays: Sequence[np.ndarray], out_grad: Any, h: float = 1e-6
) -> list[np.ndarray]:
    """Float64 central differences of ``sum(out_grad * compute(*arrays))``, one per array."""
    # BEGIN EXERCISE 01-derivatives (central differences are assignment 1's answer)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for i, x in enumerate(arrays):
        grad = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            up = [a.copy() for a in arrays]
            down = [a.copy() for a in arrays]
            up[i][index] += h
            down[i][index] -= h
            plus = np.sum(out_grad * np.asarray(compute(*up), dtype=np.float64))
            minus = np.sum(out_grad * np.asarray(compute(*down), dtype=np.float64))
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads
    # END EXERCISE


def check_op(
    op: Op,
    *inputs: Any,
    out_grad: Any = None,
    seed: int = 0,
    rtol: float = 1e-6,
    atol: float = 1e-7,
) -> None:
    """Call ``op.gradient()`` directly and compare it with central differences of
    ``op.compute``, for a random upstream gradient (never all ones) or ``out_grad``; raise
    :class:`CheckFailed` with the grader's kind of message on the first wrong gradient.

    Every gradient must be a Tensor of exactly its input's shape (no engine fixes it up).
    """
    arrays = [np.array(getattr(x, "data", x), dtype=np.float64) for x in inputs]
    names = ["a", "b"] if len(arrays) == 2 else [f"input {i}" for i in range(len(arrays))]
    names = ["a"] if len(arrays) == 1 else names
    cls = type(op).__name__
    node = apply_op(op, *[Tensor(a, requires_grad=True) for a in arrays])
    rng = np.random.default_rng(seed)
    u = rng.uniform(0.5, 2.0, node.shape) * rng.choice([-1.0, 1.0], node.shape)
    if out_grad is not None:
        u = np.array(out_grad, dtype=np.float64).reshape(node.shape)
    shown = ", ".join(f"{n}={describe(a)}" for n, a in zip(names, arrays, strict=True))
    label = f"{cls}.gradient with {shown}, out_grad={describe(u)}"
    with no_grad():
        try:
            grads = op.gradient(Tensor(u), node)
        except NotImplementedError:  # not written yet: the notebook says so as it is
            raise
        except Exception as err:  # the student's gradient() raised: say where, in a sentence
            raise CheckFailed(
                f"{label}: your gradient() raised {type(err).__name__}: {err}"
            ) from err
    if type(grads) is not tuple and not isinstance(grads, list):
        grads = (grads,)
    if len(grads) != len(arrays):
        raise CheckFailed(
            f"{label}: gradient() returned {len(grads)} gradient(s), but {cls} has "
            f"{len(arrays)} input(s): return one per input, in order (a tuple)"
        )
    for index, grad in enumerate(grads):
        if not isinstance(grad, Tensor):
            kind = "None" if grad is None else f"a {type(grad).__name__}"
            raise CheckFailed(f"{label}: " + NOT_A_TENSOR.format(kind=kind, index=index))
    expected = central_vjp(op.compute, arrays, u)
    got = [as_array(g) for g in grads]

    def mistake(index: int) -> str:
        mine, loose = got[index], max(rtol, 1e-5)
        ones = central_vjp(op.compute, arrays, np.ones_like(u))[index]
        if not close(ones, expected[index], rtol, atol) and close(mine, ones, loose, atol):
            return IGNORES_OUT_GRAD
        if len(arrays) == 2 and close(mine, expected[1 - index], loose, atol):
            return SWAPPED
        return ""

    for index, name in enumerate(names):
        where = f"{label}: gradient of {name}"
        if close(got[index], expected[index], rtol, atol):
            continue
        try:
            _fail_unless(where, got[index], expected[index], rtol, atol, mistake(index), "")
        except CheckFailed as failed:
            raise CheckFailed(f"{failed}\n    {FD_NOTE}") from None
