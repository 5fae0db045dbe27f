"""One case per op of the engine, with broadcasting inputs where the op broadcasts.

Shared by the strict-shapes tests and the forward-mode tests. Each case is a function of
float64 arrays drawn from a domain away from kinks, ties and singularities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import mytorch as mt
from mytorch import ops
from mytorch.nn import functional as F


@dataclass
class Case:
    op: type  # the op class this case exercises
    fn: Callable[..., mt.Tensor]
    make_inputs: Callable[[np.random.Generator], list[np.ndarray]]


def u(shape, low=-2.0, high=2.0):
    return lambda rng: rng.uniform(low, high, size=shape)


def away_from_zero(shape, low=0.3, high=2.0):
    return lambda rng: rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def distinct(shape):
    def make(rng):
        n = int(np.prod(shape))
        return (rng.permutation(n) * 0.1 + rng.uniform(0, 0.02)).reshape(shape) - n * 0.05

    return make


def inputs(*makers):
    return lambda rng: [make(rng) for make in makers]


def no_ties(rng):
    return [rng.integers(-10, 10, size=(4, 3)) * 0.2, rng.integers(-10, 10, size=(3,)) * 0.2 + 0.1]


TARGETS = np.array([2, 0, 1, 2])
INDEX = (np.array([0, 2, 2, 1]), slice(None))  # a repeated row: gradients must add up

CASES: dict[str, Case] = {
    "add": Case(ops.Add, mt.add, inputs(u((4, 3)), u((3,)))),
    "sub": Case(ops.Sub, mt.sub, inputs(u((4, 1)), u((1, 3)))),
    "neg": Case(ops.Neg, mt.neg, inputs(u((3, 2)))),
    "mul": Case(ops.Mul, mt.mul, inputs(u((2, 4, 3)), u((4, 1)))),
    "div": Case(ops.Div, mt.div, inputs(u((4, 3)), away_from_zero((3,)))),
    "power_scalar": Case(ops.PowerScalar, lambda a: a**3, inputs(u((3, 2)))),
    "power_root": Case(ops.PowerScalar, lambda a: a**-0.5, inputs(u((3, 2), 0.5, 2.0))),
    "pow": Case(ops.Pow, mt.power, inputs(u((4, 3), 0.5, 2.0), u((3,)))),
    "exp": Case(ops.Exp, mt.exp, inputs(u((3, 2)))),
    "log": Case(ops.Log, mt.log, inputs(u((3, 2), 0.3, 3.0))),
    "sin": Case(ops.Sin, mt.sin, inputs(u((3, 2)))),
    "cos": Case(ops.Cos, mt.cos, inputs(u((3, 2)))),
    "tanh": Case(ops.Tanh, mt.tanh, inputs(u((3, 2)))),
    "sigmoid": Case(ops.Sigmoid, mt.sigmoid, inputs(u((3, 2), -4.0, 4.0))),
    "relu": Case(ops.ReLU, mt.relu, inputs(away_from_zero((3, 2)))),
    "sqrt": Case(ops.Sqrt, mt.sqrt, inputs(u((3, 2), 0.3, 3.0))),
    "abs": Case(ops.Abs, mt.abs, inputs(away_from_zero((3, 2)))),
    "maximum": Case(ops.Maximum, mt.maximum, no_ties),
    "sum": Case(ops.Sum, lambda a: a.sum(axis=(0, -1), keepdims=True), inputs(u((2, 3, 4)))),
    "sum_all": Case(ops.Sum, mt.sum, inputs(u((2, 3)))),
    "mean": Case(ops.Mean, lambda a: a.mean(dim=-1), inputs(u((2, 3, 4)))),
    "max": Case(ops.Max, lambda a: a.max(axis=0), inputs(distinct((3, 4)))),
    "logsumexp": Case(ops.LogSumExp, lambda a: mt.logsumexp(a, axis=-1), inputs(u((3, 4)))),
    "softmax": Case(ops.Softmax, lambda a: mt.softmax(a, axis=0), inputs(u((3, 4)))),
    "log_softmax": Case(ops.LogSoftmax, mt.log_softmax, inputs(u((3, 4)))),
    "reshape": Case(ops.Reshape, lambda a: a.reshape(4, -1), inputs(u((2, 3, 2)))),
    "transpose": Case(ops.Transpose, lambda a: mt.transpose(a, (-1, 0, 1)), inputs(u((2, 3, 4)))),
    "broadcast_to": Case(
        ops.BroadcastTo, lambda a: mt.broadcast_to(a, (2, 4, 3)), inputs(u((4, 1)))
    ),
    "getitem": Case(ops.GetItem, lambda a: a[INDEX], inputs(u((3, 2)))),
    "scatter_add": Case(
        ops.ScatterAdd, lambda v: ops.ScatterAdd(INDEX, (3, 2))(v), inputs(u((4, 2)))
    ),
    "matmul": Case(ops.MatMul, mt.matmul, inputs(u((3, 4)), u((4, 2)))),
    "matmul_batched": Case(ops.MatMul, mt.matmul, inputs(u((2, 3, 4)), u((4, 5)))),
    "matmul_vector": Case(ops.MatMul, mt.matmul, inputs(u((4,)), u((2, 4, 3)))),
    "affine": Case(ops.Affine, ops.affine, inputs(u((5, 3)), u((3, 2)), u((2,)))),
    "cross_entropy": Case(
        F.SoftmaxCrossEntropy, lambda z: F.cross_entropy(z, TARGETS), inputs(u((4, 3)))
    ),
}
