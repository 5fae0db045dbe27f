"""The visible checks speak like the grader: which case, expected vs got, the likely cause."""

from __future__ import annotations

import numpy as np
import pytest

import mytorch
from mytorch.ops import Op
from mytorch.visible import (
    IGNORES_OUT_GRAD,
    SWAPPED,
    CheckFailed,
    central_vjp,
    check,
    check_fields,
    check_op,
)


def failure(call, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value, AssertionError)  # a test cell fails as with assert
    return str(caught.value)


def test_a_right_value_passes_and_a_wrong_one_says_expected_and_got():
    check("d_cube(2.0)", 12.0, 12.0)
    check("d_cube(xs)", np.array([5.07, 0.48]), [5.07, 0.48], rtol=1e-12)
    text = failure(check, "d_cube(2.0)", 8.0, 12.0)
    assert text.splitlines() == ["d_cube(2.0): wrong value.", "    expected: 12", "    got:      8"]


def test_the_worst_element_and_the_generic_cause_are_named():
    text = failure(check, "grad", np.array([1.0, -2.0, 3.0]), np.array([-1.0, 2.0, -3.0]))
    assert "grad: wrong value at index (2,)." in text
    assert "expected (all): [-1., 2., -3.] (shape (3,))" in text
    assert "Likely cause: the sign is flipped" in text


def test_a_matching_mistake_wins_over_the_hint_and_the_hint_over_the_generic_guess():
    mistakes = {"the factor 3 from the last gate is missing": -4.0}
    text = failure(check, "dL/dx", -4.0, -12.0, mistakes=mistakes, hint="look at the gates")
    assert text.endswith("Likely cause: the factor 3 from the last gate is missing")
    text = failure(check, "dL/dx", 12.0, -12.0, mistakes=mistakes, hint="look at the gates")
    assert text.endswith("Likely cause: look at the gates")
    text = failure(check, "g", [12.0, 1.0], [-12.0, -1.0], mistakes=mistakes)
    assert text.endswith("Likely cause: the sign is flipped")


def test_a_mistake_that_is_right_on_this_case_is_never_named():
    text = failure(check, "v", 2.0, 3.0, mistakes={"forgot the square": 3.0, "other": 2.0})
    assert "forgot the square" not in text and text.endswith("Likely cause: other")


def test_nan_and_wrong_shapes_fail_with_a_sentence():
    assert "got nan at index (1,) where 2 was expected" in failure(
        check, "g", [1.0, np.nan], [1.0, 2.0]
    )
    text = failure(check, "grad of b", np.ones((2, 3)), np.ones(3))
    assert "wrong shape. expected shape (3,), got shape (2, 3)" in text
    assert "sum over the broadcast axes" in text
    assert "expected a number or an array, got" in failure(check, "f", "twelve", 12.0)


def test_check_fields_counts_the_values_and_names_the_field():
    expected = {"f": -1.0, "dL/dx": 2.0, "dL/dy": 1.0}
    check_fields("ratio_backward(x=-1, y=2)", (-1.0, 2.0, 1.0), expected)
    text = failure(check_fields, "ratio_backward(x=-1, y=2)", (-1.0, 2.0), expected)
    assert text == "ratio_backward(x=-1, y=2): returned 2 values; expected 3: (f, dL/dx, dL/dy)"
    mistakes = {"x is used twice: add both contributions (+=, not =)": {"dL/dx": 1.0}}
    text = failure(
        check_fields, "ratio_backward(x=-1, y=2)", (-1.0, 1.0, 1.0), expected, mistakes=mistakes
    )
    assert text.startswith("ratio_backward(x=-1, y=2), dL/dx: wrong value.")
    assert "expected: 2\n    got:      1" in text
    assert text.endswith("Likely cause: x is used twice: add both contributions (+=, not =)")
    text = failure(
        check_fields, "r", {"f": -1.0, "dL/dx": 2.0, "dL/dy": 3.0}, expected, hints={"dL/dy": "h"}
    )
    assert text.startswith("r, dL/dy: wrong value.") and text.endswith("Likely cause: h")


class Multiply(Op):
    def compute(self, a, b):
        return a * b

    def gradient(self, out_grad, node):
        a, b = node.inputs
        return out_grad * b, out_grad * a


class OnesMultiply(Multiply):  # ignores out_grad
    def gradient(self, out_grad, node):
        a, b = node.inputs
        return b * 1.0, a * 1.0


class SwappedMultiply(Multiply):
    def gradient(self, out_grad, node):
        a, b = node.inputs
        return out_grad * a, out_grad * b


class BroadcastingMultiply(Multiply):  # forgets to sum b's gradient back to b's shape
    pass


class NumpyMultiply(Multiply):
    def gradient(self, out_grad, node):
        a, b = node.inputs
        return out_grad.data * b.data, out_grad * a


class OneGradient(Multiply):
    def gradient(self, out_grad, node):
        return out_grad * node.inputs[1]


A = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
B = np.array([[1.2, 0.4, -2.0], [0.9, -1.1, 0.6]])


def test_check_op_passes_a_right_gradient_of_any_rank():
    check_op(Multiply(), A, B)
    check_op(Multiply(), 2.0, -3.0)


def test_check_op_names_the_case_the_input_and_the_mistake():
    text = failure(check_op, OnesMultiply(), A, B)
    assert text.startswith("OnesMultiply.gradient with a=[[ 0.5, -1. , 2. ], [ 1.5, 0.3, -0.7]]")
    assert "out_grad=" in text and ": gradient of a: wrong value at index" in text
    assert f"Likely cause: {IGNORES_OUT_GRAD}" in text
    assert "central differences of your compute" in text
    text = failure(check_op, SwappedMultiply(), A, B)
    assert ": gradient of a:" in text and f"Likely cause: {SWAPPED}" in text


def test_check_op_wants_one_tensor_per_input_of_its_shape():
    text = failure(check_op, BroadcastingMultiply(), np.ones((2, 3)), np.array([1.0, 2.0, 3.0]))
    assert "gradient of b: wrong shape. expected shape (3,), got shape (2, 3)" in text
    assert "sum over the broadcast axes" in text
    assert "returned a ndarray for input 0" in failure(check_op, NumpyMultiply(), A, B)
    text = failure(check_op, OneGradient(), A, B)
    assert "returned 1 gradient(s), but OneGradient has 2 input(s)" in text


def test_check_op_reports_a_raising_gradient_and_lets_not_implemented_through():
    class Raises(Multiply):
        def gradient(self, out_grad, node):
            return out_grad @ node.inputs[0]

    assert "your gradient() raised" in failure(check_op, Raises(), A, B)

    class Unwritten(Multiply):
        def gradient(self, out_grad, node):
            raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check_op(Unwritten(), A, B)


def test_central_vjp_matches_worked_examples():
    # d/da sum(u * a b) = u b, d/db = u a; for a sum over an axis the gradient is u copied
    u = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]])
    grad_a, grad_b = central_vjp(np.multiply, [A, B], u)
    np.testing.assert_allclose(grad_a, u * B, atol=1e-8)
    np.testing.assert_allclose(grad_b, u * A, atol=1e-8)
    (grad,) = central_vjp(lambda a: a.sum(axis=1), [A], np.array([2.0, -1.0]))
    np.testing.assert_allclose(grad, [[2.0] * 3, [-1.0] * 3], atol=1e-8)


def test_the_grader_uses_the_same_wording():
    import mytorch_course.checks as grader

    assert grader.compare is mytorch.visible.compare
    assert grader.likely_cause is mytorch.visible.likely_cause
