"""The tape bisector names the first op whose gradient() disagrees with finite differences."""

from __future__ import annotations

import numpy as np

import mytorch as mt
from mytorch.ops import Op


class PlantedSquare(Op):
    """x**2 with a wrong gradient (3x instead of 2x)."""

    def compute(self, a):
        return a * a

    def gradient(self, out_grad, node):
        return (out_grad * 3.0 * node.inputs[0],)


class PlantedShift(Op):
    def compute(self, a):
        return a + 1.0

    def gradient(self, out_grad, node):
        return (out_grad * 0.5,)


def model(x: mt.Tensor, w: mt.Tensor, planted: list[Op]) -> mt.Tensor:
    h = mt.tanh(x @ w)
    h = planted[0](h) if len(planted) > 0 else h * h
    h = mt.exp(h) + 1.0
    h = planted[1](h) if len(planted) > 1 else h + 1.0
    return mt.logsumexp(h, axis=1).mean()


def inputs():
    rng = np.random.default_rng(0)
    return (
        mt.Tensor(rng.standard_normal((4, 3))),
        mt.Tensor(rng.standard_normal((3, 5)), requires_grad=True),
    )


def test_correct_graph_passes():
    report = mt.bisect_tape(model(*inputs(), []))
    assert report and report.checked >= 6


def test_names_the_planted_op():
    report = mt.bisect_tape(model(*inputs(), [PlantedSquare()]))
    assert not report
    assert isinstance(report.culprit.op, PlantedSquare)
    assert "PlantedSquare" in str(report)


def test_names_the_first_of_two_wrong_ops():
    report = mt.bisect_tape(model(*inputs(), [PlantedSquare(), PlantedShift()]))
    assert isinstance(report.culprit.op, PlantedSquare)


def test_names_a_later_wrong_op_when_it_is_the_only_one():
    report = mt.bisect_tape(model(*inputs(), [mt.ops.Tanh(), PlantedShift()]))
    assert isinstance(report.culprit.op, PlantedShift)
