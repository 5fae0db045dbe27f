"""The 8x8 handwritten digits (UCI "Optical Recognition of Handwritten Digits").

The 1,797 images ship inside the package as ``digits.npz`` (45 kB), so the course
works offline and every student trains on exactly the same numbers. See
``LICENSE-digits.md`` next to this file for the attribution (CC BY 4.0).

The train/test split is *fixed*: it is a stratified split drawn with numpy's legacy
``RandomState`` generator, whose stream numpy promises never to change, so the same
``(test_fraction, seed)`` gives the same split on every machine and numpy version.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["load_digits", "digits_raw", "digits_split"]

N_SAMPLES = 1797
N_FEATURES = 64
N_CLASSES = 10
PIXEL_MAX = 16

Split = tuple[tuple[NDArray, NDArray[np.int64]], tuple[NDArray, NDArray[np.int64]]]


@lru_cache(maxsize=1)
def _read_npz() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    path = resources.files(__package__).joinpath("digits.npz")
    with path.open("rb") as fh, np.load(fh) as npz:
        images = np.array(npz["images"], dtype=np.uint8)
        labels = np.array(npz["labels"], dtype=np.uint8)
    if images.shape != (N_SAMPLES, 8, 8) or labels.shape != (N_SAMPLES,):
        raise RuntimeError(
            f"mytorch/data/digits.npz is damaged: images {images.shape}, labels {labels.shape}"
        )
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits_raw() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Return all 1,797 digits untouched, in the order of the original file.

    Returns:
        ``(images, labels)``: ``images`` is a read-only ``uint8`` array of shape
        ``(1797, 8, 8)`` with pixel counts 0..16; ``labels`` is a read-only ``uint8``
        array of shape ``(1797,)`` with the digit 0..9.
    """
    return _read_npz()


def _test_counts(class_sizes: NDArray[np.int64], test_fraction: float) -> NDArray[np.int64]:
    """How many samples of each class go to the test set.

    The total is ``ceil(test_fraction * n)`` (the scikit-learn convention), shared out
    among classes in proportion to their size by the largest-remainder method; ties
    go to the smaller class label. Each class keeps at least one sample on each side.
    """
    n = int(class_sizes.sum())
    n_test = math.ceil(test_fraction * n - 1e-9)
    exact = class_sizes * (n_test / n)
    counts = np.floor(exact).astype(np.int64)
    remainder = exact - counts
    # stable sort on -remainder: equal remainders keep label order
    order = np.argsort(-remainder, kind="stable")
    counts[order[: n_test - int(counts.sum())]] += 1
    return np.clip(counts, 1, class_sizes - 1)


def digits_split(
    test_fraction: float = 0.2, seed: int = 0
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Indices of the fixed stratified train/test split of the digits.

    Each class is shuffled on its own with ``np.random.RandomState(seed)`` (classes
    visited in order 0..9) and its first ``k_c`` samples go to the test set, with
    ``k_c`` chosen so that every class is represented in proportion.

    Args:
        test_fraction: share of the samples held out for testing, in (0, 1).
        seed: seed of the split. Change it only to study split-to-split variation.

    Returns:
        ``(train_idx, test_idx)``: sorted ``int64`` row indices into
        :func:`digits_raw`; disjoint, and together they cover all 1,797 rows.
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    _, labels = _read_npz()
    rng = np.random.RandomState(seed)
    class_sizes = np.bincount(labels, minlength=N_CLASSES).astype(np.int64)
    counts = _test_counts(class_sizes, test_fraction)
    test_parts = []
    for c in range(N_CLASSES):
        members = np.flatnonzero(labels == c)
        test_parts.append(members[rng.permutation(members.size)[: counts[c]]])
    is_test = np.zeros(N_SAMPLES, dtype=bool)
    is_test[np.concatenate(test_parts)] = True
    return np.flatnonzero(~is_test).astype(np.int64), np.flatnonzero(is_test).astype(np.int64)


def load_digits(
    test_fraction: float = 0.2,
    seed: int = 0,
    normalize: bool = True,
    dtype: DTypeLike = np.float64,
) -> Split:
    """Load the 8x8 digits as flat feature vectors, split into train and test.

    Args:
        test_fraction: share held out for testing (default 0.2: 1,437 train, 360 test).
        seed: seed of the fixed stratified split (see :func:`digits_split`).
        normalize: if true, pixels are divided by 16 so features lie in [0, 1];
            otherwise they are the raw counts 0..16 (still of type ``dtype``).
        dtype: floating type of the features, e.g. ``np.float32``.

    Returns:
        ``((X_train, y_train), (X_test, y_test))`` with ``X`` of shape ``(n, 64)``
        (row-major 8x8 image, ``X[i].reshape(8, 8)`` draws it) and ``y`` ``int64``
        labels 0..9. The arrays are fresh copies; modifying them is safe.

    Example:
        >>> (X_train, y_train), (X_test, y_test) = load_digits()
        >>> X_train.shape, X_test.shape
        ((1437, 64), (360, 64))
    """
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating type such as np.float32, got {dtype}")
    images, labels = _read_npz()
    train_idx, test_idx = digits_split(test_fraction, seed)
    X = images.reshape(N_SAMPLES, N_FEATURES).astype(dtype)
    if normalize:
        X /= dtype.type(PIXEL_MAX)
    y = labels.astype(np.int64)
    return (X[train_idx], y[train_idx]), (X[test_idx], y[test_idx])
