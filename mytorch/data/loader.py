"""Mini-batch iteration over numpy arrays."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

__all__ = ["batches"]


def batches(
    X: NDArray,
    y: NDArray,
    batch_size: int,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
) -> Iterator[tuple[NDArray, NDArray]]:
    """Yield ``(X_batch, y_batch)`` mini-batches covering every sample exactly once.

    The last batch is kept even when it is smaller than ``batch_size``.

    Args:
        X: features, first axis indexes the samples.
        y: targets with the same first-axis length as ``X``.
        batch_size: samples per batch, at least 1.
        shuffle: visit the samples in a random order (otherwise in stored order).
        seed: an ``int`` gives the same order every time (pass e.g. ``seed=epoch``
            for a different but reproducible order each epoch); a
            ``np.random.Generator`` is used as is and advanced; ``None`` draws a
            fresh, unreproducible order.

    Yields:
        Pairs of arrays (copies when shuffled, views otherwise).

    Example:
        >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
        >>> [yb.tolist() for _, yb in batches(X, y, 2, shuffle=False)]
        [[0, 1], [2, 3], [4]]
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must have a sample axis")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    batch_size = int(batch_size)
    n = X.shape[0]
    if shuffle:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield X[idx], y[idx]
    else:
        for start in range(0, n, batch_size):
            yield X[start : start + batch_size], y[start : start + batch_size]
