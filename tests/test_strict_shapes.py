"""Strict shapes: a gradient() that returns a broadcast shape is an error, not a silent sum."""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import CASES

import mytorch as mt
from mytorch import ops


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


@pytest.mark.parametrize("name", sorted(CASES))
def test_built_in_ops_pass_under_strict_shapes(name):
    case = CASES[name]
    rng = np.random.default_rng(len(name))
    with mt.strict_shapes():
        report = mt.gradcheck(case.fn, *case.make_inputs(rng), seed=3)
    assert report, str(report)


def test_every_engine_op_has_a_case():
    covered = {case.op for case in CASES.values()}
    all_ops = {c for c in vars(ops).values() if isinstance(c, type) and issubclass(c, ops.Op)} - {
        ops.Op,
        ops.Reduction,
        ops.Cast,
    }
    assert all_ops - covered == set()
