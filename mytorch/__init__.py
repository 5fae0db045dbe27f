"""MyTorch: a small, readable autograd engine on numpy, built for teaching.

Read it in this order: ``tensor.py`` (Tensor, the operation list, the memory buffer and
backward), ``ops.py`` (every op's ``compute`` and ``gradient`` side by side), then
``check.py`` (finite differences, gradcheck, the tape bisector) and ``draw.py``.
"""

from . import ops
from .check import GradcheckReport, bisect_tape, gradcheck, hvp, numerical_gradient
from .draw import draw, tape_summary
from .ops import (
    add,
    broadcast_to,
    cos,
    div,
    exp,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    mul,
    neg,
    power,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    sub,
    sum,
    tanh,
    transpose,
)
from .tensor import (
    GradientError,
    MemoryBuffer,
    Operation,
    OperationList,
    Tensor,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    tape,
    trace_backward,
    unbroadcast,
)

__version__ = "0.1.0"

__all__ = [
    "GradcheckReport",
    "GradientError",
    "MemoryBuffer",
    "Operation",
    "OperationList",
    "Tensor",
    "add",
    "bisect_tape",
    "broadcast_to",
    "cos",
    "div",
    "draw",
    "enable_grad",
    "exp",
    "grad",
    "gradcheck",
    "hvp",
    "is_grad_enabled",
    "log",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "mul",
    "neg",
    "no_grad",
    "numerical_gradient",
    "ops",
    "power",
    "relu",
    "reshape",
    "sigmoid",
    "sin",
    "softmax",
    "sub",
    "sum",
    "tanh",
    "tape",
    "tape_summary",
    "trace_backward",
    "transpose",
    "unbroadcast",
]
