"""The engine's ops that the catalogue leaves out: indexing, its adjoint, and the fused loss.

The catalogue (``mytorch_course.catalogue``) holds every other op, and tests/test_strict_shapes.py
and tests/test_forward_mode.py check those on its probes. These three get the same checks here,
on one case each, in float64: strict shapes with float64 central differences, and the tangent
against finite differences and the dot-product test <u, J v> == <J^T u, v>.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import mytorch as mt
from mytorch import ops
from mytorch.nn import functional as F
from mytorch_course.catalogue import RULES

TARGETS = np.array([2, 0, 1, 2])
INDEX = (np.array([0, 2, 2, 1]), slice(None))  # a repeated row: gradients must add up

# op class -> (function of tensors, input shape)
CASES: dict[type, tuple[Callable[[mt.Tensor], mt.Tensor], tuple[int, ...]]] = {
    ops.GetItem: (lambda a: a[INDEX], (3, 2)),
    ops.ScatterAdd: (lambda v: ops.ScatterAdd(INDEX, (3, 2))(v), (4, 2)),
    F.SoftmaxCrossEntropy: (lambda z: F.cross_entropy(z, TARGETS), (4, 3)),
}
IDS = [op.__name__ for op in CASES]


@pytest.mark.parametrize("op", CASES, ids=IDS)
def test_passes_under_strict_shapes(op: type) -> None:
    fn, shape = CASES[op]
    x = np.random.default_rng(1).uniform(-2.0, 2.0, shape)
    with mt.strict_shapes():
        report = mt.gradcheck(fn, x, seed=3)
    assert report, str(report)


@pytest.mark.parametrize("op", CASES, ids=IDS)
def test_tangent_against_the_vjp_and_finite_differences(op: type) -> None:
    fn, shape = CASES[op]
    rng = np.random.default_rng(7)
    x, v = rng.uniform(-2.0, 2.0, shape), rng.standard_normal(shape)
    out, jv = mt.jvp(fn, (x,), (v,))
    eps = 1e-6
    numerical = (fn(mt.Tensor(x + eps * v)).data - fn(mt.Tensor(x - eps * v)).data) / (2 * eps)
    np.testing.assert_allclose(jv.data, numerical, rtol=1e-6, atol=1e-8)
    u = rng.standard_normal(out.shape)
    _, vjp_fn = mt.vjp(fn, x)
    (jtu,) = vjp_fn(u)
    assert float(np.sum(u * jv.data)) == pytest.approx(float(np.sum(jtu.data * v)), rel=1e-10)


def test_every_engine_op_is_checked_here_or_in_the_catalogue() -> None:
    """Cast only changes the dtype: tests/test_pytorch_names.py checks it with mixed dtypes."""
    every_op = {c for c in vars(ops).values() if isinstance(c, type) and issubclass(c, ops.Op)}
    in_catalogue = {getattr(ops, rule.op_class) for rule in RULES.values()}
    assert every_op - in_catalogue - set(CASES) == {ops.Op, ops.Reduction, ops.Cast}
