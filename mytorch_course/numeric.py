"""Float64 central differences: the one finite-difference witness of the course tooling.

Step rule (used everywhere): an element ``x`` is moved by ``h = STEP * max(1, |x|)``, so the
step is relative for large values and absolute near zero. With ``STEP = 1e-6`` the central
difference's truncation error (about ``h**2``) and its rounding error (about ``1e-16 / h``
times the size of the function) are both near 1e-10 relative, far below the 1e-5 a grader
tolerates and far above nothing, so a gradient off by 1% is always seen.

Functions take and return numpy arrays; every input is copied to float64 first, so the
caller's arrays are never modified and float32 callers still get a float64 witness.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

STEP = 1e-6

ArrayFunction = Callable[..., np.ndarray]


def step_sizes(x: np.ndarray) -> np.ndarray:
    """The step for each element of ``x``: ``STEP * max(1, |x|)``."""
    return STEP * np.maximum(1.0, np.abs(x))


def _float64(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [np.array(a, dtype=np.float64) for a in arrays]


def central_difference(
    f: ArrayFunction, inputs: Sequence[np.ndarray], out_grad: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Gradient of ``sum(out_grad * f(*inputs))`` with respect to each input (a VJP witness).

    Costs two calls of ``f`` per input element. Each result has its input's shape.
    """
    xs = _float64(inputs)
    weights = np.asarray(out_grad, dtype=np.float64)

    def objective() -> float:
        return float(np.sum(weights * np.asarray(f(*xs), dtype=np.float64)))

    gradients = []
    for x in xs:
        gradient = np.zeros_like(x)
        flat_x, flat_g = x.reshape(-1), gradient.reshape(-1)  # views: writes reach x
        for i, h in enumerate(step_sizes(flat_x)):
            original = flat_x[i]
            flat_x[i] = original + h
            plus = objective()
            flat_x[i] = original - h
            minus = objective()
            flat_x[i] = original
            flat_g[i] = (plus - minus) / (2 * h)
        gradients.append(gradient)
    return tuple(gradients)


def directional_difference(
    f: ArrayFunction, inputs: Sequence[np.ndarray], tangents: Sequence[np.ndarray]
) -> np.ndarray:
    """``J v``: the derivative of ``f`` at ``inputs`` along ``tangents`` (a JVP witness).

    One step ``t`` along the whole direction, scaled like :func:`step_sizes` by the largest
    input and divided by the largest tangent, so that no element moves more than its step.
    Costs two calls of ``f``.
    """
    xs, vs = _float64(inputs), _float64(tangents)
    if len(xs) != len(vs):
        raise ValueError(f"got {len(xs)} inputs but {len(vs)} tangents; give one per input")
    biggest_x = max((float(np.max(np.abs(x), initial=0.0)) for x in xs), default=0.0)
    biggest_v = max((float(np.max(np.abs(v), initial=0.0)) for v in vs), default=0.0)
    if biggest_v == 0.0:
        return np.zeros_like(np.asarray(f(*xs), dtype=np.float64))
    t = STEP * max(1.0, biggest_x) / biggest_v
    plus = np.asarray(f(*[x + t * v for x, v in zip(xs, vs, strict=True)]), dtype=np.float64)
    minus = np.asarray(f(*[x - t * v for x, v in zip(xs, vs, strict=True)]), dtype=np.float64)
    return (plus - minus) / (2 * t)
