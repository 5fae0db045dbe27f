"""nn, functional losses and SGD against independent numpy computations."""

from __future__ import annotations

import numpy as np
import pytest

import mytorch as mt
from mytorch import nn, optim
from mytorch.nn import functional as F


def test_linear_shapes_and_parameter_discovery():
    model = nn.Sequential(
        nn.Linear(5, 7, rng=0), nn.Tanh(), nn.Linear(7, 2, bias=False, rng=1), nn.Sigmoid()
    )
    params = model.parameters()
    assert [p.shape for p in params] == [(5, 7), (7,), (7, 2)]
    assert model(mt.Tensor(np.ones((3, 5)))).shape == (3, 2)
    assert model.eval().training is False and model.layers[0].training is False
    assert model.train().layers[2].training is True


def test_cross_entropy_matches_the_textbook_formula_and_gradcheck():
    rng = np.random.default_rng(0)
    logits, targets = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.log(p[np.arange(6), targets]).mean()
    assert F.cross_entropy(mt.Tensor(logits), targets).item() == pytest.approx(expected)
    assert mt.gradcheck(lambda z: F.cross_entropy(z, targets), logits, seed=3)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = mt.Tensor(
        np.array([[1000.0, -1000.0, 0.0], [-5000.0, 5000.0, 1.0]]), requires_grad=True
    )
    loss = F.cross_entropy(logits, np.array([0, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(10000.0 / 2)
    assert np.all(np.isfinite(logits.grad.data))


def test_cross_entropy_second_order():
    targets = np.array([1, 0])
    rng = np.random.default_rng(1)
    x0, v = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    eps = 1e-5

    def grad_at(x):
        t = mt.Tensor(x, requires_grad=True)
        return mt.grad(F.cross_entropy(t, targets), [t])[0].data

    expected = (grad_at(x0 + eps * v) - grad_at(x0 - eps * v)) / (2 * eps)
    hv = mt.hvp(lambda t: F.cross_entropy(t, targets), x0, v)
    np.testing.assert_allclose(hv.data, expected, rtol=1e-5, atol=1e-9)


def test_mse_and_weight_decay_gradients():
    rng = np.random.default_rng(2)
    pred, target = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    assert mt.gradcheck(lambda p: F.mse_loss(p, target), pred, seed=1)
    w = mt.Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    F.weight_decay([w], 0.1).backward()
    np.testing.assert_allclose(w.grad.data, 0.1 * w.data)


def test_sgd_with_momentum_and_weight_decay_matches_hand_computation():
    w0 = np.array([1.0, -2.0])
    w = mt.Tensor(w0.copy(), requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01)
    velocity, expected = np.zeros(2), w0.copy()
    for step in range(3):
        opt.zero_grad()
        (w * w * float(step + 1)).sum().backward()
        g = 2 * (step + 1) * expected + 0.01 * expected
        velocity = g if step == 0 else 0.9 * velocity + g
        expected = expected - 0.1 * velocity
        opt.step()
        np.testing.assert_allclose(w.data, expected)


def test_sgd_rejects_a_bad_learning_rate():
    with pytest.raises(ValueError, match="lr must be positive"):
        optim.SGD([], lr=0.0)
