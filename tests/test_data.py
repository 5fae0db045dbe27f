"""Tests of mytorch.data: the shipped digits, the fixed split, batching, toy sets."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest

from mytorch.data import batches, digits_raw, digits_split, load_digits, moons, spirals

CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


# --------------------------------------------------------------------------- the file


def test_shipped_file_is_inside_the_package_with_its_licence():
    pkg = resources.files("mytorch.data")
    assert pkg.joinpath("digits.npz").is_file()
    text = pkg.joinpath("LICENSE-digits.md").read_text(encoding="utf-8")
    for needle in ("Alpaydin", "Kaynak", "CC BY 4.0", "10.24432/C50P49", "changed"):
        assert needle in text


def test_raw_digits_content_matches_the_uci_copy():
    images, labels = digits_raw()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert labels.shape == (1797,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == CLASS_COUNTS
    assert images.min() == 0 and images.max() == 16
    assert int(images.sum(dtype=np.int64)) == 561_718
    # first row of sklearn's digits.csv.gz (a zero)
    assert labels[0] == 0
    assert images[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert images[0, 7].tolist() == [0, 0, 6, 13, 10, 0, 0, 0]


def test_raw_digits_are_read_only():
    images, labels = digits_raw()
    with pytest.raises(ValueError):
        images[0, 0, 0] = 3
    with pytest.raises(ValueError):
        labels[0] = 3


# --------------------------------------------------------------------------- load_digits


def test_default_split_shapes_and_types():
    (X_train, y_train), (X_test, y_test) = load_digits()
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    assert X_train.dtype == X_test.dtype == np.float64
    assert y_train.dtype == y_test.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert X_test.min() >= 0.0 and X_test.max() <= 1.0


def test_all_classes_present_and_split_is_stratified():
    (_, y_train), (_, y_test) = load_digits()
    train_counts = np.bincount(y_train, minlength=10)
    test_counts = np.bincount(y_test, minlength=10)
    assert (train_counts > 0).all() and (test_counts > 0).all()
    assert (train_counts + test_counts).tolist() == CLASS_COUNTS
    # every class within one sample of its proportional share
    share = np.array(CLASS_COUNTS) * 360 / 1797
    assert np.abs(test_counts - share).max() < 1.0


def test_split_indices_disjoint_and_cover_everything():
    train_idx, test_idx = digits_split()
    assert train_idx.dtype == test_idx.dtype == np.int64
    assert np.intersect1d(train_idx, test_idx).size == 0
    assert np.array_equal(np.sort(np.concatenate([train_idx, test_idx])), np.arange(1797))
    assert (np.diff(train_idx) > 0).all() and (np.diff(test_idx) > 0).all()


def test_load_digits_rows_are_the_split_rows():
    images, labels = digits_raw()
    train_idx, test_idx = digits_split()
    (X_train, y_train), (X_test, y_test) = load_digits()
    flat = images.reshape(1797, 64) / 16.0
    assert np.array_equal(X_train, flat[train_idx]) and np.array_equal(y_train, labels[train_idx])
    assert np.array_equal(X_test, flat[test_idx]) and np.array_equal(y_test, labels[test_idx])


def test_no_duplicate_image_leaks_by_index():
    # the split is by sample index: no index on both sides (a stronger check than rows)
    train_idx, test_idx = digits_split(test_fraction=0.3, seed=5)
    assert not set(train_idx.tolist()) & set(test_idx.tolist())


def test_split_is_deterministic_across_calls_and_processes():
    a = load_digits()
    b = load_digits()
    for (Xa, ya), (Xb, yb) in zip(a, b, strict=True):
        assert np.array_equal(Xa, Xb) and np.array_equal(ya, yb)
    # a fresh interpreter gives the same split
    code = (
        "import hashlib; from mytorch.data import digits_split;"
        "print(hashlib.sha256(digits_split()[1].tobytes()).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == hashlib.sha256(digits_split()[1].tobytes()).hexdigest()


def test_split_is_pinned():
    # The exact default split, frozen: if this changes, every stated accuracy in the
    # course changes with it. RandomState's stream is frozen by numpy, so it must not.
    _, test_idx = digits_split()
    assert test_idx[:10].tolist() == [3, 7, 13, 19, 36, 38, 43, 48, 53, 55]
    digest = hashlib.sha256(test_idx.tobytes()).hexdigest()
    assert digest == "d040d215f6d53853c9970b2d18eb9baf0d3094938a1baddba4675d9b45e11fb6"


def test_other_seed_and_fraction_give_other_split():
    _, t0 = digits_split(seed=0)
    _, t1 = digits_split(seed=1)
    assert t0.size == t1.size and not np.array_equal(t0, t1)
    (X_train, _), (X_test, y_test) = load_digits(test_fraction=0.5)
    assert X_train.shape[0] + X_test.shape[0] == 1797
    assert X_test.shape[0] == 899  # ceil(0.5 * 1797)
    assert (np.bincount(y_test, minlength=10) > 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32"])
def test_dtype_is_kept(dtype):
    (X_train, y_train), (X_test, y_test) = load_digits(dtype=dtype)
    assert X_train.dtype == np.dtype(dtype) and X_test.dtype == np.dtype(dtype)
    assert y_train.dtype == np.int64
    (X64, _), _ = load_digits()
    np.testing.assert_allclose(X_train, X64, rtol=1e-7)


def test_unnormalized_gives_raw_counts():
    (X_train, _), _ = load_digits(normalize=False, dtype=np.float32)
    assert X_train.dtype == np.float32
    assert X_train.max() == 16.0
    assert np.array_equal(X_train, np.round(X_train))


def test_arrays_are_fresh_copies():
    (X_train, y_train), _ = load_digits()
    X_train[:] = -1.0
    y_train[:] = 99
    (X_again, y_again), _ = load_digits()
    assert X_again.min() == 0.0 and y_again.max() == 9


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_bad_test_fraction_is_rejected(bad):
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=bad)


def test_integer_dtype_is_rejected():
    with pytest.raises(TypeError, match="floating"):
        load_digits(dtype=np.int32)


# --------------------------------------------------------------------------- batches


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("batch_size", [1, 7, 32, 1437, 5000])
def test_batches_cover_every_sample_once(shuffle, batch_size):
    n = 1437
    X = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    y = np.arange(n)
    seen = []
    sizes = []
    for Xb, yb in batches(X, y, batch_size, shuffle=shuffle, seed=0):
        assert np.array_equal(Xb[:, 0], yb * 3.0)  # rows stay paired with labels
        seen.append(yb)
        sizes.append(len(yb))
    seen = np.concatenate(seen)
    assert np.array_equal(np.sort(seen), y)
    expected = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    assert sizes == expected  # last partial batch kept, all others full
    if not shuffle:
        assert np.array_equal(seen, y)


def test_batches_deterministic_with_seed_and_shuffled():
    X = np.arange(100.0).reshape(50, 2)
    y = np.arange(50)
    a = [yb for _, yb in batches(X, y, 8, seed=3)]
    b = [yb for _, yb in batches(X, y, 8, seed=3)]
    c = [yb for _, yb in batches(X, y, 8, seed=4)]
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(np.concatenate(a), np.concatenate(c))
    assert not np.array_equal(np.concatenate(a), y)


def test_batches_generator_seed_advances():
    X = np.zeros((40, 1))
    y = np.arange(40)
    rng = np.random.default_rng(0)
    first = np.concatenate([yb for _, yb in batches(X, y, 16, seed=rng)])
    second = np.concatenate([yb for _, yb in batches(X, y, 16, seed=rng)])
    assert not np.array_equal(first, second)


def test_batches_keep_dtype_and_work_on_digits():
    (X_train, y_train), _ = load_digits(dtype=np.float32)
    Xb, yb = next(iter(batches(X_train, y_train, 64, seed=0)))
    assert Xb.shape == (64, 64) and Xb.dtype == np.float32 and yb.dtype == np.int64


def test_batches_reject_bad_input():
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="samples"):
        list(batches(X, np.zeros(4), 2))
    with pytest.raises(ValueError, match="batch_size"):
        list(batches(X, np.zeros(5), 0))


# --------------------------------------------------------------------------- toy sets


def test_spirals_shape_labels_determinism():
    X, y = spirals()
    assert X.shape == (300, 2) and X.dtype == np.float64
    assert y.shape == (300,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100, 100]
    assert np.abs(X).max() <= 1.0 + 1e-12  # radius runs 0..1
    X2, y2 = spirals()
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = spirals(seed=1)
    assert not np.array_equal(X, X3)
    X4, y4 = spirals(n_per_class=10, n_classes=5, noise=0.0, dtype=np.float32)
    assert X4.shape == (50, 2) and X4.dtype == np.float32
    assert set(y4.tolist()) == set(range(5))
    np.testing.assert_allclose(np.hypot(X4[:10, 0], X4[:10, 1]), np.linspace(0, 1, 10), atol=1e-6)


def test_moons_shape_labels_determinism():
    X, y = moons()
    assert X.shape == (200, 2) and X.dtype == np.float64
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [100, 100]
    X2, y2 = moons()
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, moons(seed=1)[0])
    Xo, yo = moons(n=101, noise=0.0)
    assert np.bincount(yo).tolist() == [50, 51]
    top, bottom = Xo[yo == 0], Xo[yo == 1]
    np.testing.assert_allclose(np.hypot(top[:, 0], top[:, 1]), 1.0)  # unit half circle
    np.testing.assert_allclose(np.hypot(bottom[:, 0] - 1.0, bottom[:, 1] - 0.5), 1.0)
    assert (top[:, 1] >= -1e-12).all() and (bottom[:, 1] <= 0.5 + 1e-12).all()
    assert moons(dtype=np.float32)[0].dtype == np.float32


def test_toy_sets_reject_bad_arguments():
    with pytest.raises(ValueError):
        spirals(n_classes=1)
    with pytest.raises(ValueError):
        moons(n=1)
    with pytest.raises(ValueError):
        moons(noise=-1)
