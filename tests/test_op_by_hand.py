"""Calling one op's gradient() by hand (``apply_op``, ``op_gradients``, ``gradcheck_op``):
what assignment 2 does before the engine exists."""

from __future__ import annotations

import numpy as np
import pytest

import mytorch
from mytorch import GradientError, Tensor
from mytorch.ops import Op


class Square(Op):
    def compute(self, a):
        return a * a

    def gradient(self, out_grad, node):
        return (2.0 * out_grad * node.inputs[0],)


class ForgetsTheFactor2(Square):
    def gradient(self, out_grad, node):
        return (out_grad * node.inputs[0],)


class WrongShape(Square):
    def gradient(self, out_grad, node):
        return (out_grad.sum(),)


def test_apply_op_makes_a_node_with_its_inputs_and_leaves_the_tape_alone():
    a = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    before = len(mytorch.tape)
    node = mytorch.apply_op(Square(), a)
    assert len(mytorch.tape) == before
    assert node.inputs == (a,) and node.data.tolist() == [1.0, 4.0]


def test_op_gradients_is_what_gradient_returns_for_a_random_upstream_gradient():
    rng = np.random.default_rng(3)
    a, b, u = rng.normal(size=(3, 2, 3))
    ga, gb = mytorch.op_gradients(mytorch.ops.Mul(), a, b, out_grad=u)
    np.testing.assert_allclose(ga.data, u * b, rtol=1e-15)  # d(ab)/da = b
    np.testing.assert_allclose(gb.data, u * a, rtol=1e-15)
    (gs,) = mytorch.op_gradients(Square(), a, out_grad=u)
    np.testing.assert_allclose(gs.data, 2 * u * a, rtol=1e-15)


def test_gradcheck_op_passes_a_right_gradient_and_names_a_wrong_one():
    x = np.array([[0.3, -1.2, 2.0]])
    assert mytorch.gradcheck_op(Square(), x)
    report = mytorch.gradcheck_op(ForgetsTheFactor2(), x)
    assert not report
    assert "FAILED for ForgetsTheFactor2" in str(report) and "input 0" in str(report)


def test_a_gradient_of_the_wrong_shape_is_reported_like_backward_reports_it():
    with pytest.raises(GradientError, match="WrongShape.gradient.*shape"):
        mytorch.op_gradients(WrongShape(), [1.0, 2.0], out_grad=[1.0, 1.0])
    with pytest.raises(ValueError, match="out_grad has shape"):
        mytorch.op_gradients(Square(), [1.0, 2.0], out_grad=[1.0])
