"""Grading of assignment 01-derivatives ("Derivatives three ways"): one declared Part each."""

from __future__ import annotations

from typing import Any

import numpy as np

from mytorch_course.checks import close, describe
from mytorch_course.runner import Part

from . import drivers
from .drivers import SCALAR_FUNCTIONS, array_function, array_gradient

EPS = np.finfo(np.float64).eps
# Every exercise of this assignment is done without the engine.
WITHOUT_MYTORCH = ("mytorch", "Tensor", "backward", "grad", "gradcheck")
DOMAINS = {"cube": (0.5, 3), "sin": (-3, 3), "exp": (-1, 3), "log": (0.3, 4), "tanh": (-1.5, 1.5)}
DOMAINS["recip"] = (0.5, 3)
DERIVATIVES = {"cube": lambda x: 3 * x**2, "sin": np.cos, "exp": np.exp, "log": lambda x: 1 / x}
DERIVATIVES |= {"tanh": lambda x: 1 - np.tanh(x) ** 2, "recip": lambda x: -1 / x**2}
QUOTIENTS = {  # name -> (text, formula)
    "forward": (
        "the forward difference (f(x+h) - f(x)) / h",
        lambda f, x, h: (f(x + h) - f(x)) / h,
    ),
    "central": (
        "the central difference (f(x+h) - f(x-h)) / (2h)",
        lambda f, x, h: (f(x + h) - f(x - h)) / (2 * h),
    ),
    "backward": (
        "the backward difference (f(x) - f(x-h)) / h",
        lambda f, x, h: (f(x) - f(x - h)) / h,
    ),
    "undivided": ("the difference without dividing by h", lambda f, x, h: f(x + h) - f(x)),
    "halved": (
        "(f(x+h) - f(x-h)) / h (missing the factor 2)",
        lambda f, x, h: (f(x + h) - f(x - h)) / h,
    ),
}


def _x(probe: dict) -> Any:
    return np.asarray(probe["x"], dtype=np.float64) if isinstance(probe["x"], list) else probe["x"]


def _shape(rng: np.random.Generator, rank: int) -> tuple[int, ...]:
    return tuple(int(n) for n in rng.integers(1, 4, size=rank))


def _unchanged(key: str, what: str) -> Any:
    def invariant(probe: dict, got: dict) -> str | None:
        if close(got.get(key), probe[key], 0.0, 0.0):
            return None
        return f"{what} was changed by the call.\n    before: {describe(probe[key])}\n" + (
            f"    after:  {describe(got.get(key))}\n    Likely cause: restore each entry "
            "to its original value (or work on a copy)."
        )

    return invariant


def difference_part(kind: str, points: float, seed: int) -> Part:
    def probes(rng: np.random.Generator) -> list[dict]:
        out = []
        for i in range(36):
            f = list(SCALAR_FUNCTIONS)[i % 6]
            h, rank = float(10 ** rng.uniform(-3, -1)), [0, 0, 0, 1, 2][i % 5]
            x = rng.uniform(*DOMAINS[f], size=_shape(rng, rank))
            out.append({"fn": f"{kind}_difference", "f": f, "x": x.tolist(), "h": h})
        return out

    def quotient(name: str) -> Any:
        return lambda p: QUOTIENTS[name][1](SCALAR_FUNCTIONS[p["f"]], _x(p), p["h"])

    def atol(p: dict) -> float:
        f, x, h = SCALAR_FUNCTIONS[p["f"]], _x(p), p["h"]
        return 1e-12 + 64 * EPS * sum(np.max(np.abs(f(x + s))) for s in (0, h, -h)) / h

    hint = f"; this part asks for the {kind} difference"
    mistakes = {f"you returned {text}{hint}": quotient(k) for k, (text, _) in QUOTIENTS.items()}
    del mistakes[f"you returned {QUOTIENTS[kind][0]}{hint}"]
    mistakes["you returned the exact derivative; the part asks for the approximation with h"] = (
        lambda p: DERIVATIVES[p["f"]](_x(p))
    )
    ones = f"your function returns 1 everywhere; it should return the {kind}-difference quotient"
    mistakes[ones] = lambda p: np.ones_like(_x(p))
    return Part(
        points,
        probes,
        drivers.difference,
        expected=quotient(kind),
        seed=seed,
        label=lambda p: f"{kind}_difference(f={p['f']}, x={describe(p['x'])}, h={p['h']:.3g})",
        tolerance=lambda p: (1e-9, atol(p)),
        mistakes=mistakes,
        title=f"{kind}_difference",
        forbidden=WITHOUT_MYTORCH,
    )


def _array_probe(rng: np.random.Generator, f: str, rank: int, h: float) -> dict:
    x = rng.uniform(-1.0, 1.0, size=_shape(rng, rank))
    if f != "logsumexp":  # entries away from zero: no partial derivative vanishes by accident
        x = 1.5 * x
        x = np.where(np.abs(x) < 0.3, x + np.sign(x + 1e-9) * 0.4, x)
    probe: dict[str, Any] = {"f": f, "x": x.tolist(), "h": h}
    if f == "quadratic":
        M = rng.normal(size=(x.size, x.size))
        probe["A"] = (M @ M.T + x.size * np.eye(x.size)).tolist()
    return probe


ARRAY_FUNCTIONS = ["sum_cubes", "coupled", "chain", "logsumexp", "quadratic"]


def central_gradient(p: dict, h: float, forward: bool = False) -> np.ndarray:
    """The reference numerical gradient of the probe's function (or forward differences)."""
    x, f = np.array(p["x"], dtype=np.float64), array_function(p)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] = x[idx] if forward else x[idx] - h
        grad[idx] = (f(up) - f(down)) / (h if forward else 2 * h)
    return grad


def _rounding(p: dict) -> float:
    """The rounding error of a central difference of the probe's function, as an atol."""
    return 1e-10 + 64 * EPS * (abs(array_function(p)(p["x"])) + 1) / p["h"]


# numerical_gradient may call f two times per entry of x plus this many more (f(x) itself,
# say). Part 3 of the notebook states the same "at most 2p + 1"; a test holds them together.
EXTRA_CALLS = 1


def _calls(probe: dict, got: dict) -> str | None:
    p = np.size(probe["x"])
    allowed = 2 * p + EXTRA_CALLS
    if isinstance(got.get("calls"), int) and got["calls"] <= allowed:
        return None
    return (
        f"f was called {got.get('calls')} times for {p} entries of x; central differences "
        f"need 2p = {2 * p} (at most 2p + {EXTRA_CALLS} = {allowed} calls are allowed)."
    )


def relative_errors(analytic: np.ndarray, numerical: np.ndarray, signed: bool = False) -> Any:
    diff = analytic - numerical if signed else np.abs(analytic - numerical)
    return diff / np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), 1e-12)


def _grad_check_err(p: dict, kind: str = "max") -> float:
    analytic = array_gradient(p, np.asarray(p["x"], dtype=np.float64))
    numerical = central_gradient(p, p["h"], forward=kind == "forward")
    if kind == "absolute":
        return float(np.max(np.abs(analytic - numerical)))
    rel = relative_errors(analytic, numerical, signed=kind == "signed")
    return float(np.mean(rel) if kind == "mean" else np.max(rel))


def _worst_entry(p: dict) -> str:
    """Where the analytic and numerical gradients of a grad_check probe disagree most."""
    analytic = array_gradient(p, np.asarray(p["x"], dtype=np.float64))
    numerical = central_gradient(p, p["h"])
    rel = relative_errors(analytic, numerical)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(rel)), rel.shape))
    return (
        f"worst element: index {worst}, analytic {analytic[worst]:.6g} "
        f"vs numerical {numerical[worst]:.6g}"
    )


def _gradcheck_probes(rng: np.random.Generator) -> list[dict]:
    out, grads = [], ["exact", "one_wrong", "exact", "scaled", "negated", "one_wrong", "zeros"]
    for i in range(28):
        probe = _array_probe(
            rng, ARRAY_FUNCTIONS[i % 5], [1, 2, 3, 0, 1, 2, 1][i % 7], [1e-3, 1e-5, 1e-4][i % 3]
        )
        probe["grad"] = grads[i % 7]
        if probe["grad"] == "one_wrong":
            probe["k"] = int(rng.integers(0, 100))
            probe["delta"] = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.5))
        out.append(probe)
    return out


def _gd_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(20):
        d = 2 if i % 5 else 3
        M = rng.normal(size=(d, d))
        A = M @ M.T + 0.5 * np.eye(d)
        lr = float(rng.uniform(0.1, 1.9) / np.linalg.eigvalsh(A)[-1])
        b, x0 = rng.normal(size=d), rng.uniform(-3, 3, size=d)
        out.append(
            {
                "A": A.tolist(),
                "b": b.tolist(),
                "x0": x0.tolist(),
                "lr": lr,
                "n": int(rng.integers(1, 30)),
            }
        )
    return out


def descent(p: dict, sign: float = 1.0) -> np.ndarray:
    A, b, x = np.asarray(p["A"]), np.asarray(p["b"]), np.asarray(p["x0"], dtype=np.float64)
    path = [x]
    for _ in range(p["n"]):
        path.append(path[-1] - sign * p["lr"] * (A @ path[-1] - b))
    return np.array(path)


def _analytic_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(24):
        shape = _shape(rng, [0, 1, 2, 1][i % 4])
        magnitude = (
            rng.uniform(10.0, 40.0, size=shape) if i % 3 == 0 else rng.uniform(0.3, 5.0, size=shape)
        )
        out.append({"x": (magnitude * rng.choice([-1.0, 1.0], size=shape)).tolist()})
    return out


def _analytic_tolerance(p: dict) -> dict:
    x2 = np.asarray(p["x"]) ** 2  # exact formulas differ only by rounding of their terms
    scales = {"d_cube": 3 * x2, "d_wiggle": np.abs(np.sin(x2)) + 2 * x2 * np.abs(np.cos(x2))}
    return {k: (0.0, 1e-12 * v + 1e-300) for k, v in scales.items()}


def _wiggle(p: dict, inner: float = 2.0, first: bool = True) -> np.ndarray:
    x = _x(p)  # d/dx x sin(x^2) = sin(x^2) + 2x^2 cos(x^2); mistakes drop a term or a factor
    return np.sin(x**2) * first + inner * x ** (2 if inner == 2 else 1) * np.cos(x**2)


GRAD_CHECK_MISTAKES = {"forward": "forward differences instead of central ones",
                       "mean": "the mean instead of the maximum",
                       "signed": "a signed error instead of |analytic - numerical|",
                       "absolute": "the absolute error without dividing"}  # fmt: skip

# fmt: off
PARTS: dict[str, Part] = {
    "forward_difference": difference_part("forward", 10, seed=101),
    "central_difference": difference_part("central", 10, seed=102),
    "numerical_gradient": Part(
        20, lambda rng: [_array_probe(rng, ARRAY_FUNCTIONS[i % 5], [0, 1, 2, 3, 1, 2][i % 6],
                                      [1e-3, 1e-4, 3e-3][i % 3]) for i in range(30)],
        drivers.numerical_gradient, seed=103, title="numerical_gradient",
        forbidden=WITHOUT_MYTORCH,
        label=lambda p: f"numerical_gradient(f={p['f']}, x={describe(p['x'])}, h={p['h']:.3g})",
        expected=lambda p: {"grad": central_gradient(p, p["h"])},
        tolerance=lambda p: (1e-8, _rounding(p)),
        mistakes={"these are forward differences; use central ones (f(x+h) - f(x-h)) / (2h)":
                  lambda p: {"grad": central_gradient(p, p["h"], forward=True)},
                  "your function returns 1 everywhere; it should return one central difference "
                  "per entry of x": lambda p: {"grad": np.ones_like(_x(p))}},
        invariants=(_unchanged("x", "x"), _calls)),
    "analytic_derivatives": Part(
        15, _analytic_probes, drivers.derivatives, seed=104, title="d_cube / d_wiggle",
        forbidden=WITHOUT_MYTORCH,
        label=lambda p: f"d_cube / d_wiggle at x={describe(p['x'])}",
        expected=lambda p: {"d_cube": 3 * _x(p) ** 2, "d_wiggle": _wiggle(p)},
        tolerance=_analytic_tolerance,
        mistakes={
            "you computed x**2 (forgot the factor 3)": lambda p: {"d_cube": _x(p) ** 2},
            "you computed 3x (wrong power rule)": lambda p: {"d_cube": 3 * _x(p)},
            "you computed sin(x^2) + x cos(x^2) (forgot the inner derivative 2x)":
                lambda p: {"d_wiggle": _wiggle(p, inner=1.0)},
            "you computed 2x^2 cos(x^2) (forgot the product rule's first term)":
                lambda p: {"d_wiggle": _wiggle(p, first=False)},
            "you computed 2x cos(x^2) (differentiated sin(x^2) only)":
                lambda p: {"d_wiggle": 2 * _x(p) * np.cos(_x(p) ** 2)},
            "your function returns 1 everywhere; it should return the derivative at each x":
                lambda p: {"d_cube": np.ones_like(_x(p)), "d_wiggle": np.ones_like(_x(p))},
        }),
    "grad_check": Part(
        15, _gradcheck_probes, drivers.grad_check, seed=105, title="grad_check",
        forbidden=WITHOUT_MYTORCH,
        label=lambda p: f"grad_check(f={p['f']}, grad_f={p['grad']} gradient, "
                        f"x={describe(p['x'])}, h={p['h']:.3g})",
        expected=lambda p: {"err": _grad_check_err(p)}, tolerance=(1e-4, 1e-7),
        mistakes={f"your value matches {text}": lambda p, k=kind: {"err": _grad_check_err(p, k)}
                  for kind, text in GRAD_CHECK_MISTAKES.items()},
        invariants=(_unchanged("x", "x"),), context=_worst_entry),
    "gradient_descent": Part(
        15, _gd_probes, drivers.gradient_descent, seed=106, title="gradient_descent",
        forbidden=WITHOUT_MYTORCH,
        label=lambda p: f"gradient_descent(x0={describe(p['x0'])}, lr={p['lr']:.4g}, "
                        f"n_steps={p['n']}) on f(x) = x.Ax/2 - b.x",
        expected=lambda p: {"path": descent(p)}, tolerance=(1e-9, 1e-10),
        mistakes={
            lambda p: f"return n_steps + 1 = {p['n'] + 1} rows: x0 first, then one row per step":
                lambda p: {"path": descent(p)[1:]},
            "every row is the same point: you appended the same array object and then changed "
            "it in place (x -= ...). Append a copy, or use x = x - ...":
                lambda p: {"path": np.repeat(descent(p)[-1:], p["n"] + 1, axis=0)},
            "the iterates climb uphill: subtract lr * gradient, do not add it":
                lambda p: {"path": descent(p, -1.0)},
        },
        invariants=(_unchanged("x0", "x0"),)),
}
# fmt: on
