"""The float64 central-difference witness, against derivatives worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mytorch_course.numeric import central_difference, directional_difference, step_sizes


def test_central_difference_of_a_cube_and_a_product() -> None:
    x, y = np.array([1.0, 2.0, -3.0]), np.array([4.0, 5.0, 6.0])
    out_grad = np.array([1.0, 2.0, 3.0])
    dx, dy = central_difference(lambda a, b: a**3 * b, (x, y), out_grad)
    np.testing.assert_allclose(dx, out_grad * 3 * x**2 * y, rtol=1e-8)  # [12, 120, 486]
    np.testing.assert_allclose(dy, out_grad * x**3, rtol=1e-8)  # [1, 16, -81]


def test_central_difference_keeps_shapes_and_works_in_float64() -> None:
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    (dx,) = central_difference(lambda a: np.exp(a), (x,), np.array([[2.0, 1.0, 0.5]]))
    assert dx.shape == (1, 3) and dx.dtype == np.float64
    np.testing.assert_allclose(dx, [[2 * np.e, np.e**2, 0.5 * np.e**3]], rtol=1e-8)


def test_central_difference_of_a_scalar_input() -> None:
    (dx,) = central_difference(lambda a: np.log(a), (np.array(2.0),), np.array(3.0))
    assert dx.shape == ()
    assert float(dx) == pytest.approx(1.5, rel=1e-9)  # 3 * d/dx log x at 2 = 3/2


def test_inputs_are_not_modified() -> None:
    x = np.array([1.0, 2.0])
    central_difference(lambda a: a * a, (x,), np.array([1.0, -1.0]))
    directional_difference(lambda a: a * a, (x,), (np.array([1.0, 1.0]),))
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_the_step_is_relative_for_large_values_and_absolute_near_zero() -> None:
    np.testing.assert_allclose(step_sizes(np.array([0.0, 0.5, -2.0, 1e6])), [1e-6, 1e-6, 2e-6, 1.0])
    # A large argument is still differentiated accurately: d/dx x^2 at 1e6 = 2e6.
    (dx,) = central_difference(lambda a: a**2, (np.array([1e6]),), np.array([1.0]))
    assert float(dx[0]) == pytest.approx(2e6, rel=1e-8)


def test_directional_difference_is_j_times_v() -> None:
    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    v, w = np.array([0.5, -1.0]), np.array([2.0, 0.0])
    got = directional_difference(lambda a, b: a * b, (x, y), (v, w))
    np.testing.assert_allclose(got, v * y + x * w, rtol=1e-8)  # [3.5, 1.0]


def test_directional_difference_needs_one_tangent_per_input() -> None:
    with pytest.raises(ValueError, match="one per input"):
        directional_difference(lambda a, b: a * b, (np.ones(2), np.ones(2)), (np.ones(2),))


def test_a_zero_direction_gives_a_zero_tangent() -> None:
    got = directional_difference(lambda a: np.sin(a), (np.array([1.0, 2.0]),), (np.zeros(2),))
    np.testing.assert_array_equal(got, [0.0, 0.0])
