"""Every op's gradient against float64 central differences (random upstream gradients).

Shapes of rank 0 to 3 are drawn with hypothesis, broadcasting included. Inputs come from a
per-op domain that stays away from kinks (relu at 0), ties (max) and singularities (log 0).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mytorch as mt
from mytorch import ops

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast together: the second drops leading axes / has 1s."""
    big = draw(shapes)
    keep = draw(st.integers(0, len(big)))
    small = list(big[len(big) - keep :])
    for i in range(len(small)):
        if draw(st.booleans()):
            small[i] = 1
    small = tuple(small)
    return (big, small) if draw(st.booleans()) else (small, big)


def uniform(seed: int, shape, low: float, high: float) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def away_from_zero(seed: int, shape, low: float, high: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def distinct(seed: int, shape, spacing: float = 0.1) -> np.ndarray:
    """Values with no ties (at least ``spacing`` apart), so max has one winner."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape)) if shape else 1
    values = rng.permutation(n) * spacing + rng.uniform(0, spacing / 4)
    return values.reshape(shape) - n * spacing / 2


def check(fn, *inputs, seed: int = 0) -> None:
    report = mt.gradcheck(fn, *inputs, seed=seed)
    assert report, str(report)


seeds = st.integers(0, 2**31 - 1)

UNARY = {
    "neg": (lambda a: -a, lambda s, sh: uniform(s, sh, -2, 2)),
    "exp": (mt.exp, lambda s, sh: uniform(s, sh, -2, 2)),
    "log": (mt.log, lambda s, sh: uniform(s, sh, 0.3, 3)),
    "sin": (mt.sin, lambda s, sh: uniform(s, sh, -3, 3)),
    "cos": (mt.cos, lambda s, sh: uniform(s, sh, -3, 3)),
    "tanh": (mt.tanh, lambda s, sh: uniform(s, sh, -2, 2)),
    "sigmoid": (mt.sigmoid, lambda s, sh: uniform(s, sh, -5, 5)),
    "relu": (mt.relu, lambda s, sh: away_from_zero(s, sh, 0.1, 2)),
    "pow_2": (lambda a: a**2, lambda s, sh: uniform(s, sh, -2, 2)),
    "pow_3": (lambda a: a**3, lambda s, sh: uniform(s, sh, -2, 2)),
    "pow_half": (lambda a: a**0.5, lambda s, sh: uniform(s, sh, 0.5, 3)),
    "pow_neg": (lambda a: a**-1.5, lambda s, sh: uniform(s, sh, 0.5, 3)),
    "rpow": (lambda a: 2.0**a, lambda s, sh: uniform(s, sh, -2, 2)),
    "scalar_ops": (lambda a: (3.0 - a) * 0.5 / (a + 4.0), lambda s, sh: uniform(s, sh, -2, 2)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_unary(name, shape, seed):
    fn, domain = UNARY[name]
    check(fn, domain(seed, shape), seed=seed)


BINARY = {
    "add": (mt.add, lambda s, sh: uniform(s, sh, -2, 2), lambda s, sh: uniform(s, sh, -2, 2)),
    "sub": (mt.sub, lambda s, sh: uniform(s, sh, -2, 2), lambda s, sh: uniform(s, sh, -2, 2)),
    "mul": (mt.mul, lambda s, sh: uniform(s, sh, -2, 2), lambda s, sh: uniform(s, sh, -2, 2)),
    "div": (
        mt.div,
        lambda s, sh: uniform(s, sh, -2, 2),
        lambda s, sh: away_from_zero(s, sh, 0.5, 2),
    ),
    "pow": (
        lambda a, b: a**b,
        lambda s, sh: uniform(s, sh, 0.5, 2),
        lambda s, sh: uniform(s, sh, -2, 2),
    ),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(pair=broadcast_pair(), seed=seeds)
def test_binary_with_broadcasting(name, pair, seed):
    fn, domain_a, domain_b = BINARY[name]
    check(fn, domain_a(seed, pair[0]), domain_b(seed + 1, pair[1]), seed=seed)


@SETTINGS
@given(pair=broadcast_pair(), seed=seeds)
def test_maximum_without_ties(pair, seed):
    # a sits on the grid 0.2*k and b on 0.2*k + 0.1, so every pair differs by >= 0.1
    rng = np.random.default_rng(seed)
    a = rng.integers(-10, 10, size=pair[0]) * 0.2
    b = rng.integers(-10, 10, size=pair[1]) * 0.2 + 0.1
    check(mt.maximum, a, b, seed=seed)


def test_maximum_splits_a_tie():
    a, b = mt.Tensor(1.0, requires_grad=True), mt.Tensor(1.0, requires_grad=True)
    mt.maximum(a, b).backward(2.0)
    assert (a.grad.item(), b.grad.item()) == (1.0, 1.0)


@st.composite
def shape_and_axis(draw, min_rank: int = 0):
    shape = draw(st.lists(st.integers(1, 4), min_size=min_rank, max_size=3).map(tuple))
    if not shape or draw(st.booleans()):
        return shape, None
    axes = draw(
        st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True)
    )
    negative = draw(st.booleans())
    axis = tuple(a - len(shape) if negative else a for a in axes)
    return shape, axis[0] if len(axis) == 1 and draw(st.booleans()) else axis


REDUCTIONS = {
    "sum": (mt.sum, lambda s, sh: uniform(s, sh, -2, 2)),
    "mean": (mt.mean, lambda s, sh: uniform(s, sh, -2, 2)),
    "max": (mt.max, lambda s, sh: distinct(s, sh)),
    "logsumexp": (mt.logsumexp, lambda s, sh: uniform(s, sh, -3, 3)),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_reductions(name, case, keepdims, seed):
    fn, domain = REDUCTIONS[name]
    shape, axis = case
    check(lambda a: fn(a, axis=axis, keepdims=keepdims), domain(seed, shape), seed=seed)


@pytest.mark.parametrize("fn", [mt.softmax, mt.log_softmax], ids=["softmax", "log_softmax"])
@SETTINGS
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=seeds, data=st.data()
)
def test_softmax_family(fn, shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    check(lambda a: fn(a, axis=axis), uniform(seed, shape, -3, 3), seed=seed)


@SETTINGS
@given(
    shape=st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), seed=seeds, data=st.data()
)
def test_reshape_transpose_broadcast(shape, seed, data):
    x = uniform(seed, shape, -2, 2)
    n = int(np.prod(shape)) if shape else 1
    check(lambda a: a.reshape((n,)) * mt.Tensor(np.arange(n, dtype=float)), x, seed=seed)
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    check(lambda a: mt.transpose(a, perm), x, seed=seed)
    check(lambda a: a.T, x, seed=seed)
    target = (data.draw(st.integers(1, 3)),) + tuple(
        data.draw(st.integers(1, 3)) if d == 1 else d for d in shape
    )
    check(lambda a: mt.broadcast_to(a, target), x, seed=seed)


@st.composite
def matmul_shapes(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["mm", "vec_mat", "mat_vec", "dot", "batched", "broadcast"]))
    if kind == "mm":
        return (n, k), (k, m)
    if kind == "vec_mat":
        return (k,), (k, m)
    if kind == "mat_vec":
        return (n, k), (k,)
    if kind == "dot":
        return (k,), (k,)
    batch = draw(st.integers(1, 3))
    if kind == "batched":
        return (batch, n, k), (batch, k, m)
    return (batch, n, k), (k, m)  # one operand broadcast over the batch


@SETTINGS
@given(pair=matmul_shapes(), seed=seeds)
def test_matmul(pair, seed):
    check(mt.matmul, uniform(seed, pair[0], -2, 2), uniform(seed + 1, pair[1], -2, 2), seed=seed)


@SETTINGS
@given(seed=seeds, data=st.data())
def test_basic_indexing(seed, data):
    x = uniform(seed, (3, 4, 2), -2, 2)
    index = data.draw(
        st.sampled_from(
            [0, -1, (1, slice(None), 0), (slice(0, 2), 1), (Ellipsis, 1), (slice(None, None, 2),)]
        )
    )
    check(lambda a: a[index], x, seed=seed)


def test_repeated_fancy_index_accumulates():
    x = mt.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 1.0])


def test_gradcheck_catches_an_op_that_ignores_out_grad():
    class IgnoresUpstream(ops.Op):
        def compute(self, a):
            return np.sin(a)

        def gradient(self, out_grad, node):
            return (mt.cos(node.inputs[0]),)  # forgot "out_grad *"

    report = mt.gradcheck(lambda a: IgnoresUpstream()(a), np.array([0.1, 0.5, 0.9]))
    assert not report
    assert "analytic" in str(report) and "numerical" in str(report)
    assert report.worst is not None and report.worst.input_index == 0


# The checks above must be able to fail: break each op's gradient and watch gradcheck object.
BROKEN_CASES = [
    (ops.Mul, lambda a, b: a * b, [(2, 3), (3,)]),
    (ops.Div, lambda a, b: a / b, [(2, 3), (2, 3)]),
    (ops.MatMul, mt.matmul, [(2, 3), (3, 4)]),
    (ops.Sum, lambda a: a.sum(axis=0), [(3, 2)]),
    (ops.LogSumExp, lambda a: mt.logsumexp(a, axis=1), [(2, 3)]),
    (ops.Softmax, lambda a: mt.softmax(a), [(2, 3)]),
    (ops.Tanh, mt.tanh, [(4,)]),
    (ops.Transpose, lambda a: a.T, [(2, 3)]),
]


@pytest.mark.parametrize(
    "op_class, fn, input_shapes", BROKEN_CASES, ids=lambda c: getattr(c, "__name__", "")
)
def test_gradcheck_fails_when_an_op_gradient_is_scaled(monkeypatch, op_class, fn, input_shapes):
    original = op_class.gradient

    def off_by_one_percent(self, out_grad, node):
        grads = original(self, out_grad, node)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return tuple(None if g is None else g * 1.01 for g in grads)

    monkeypatch.setattr(op_class, "gradient", off_by_one_percent)
    inputs = [uniform(i, shape, 0.5, 2) for i, shape in enumerate(input_shapes)]
    assert not mt.gradcheck(fn, *inputs)


@SETTINGS
@given(batch=st.integers(1, 4), n_in=st.integers(1, 4), n_out=st.integers(1, 4), seed=seeds)
def test_affine(batch, n_in, n_out, seed):
    check(
        lambda x, w, b: ops.Affine()(x, w, b),
        uniform(seed, (batch, n_in), -2, 2),
        uniform(seed + 1, (n_in, n_out), -2, 2),
        uniform(seed + 2, (n_out,), -2, 2),
        seed=seed,
    )


def test_affine_equals_matmul_plus_bias():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    fused = ops.Affine()(mt.Tensor(x), mt.Tensor(w), mt.Tensor(b))
    np.testing.assert_allclose(fused.data, x @ w + b)
