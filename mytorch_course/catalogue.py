"""The op catalogue: every differentiable op of ``mytorch`` as numpy rules, written once.

One entry per op, keyed by the engine's function name (``mytorch.<name>``): its forward
pass, its vector-Jacobian product (reverse mode), its Jacobian-vector product (forward mode),
probes drawn inside the op's domain, the typical mistakes with the hint each deserves, and
the rules in TeX for the book. The engine's tests, the graders and the book's table of rules
all read this table, so a rule is written once. It needs numpy only (never ``mytorch``), so
it can check the engine without trusting it.

Conventions, for every rule:

* ``forward(*inputs, **params)`` returns the output.
* ``vjp(out_grad, *inputs, **params)`` returns one gradient per input, each exactly its
  input's shape (the un-broadcast is done here).
* ``jvp(tangents, *inputs, **params)`` returns the output's tangent (tangents: one per input,
  each shaped like its input).
* ``params`` are listed in the order of the engine function's parameters after the inputs,
  so ``getattr(mytorch, name)(*tensors, *case.params.values())`` runs the engine's op.
* A mistake's ``vjp`` may raise ``ValueError`` on a case where it cannot even produce
  arrays (a forgotten transpose of a non-square matrix): a student's code would have
  raised there too, so the mistake simply does not match that case. A mistake may also
  agree with the correct rule on some cases (``no_unbroadcast`` where nothing was
  broadcast): name it to a student only where the two differ.

Regenerate the book's table of rules with ``python -m mytorch_course.catalogue --write-book``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray
Axis = int | tuple[int, ...] | None


@dataclass(frozen=True)
class Case:
    """One probe: inputs (float64 arrays) and keyword parameters."""

    inputs: tuple[np.ndarray, ...]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Mistake:
    """A typical wrong rule, and the hint a student should get for it."""

    name: str
    vjp: Callable[..., tuple[np.ndarray, ...]]
    hint: str


@dataclass(frozen=True)
class OpRule:
    """Everything the course knows about one differentiable op of the engine."""

    name: str  # engine function, mytorch.<name>
    op_class: str  # engine Op class, mytorch.ops.<op_class>
    forward: Callable[..., np.ndarray]
    vjp: Callable[..., tuple[np.ndarray, ...]]
    jvp: Callable[..., np.ndarray]
    cases: Callable[[np.random.Generator], list[Case]]
    mistakes: tuple[Mistake, ...]
    forward_tex: str
    vjp_tex: str
    jvp_tex: str


# --- shared helpers -----------------------------------------------------------------------


def unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape``."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return np.array(grad, dtype=np.float64).reshape(shape)


def reduced_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """The axes a reduction removes, as non-negative numbers (None: all of them)."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


def keepdims_shape(shape: tuple[int, ...], axis: Axis) -> tuple[int, ...]:
    """``shape`` with a 1 in each reduced axis: how a reduction's output lines up with its input."""
    axes = reduced_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def expand(out_grad: Array, shape: tuple[int, ...], axis: Axis) -> Array:
    """Copy a reduction's upstream gradient back over the reduced axes."""
    return np.broadcast_to(out_grad.reshape(keepdims_shape(shape, axis)), shape).copy()


def stable_sigmoid(a: Array) -> Array:
    """``1 / (1 + exp(-a))`` with no overflowing exp (the engine computes it the same way)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(a: Array, axis: Axis) -> Array:
    shifted = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


def logsumexp(a: Array, axis: Axis = None, keepdims: bool = False) -> Array:
    top = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return out if keepdims else out.reshape(np.sum(a, axis=axis).shape)


def max_winners(a: Array, axis: Axis) -> Array:
    """Where ``a`` attains its maximum over ``axis``; tied maxima share the weight equally."""
    winners = (a == np.max(a, axis=axis, keepdims=True)).astype(np.float64)
    return winners / winners.sum(axis=reduced_axes(axis, a.ndim), keepdims=True)


def maximum_share(a: Array, b: Array) -> Array:
    """The share of ``maximum(a, b)``'s gradient that goes to ``a`` (a tie: half each)."""
    return (a > b) + 0.5 * (a == b)


def swap_last(x: Array) -> Array:
    return np.swapaxes(x, -1, -2)


def inverse_permutation(axes: tuple[int, ...] | None, ndim: int) -> tuple[int, ...] | None:
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]).tolist())


# --- input domains: (rng, shape) -> float64 array -----------------------------------------

Domain = Callable[[np.random.Generator, tuple[int, ...]], Array]


def anywhere(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    return rng.uniform(-2.0, 2.0, shape)


def wide(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    """Far enough out that sigmoid saturates (its engine has two branches)."""
    return rng.uniform(-5.0, 5.0, shape)


def positive(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    """Away from 0 and below, for log, sqrt, fractional powers, a tensor exponent's base."""
    return rng.uniform(0.3, 3.0, shape)


def nonzero(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    """Either sign, at least 0.2 from 0: the kink of relu and abs, the pole of 1/x."""
    return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    """All values at least 0.2 apart, so a max has exactly one winner along any axis."""
    n = int(np.prod(shape))
    values = (rng.permutation(n) - n / 2) * 0.25 + rng.uniform(0.0, 0.05, n)
    return values.reshape(shape)


def on_grid(offset: float) -> Domain:
    """Near multiples of 0.5 plus ``offset``: two grids 0.25 apart never tie (for maximum)."""

    def draw(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
        return rng.integers(-4, 5, shape) * 0.5 + offset + rng.uniform(-0.05, 0.05, shape)

    return draw


# --- probes: shapes of rank 0 to 3, broadcasting, negative axes, keepdims -----------------

UNARY_SHAPES = [(), (4,), (2, 3), (3, 3), (2, 3, 4)]
BINARY_SHAPES = [
    ((), ()),
    ((4,), (4,)),
    ((3, 3), (3, 3)),
    ((2, 3), (3,)),  # the second is broadcast along a new leading axis
    ((3,), (2, 3)),
    ((2, 1, 4), (3, 1)),  # both are stretched
    ((), (2, 3)),
    ((2, 3, 4), ()),
    ((4, 1), (1, 3)),
]
REDUCTIONS = [  # (shape, axis, keepdims)
    ((), None, False),
    ((4,), None, False),
    ((4,), 0, True),
    ((2, 3), 1, False),
    ((3, 3), -1, False),
    ((3, 3), 0, True),
    ((2, 3, 4), (0, 2), False),
    ((2, 3, 4), -2, True),
    ((2, 3, 4), None, True),
    ((2, 3, 4), (-1, -3), True),
]
SOFTMAX_AXES = [((4,), -1), ((2, 3), 0), ((3, 3), -1), ((2, 3, 4), 1), ((2, 3, 4), -3)]


def unary_cases(domain: Domain) -> Callable[[np.random.Generator], list[Case]]:
    return lambda rng: [Case((domain(rng, s),)) for s in UNARY_SHAPES]


def binary_cases(
    domain_a: Domain, domain_b: Domain | None = None
) -> Callable[[np.random.Generator], list[Case]]:
    domain_b = domain_b or domain_a
    return lambda rng: [Case((domain_a(rng, sa), domain_b(rng, sb))) for sa, sb in BINARY_SHAPES]


def reduction_cases(domain: Domain) -> Callable[[np.random.Generator], list[Case]]:
    return lambda rng: [
        Case((domain(rng, s),), {"axis": axis, "keepdims": keep}) for s, axis, keep in REDUCTIONS
    ]


def softmax_cases(rng: np.random.Generator) -> list[Case]:
    return [Case((rng.uniform(-3.0, 3.0, s),), {"axis": axis}) for s, axis in SOFTMAX_AXES]


def power_cases(rng: np.random.Generator) -> list[Case]:
    # Integer exponents take any base (but 1/x needs one away from 0); fractional ones a
    # positive base.
    exponents = [(2, anywhere), (3, anywhere), (0, anywhere), (1, anywhere), (-1, nonzero)]
    exponents += [(0.5, positive), (-1.5, positive), (2.5, positive)]
    return [
        Case((domain(rng, UNARY_SHAPES[i % len(UNARY_SHAPES)]),), {"exponent": p})
        for i, (p, domain) in enumerate(exponents)
    ]


def shape_cases(
    name: str, pairs: list[tuple[tuple[int, ...], Any]]
) -> Callable[[np.random.Generator], list[Case]]:
    return lambda rng: [Case((anywhere(rng, s),), {name: value}) for s, value in pairs]


def matmul_cases(rng: np.random.Generator) -> list[Case]:
    shapes = [
        ((2, 3), (3, 4)),
        ((3, 3), (3, 3)),  # square: a forgotten transpose still runs
        ((5, 10, 20), (20, 30)),  # B is shared by the batch: its gradient sums over it
        ((2, 1, 3, 4), (5, 4, 2)),  # batch axes broadcast against each other
        ((3,), (3, 4)),
        ((2, 3), (3,)),
        ((4,), (4,)),
    ]
    return [Case((anywhere(rng, sa), anywhere(rng, sb))) for sa, sb in shapes]


def affine_cases(rng: np.random.Generator) -> list[Case]:
    shapes = [((4, 3), (3, 2), (2,)), ((3, 3), (3, 3), (3,)), ((1, 5), (5, 4), (4,))]
    return [Case(tuple(anywhere(rng, s) for s in triple)) for triple in shapes]


# --- mistakes that many ops share -----------------------------------------------------------


def ignores_out_grad(vjp: Callable[..., tuple[Array, ...]]) -> Mistake:
    return Mistake(
        "ignores_out_grad",
        lambda g, *xs, **p: vjp(np.ones_like(g), *xs, **p),
        "multiply by out_grad: the chain rule scales the local derivative by the upstream "
        "gradient (your result is right only when out_grad is all ones)",
    )


def unary_mistake(name: str, derivative: Callable[..., Array], hint: str) -> Mistake:
    return Mistake(name, lambda g, a, **p: (g * derivative(a, **p),), hint)


def binary_vjp(partials: Callable[[Array, Array], tuple[Any, Any]]) -> Callable[..., Any]:
    def vjp(g: Array, a: Array, b: Array) -> tuple[Array, Array]:
        da, db = partials(a, b)
        return unbroadcast(g * da, a.shape), unbroadcast(g * db, b.shape)

    return vjp


def binary_mistake(
    name: str, partials: Callable[[Array, Array], tuple[Any, Any]], hint: str
) -> Mistake:
    return Mistake(name, binary_vjp(partials), hint)


NO_UNBROADCAST_HINT = (
    "sum the gradient over the axes that broadcasting added or stretched, so that it has its "
    "input's shape"
)


def no_unbroadcast(partials: Callable[[Array, Array], tuple[Any, Any]]) -> Mistake:
    def vjp(g: Array, a: Array, b: Array) -> tuple[Array, Array]:
        da, db = partials(a, b)
        return np.broadcast_to(g * da, g.shape).copy(), np.broadcast_to(g * db, g.shape).copy()

    return Mistake("no_unbroadcast", vjp, NO_UNBROADCAST_HINT)


# --- the rules ------------------------------------------------------------------------------

RULES: dict[str, OpRule] = {}


def array_result(f: Callable[..., Any]) -> Callable[..., Array]:
    # A fresh array: numpy gives scalars for some 0-d results, and views (reshape,
    # broadcast_to) that a caller writing into them would corrupt or could not write.
    return functools.wraps(f)(lambda *args, **kw: np.array(f(*args, **kw), dtype=np.float64))


def array_results(f: Callable[..., Any]) -> Callable[..., tuple[Array, ...]]:
    return functools.wraps(f)(
        lambda *args, **kw: tuple(np.array(r, dtype=np.float64) for r in f(*args, **kw))
    )


def register(rule: OpRule) -> None:
    """Add ``rule`` to RULES; every result its functions return becomes a float64 array."""
    RULES[rule.name] = dataclasses.replace(
        rule,
        forward=array_result(rule.forward),
        vjp=array_results(rule.vjp),
        jvp=array_result(rule.jvp),
        mistakes=tuple(dataclasses.replace(m, vjp=array_results(m.vjp)) for m in rule.mistakes),
    )


def unary(
    name: str,
    op_class: str,
    forward: Callable[..., Array],
    derivative: Callable[..., Array],
    cases: Callable[[np.random.Generator], list[Case]],
    tex: tuple[str, str, str],
    *mistakes: Mistake,
) -> None:
    """An elementwise op of one input: everything follows from its local derivative."""

    def vjp(g: Array, a: Array, **p: Any) -> tuple[Array]:
        return (g * derivative(a, **p),)

    def jvp(t: tuple[Array], a: Array, **p: Any) -> Array:
        return t[0] * derivative(a, **p)

    register(
        OpRule(name, op_class, forward, vjp, jvp, cases, (*mistakes, ignores_out_grad(vjp)), *tex)
    )


def binary(
    name: str,
    op_class: str,
    forward: Callable[[Array, Array], Array],
    partials: Callable[[Array, Array], tuple[Any, Any]],
    cases: Callable[[np.random.Generator], list[Case]],
    tex: tuple[str, str, str],
    *mistakes: Mistake,
) -> None:
    """An elementwise op of two broadcasting inputs, from its two local partial derivatives."""

    def jvp(t: tuple[Array, Array], a: Array, b: Array) -> Array:
        da, db = partials(a, b)
        return np.broadcast_to(t[0] * da + t[1] * db, np.broadcast_shapes(a.shape, b.shape))

    vjp = binary_vjp(partials)
    every = (*mistakes, no_unbroadcast(partials), ignores_out_grad(vjp))
    register(OpRule(name, op_class, forward, vjp, jvp, cases, every, *tex))


# Elementwise ops. TeX: y is the output, \bar y its upstream gradient, \dot a a tangent.
# fmt: off
binary("add", "Add", np.add, lambda a, b: (1.0, 1.0), binary_cases(anywhere),
       (r"a + b", r"\bar a = \bar y,\ \bar b = \bar y", r"\dot a + \dot b"))
binary("sub", "Sub", np.subtract, lambda a, b: (1.0, -1.0), binary_cases(anywhere),
       (r"a - b", r"\bar a = \bar y,\ \bar b = -\bar y", r"\dot a - \dot b"),
       binary_mistake("sign_flip", lambda a, b: (1.0, 1.0),
                      "the second input is subtracted: its gradient is -out_grad"))
unary("neg", "Neg", np.negative, lambda a: -np.ones_like(a), unary_cases(anywhere),
      (r"-a", r"\bar a = -\bar y", r"-\dot a"),
      unary_mistake("sign_flip", lambda a: np.ones_like(a), "d(-a)/da = -1: negate out_grad"))
binary("mul", "Mul", np.multiply, lambda a, b: (b, a), binary_cases(anywhere),
       (r"a b", r"\bar a = \bar y\, b,\ \bar b = \bar y\, a", r"\dot a\, b + a\, \dot b"),
       binary_mistake("swapped_inputs", lambda a, b: (a, b),
                      "each input's gradient is out_grad times the *other* input"))
binary("div", "Div", np.divide, lambda a, b: (1.0 / b, -a / b**2), binary_cases(anywhere, nonzero),
       (r"a / b", r"\bar a = \bar y / b,\ \bar b = -\bar y\, a / b^2",
        r"\dot a / b - a\, \dot b / b^2"),
       binary_mistake("sign_flip", lambda a, b: (1.0 / b, a / b**2),
                      "d(a/b)/db = -a/b**2: the denominator's gradient is negative"),
       binary_mistake("forgot_square", lambda a, b: (1.0 / b, -a / b),
                      "d(a/b)/db = -a/b**2: square the denominator"))
unary("power", "PowerScalar", lambda a, exponent: a**exponent,
      lambda a, exponent: exponent * a ** (exponent - 1) if exponent else np.zeros_like(a),
      power_cases, (r"a^p", r"\bar a = \bar y\, p\, a^{p-1}", r"p\, a^{p-1} \dot a"),
      unary_mistake("off_by_one_exponent", lambda a, exponent: exponent * a**exponent,
                    "d(a**p)/da = p * a**(p-1): lower the exponent by one"),
      unary_mistake("forgot_exponent_factor", lambda a, exponent: a ** (exponent - 1),
                    "d(a**p)/da = p * a**(p-1): multiply by the exponent p"))
binary("pow", "Pow", np.power, lambda a, b: (b * a ** (b - 1), a**b * np.log(a)),
       binary_cases(positive, anywhere),
       (r"a^b", r"\bar a = \bar y\, b\, a^{b-1},\ \bar b = \bar y\, a^b \log a",
        r"b\, a^{b-1} \dot a + a^b \log a\, \dot b"),
       binary_mistake("forgot_log", lambda a, b: (b * a ** (b - 1), a**b),
                      "d(a**b)/db = a**b * log(a): you left out the log"),
       binary_mistake("constant_exponent", lambda a, b: (b * a ** (b - 1), 0.0 * b),
                      "the exponent is a tensor too: its gradient is out_grad * a**b * log(a)"))
unary("exp", "Exp", np.exp, np.exp, unary_cases(anywhere),
      (r"e^a", r"\bar a = \bar y\, y", r"y\, \dot a"),
      unary_mistake("input_instead_of_output", lambda a: a,
                    "d(exp a)/da = exp(a): multiply out_grad by the output, not the input"))
unary("log", "Log", np.log, lambda a: 1.0 / a, unary_cases(positive),
      (r"\log a", r"\bar a = \bar y / a", r"\dot a / a"),
      unary_mistake("multiplied_by_input", lambda a: a,
                    "d(log a)/da = 1/a: divide out_grad by the input"))
unary("sin", "Sin", np.sin, np.cos, unary_cases(anywhere),
      (r"\sin a", r"\bar a = \bar y \cos a", r"\cos a\, \dot a"),
      unary_mistake("sign_flip", lambda a: -np.cos(a), "d(sin a)/da = +cos(a)"))
unary("cos", "Cos", np.cos, lambda a: -np.sin(a), unary_cases(anywhere),
      (r"\cos a", r"\bar a = -\bar y \sin a", r"-\sin a\, \dot a"),
      unary_mistake("sign_flip", np.sin, "d(cos a)/da = -sin(a): mind the minus sign"))
unary("tanh", "Tanh", np.tanh, lambda a: 1.0 - np.tanh(a) ** 2, unary_cases(anywhere),
      (r"\tanh a", r"\bar a = \bar y\, (1 - y^2)", r"(1 - y^2)\, \dot a"),
      unary_mistake("forgot_square", lambda a: 1.0 - np.tanh(a),
                    "d(tanh a)/da = 1 - tanh(a)**2: square the output"),
      unary_mistake("input_instead_of_output", lambda a: 1.0 - a**2,
                    "d(tanh a)/da = 1 - y**2 with y = tanh(a), the output, not the input"))
unary("sigmoid", "Sigmoid", stable_sigmoid,
      lambda a: stable_sigmoid(a) * (1.0 - stable_sigmoid(a)), unary_cases(wide),
      (r"\sigma(a) = \frac{1}{1 + e^{-a}}", r"\bar a = \bar y\, y (1 - y)", r"y (1 - y)\, \dot a"),
      unary_mistake("forgot_one_minus", stable_sigmoid,
                    "d(sigmoid a)/da = s * (1 - s) with s = sigmoid(a)"),
      unary_mistake("input_instead_of_output", lambda a: a * (1.0 - a),
                    "d(sigmoid a)/da = y * (1 - y) with y the output, not the input"))
unary("relu", "ReLU", lambda a: np.maximum(a, 0.0), lambda a: (a > 0).astype(np.float64),
      unary_cases(nonzero),
      (r"\max(a, 0)", r"\bar a = \bar y\, [a > 0]", r"[a > 0]\, \dot a"),
      unary_mistake("no_mask", np.ones_like,
                    "relu passes the gradient only where its input is positive"),
      unary_mistake("inverted_mask", lambda a: (a < 0).astype(np.float64),
                    "relu passes the gradient where its input is positive (a > 0), not negative"))
unary("sqrt", "Sqrt", np.sqrt, lambda a: 0.5 / np.sqrt(a), unary_cases(positive),
      (r"\sqrt a", r"\bar a = \bar y / (2 y)", r"\dot a / (2 y)"),
      unary_mistake("forgot_half", lambda a: 1.0 / np.sqrt(a),
                    "d(sqrt a)/da = 1 / (2 sqrt(a)): you left out the 1/2"),
      unary_mistake("forgot_reciprocal", lambda a: 0.5 * np.sqrt(a),
                    "d(sqrt a)/da = 0.5 * a**-0.5: divide by the square root"))
unary("abs", "Abs", np.abs, np.sign, unary_cases(nonzero),
      (r"\lvert a \rvert", r"\bar a = \bar y\, \operatorname{sign}(a)",
       r"\operatorname{sign}(a)\, \dot a"),
      unary_mistake("no_sign", np.ones_like,
                    "abs flips the gradient where its input is negative: multiply by sign(a)"),
      unary_mistake("sign_flip", lambda a: -np.sign(a),
                    "d|a|/da = sign(a): +1 for positive a"))
binary("maximum", "Maximum", np.maximum,
       lambda a, b: (maximum_share(a, b), 1 - maximum_share(a, b)),
       binary_cases(on_grid(0.25), on_grid(0.0)),
       (r"\max(a, b)", r"\bar a = \bar y\, [a > b],\ \bar b = \bar y\, [a < b]",
        r"[a > b]\, \dot a + [a < b]\, \dot b"),
       binary_mistake("both_get_gradient", lambda a, b: (1.0, 1.0),
                      "only the larger input receives the gradient (mask with a > b)"),
       binary_mistake("swapped_mask", lambda a, b: (a < b, a > b),
                      "the gradient goes to the input that *is* the maximum (a > b for a)"))
# fmt: on


# Reductions over ``axis`` (None: all), keeping the reduced axes as 1s if ``keepdims``.


def sum_vjp(g: Array, a: Array, axis: Axis = None, keepdims: bool = False) -> tuple[Array]:
    return (expand(g, a.shape, axis),)


def mean_vjp(g: Array, a: Array, axis: Axis = None, keepdims: bool = False) -> tuple[Array]:
    count = int(np.prod([a.shape[i] for i in reduced_axes(axis, a.ndim)]))
    return (expand(g, a.shape, axis) / count,)


def max_vjp(g: Array, a: Array, axis: Axis = None, keepdims: bool = False) -> tuple[Array]:
    return (expand(g, a.shape, axis) * max_winners(a, axis),)


def logsumexp_vjp(g: Array, a: Array, axis: Axis = None, keepdims: bool = False) -> tuple[Array]:
    return (expand(g, a.shape, axis) * softmax(a, reduced_axes(axis, a.ndim)),)


def no_expand_dims(g: Array, a: Array, axis: Axis = None, keepdims: bool = False) -> tuple[Array]:
    # Broadcasting out_grad as it comes lines it up with the *last* axes, which is right only
    # when the reduced axes are the leading ones.
    try:
        return (np.broadcast_to(g, a.shape).copy(),)
    except ValueError:
        return sum_vjp(g, a, axis)


EXPAND_HINT = (
    "reshape out_grad to the input's shape with 1s in the reduced axes (keepdims) before "
    "broadcasting it back"
)
REDUCTION_TEX = r"\text{over the reduced axes } k"

# fmt: off
register(OpRule(
    "sum", "Sum", lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims),
    sum_vjp, lambda t, a, axis=None, keepdims=False: np.sum(t[0], axis=axis, keepdims=keepdims),
    reduction_cases(anywhere),
    (Mistake("no_expand_dims", no_expand_dims, EXPAND_HINT), ignores_out_grad(sum_vjp)),
    r"\textstyle\sum_k a_k", r"\bar a_k = \bar y", r"\textstyle\sum_k \dot a_k",
))
register(OpRule(
    "mean", "Mean", lambda a, axis=None, keepdims=False: np.mean(a, axis=axis, keepdims=keepdims),
    mean_vjp, lambda t, a, axis=None, keepdims=False: np.mean(t[0], axis=axis, keepdims=keepdims),
    reduction_cases(anywhere),
    (Mistake("forgot_divide", sum_vjp, "the mean divides by the count n: so does its gradient"),
     Mistake("no_expand_dims", lambda g, a, **p: (no_expand_dims(g, a, **p)[0]
                                                  * mean_vjp(np.ones_like(g), a, **p)[0],),
             EXPAND_HINT),
     ignores_out_grad(mean_vjp)),
    r"\frac{1}{n} \textstyle\sum_k a_k", r"\bar a_k = \bar y / n",
    r"\frac{1}{n} \textstyle\sum_k \dot a_k",
))
register(OpRule(
    "max", "Max", lambda a, axis=None, keepdims=False: np.max(a, axis=axis, keepdims=keepdims),
    max_vjp,
    lambda t, a, axis=None, keepdims=False: np.sum(t[0] * max_winners(a, axis), axis=axis,
                                                   keepdims=keepdims),
    reduction_cases(distinct),
    (Mistake("every_element", sum_vjp,
             "only the maximum element receives the gradient (mask with a == max)"),
     ignores_out_grad(max_vjp)),
    r"\max_k a_k", r"\bar a_k = \bar y\, [a_k = y]", r"\textstyle\sum_k [a_k = y]\, \dot a_k",
))
register(OpRule(
    "logsumexp", "LogSumExp", logsumexp, logsumexp_vjp,
    lambda t, a, axis=None, keepdims=False: np.sum(
        t[0] * softmax(a, reduced_axes(axis, a.ndim)), axis=axis, keepdims=keepdims),
    reduction_cases(lambda r, s: 1.5 * anywhere(r, s)),
    (Mistake("forgot_normalize", lambda g, a, axis=None, keepdims=False:
             (expand(g, a.shape, axis) * np.exp(a),),
             "the gradient is out_grad * exp(a - logsumexp(a)) (the softmax), not exp(a)"),
     ignores_out_grad(logsumexp_vjp)),
    r"\log \textstyle\sum_k e^{a_k}", r"\bar a_k = \bar y\, e^{a_k - y}",
    r"\textstyle\sum_k e^{a_k - y}\, \dot a_k",
))
# fmt: on


def softmax_vjp(g: Array, a: Array, axis: int = -1) -> tuple[Array]:
    s = softmax(a, axis)
    return (s * (g - np.sum(g * s, axis=axis, keepdims=True)),)


def log_softmax_vjp(g: Array, a: Array, axis: int = -1) -> tuple[Array]:
    return (g - softmax(a, axis) * np.sum(g, axis=axis, keepdims=True),)


# fmt: off
register(OpRule(
    "softmax", "Softmax", softmax, softmax_vjp,
    lambda t, a, axis=-1: softmax(a, axis) * (t[0] - np.sum(softmax(a, axis) * t[0], axis=axis,
                                                            keepdims=True)),
    softmax_cases,
    (Mistake("diagonal_only",
             lambda g, a, axis=-1: (g * softmax(a, axis) * (1 - softmax(a, axis)),),
             "softmax's Jacobian is not diagonal: the gradient is s * (g - sum(g * s, axis))"),
     ignores_out_grad(softmax_vjp)),
    r"y_k = e^{a_k} / \textstyle\sum_j e^{a_j}",
    r"\bar a = y \odot (\bar y - \textstyle\sum_k \bar y_k y_k)",
    r"y \odot (\dot a - \textstyle\sum_k y_k \dot a_k)",
))
register(OpRule(
    "log_softmax", "LogSoftmax", lambda a, axis=-1: a - logsumexp(a, axis, keepdims=True),
    log_softmax_vjp,
    lambda t, a, axis=-1: t[0] - np.sum(softmax(a, axis) * t[0], axis=axis, keepdims=True),
    softmax_cases,
    (Mistake("forgot_sum", lambda g, a, axis=-1: (g - softmax(a, axis) * g,),
             "subtract softmax(a) times the *sum* of out_grad over the axis"),
     ignores_out_grad(log_softmax_vjp)),
    r"y_k = a_k - \log \textstyle\sum_j e^{a_j}",
    r"\bar a = \bar y - e^{y} \textstyle\sum_k \bar y_k",
    r"\dot a - \textstyle\sum_k e^{y_k}\, \dot a_k",
))
# fmt: on

# Shapes.


def transpose_vjp(g: Array, a: Array, axes: tuple[int, ...] | None = None) -> tuple[Array]:
    return (np.transpose(g, inverse_permutation(axes, a.ndim)).copy(),)


def broadcast_to_vjp(g: Array, a: Array, shape: tuple[int, ...]) -> tuple[Array]:
    return (unbroadcast(g, a.shape),)


def sum_leading_axes_only(g: Array, a: Array, shape: tuple[int, ...]) -> tuple[Array]:
    return (g.sum(axis=tuple(range(g.ndim - a.ndim))),)


# fmt: off
register(OpRule(
    "reshape", "Reshape", lambda a, shape: np.reshape(a, shape),
    lambda g, a, shape: (g.reshape(a.shape).copy(),),
    lambda t, a, shape: t[0].reshape(shape).copy(),
    shape_cases("shape", [((), (1, 1)), ((4,), (2, 2)), ((2, 3), (6,)), ((2, 3), (3, -1)),
                          ((2, 3, 4), (4, 6)), ((6,), (1, 2, 3)), ((2, 3, 4), (24,))]),
    (Mistake("forgot_reshape", lambda g, a, shape: (g.copy(),),
             "reshape out_grad back to the input's shape"),
     ignores_out_grad(lambda g, a, shape: (g.reshape(a.shape).copy(),))),
    r"\operatorname{reshape}(a, s)", r"\bar a = \operatorname{reshape}(\bar y, \text{shape of } a)",
    r"\operatorname{reshape}(\dot a, s)",
))
register(OpRule(
    "transpose", "Transpose", lambda a, axes=None: np.transpose(a, axes), transpose_vjp,
    lambda t, a, axes=None: np.transpose(t[0], axes).copy(),
    shape_cases("axes", [((), None), ((4,), None), ((2, 3), None), ((2, 3, 4), None),
                         ((2, 3, 4), (1, 2, 0)), ((2, 3, 4), (-1, 0, 1)), ((3, 3), (-1, 0)),
                         ((2, 3, 4), (0, -1, -2))]),
    (Mistake("same_permutation", lambda g, a, axes=None: (np.transpose(g, axes).copy(),),
             "undo the permutation: transpose out_grad by the inverse axes, np.argsort(axes)"),
     Mistake("negative_axes_unnormalized",
             lambda g, a, axes=None: (np.transpose(g, None if axes is None else
                                                   tuple(np.argsort(axes).tolist())).copy(),),
             "turn negative axes into positive ones (axis % ndim) before inverting the "
             "permutation with np.argsort"),
     ignores_out_grad(transpose_vjp)),
    r"\operatorname{transpose}(a, \pi)", r"\bar a = \operatorname{transpose}(\bar y, \pi^{-1})",
    r"\operatorname{transpose}(\dot a, \pi)",
))
register(OpRule(
    "broadcast_to", "BroadcastTo", lambda a, shape: np.broadcast_to(a, shape).copy(),
    broadcast_to_vjp, lambda t, a, shape: np.broadcast_to(t[0], shape).copy(),
    shape_cases("shape", [((), (2, 3)), ((3,), (2, 3)), ((2, 1), (2, 3)), ((1, 3), (4, 2, 3)),
                          ((2, 1, 4), (3, 2, 5, 4)), ((4,), (4,))]),
    (Mistake("no_unbroadcast", lambda g, a, shape: (g.copy(),), NO_UNBROADCAST_HINT),
     Mistake("forgot_stretched_axes", sum_leading_axes_only,
             "also sum over the axes of length 1 that were stretched (keeping the 1)"),
     ignores_out_grad(broadcast_to_vjp)),
    r"\operatorname{broadcast}(a, s)", r"\bar a = \bar y \text{ summed over the broadcast axes}",
    r"\operatorname{broadcast}(\dot a, s)",
))
# fmt: on

# Linear algebra. Matmul follows numpy: 1-D operands are viewed as a row (a) or a column (b)
# and batch axes broadcast, so each gradient is summed back over the batch axes it shares.


def matmul_vjp(g: Array, a: Array, b: Array, batch_sum: bool = True) -> tuple[Array, Array]:
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
    grad_a, grad_b = g2 @ swap_last(b2), swap_last(a2) @ g2
    if not batch_sum:
        return grad_a, grad_b
    return unbroadcast(grad_a, a2.shape).reshape(a.shape), unbroadcast(grad_b, b2.shape).reshape(
        b.shape
    )


def matmul_forgot_transpose(g: Array, a: Array, b: Array) -> tuple[Array, Array]:
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError("this mistake is drawn for 2-D operands only")
    return g @ b, a @ g


def affine_vjp(g: Array, x: Array, weight: Array, bias: Array) -> tuple[Array, Array, Array]:
    return g @ weight.T, x.T @ g, g.sum(axis=0)


# fmt: off
register(OpRule(
    "matmul", "MatMul", np.matmul, matmul_vjp,
    lambda t, a, b: np.matmul(t[0], b) + np.matmul(a, t[1]), matmul_cases,
    (Mistake("forgot_transpose", matmul_forgot_transpose,
             "transpose the other operand: grad_a = out_grad @ b.T, grad_b = a.T @ out_grad"),
     Mistake("no_batch_sum", lambda g, a, b: matmul_vjp(g, a, b, batch_sum=False),
             "an operand shared by the batch gets the sum of its gradients over the batch axes"),
     ignores_out_grad(matmul_vjp)),
    r"A B", r"\bar A = \bar Y B^\top,\ \bar B = A^\top \bar Y", r"\dot A B + A \dot B",
))
register(OpRule(
    "affine", "Affine", lambda x, weight, bias: x @ weight + bias, affine_vjp,
    lambda t, x, weight, bias: t[0] @ weight + x @ t[1] + t[2], affine_cases,
    (Mistake("no_bias_sum", lambda g, x, weight, bias: (*affine_vjp(g, x, weight, bias)[:2], g),
             "the bias is added to every row: sum its gradient over the batch axis"),
     Mistake("forgot_transpose", lambda g, x, weight, bias: (g @ weight, x @ g, g.sum(axis=0)),
             "transpose the other operand: grad_x = out_grad @ W.T, grad_W = x.T @ out_grad"),
     ignores_out_grad(affine_vjp)),
    r"x W + b",
    r"\bar x = \bar y W^\top,\ \bar W = x^\top \bar y,\ \bar b = \textstyle\sum_i \bar y_i",
    r"\dot x W + x \dot W + \dot b",
))
# fmt: on


# --- the book's table of rules ---------------------------------------------------------------

BOOK_PAGE = Path(__file__).resolve().parent.parent / "book" / "engine-reference.md"
BEGIN, END = "<!-- BEGIN OP TABLE -->", "<!-- END OP TABLE -->"


def markdown_table() -> str:
    """The table of rules (op, forward, VJP, JVP) in Markdown with TeX, one row per op."""
    rows = [
        "| op | forward $y$ | reverse mode (VJP) | forward mode (JVP) $\\dot y$ |",
        "|---|---|---|---|",
    ]
    for rule in RULES.values():
        cells = [f"`{rule.op_class}`", rule.forward_tex, rule.vjp_tex, rule.jvp_tex]
        rows.append("| " + " | ".join([cells[0]] + [f"${c}$" for c in cells[1:]]) + " |")
    note = (
        "$\\bar y$ is the upstream gradient (`out_grad`), $\\bar a$ the gradient for input "
        "$a$, $\\dot a$ a tangent. A gradient whose input was broadcast is summed back over "
        "the broadcast axes to the input's shape. $[\\cdot]$ is 1 where the condition holds "
        "and 0 elsewhere; tied maxima share the gradient equally."
    )
    return "\n".join(rows) + "\n\n" + note + "\n"


def book_region(text: str) -> str:
    """The part of the book page between the BEGIN and END markers."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"the book page has no {BEGIN} ... {END} region")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def write_book(page: Path = BOOK_PAGE) -> bool:
    """Put the current table between the markers of ``page``; True if the page changed."""
    text = page.read_text(encoding="utf-8")
    old = book_region(text)
    new = markdown_table()
    if old == new:
        return False
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    page.write_text(f"{head}{BEGIN}\n{new}{END}{tail}", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The op catalogue and the book's rule table.")
    parser.add_argument("--write-book", action="store_true", help=f"update {BOOK_PAGE.name}")
    args = parser.parse_args(argv)
    if args.write_book:
        changed = write_book()
        print(f"{BOOK_PAGE.name}: {'updated' if changed else 'already current'}")
    else:
        print(markdown_table(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
