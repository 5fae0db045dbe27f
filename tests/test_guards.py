"""Each guard fires with a message that names the op, the input and the shapes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mytorch as mt
from mytorch.ops import Op


def run(op: Op, *arrays) -> None:
    inputs = [mt.Tensor(a, requires_grad=True) for a in arrays]
    op(*inputs).sum().backward()


class TooFewGradients(Op):
    def compute(self, a, b):
        return a * b

    def gradient(self, out_grad, node):
        return out_grad * node.inputs[1]  # forgot the second input


class WrongShape(Op):
    def compute(self, a, b):
        return a @ b

    def gradient(self, out_grad, node):
        a, b = node.inputs
        return b @ out_grad.T, a.T @ out_grad  # (3, 2) for a (2, 3): transposed result


class WrongDtype(Op):
    def compute(self, a):
        return 2 * a

    def gradient(self, out_grad, node):
        return (mt.Tensor(2 * out_grad.data.astype(np.float64)),)


class NotFinite(Op):
    def compute(self, a):
        return np.sqrt(a)

    def gradient(self, out_grad, node):
        return (out_grad * 0.5 / node,)  # infinite at a == 0


class Aliasing(Op):
    def compute(self, a):
        a += 1.0  # modifies its input in place and returns it
        return a

    def gradient(self, out_grad, node):
        return (out_grad,)


class ReturnsNone(Op):
    def compute(self, a):
        return a * 2

    def gradient(self, out_grad, node):
        return (None,)


def test_wrong_number_of_gradients():
    with pytest.raises(
        mt.GradientError, match=r"TooFewGradients.gradient\(\) returned 1 gradient.* 2 input"
    ):
        run(TooFewGradients(), np.ones(3), np.ones(3))


def test_wrong_shape_names_op_input_and_both_shapes():
    with pytest.raises(mt.GradientError) as info:
        run(WrongShape(), np.ones((2, 3)), np.ones((3, 4)))
    message = str(info.value)
    assert "WrongShape" in message and "input 0" in message
    assert "(3, 2)" in message and "(2, 3)" in message


def test_wrong_dtype():
    x = mt.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(mt.GradientError, match=r"WrongDtype.*dtype float64 for input 0.*float32"):
        WrongDtype()(x).sum().backward()


def test_non_finite_gradient_names_the_op():
    with pytest.raises(
        mt.GradientError, match=r"NotFinite.gradient\(\) returned a non-finite value.*input 0"
    ):
        run(NotFinite(), np.array([0.0, 1.0]))


def test_non_finite_found_even_when_it_is_not_the_last_op():
    x = mt.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with pytest.raises(mt.GradientError, match="NotFinite"):
        (mt.exp(NotFinite()(x)) * 3.0).sum().backward()
    assert x.grad is None  # nothing half-accumulated


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_all_finite_sees_one_bad_entry_anywhere(dtype, bad):
    from mytorch.autograd import all_finite

    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 5)).astype(dtype)
    assert all_finite([a, a.T])
    for index in [(0, 0), (3, 2), (6, 4)]:
        b = a.copy()
        b[index] = bad
        assert not all_finite([b])
        assert not all_finite([a, b.T])  # not contiguous, and not the first array
        assert not all_finite([b[::-1, ::-1], a])
    assert not all_finite([np.array(bad, dtype=dtype)])  # 0-d


def test_huge_finite_gradient_is_not_an_error():
    # 1e200 squared overflows the cheap check; the exact replay then finds nothing wrong.
    x = mt.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no overflow warning reaches the user
        (x * 1e200).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1e200, 1e200])


def test_output_aliasing_input_is_rejected():
    with pytest.raises(
        mt.GradientError,
        match=r"Aliasing.compute\(\) returned an array that shares memory with input 0",
    ):
        Aliasing()(mt.Tensor(np.ones(3), requires_grad=True))


def test_none_for_an_input_that_needs_a_gradient():
    with pytest.raises(
        mt.GradientError, match=r"ReturnsNone.gradient\(\) returned None for input 0"
    ):
        run(ReturnsNone(), np.ones(2))


def test_broadcast_shaped_gradient_is_reduced_centrally():
    class LazyAdd(Op):
        def compute(self, a, b):
            return a + b

        def gradient(self, out_grad, node):
            return out_grad, out_grad  # the engine sums b's gradient back to b's shape

    a = mt.Tensor(np.ones((4, 3)), requires_grad=True)
    b = mt.Tensor(np.ones(3), requires_grad=True)
    (LazyAdd()(a, b) * mt.Tensor(np.arange(12.0).reshape(4, 3))).sum().backward()
    np.testing.assert_array_equal(b.grad.data, np.arange(12.0).reshape(4, 3).sum(axis=0))


class ReturnsAView(Op):
    def compute(self, a):
        return a[::-1]  # a view of the input, but the op does not declare returns_view

    def gradient(self, out_grad, node):
        return (out_grad[::-1],)


def test_output_that_is_a_view_of_an_input_is_rejected():
    x = mt.Tensor(np.arange(4.0), requires_grad=True)
    with pytest.raises(mt.GradientError, match="ReturnsAView.*shares memory with input 0"):
        ReturnsAView()(x)
    with pytest.raises(mt.GradientError, match="ReturnsAView.*shares memory with input 0"):
        ReturnsAView()(x.reshape(2, 2).reshape(4))  # the input itself is a view
