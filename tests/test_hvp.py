"""Second order: gradients of gradients (create_graph=True) and Hessian-vector products."""

from __future__ import annotations

import numpy as np
import pytest

import mytorch as mt

A = np.array([[2.0, -1.0, 0.5], [0.3, 1.5, -0.7], [1.0, 0.2, 0.9]])


def f(x: mt.Tensor) -> mt.Tensor:
    return (
        (mt.sin(x) * x**2).sum() + mt.logsumexp(mt.matmul(mt.Tensor(A), x)) + mt.tanh(x).sum() ** 2
    )


def gradient_at(x: np.ndarray) -> np.ndarray:
    t = mt.Tensor(x, requires_grad=True)
    (g,) = mt.grad(f(t), [t])
    return g.data


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hvp_matches_finite_differences_of_the_gradient(seed):
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-1, 1, 3), rng.standard_normal(3)
    eps = 1e-5
    expected = (gradient_at(x + eps * v) - gradient_at(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(mt.hvp(f, x, v).data, expected, rtol=1e-6, atol=1e-8)


def test_second_derivative_of_a_cubic():
    x = mt.Tensor(2.0, requires_grad=True)
    (dy,) = mt.grad(x**3, [x], create_graph=True)
    (d2y,) = mt.grad(dy, [x])
    assert dy.item() == pytest.approx(12.0) and d2y.item() == pytest.approx(12.0)


def test_newton_step_solves_a_quadratic_in_one_step():
    # f(x) = 1/2 x^T Q x - b^T x has its minimum at Q^{-1} b; one Newton step gets there.
    Q = np.array([[3.0, 0.5], [0.5, 2.0]])
    b = np.array([1.0, -1.0])

    def quadratic(x):
        return 0.5 * (x * mt.matmul(mt.Tensor(Q), x)).sum() - (x * mt.Tensor(b)).sum()

    x0 = np.zeros(2)
    t = mt.Tensor(x0, requires_grad=True)
    (g,) = mt.grad(quadratic(t), [t])
    hessian = np.stack([mt.hvp(quadratic, x0, e).data for e in np.eye(2)])
    x1 = x0 - np.linalg.solve(hessian, g.data)
    np.testing.assert_allclose(x1, np.linalg.solve(Q, b))


def test_create_graph_through_every_op_kind():
    ops = [
        mt.exp,
        mt.log,
        mt.sin,
        mt.cos,
        mt.tanh,
        mt.sigmoid,
        lambda t: mt.softmax(t),
        lambda t: mt.log_softmax(t),
    ]
    x0 = np.array([0.4, 0.9, 1.3])
    for op in ops:

        def g(t, op=op):
            return (op(t) * mt.Tensor([0.3, -1.1, 0.7])).sum()

        v = np.array([1.0, -0.5, 0.25])
        eps = 1e-5

        def grad_at(x, g=g):
            t = mt.Tensor(x, requires_grad=True)
            return mt.grad(g(t), [t])[0].data

        expected = (grad_at(x0 + eps * v) - grad_at(x0 - eps * v)) / (2 * eps)
        np.testing.assert_allclose(mt.hvp(g, x0, v).data, expected, rtol=1e-5, atol=1e-8)
