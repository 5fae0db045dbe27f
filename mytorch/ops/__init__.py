"""Differentiable operations, one module per family.

Read ``base.py`` first (the ``Op`` contract), then any family: ``elementwise``,
``reduction``, ``shape``, ``linalg``; ``comparison`` holds the non-differentiable
comparisons. In every family each op's class is followed directly by its function.
"""

from .base import Axis, Op, const, keepdims_shape, normalized_axes, unbroadcast
from .comparison import eq, ge, gt, le, lt, ne
from .elementwise import (
    Abs,
    Add,
    Cast,
    Cos,
    Div,
    Exp,
    Log,
    Maximum,
    Mul,
    Neg,
    Pow,
    PowerScalar,
    ReLU,
    Sigmoid,
    Sin,
    Sqrt,
    Sub,
    Tanh,
    abs,
    add,
    cast,
    cos,
    div,
    exp,
    log,
    maximum,
    mul,
    neg,
    power,
    relu,
    sigmoid,
    sin,
    sqrt,
    sub,
    tanh,
)
from .linalg import Affine, MatMul, affine, matmul
from .reduction import (
    LogSoftmax,
    LogSumExp,
    Max,
    Mean,
    Reduction,
    Softmax,
    Sum,
    log_softmax,
    logsumexp,
    max,
    mean,
    softmax,
    sum,
)
from .shape import (
    BroadcastTo,
    GetItem,
    Reshape,
    ScatterAdd,
    Transpose,
    broadcast_to,
    getitem,
    reshape,
    transpose,
)

__all__ = [
    "Abs", "Add", "Affine", "Axis", "BroadcastTo", "Cast", "Cos", "Div", "Exp", "GetItem",
    "Log", "LogSoftmax", "LogSumExp", "MatMul", "Max", "Maximum", "Mean", "Mul", "Neg", "Op",
    "Pow", "PowerScalar", "ReLU", "Reduction", "Reshape", "ScatterAdd", "Sigmoid", "Sin",
    "Softmax", "Sqrt", "Sub", "Sum", "Tanh", "Transpose", "abs", "add", "affine",
    "broadcast_to", "cast", "const", "cos", "div", "eq", "exp", "ge", "getitem", "gt",
    "keepdims_shape", "le", "log", "log_softmax", "logsumexp", "lt", "matmul", "max",
    "maximum", "mean", "mul", "ne", "neg", "normalized_axes", "power", "relu", "reshape",
    "sigmoid", "sin", "softmax", "sqrt", "sub", "sum", "tanh", "transpose", "unbroadcast",
]  # fmt: skip
