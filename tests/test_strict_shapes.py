"""Strict shapes: a gradient() that returns a broadcast shape is an error, not a silent sum.

Every op of the catalogue (``mytorch_course.catalogue``) passes under strict shapes on each
of its probes, broadcasting ones included, with the catalogue's gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

import mytorch as mt
from mytorch import ops
from mytorch_course.catalogue import RULES, seeded_cases


class ForgetsToUnbroadcast(ops.Op):
    """a + b whose gradient hands out_grad to both inputs as is (the classic bug)."""

    def compute(self, a, b):
        return a + b

    def gradient(self, out_grad, node):
        return out_grad, out_grad


def wrong_sum():
    a = mt.Tensor(np.ones((4, 3)), requires_grad=True)
    b = mt.Tensor(np.arange(3.0), requires_grad=True)
    return ForgetsToUnbroadcast()(a, b).sum(), b


MESSAGE = (
    r"ForgetsToUnbroadcast\.gradient\(\) returned a gradient of shape \(4, 3\) "
    r"for input 1, whose shape is \(3,\)"
)


def test_default_is_lenient_and_sums():
    assert not mt.is_strict_shapes()
    loss, b = wrong_sum()
    loss.backward()
    np.testing.assert_array_equal(b.grad.data, [4.0, 4.0, 4.0])


def test_strict_context_names_op_input_and_both_shapes():
    loss, b = wrong_sum()
    with mt.strict_shapes(), pytest.raises(mt.GradientError, match=MESSAGE):
        loss.backward()
    assert b.grad is None and not mt.is_strict_shapes()  # nothing half-done, mode restored


def test_strict_per_call_and_global_switch():
    loss, _ = wrong_sum()
    with pytest.raises(mt.GradientError, match="strict shapes"):
        mt.backward(loss, strict_shapes=True)
    with pytest.raises(mt.GradientError, match=MESSAGE):
        mt.grad(*_loss_and_inputs(), strict_shapes=True)
    mt.set_strict_shapes(True)
    try:
        with pytest.raises(mt.GradientError, match=MESSAGE):
            wrong_sum()[0].backward()
        mt.backward(wrong_sum()[0], strict_shapes=False)  # a per-call False wins
    finally:
        mt.set_strict_shapes(False)


def _loss_and_inputs():
    loss, b = wrong_sum()
    return loss, [b]


CASES = {name: seeded_cases(name) for name in RULES}


@pytest.mark.parametrize(
    ("name", "index"), [(name, i) for name, cases in CASES.items() for i in range(len(cases))]
)
def test_catalogue_ops_pass_under_strict_shapes(name: str, index: int) -> None:
    rule, case = RULES[name], CASES[name][index]
    op = getattr(ops, rule.op_class)(**case.params)
    tensors = [mt.Tensor(x.copy(), requires_grad=True) for x in case.inputs]
    out_grad = np.random.default_rng(index).standard_normal(np.shape(op(*tensors).data))
    with mt.strict_shapes():
        op(*tensors).backward(mt.Tensor(out_grad))
    want = rule.vjp(out_grad, *case.inputs, **case.params)
    for i, (tensor, grad) in enumerate(zip(tensors, want, strict=True)):
        where = f"{name} on shapes {[x.shape for x in case.inputs]}, input {i}"
        assert tensor.grad is not None and tensor.grad.shape == grad.shape, where
        np.testing.assert_allclose(tensor.grad.data, grad, rtol=1e-10, atol=1e-12, err_msg=where)
