"""Instructor grading file for assignment 01-derivatives ("Derivatives three ways").

Nothing here reaches students. ``PARTS`` maps the ``grade_id`` of each graded test cell to
a :class:`~mytorch_course.runner.Part`:

* ``probes``: grader-chosen, seeded inputs (JSON);
* ``driver``: source of ``run(probe)``, executed in the student's kernel; it only calls the
  student's function and returns plain JSON;
* ``check``: runs in the grading process and compares the results with the reference
  implementations below (and, where it applies, with float64 central differences).

The solution cell of part ``P`` has ``grade_id`` ``"P-solution"`` (also in
``Part.extra["solution_cell"]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mytorch_course.runner import Part, Verdict, compare, describe, is_error

EPS = np.finfo(np.float64).eps

# ----------------------------------------------------------------------------------------
# Function catalogues. The same definitions appear in the driver source (the student's
# kernel) and here (the grading process), so both sides evaluate bit-identical values.
# ----------------------------------------------------------------------------------------

CATALOGUE_SRC = '''
import numpy as np

_SCALAR_FUNCTIONS = {
    "cube": lambda x: x**3,
    "sin": np.sin,
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "recip": lambda x: 1.0 / x,
}


def _array_function(probe):
    name = probe["f"]
    if name == "sum_cubes":
        return lambda v: float(np.sum(np.asarray(v) ** 3))
    if name == "coupled":
        return lambda v: float(np.sum(np.sin(v)) * (1.0 + np.sum(np.asarray(v) ** 2)))
    if name == "chain":
        def chain(v):
            flat = np.asarray(v).reshape(-1)
            return float(np.sum(flat[:-1] * flat[1:]) + np.sum(np.cos(flat)))
        return chain
    if name == "logsumexp":
        return lambda v: float(np.log(np.sum(np.exp(v))))
    if name == "quadratic":
        A = np.asarray(probe["A"], dtype=np.float64)
        def quadratic(v):
            flat = np.asarray(v).reshape(-1)
            return float(0.5 * flat @ A @ flat)
        return quadratic
    raise KeyError(name)


def _array_gradient(probe, x):
    """Analytic gradient of _array_function(probe) at x, then spoiled as the probe asks."""
    name = probe["f"]
    x = np.asarray(x, dtype=np.float64)
    if name == "sum_cubes":
        g = 3.0 * x**2
    elif name == "coupled":
        g = np.cos(x) * (1.0 + np.sum(x**2)) + np.sum(np.sin(x)) * 2.0 * x
    elif name == "chain":
        flat = x.reshape(-1)
        gf = -np.sin(flat)
        gf[:-1] += flat[1:]
        gf[1:] += flat[:-1]
        g = gf.reshape(x.shape)
    elif name == "logsumexp":
        e = np.exp(x - np.max(x))
        g = e / np.sum(e)
    elif name == "quadratic":
        A = np.asarray(probe["A"], dtype=np.float64)
        g = (0.5 * (A + A.T) @ x.reshape(-1)).reshape(x.shape)
    else:
        raise KeyError(name)
    variant = probe.get("grad", "exact")
    g = np.array(g, dtype=np.float64)
    if variant == "scaled":
        g = g * 1.05
    elif variant == "one_wrong":
        flat = g.reshape(-1)
        flat[probe["k"] % flat.size] += probe["delta"]
    elif variant == "negated":
        g = -g
    elif variant == "zeros":
        g = np.zeros_like(g)
    return g
'''

_catalogue: dict[str, Any] = {}
exec(compile(CATALOGUE_SRC, "<catalogue>", "exec"), _catalogue)
SCALAR_FUNCTIONS: dict[str, Callable] = _catalogue["_SCALAR_FUNCTIONS"]
array_function = _catalogue["_array_function"]
array_gradient = _catalogue["_array_gradient"]

# Exact first derivatives of the scalar catalogue (used only for friendlier messages).
SCALAR_DERIVATIVES: dict[str, Callable] = {
    "cube": lambda x: 3 * x**2,
    "sin": np.cos,
    "exp": np.exp,
    "log": lambda x: 1.0 / x,
    "tanh": lambda x: 1.0 - np.tanh(x) ** 2,
    "recip": lambda x: -1.0 / x**2,
}

# Domains away from singularities, and where one- and two-sided differences disagree.
SCALAR_DOMAINS = {
    "cube": (0.5, 3.0),
    "sin": (-3.0, 3.0),
    "exp": (-1.0, 3.0),
    "log": (0.3, 4.0),
    "tanh": (-1.5, 1.5),
    "recip": (0.5, 3.0),
}

# ----------------------------------------------------------------------------------------
# Reference implementations (instructor's; never released)
# ----------------------------------------------------------------------------------------


def ref_forward_difference(f, x, h):
    return (f(x + h) - f(x)) / h


def ref_central_difference(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def ref_numerical_gradient(f, x, h):
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f(x)
        x[idx] = old - h
        fm = f(x)
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * h)
    return grad


def ref_d_cube(x):
    return 3.0 * x**2


def ref_d_wiggle(x):
    return np.sin(x**2) + 2.0 * x**2 * np.cos(x**2)


def ref_relative_errors(analytic, numerical):
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-12)


def ref_grad_check(f, grad_f, x, h):
    x = np.asarray(x, dtype=np.float64)
    analytic = np.asarray(grad_f(x), dtype=np.float64)
    numerical = ref_numerical_gradient(f, x, h)
    return float(np.max(ref_relative_errors(analytic, numerical)))


def ref_gradient_descent(grad_f, x0, lr, n_steps):
    x = np.array(x0, dtype=np.float64)
    path = [x.copy()]
    for _ in range(n_steps):
        x = x - lr * np.asarray(grad_f(x), dtype=np.float64)
        path.append(x.copy())
    return np.array(path)


# ----------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------


def _shape_for(rng: np.random.Generator, rank: int) -> tuple[int, ...]:
    return tuple(int(n) for n in rng.integers(1, 4, size=rank))


def _cmp(name, expected, got, rtol, atol, hint=""):
    """``compare`` from the course helpers, never letting a generic guess crash the check."""
    try:
        return compare(name, expected, got, rtol=rtol, atol=atol, hint=hint)
    except Exception:  # noqa: BLE001 - fall back to a message without the generic guess
        return compare(
            name, expected, got, rtol=rtol, atol=atol, hint=hint or "compare the values above"
        )


def _ones_hint(got, what: str) -> str:
    arr = _arr(got)
    if arr is not None and arr.size and np.all(arr == 1.0):
        return f"your function returns 1 everywhere; it should return {what}"
    return ""


def _verdict(part: str, failures: list[str], n: int) -> Verdict:
    if not failures:
        return Verdict.ok(n)
    head = f"{part}: {len(failures)} of {n} test cases failed. First failure:\n"
    return Verdict.fail(head + failures[0])


def _arr(value) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _close(a, b, rtol, atol) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _x_of(probe):
    x = probe["x"]
    return np.asarray(x, dtype=np.float64) if isinstance(x, list) else float(x)


def _results_length_ok(probes, results) -> Verdict | None:
    if not isinstance(results, list) or len(results) != len(probes):
        return Verdict.fail("no usable results were recorded for this part")
    return None


# ----------------------------------------------------------------------------------------
# Parts 1 and 2: forward_difference and central_difference
# ----------------------------------------------------------------------------------------


def _difference_probes(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    probes = []
    names = list(SCALAR_FUNCTIONS)
    for i in range(36):
        name = names[i % len(names)]
        lo, hi = SCALAR_DOMAINS[name]
        h = float(10.0 ** rng.uniform(-3, -1))
        rank = [0, 0, 0, 1, 2][i % 5]
        if rank == 0:
            x: Any = float(rng.uniform(lo, hi))
        else:
            x = rng.uniform(lo, hi, size=_shape_for(rng, rank)).tolist()
        probes.append({"f": name, "x": x, "h": h})
    return probes


_DIFFERENCE_DRIVER = (
    CATALOGUE_SRC
    + """

def run(probe):
    f = _SCALAR_FUNCTIONS[probe["f"]]
    x = probe["x"]
    x = np.array(x, dtype=np.float64) if isinstance(x, list) else float(x)
    value = {name}(f, x, probe["h"])
    return np.asarray(value, dtype=np.float64).tolist()
"""
)


def _difference_check(kind: str) -> Callable[[list, list], Verdict]:
    own = ref_forward_difference if kind == "forward" else ref_central_difference

    def candidates(f, x, h):
        return {
            "forward": (
                "the forward difference (f(x+h) - f(x)) / h",
                ref_forward_difference(f, x, h),
            ),
            "central": (
                "the central difference (f(x+h) - f(x-h)) / (2h)",
                ref_central_difference(f, x, h),
            ),
            "backward": ("the backward difference (f(x) - f(x-h)) / h", (f(x) - f(x - h)) / h),
            "undivided": ("the difference without dividing by h", f(x + h) - f(x)),
            "halved": ("(f(x+h) - f(x-h)) / h (missing the factor 2)", (f(x + h) - f(x - h)) / h),
        }

    def check(probes: list, results: list) -> Verdict:
        bad = _results_length_ok(probes, results)
        if bad:
            return bad
        failures = []
        for probe, got in zip(probes, results, strict=True):
            f = SCALAR_FUNCTIONS[probe["f"]]
            x, h = _x_of(probe), probe["h"]
            expected = own(f, x, h)
            scale = np.max(np.abs(f(x))) + np.max(np.abs(f(x + h))) + np.max(np.abs(f(x - h)))
            atol = 1e-12 + 64 * EPS * scale / h
            name = f"{kind}_difference(f={probe['f']}, x={describe(x)}, h={h:.3g})"
            hint = _ones_hint(got, f"the {kind}-difference quotient")
            arr = _arr(got)
            if (
                not hint
                and not is_error(got)
                and arr is not None
                and arr.shape == np.shape(expected)
            ):
                for key, (text, value) in candidates(f, x, h).items():
                    if key != kind and _close(arr, value, 1e-9, atol):
                        hint = f"you returned {text}; this part asks for the {kind} difference"
                        break
                else:
                    exact = SCALAR_DERIVATIVES[probe["f"]](x)
                    if _close(arr, exact, 1e-6, 1e-9):
                        hint = (
                            "you returned the exact derivative; the part asks for the "
                            f"{kind}-difference approximation with the given h"
                        )
            msg = _cmp(name, expected, got, rtol=1e-9, atol=atol, hint=hint)
            if msg:
                failures.append(msg)
        return _verdict(f"{kind}_difference", failures, len(probes))

    return check


# ----------------------------------------------------------------------------------------
# Part 3: numerical_gradient
# ----------------------------------------------------------------------------------------


def _random_array_probe(rng, name: str, rank: int, h: float) -> dict:
    shape = _shape_for(rng, rank)
    if name == "logsumexp":
        x = rng.uniform(-1.0, 1.0, size=shape)
    else:
        x = rng.uniform(-1.5, 1.5, size=shape)
        # keep entries away from zero so that no partial derivative vanishes by accident
        x = np.where(np.abs(x) < 0.3, x + np.sign(x + 1e-9) * 0.4, x)
    probe: dict[str, Any] = {"f": name, "x": x.tolist() if rank else float(x), "h": h}
    if name == "quadratic":
        p = x.size
        M = rng.normal(size=(p, p))
        probe["A"] = (M @ M.T + p * np.eye(p)).tolist()
    return probe


ARRAY_FUNCTIONS = ["sum_cubes", "coupled", "chain", "logsumexp", "quadratic"]


def _numgrad_probes(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    probes = []
    for i in range(30):
        name = ARRAY_FUNCTIONS[i % len(ARRAY_FUNCTIONS)]
        rank = [0, 1, 2, 3, 1, 2][i % 6]
        h = [1e-3, 1e-4, 3e-3][i % 3]
        probes.append(_random_array_probe(rng, name, rank, h))
    return probes


NUMGRAD_DRIVER = (
    CATALOGUE_SRC
    + """

def run(probe):
    x = np.array(probe["x"], dtype=np.float64)
    inner = _array_function(probe)
    calls = [0]

    def f(v):
        calls[0] += 1
        return inner(v)

    grad = numerical_gradient(f, x, probe["h"])
    return {
        "grad": np.asarray(grad, dtype=np.float64).tolist(),
        "x_after": x.tolist(),
        "calls": calls[0],
    }
"""
)


def _numgrad_check(probes: list, results: list) -> Verdict:
    bad = _results_length_ok(probes, results)
    if bad:
        return bad
    failures = []
    for probe, got in zip(probes, results, strict=True):
        x = np.asarray(probe["x"], dtype=np.float64)
        f = array_function(probe)
        h = probe["h"]
        name = f"numerical_gradient(f={probe['f']}, x={describe(x)}, h={h:.3g})"
        if is_error(got):
            failures.append(f"{name}: your code raised {got['error']}")
            continue
        if not isinstance(got, dict) or "grad" not in got:
            failures.append(f"{name}: expected an array, got {describe(got)}")
            continue
        expected = ref_numerical_gradient(f, x, h)
        scale = abs(f(x)) + 1.0
        atol = 1e-10 + 64 * EPS * scale / h
        hint = _ones_hint(got["grad"], "one central difference per entry of x")
        arr = _arr(got["grad"])
        if hint:
            pass
        elif arr is not None and arr.shape == x.shape:
            fwd = np.zeros_like(x)
            for idx in np.ndindex(x.shape):
                xp = x.copy()
                xp[idx] += h
                fwd[idx] = (f(xp) - f(x)) / h
            if _close(arr, fwd, 1e-7, atol):
                hint = (
                    "these are forward differences; use central differences "
                    "(f(x+h) - f(x-h)) / (2h)"
                )
        elif arr is not None and arr.shape != x.shape:
            hint = "the gradient must have the same shape as x (rank 0 included)"
        msg = _cmp(name, expected, got["grad"], rtol=1e-8, atol=atol, hint=hint)
        if msg is None:
            after = _arr(got.get("x_after"))
            if after is None or after.shape != x.shape or not _close(after, x, 1e-12, 1e-15):
                msg = (
                    f"{name}: x was changed by the call.\n    x before: {describe(x)}\n"
                    f"    x after:  {describe(got.get('x_after'))}\n"
                    "    Likely cause: restore each entry to its original value after "
                    "evaluating f at x+h and x-h."
                )
        if msg is None:
            p = x.size
            calls = got.get("calls")
            if not isinstance(calls, int) or calls > 2 * p + 1:
                msg = (
                    f"{name}: f was called {calls} times for an x with {p} entries; "
                    f"central differences need 2p = {2 * p} evaluations."
                )
        if msg:
            failures.append(msg)
    return _verdict("numerical_gradient", failures, len(probes))


# ----------------------------------------------------------------------------------------
# Part 4: analytic derivatives (d_cube, d_wiggle)
# ----------------------------------------------------------------------------------------


def _analytic_probes(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    probes = []
    for i in range(24):
        rank = [0, 1, 2, 1][i % 4]
        shape = _shape_for(rng, rank)
        if i % 3 == 0:
            mag = rng.uniform(10.0, 40.0, size=shape)  # large |x|: finite differences are poor
        else:
            mag = rng.uniform(0.3, 5.0, size=shape)
        x = mag * rng.choice([-1.0, 1.0], size=shape)
        probes.append({"x": x.tolist() if rank else float(x)})
    return probes


ANALYTIC_DRIVER = """
import numpy as np


def run(probe):
    x = probe["x"]
    x = np.array(x, dtype=np.float64) if isinstance(x, list) else float(x)
    return {
        "d_cube": np.asarray(d_cube(x), dtype=np.float64).tolist(),
        "d_wiggle": np.asarray(d_wiggle(x), dtype=np.float64).tolist(),
    }
"""

_FD_HINT = (
    "your values agree with the exact derivative only to about {rel:.1e} relative error; "
    "an exact formula agrees to ~1e-15. Did you use finite differences instead of the "
    "derivative you worked out by hand?"
)


def _analytic_check(probes: list, results: list) -> Verdict:
    bad = _results_length_ok(probes, results)
    if bad:
        return bad
    failures = []
    for probe, got in zip(probes, results, strict=True):
        x = _x_of(probe)
        if is_error(got):
            failures.append(
                f"d_cube / d_wiggle at x={describe(x)}: your code raised {got['error']}"
            )
            continue
        if not isinstance(got, dict):
            failures.append(
                f"d_cube / d_wiggle at x={describe(x)}: unexpected result {describe(got)}"
            )
            continue
        x2 = np.asarray(x) ** 2
        cases = [
            (
                "d_cube",
                ref_d_cube(x),
                3.0 * np.abs(x2),
                {
                    "x**2 (forgot the factor 3)": x2,
                    "3x (wrong power rule)": 3.0 * np.asarray(x),
                },
            ),
            (
                "d_wiggle",
                ref_d_wiggle(x),
                np.abs(np.sin(x2)) + 2.0 * x2 * np.abs(np.cos(x2)),
                {
                    "sin(x^2) + x cos(x^2) (forgot the inner derivative 2x of x^2)": np.sin(x2)
                    + np.asarray(x) * np.cos(x2),
                    "2x^2 cos(x^2) (forgot the product rule's first term)": 2.0 * x2 * np.cos(x2),
                    "2x cos(x^2) (differentiated sin(x^2) only)": 2.0 * np.asarray(x) * np.cos(x2),
                },
            ),
        ]
        for fname, expected, scale, wrong in cases:
            value = got.get(fname)
            atol = 1e-12 * np.asarray(scale) + 1e-300
            label = f"{fname}(x) at x={describe(x)}"
            hint = _ones_hint(value, "the derivative at each x")
            arr = _arr(value)
            if not hint and arr is not None and arr.shape == np.shape(expected):
                for text, candidate in wrong.items():
                    if _close(arr, candidate, 1e-9, 1e-12):
                        hint = f"you computed {text}"
                        break
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        rel = float(np.max(np.abs(arr - expected) / np.maximum(scale, 1e-300)))
                    if 1e-12 < rel < 1e-4:
                        hint = _FD_HINT.format(rel=rel)
            # absolute tolerance scaled per element by the size of the terms
            exp_arr = np.asarray(expected, dtype=np.float64)
            if arr is not None and arr.shape == exp_arr.shape and np.all(np.isfinite(arr)):
                if np.all(np.abs(arr - exp_arr) <= atol):
                    continue
            msg = _cmp(label, expected, value, rtol=0.0, atol=float(np.min(atol)), hint=hint)
            if msg is None:  # within compare's (looser) scalar tolerance but not per element
                msg = f"{label}: not exact enough. {hint}"
            failures.append(msg)
            break
    return _verdict("d_cube / d_wiggle", failures, len(probes))


# ----------------------------------------------------------------------------------------
# Part 5: grad_check
# ----------------------------------------------------------------------------------------


def _gradcheck_probes(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    probes = []
    variants = ["exact", "one_wrong", "exact", "scaled", "negated", "one_wrong", "zeros"]
    for i in range(28):
        name = ARRAY_FUNCTIONS[i % len(ARRAY_FUNCTIONS)]
        rank = [1, 2, 3, 0, 1, 2, 1][i % 7]
        h = [1e-3, 1e-5, 1e-4][i % 3]
        probe = _random_array_probe(rng, name, rank, h)
        probe["grad"] = variants[i % len(variants)]
        if probe["grad"] == "one_wrong":
            probe["k"] = int(rng.integers(0, 100))
            probe["delta"] = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.5))
        probes.append(probe)
    return probes


GRADCHECK_DRIVER = (
    CATALOGUE_SRC
    + """

def _grader_numerical_gradient(f, x, h=1e-5):
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f(x)
        x[idx] = old - h
        fm = f(x)
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * h)
    return grad


def run(probe):
    x = np.array(probe["x"], dtype=np.float64)
    f = _array_function(probe)

    def grad_f(v):
        return _array_gradient(probe, v)

    # Grade grad_check on its own: if it calls numerical_gradient, lend it a correct one
    # (in the namespace where the student's grad_check looks its globals up).
    namespace = getattr(grad_check, "__globals__", globals())
    missing = object()
    saved = namespace.get("numerical_gradient", missing)
    namespace["numerical_gradient"] = _grader_numerical_gradient
    try:
        err = grad_check(f, grad_f, x, probe["h"])
    finally:
        if saved is missing:
            namespace.pop("numerical_gradient", None)
        else:
            namespace["numerical_gradient"] = saved
    return {"err": float(err), "x_after": x.tolist()}
"""
)


def _gradcheck_check(probes: list, results: list) -> Verdict:
    bad = _results_length_ok(probes, results)
    if bad:
        return bad
    failures = []
    for probe, got in zip(probes, results, strict=True):
        x = np.asarray(probe["x"], dtype=np.float64)
        f = array_function(probe)
        h = probe["h"]
        analytic = array_gradient(probe, x)
        expected = ref_grad_check(f, lambda v, p=probe: array_gradient(p, v), x, h)
        name = (
            f"grad_check(f={probe['f']}, grad_f={probe['grad']} gradient, x={describe(x)}, "
            f"h={h:.3g})"
        )
        if is_error(got):
            failures.append(f"{name}: your code raised {got['error']}")
            continue
        if not isinstance(got, dict) or not isinstance(got.get("err"), int | float):
            failures.append(f"{name}: expected a float, got {describe(got)}")
            continue
        err = float(got["err"])
        if not np.isfinite(err) or abs(err - expected) > 1e-7 + 1e-4 * expected:
            numerical = ref_numerical_gradient(f, x, h)
            rel = ref_relative_errors(analytic, numerical)
            hint = ""
            fwd = np.zeros_like(x)
            for idx in np.ndindex(x.shape):
                xp = x.copy()
                xp[idx] += h
                fwd[idx] = (f(xp) - f(x)) / h
            alt = {
                "forward differences instead of central ones": np.max(
                    ref_relative_errors(analytic, fwd)
                ),
                "the mean instead of the maximum": float(np.mean(rel)),
                "a signed error instead of |analytic - numerical|": float(
                    np.max(
                        (analytic - numerical)
                        / np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), 1e-12)
                    )
                ),
                "the absolute error without dividing": float(np.max(np.abs(analytic - numerical))),
            }
            for text, value in alt.items():
                if (
                    abs(err - value) <= 1e-7 + 1e-4 * abs(value)
                    and abs(value - expected) > 1e-7 + 1e-4 * expected
                ):
                    hint = f"your value matches {text}"
                    break
            worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(rel)), x.shape))
            msg = (
                f"{name}: wrong maximum relative error.\n"
                f"    expected: {expected:.6g}\n    got:      {err:.6g}\n"
                f"    worst element: index {worst}, "
                f"analytic {analytic.flat[int(np.argmax(rel))]:.6g} vs numerical "
                f"{numerical.flat[int(np.argmax(rel))]:.6g}"
            )
            if hint:
                msg += f"\n    Likely cause: {hint}"
            failures.append(msg)
            continue
        after = _arr(got.get("x_after"))
        if after is None or after.shape != x.shape or not _close(after, x, 1e-12, 1e-15):
            failures.append(
                f"{name}: x was changed by grad_check.\n    x before: {describe(x)}\n"
                f"    x after:  {describe(got.get('x_after'))}"
            )
    return _verdict("grad_check", failures, len(probes))


# ----------------------------------------------------------------------------------------
# Part 6: gradient_descent on a quadratic bowl
# ----------------------------------------------------------------------------------------


def _gd_probes(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    probes = []
    for i in range(20):
        d = 2 if i % 5 else 3
        M = rng.normal(size=(d, d))
        A = M @ M.T + 0.5 * np.eye(d)
        lam = np.linalg.eigvalsh(A)[-1]
        lr = float(rng.uniform(0.1, 1.9) / lam)
        probes.append(
            {
                "A": A.tolist(),
                "b": rng.normal(size=d).tolist(),
                "x0": rng.uniform(-3, 3, size=d).tolist(),
                "lr": lr,
                "n_steps": int(rng.integers(1, 30)),
            }
        )
    return probes


GD_DRIVER = """
import numpy as np


def run(probe):
    A = np.array(probe["A"], dtype=np.float64)
    b = np.array(probe["b"], dtype=np.float64)

    def grad_f(v):
        return A @ np.asarray(v, dtype=np.float64) - b

    x0 = np.array(probe["x0"], dtype=np.float64)
    path = gradient_descent(grad_f, x0, probe["lr"], probe["n_steps"])
    return {"path": np.asarray(path, dtype=np.float64).tolist(), "x0_after": x0.tolist()}
"""


def _gd_check(probes: list, results: list) -> Verdict:
    bad = _results_length_ok(probes, results)
    if bad:
        return bad
    failures = []
    for probe, got in zip(probes, results, strict=True):
        A, b = np.asarray(probe["A"]), np.asarray(probe["b"])
        x0, lr, n = np.asarray(probe["x0"]), probe["lr"], probe["n_steps"]
        expected = ref_gradient_descent(lambda v, A=A, b=b: A @ v - b, x0, lr, n)
        name = (
            f"gradient_descent(x0={describe(x0)}, lr={lr:.4g}, n_steps={n}) on f(x) = x.Ax/2 - b.x"
        )
        if is_error(got):
            failures.append(f"{name}: your code raised {got['error']}")
            continue
        if not isinstance(got, dict) or "path" not in got:
            failures.append(f"{name}: expected an array of iterates, got {describe(got)}")
            continue
        arr = _arr(got["path"])
        hint = ""
        if arr is not None and arr.shape == (n, x0.size):
            hint = f"return n_steps + 1 = {n + 1} rows: x0 first, then one row per step"
        elif arr is not None and arr.shape == expected.shape:
            if np.all(arr == 1.0):
                hint = _ones_hint(arr, "the iterates of gradient descent")
            elif n > 1 and np.allclose(arr, arr[-1]) and np.allclose(arr[-1], expected[-1]):
                hint = (
                    "every row is the same point: you appended the same array object and "
                    "then changed it in place (x -= ...). Append a copy, or use x = x - ..."
                )
            elif _close(
                arr, ref_gradient_descent(lambda v, A=A, b=b: -(A @ v - b), x0, lr, n), 1e-9, 1e-9
            ):
                hint = "the iterates climb uphill: subtract lr * gradient, do not add it"
        msg = _cmp(name, expected, got["path"], rtol=1e-9, atol=1e-10, hint=hint)
        if msg is None:
            after = _arr(got.get("x0_after"))
            if after is None or not _close(after, x0, 0.0, 0.0):
                msg = f"{name}: x0 was modified in place; leave the caller's array untouched"
        if msg:
            failures.append(msg)
    return _verdict("gradient_descent", failures, len(probes))


# ----------------------------------------------------------------------------------------
# The parts
# ----------------------------------------------------------------------------------------


def _part(points, probes, driver, check, title, part_id):
    return Part(
        points=points,
        probes=probes,
        driver=driver,
        check=check,
        title=title,
        extra={"solution_cell": f"{part_id}-solution"},
    )


PARTS: dict[str, Part] = {
    "forward_difference": _part(
        10,
        _difference_probes(101),
        _DIFFERENCE_DRIVER.replace("{name}", "forward_difference"),
        _difference_check("forward"),
        "Forward difference",
        "forward_difference",
    ),
    "central_difference": _part(
        10,
        _difference_probes(102),
        _DIFFERENCE_DRIVER.replace("{name}", "central_difference"),
        _difference_check("central"),
        "Central difference",
        "central_difference",
    ),
    "numerical_gradient": _part(
        20,
        _numgrad_probes(103),
        NUMGRAD_DRIVER,
        _numgrad_check,
        "Numerical gradient of a function of an array",
        "numerical_gradient",
    ),
    "analytic_derivatives": _part(
        15,
        _analytic_probes(104),
        ANALYTIC_DRIVER,
        _analytic_check,
        "Derivatives by hand: x^3 and x sin(x^2)",
        "analytic_derivatives",
    ),
    "grad_check": _part(
        15,
        _gradcheck_probes(105),
        GRADCHECK_DRIVER,
        _gradcheck_check,
        "A gradient checker",
        "grad_check",
    ),
    "gradient_descent": _part(
        15,
        _gd_probes(106),
        GD_DRIVER,
        _gd_check,
        "Gradient descent on a quadratic bowl",
        "gradient_descent",
    ),
}
