"""Graph cases: reuse, diamonds, accumulation, zero_grad, views, deep chains, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import mytorch as mt
from mytorch import nn, optim


def leaf(values, dtype=np.float64) -> mt.Tensor:
    return mt.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def test_x_times_x_sums_both_paths():
    x = leaf([1.5, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.array([1.5, -2.0, 3.0]))


def test_diamond():
    # x feeds a and b, which meet again in c = a * b: dc/dx = 2*b + a*1
    x = leaf(0.7)
    a = x * 2.0
    b = x + 1.0
    c = a * b
    c.backward()
    assert x.grad.item() == pytest.approx(2 * 1.7 + 1.4)


def test_one_tensor_used_by_several_ops():
    values = np.array([0.3, -0.8, 1.1])
    x = leaf(values)
    (mt.sin(x) + x * x + mt.exp(x) + x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cos(values) + 2 * values + np.exp(values) + 1)


def test_second_backward_accumulates_until_zeroed():
    x = leaf([1.0, 2.0])
    for _ in range(2):
        (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    x.zero_grad()
    assert x.grad is None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_backward_twice_on_the_same_graph_accumulates():
    x = leaf(2.0)
    y = x**3
    y.backward()
    y.backward()
    assert x.grad.item() == pytest.approx(2 * 3 * 4.0)


def test_module_and_optimizer_zero_grad():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(mt.Tensor(np.ones((5, 3)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(mt.Tensor(np.ones((5, 3)))).sum().backward()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_views_and_reshapes_never_corrupt_gradients():
    # x, x.reshape, x.T and x[0] share one data pointer: a pointer-keyed buffer mixes them up.
    values = np.arange(12.0).reshape(3, 4) / 10
    x = leaf(values)
    w1 = np.linspace(-1, 1, 12).reshape(4, 3)
    w2 = np.linspace(2, 3, 12).reshape(4, 3)
    w3 = np.array([5.0, 6.0, 7.0, 8.0])
    loss = (x.reshape(4, 3) * w1).sum() + (x.T * w2).sum() + (x[0] * w3).sum()
    loss.backward()
    expected = w1.reshape(3, 4) + w2.T + np.vstack([w3, np.zeros((2, 4))])
    np.testing.assert_allclose(x.grad.data, expected)


def test_identity_like_ops_do_not_double_gradients():
    x = leaf([1.0, 2.0])
    y = mt.broadcast_to(x, (2,)) + x.reshape(2)  # both are x itself, no new op
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_deep_chain_of_ten_thousand_ops_has_no_recursion_error():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-9)


def test_float32_is_never_upcast():
    x = leaf(np.ones((4, 3)), dtype=np.float32)
    w = leaf(np.ones((3, 2)), dtype=np.float32)
    loss = (mt.tanh(x @ w) * 2.0 + 1.0).sum() / 3.0
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_retain_grad_keeps_intermediate_gradients():
    x = leaf(3.0)
    h = x * 2.0
    y = h * h
    y.backward()
    assert h.grad is None  # intermediate spots are freed by default
    y.backward(retain_grad=True)
    assert h.grad.item() == pytest.approx(2 * 6.0)


def test_non_scalar_backward_needs_out_grad():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    with pytest.raises(mt.GradientError, match="scalar"):
        y.backward()
    y.backward(np.array([0.5, -1.0]))
    np.testing.assert_array_equal(x.grad.data, [1.0, -2.0])


def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with mt.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(mt.GradientError, match="does not require"):
        y.sum().backward()


def test_constants_get_no_gradient_and_skip_work():
    x = leaf(np.ones((2, 3)))
    data = mt.Tensor(np.full((4, 2), 2.0))  # requires_grad=False
    (data @ x).sum().backward()
    assert data.grad is None
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 8.0))


def test_grad_function_leaves_dot_grad_alone():
    x = leaf([1.0, 2.0])
    (g,) = mt.grad((x**2).sum(), [x])
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    assert x.grad is None
