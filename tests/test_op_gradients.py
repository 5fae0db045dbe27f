"""Gradients the op catalogue does not cover, and the gradient check's power to fail.

Each op's rule is checked on the catalogue's probes in tests/test_catalogue.py (the engine
against the catalogue, the catalogue against float64 central differences). Here: Python
scalars on either side of an operator, indexing, a tie in maximum, and gradcheck itself
(random upstream gradients), with shapes of rank 0 to 3 drawn by hypothesis.
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


def uniform(seed: int, shape, low: float, high: float) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def check(fn, *inputs, seed: int = 0) -> None:
    report = mt.gradcheck(fn, *inputs, seed=seed)
    assert report, str(report)


seeds = st.integers(0, 2**31 - 1)

SCALAR_OPERATORS = {
    "rpow": (lambda a: 2.0**a, lambda s, sh: uniform(s, sh, -2, 2)),
    "scalar_ops": (lambda a: (3.0 - a) * 0.5 / (a + 4.0), lambda s, sh: uniform(s, sh, -2, 2)),
}


@pytest.mark.parametrize("name", sorted(SCALAR_OPERATORS))
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_python_scalars_in_operators(name, shape, seed):
    fn, domain = SCALAR_OPERATORS[name]
    check(fn, domain(seed, shape), seed=seed)


def test_maximum_splits_a_tie():
    a, b = mt.Tensor(1.0, requires_grad=True), mt.Tensor(1.0, requires_grad=True)
    mt.maximum(a, b).backward(2.0)
    assert (a.grad.item(), b.grad.item()) == (1.0, 1.0)


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
