"""MyTorch: a small, readable autograd engine on numpy, built for teaching.

Read it bottom-up, one layer at a time (each imports only the layers before it in this
list): ``tensor.py`` (Tensor), ``recording.py`` (grad mode and the operation list),
``ops/`` (every op's ``compute``, ``gradient`` and ``tangent`` side by side, one module
per family), ``autograd.py`` (the memory buffer, backward, ``grad``), ``func.py`` (forward
mode: ``jvp``, ``vjp``, ``jacobian``, ``hvp``), then ``check.py`` (finite differences,
gradcheck, the tape bisector), ``draw.py``, ``nn``, ``optim``.
"""

from . import data, nn, ops, optim
from .autograd import (
    MemoryBuffer,
    backward,
    grad,
    is_strict_shapes,
    plugged_engine,
    set_strict_shapes,
    strict_shapes,
    trace_backward,
    use_engine,
)
from .check import (
    GradcheckReport,
    apply_op,
    bisect_tape,
    gradcheck,
    gradcheck_op,
    numerical_gradient,
    op_gradients,
)
from .draw import draw, tape_summary
from .func import hvp, jacobian, jvp, vjp
from .ops import (
    abs,
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
    sqrt,
    sub,
    sum,
    tanh,
    transpose,
    unbroadcast,
)
from .recording import Operation, OperationList, enable_grad, is_grad_enabled, no_grad, tape
from .tensor import GradientError, Tensor

__version__ = "0.1.0"

__all__ = [
    "GradcheckReport", "GradientError", "MemoryBuffer", "Operation", "OperationList", "Tensor",
    "abs", "add", "apply_op", "backward", "bisect_tape", "broadcast_to", "cos", "data", "div",
    "draw", "enable_grad", "exp", "grad", "gradcheck", "gradcheck_op", "hvp",
    "is_grad_enabled", "is_strict_shapes", "jacobian", "jvp", "log", "log_softmax",
    "logsumexp", "matmul", "max", "maximum", "mean", "mul", "neg", "nn", "no_grad",
    "numerical_gradient", "op_gradients", "ops", "optim", "power", "relu", "reshape",
    "set_strict_shapes", "sigmoid", "sin", "softmax", "sqrt", "strict_shapes", "sub", "sum",
    "tanh", "tape", "tape_summary", "trace_backward", "transpose", "unbroadcast", "use_engine",
    "vjp", "plugged_engine",
]  # fmt: skip
