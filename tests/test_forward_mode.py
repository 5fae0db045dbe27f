"""Forward mode: every op's tangent rule, jvp, vjp, jacobian and hvp.

Every op of the catalogue (``mytorch_course.catalogue``) is checked on each of its probes,
in float64: the engine's tangent equals the catalogue's JVP (itself checked against finite
differences in tests/test_catalogue.py), and the dot-product test <u, J v> == <J^T u, v>
holds against the engine's own reverse mode, with random u and v.
"""

from __future__ import annotations

import numpy as np
import pytest

import mytorch as mt
from mytorch import ops
from mytorch_course.catalogue import RULES, Case, OpRule, seeded_cases

CASES = {name: seeded_cases(name) for name in RULES}


def central_jvp(fn, xs, vs, eps=1e-6):
    plus = fn(*[mt.Tensor(x + eps * v) for x, v in zip(xs, vs, strict=True)]).data
    minus = fn(*[mt.Tensor(x - eps * v) for x, v in zip(xs, vs, strict=True)]).data
    return (plus - minus) / (2 * eps)


def check_tangent(rule: OpRule, case: Case, rng: np.random.Generator) -> None:
    """The engine's op on ``case``: its tangent is the catalogue's, and adjoint to its VJP."""
    op = getattr(ops, rule.op_class)(**case.params)
    where = f"{rule.name} on shapes {[x.shape for x in case.inputs]}, {case.params}"
    vs = tuple(rng.standard_normal(x.shape) for x in case.inputs)
    out, jv = mt.jvp(op, case.inputs, vs)
    want = rule.jvp(vs, *case.inputs, **case.params)
    assert jv.shape == want.shape and jv.dtype == np.float64, where
    np.testing.assert_allclose(jv.data, want, rtol=1e-10, atol=1e-12, err_msg=where)
    u = rng.standard_normal(out.shape)
    _, vjp_fn = mt.vjp(op, *case.inputs)
    forward = float(np.sum(u * jv.data))
    reverse = sum(float(np.sum(g.data * v)) for g, v in zip(vjp_fn(u), vs, strict=True))
    assert forward == pytest.approx(
        reverse, rel=1e-10, abs=1e-12
    ), f"{where}: <u, Jv> != <J^T u, v>"


@pytest.mark.parametrize(
    ("name", "index"), [(name, i) for name, cases in CASES.items() for i in range(len(cases))]
)
def test_tangent_rule_against_the_catalogue_and_the_vjp(name: str, index: int) -> None:
    check_tangent(RULES[name], CASES[name][index], np.random.default_rng(index))


@pytest.mark.parametrize("name", sorted(RULES))
def test_a_tangent_off_by_one_percent_is_caught(monkeypatch, name: str) -> None:
    op_class = getattr(ops, RULES[name].op_class)
    right = op_class.tangent
    monkeypatch.setattr(op_class, "tangent", lambda self, ts, node: right(self, ts, node) * 1.01)
    with pytest.raises(AssertionError):
        for index, case in enumerate(CASES[name]):
            check_tangent(RULES[name], case, np.random.default_rng(index))


def test_a_wrong_tangent_rule_is_caught_by_the_dot_product_test():
    class SinWithWrongTangent(ops.Sin):
        def tangent(self, tangents, node):
            return tangents[0] * node.inputs[0].sin()  # should be cos

    fn = lambda a: SinWithWrongTangent()(a)  # noqa: E731
    x, v, u_ = np.array([0.3, 1.1]), np.array([0.5, -1.0]), np.array([1.5, 0.2])
    _, jv = mt.jvp(fn, (x,), (v,))
    _, vjp_fn = mt.vjp(fn, x)
    assert float(np.sum(u_ * jv.data)) != pytest.approx(float(np.sum(vjp_fn(u_)[0].data * v)))


def test_jvp_of_a_worked_example():
    # y = ln(x1) + x1 x2 - sin(x2) at (2, 5): dy/dx1 = 5.5, dy/dx2 = 2 - cos 5
    f = lambda x1, x2: mt.log(x1) + x1 * x2 - mt.sin(x2)  # noqa: E731
    y, dy = mt.jvp(f, (2.0, 5.0), (1.0, 0.0))
    assert y.item() == pytest.approx(11.652, abs=1e-3) and dy.item() == pytest.approx(5.5)
    _, dy = mt.jvp(f, (2.0, 5.0), (0.0, 1.0))
    assert dy.item() == pytest.approx(2.0 - np.cos(5.0))


def test_jvp_with_tuple_outputs_and_constants():
    w = mt.Tensor([2.0, -1.0])  # a constant captured by f: no tangent

    def f(a, b):
        return a * w, (a * b).sum()

    (p, s), (dp, ds) = mt.jvp(f, ([1.0, 2.0], [3.0, 4.0]), ([1.0, 0.0], [0.0, 1.0]))
    np.testing.assert_allclose(p.data, [2.0, -2.0])
    np.testing.assert_allclose(dp.data, [2.0, 0.0])
    assert ds.item() == pytest.approx(3.0 * 0.0 + 1.0 * 3.0 + 2.0 * 1.0)


def test_jvp_rejects_a_tangent_of_the_wrong_shape():
    with pytest.raises(ValueError, match="tangent 0 has shape"):
        mt.jvp(mt.sin, ([1.0, 2.0],), ([1.0, 2.0, 3.0],))


def test_jvp_of_a_function_that_ignores_its_input():
    out, tangent = mt.jvp(lambda a: mt.Tensor([1.0, 2.0]), ([0.5],), ([1.0],))
    np.testing.assert_array_equal(tangent.data, [0.0, 0.0])


def test_vjp_fn_can_be_called_many_times():
    out, vjp_fn = mt.vjp(lambda a, b: a * b, [1.0, 2.0], [3.0, -1.0])
    ga, gb = vjp_fn([1.0, 0.0])
    np.testing.assert_array_equal(ga.data, [3.0, 0.0])
    ga, gb = vjp_fn([0.0, 2.0])
    np.testing.assert_array_equal(gb.data, [0.0, 4.0])


def softmax_of_product(x):
    return mt.softmax(mt.Tensor(np.array([[1.0, -2.0], [0.5, 0.3], [2.0, 1.0]])) @ x * x.sum())


@pytest.mark.parametrize(
    "f, x",
    [
        (mt.softmax, np.array([1.0, 2.0, 0.5])),
        (softmax_of_product, np.array([0.3, -0.7])),
        (lambda x: (x.reshape(2, 2) @ x.reshape(2, 2)).tanh(), np.array([0.1, 0.2, -0.3, 0.4])),
    ],
)
def test_jacobian_forward_equals_reverse_equals_finite_differences(f, x):
    forward = mt.jacobian(f, x, mode="forward").data
    reverse = mt.jacobian(f, x, mode="reverse").data
    out_shape = f(mt.Tensor(x)).shape
    numerical = np.stack(
        [central_jvp(f, [x], [np.eye(x.size)[i].reshape(x.shape)]) for i in range(x.size)],
        axis=-1,
    ).reshape(out_shape + x.shape)
    assert forward.shape == out_shape + x.shape
    np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(forward, numerical, rtol=1e-6, atol=1e-9)


def test_softmax_jacobian_is_diag_p_minus_p_pT():
    x = np.array([0.2, -1.0, 1.5])
    p = np.exp(x) / np.exp(x).sum()
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(
            mt.jacobian(mt.softmax, x, mode=mode).data, np.diag(p) - np.outer(p, p), atol=1e-14
        )


def test_jacobian_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        mt.jacobian(mt.sin, [1.0], mode="sideways")


def rosenbrock(t):
    x, y = t[0], t[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hvp_forward_over_reverse_equals_reverse_over_reverse(seed):
    rng = np.random.default_rng(seed)
    point, v = rng.uniform(-1.5, 1.5, 2), rng.standard_normal(2)
    x, y = point
    hessian = np.array([[2 - 400 * (y - x**2) + 800 * x**2, -400 * x], [-400 * x, 200.0]])
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(mt.hvp(rosenbrock, point, v, mode=mode).data, hessian @ v)


def test_hvp_of_a_linear_function_is_zero_in_both_modes():
    for mode in ("reverse", "forward"):
        np.testing.assert_array_equal(
            mt.hvp(lambda t: (t * 3.0).sum(), [1.0, 2.0], [1.0, 1.0], mode=mode).data, [0.0, 0.0]
        )


def test_hvp_keeps_working_inside_no_grad():
    with mt.no_grad():
        hv = mt.hvp(lambda t: (t**3).sum(), [1.0, 2.0], [1.0, 0.0])
    np.testing.assert_allclose(hv.data, [6.0, 0.0])
