"""Small two-dimensional toy data sets for classifiers you can plot."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["spirals", "moons"]


def spirals(
    n_per_class: int = 100,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int | None = 0,
    dtype: DTypeLike = np.float64,
) -> tuple[NDArray, NDArray[np.int64]]:
    """Interleaved spiral arms, one per class: not linearly separable.

    Arm ``k`` starts at the origin and winds outwards to radius 1; its angle runs
    over ``[4k, 4k + 4]`` radians plus Gaussian noise of standard deviation ``noise``.

    Args:
        n_per_class: points on each arm.
        n_classes: number of arms (classes), at least 2.
        noise: standard deviation of the angle noise (0 gives clean arms).
        seed: seed of the noise; ``None`` draws a fresh one.
        dtype: floating type of ``X``.

    Returns:
        ``(X, y)``: ``X`` of shape ``(n_per_class * n_classes, 2)``, ``y`` ``int64``
        labels ``0 .. n_classes - 1``, grouped by class (shuffle with :func:`batches`).
    """
    if n_per_class < 1 or n_classes < 2:
        raise ValueError("spirals needs n_per_class >= 1 and n_classes >= 2")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, n_per_class)
    xs, ys = [], []
    for k in range(n_classes):
        theta = np.linspace(4.0 * k, 4.0 * (k + 1), n_per_class)
        theta = theta + noise * rng.standard_normal(n_per_class)
        xs.append(np.column_stack([radius * np.sin(theta), radius * np.cos(theta)]))
        ys.append(np.full(n_per_class, k, dtype=np.int64))
    return np.concatenate(xs).astype(dtype, copy=False), np.concatenate(ys)


def moons(
    n: int = 200,
    noise: float = 0.1,
    seed: int | None = 0,
    dtype: DTypeLike = np.float64,
) -> tuple[NDArray, NDArray[np.int64]]:
    """Two interleaving half circles (class 0 on top, class 1 below), shuffled.

    Args:
        n: total number of points; class 0 gets ``n // 2``, class 1 the rest.
        noise: standard deviation of Gaussian noise added to both coordinates.
        seed: seed of the noise and the shuffle; ``None`` draws a fresh one.
        dtype: floating type of ``X``.

    Returns:
        ``(X, y)``: ``X`` of shape ``(n, 2)``, ``y`` ``int64`` labels in {0, 1}.
    """
    if n < 2:
        raise ValueError(f"moons needs n >= 2, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    n_top = n // 2
    n_bottom = n - n_top
    t_top = np.linspace(0.0, np.pi, n_top)
    t_bottom = np.linspace(0.0, np.pi, n_bottom)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_top), np.sin(t_top)]),
            np.column_stack([1.0 - np.cos(t_bottom), 0.5 - np.sin(t_bottom)]),
        ]
    )
    y = np.concatenate([np.zeros(n_top, dtype=np.int64), np.ones(n_bottom, dtype=np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(n)
    return X[order].astype(dtype, copy=False), y[order]
