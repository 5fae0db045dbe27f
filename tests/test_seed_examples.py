"""The source material's worked examples, recomputed by the engine (numbers from the seeds)."""

from __future__ import annotations

import math

import pytest

import mytorch as mt


def leaves(*values: float) -> list[mt.Tensor]:
    return [mt.Tensor(v, requires_grad=True) for v in values]


def test_add_then_multiply_at_minus2_5_minus4():
    x, y, z = leaves(-2.0, 5.0, -4.0)
    f = (x + y) * z
    f.backward()
    assert f.item() == -12.0
    # the add gate hands its upstream -4 to both inputs; z sees x + y = 3
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)


def test_branching_quotient_at_minus1_2():
    x, y = leaves(-1.0, 2.0)
    f = x / (x + y)
    f.backward()
    assert f.item() == -1.0
    assert x.grad.item() == pytest.approx(2.0)  # 1/v1 + (-x0/v1^2) = 1 + 1
    assert y.grad.item() == pytest.approx(1.0)


def test_add_multiply_max_patterns_at_3_minus4_2_minus1():
    x, y, z, w = leaves(3.0, -4.0, 2.0, -1.0)
    f = 3.0 * (x * y + mt.maximum(z, w))
    f.backward()
    assert f.item() == -30.0
    # multiply swaps its inputs, max routes to the winner (z), add distributes
    grads = [t.grad.item() for t in (x, y, z, w)]
    assert grads == [-12.0, 9.0, 3.0, 0.0]


def test_log_product_sine_at_2_5():
    x1, x2 = leaves(2.0, 5.0)
    y = mt.log(x1) + x1 * x2 - mt.sin(x2)
    y.backward()
    assert y.item() == pytest.approx(11.652, abs=5e-4)
    assert x1.grad.item() == pytest.approx(5.5)
    assert x2.grad.item() == pytest.approx(1.716, abs=5e-4)


def test_exp_of_affine_at_2_3_minus4():
    w, x, b = leaves(2.0, 3.0, -4.0)
    y = mt.exp(w * x + b)
    y.backward()
    assert y.item() == pytest.approx(7.39, abs=5e-3)
    assert b.grad.item() == pytest.approx(7.39, abs=5e-3)
    assert x.grad.item() == pytest.approx(14.78, abs=5e-3)
    assert w.grad.item() == pytest.approx(22.17, abs=5e-3)


def test_sigmoid_neuron():
    # w = (w0, w1, w2) = (-3, 2, -3) on (1, x1, x2) = (1, -1, -2): w.x = 1
    w0, w1, w2, x1, x2 = leaves(-3.0, 2.0, -3.0, -1.0, -2.0)
    out = mt.sigmoid(w0 + w1 * x1 + w2 * x2)
    out.backward()
    s = 1 / (1 + math.exp(-1.0))
    local = s * (1 - s)  # sigma'(1), about 0.1966
    assert out.item() == pytest.approx(s)
    assert [t.grad.item() for t in (w0, w1, w2)] == pytest.approx([local, -local, -2 * local])
    assert [t.grad.item() for t in (x1, x2)] == pytest.approx([2 * local, -3 * local])


def test_fine_grained_sigmoid_matches_the_sigmoid_gate():
    # -1*x -> exp -> +1 -> 1/x is the same function as the one sigmoid gate
    a, b = leaves(0.8, 0.8)
    fine = 1.0 / (mt.exp(-1.0 * a) + 1.0)
    coarse = mt.sigmoid(b)
    fine.backward()
    coarse.backward()
    assert fine.item() == pytest.approx(coarse.item())
    assert a.grad.item() == pytest.approx(b.grad.item())
