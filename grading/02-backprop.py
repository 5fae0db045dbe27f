"""Instructor grading file for assignment 02-backprop ("Backpropagation by hand").

Nothing here reaches students. ``PARTS`` maps the ``grade_id`` of each graded test cell to
a :class:`~mytorch_course.runner.Part` (probes, in-kernel driver, out-of-kernel check).
The solution cell of part ``P`` has ``grade_id`` ``"P-solution"``.

Every check compares the student's numbers with the reference formulas below *and* with
float64 central differences of the forward computation, with random upstream gradients.
Tolerances on the reference are tight (~1e-10 relative), so a gradient obtained by finite
differences does not pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mytorch_course.runner import Part, Verdict, compare, describe, is_error

# ----------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------


def _cmp(name, expected, got, rtol, atol, hint=""):
    """``compare`` from the course helpers, never letting a generic guess crash the check."""
    try:
        return compare(name, expected, got, rtol=rtol, atol=atol, hint=hint)
    except Exception:  # noqa: BLE001 - fall back to a message without the generic guess
        return compare(
            name, expected, got, rtol=rtol, atol=atol, hint=hint or "compare the values above"
        )


def _arr(value) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _close(a, b, rtol, atol) -> bool:
    a, b = _arr(a), _arr(b)
    if a is None or b is None or a.shape != b.shape:
        return False
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _verdict(part: str, failures: list[str], n: int) -> Verdict:
    if not failures:
        return Verdict.ok(n)
    return Verdict.fail(
        f"{part}: {len(failures)} of {n} test cases failed. First failure:\n{failures[0]}"
    )


def _bad_length(probes, results) -> Verdict | None:
    if not isinstance(results, list) or len(results) != len(probes):
        return Verdict.fail("no usable results were recorded for this part")
    return None


def _fd(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """float64 central differences of a scalar function of an array."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f(x.copy())
        x[idx] = old - h
        fm = f(x.copy())
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * h)
    return grad


def _signed(rng, lo, hi, size=None):
    return rng.uniform(lo, hi, size=size) * rng.choice([-1.0, 1.0], size=size)


_FD_HINT = (
    "your gradient agrees with the exact one only to ~{rel:.0e} (relative); an exact formula "
    "agrees to ~1e-15. Did you use finite differences instead of the derivative?"
)


def _rel_gap(a, b) -> float:
    a, b = _arr(a), _arr(b)
    if a is None or b is None or a.shape != b.shape or a.size == 0:
        return math.inf
    return float(np.max(np.abs(a - b) / (np.abs(b) + 1e-300)))


# ----------------------------------------------------------------------------------------
# Parts 1 and 2: manual reverse passes for the worked examples (scalars)
# ----------------------------------------------------------------------------------------

# name -> (argument names, forward(*args), partials(*args) at dout = 1, output label)
EXAMPLES: dict[str, tuple] = {
    "circuit_backward": (
        ("x", "y", "z", "w"),
        lambda x, y, z, w: 3.0 * (x * y + max(z, w)),
        lambda x, y, z, w: (3.0 * y, 3.0 * x, 3.0 * float(z > w), 3.0 * float(w > z)),
        "f = 3(xy + max(z, w))",
    ),
    "exp_affine_backward": (
        ("w", "x", "b"),
        lambda w, x, b: math.exp(w * x + b),
        lambda w, x, b: (math.exp(w * x + b) * x, math.exp(w * x + b) * w, math.exp(w * x + b)),
        "y = exp(w x + b)",
    ),
    "ratio_backward": (
        ("x", "y"),
        lambda x, y: x / (x + y),
        lambda x, y: (y / (x + y) ** 2, -x / (x + y) ** 2),
        "f = x / (x + y)",
    ),
    "log_example_backward": (
        ("x1", "x2"),
        lambda x1, x2: math.log(x1) + x1 * x2 - math.sin(x2),
        lambda x1, x2: (1.0 / x1 + x2, x1 - math.cos(x2)),
        "y = ln(x1) + x1 x2 - sin(x2)",
    ),
}


# Sizes of the terms that make up each partial (at dout = 1): exact formulas may sum them in
# any order, so rounding is judged relative to these, not to a partial that nearly cancels.
SCALES: dict[str, Callable] = {
    "circuit_backward": lambda x, y, z, w: (3 * abs(y), 3 * abs(x), 0.0, 0.0),
    "exp_affine_backward": lambda w, x, b: (
        math.exp(w * x + b) * abs(x),
        math.exp(w * x + b) * abs(w),
        math.exp(w * x + b),
    ),
    "ratio_backward": lambda x, y: (
        1 / abs(x + y) + abs(x) / (x + y) ** 2,
        abs(x) / (x + y) ** 2,
    ),
    "log_example_backward": lambda x1, x2: (1 / x1 + abs(x2), x1 + abs(math.cos(x2))),
}


def _wrong_partials(fname: str, args: tuple, dout: float) -> dict[str, tuple]:
    """Typical mistakes, to name the likely cause in a message."""
    _, _, partials, _ = EXAMPLES[fname]
    ones = tuple(partials(*args))
    out: dict[str, tuple] = {
        "you did not multiply by dout (the upstream gradient dL/df)": ones,
    }
    if fname == "circuit_backward":
        x, y, z, w = args
        out["the factor 3 from the last gate is missing"] = tuple(dout * p / 3.0 for p in ones)
        out["the max gate must route the whole gradient to the larger input only"] = (
            dout * 3 * y,
            dout * 3 * x,
            dout * 1.5,
            dout * 1.5,
        )
        out["the multiply gate swaps its inputs: dL/dx uses y and dL/dy uses x"] = (
            dout * 3 * x,
            dout * 3 * y,
            dout * ones[2],
            dout * ones[3],
        )
    elif fname == "ratio_backward":
        x, y = args
        s = x + y
        out["x is used twice (numerator and sum): add both contributions (+=, not =)"] = (
            dout / s,
            -dout * x / s**2,
        )
        out["x is used twice: you kept only the contribution through the sum"] = (
            -dout * x / s**2,
            -dout * x / s**2,
        )
    elif fname == "log_example_backward":
        x1, x2 = args
        out["x1 is used twice (ln and product): add both contributions (+=, not =)"] = (
            dout * x2,
            dout * (x1 - math.cos(x2)),
        )
        out["x2 is used twice (product and sin): add both contributions (+=, not =)"] = (
            dout * (1 / x1 + x2),
            -dout * math.cos(x2),
        )
        out["the subtraction gate flips the sign of the gradient to sin(x2)"] = (
            dout * (1 / x1 + x2),
            dout * (x1 + math.cos(x2)),
        )
    elif fname == "exp_affine_backward":
        w, x, b = args
        y = math.exp(w * x + b)
        out["the multiply gate swaps its inputs: dL/dw uses x and dL/dx uses w"] = (
            dout * y * w,
            dout * y * x,
            dout * y,
        )
    return out


def _example_probes(seed: int, fnames: list[str], n_each: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    probes = []
    for fname in fnames:
        for i in range(n_each):
            dout = float(_signed(rng, 0.3, 3.0))
            if fname == "circuit_backward":
                x, y = _signed(rng, 0.2, 5.0, 2)
                z = float(rng.uniform(-5, 5))
                w = float(z + _signed(rng, 0.1, 4.0))  # never a tie
                args = [float(x), float(y), z, w]
            elif fname == "exp_affine_backward":
                big = i % 3 == 0  # large outputs: finite differences lose digits there
                w, x = _signed(rng, 0.3, 2.5 if big else 1.5, 2)
                b = float(rng.uniform(0.5, 2.0) if big else rng.uniform(-3, 1))
                args = [float(w), float(x), b]
            elif fname == "ratio_backward":
                x = float(_signed(rng, 0.1, 4.0))
                s = float(_signed(rng, 0.05 if i % 4 == 0 else 0.3, 3.0))  # x + y away from 0
                args = [x, s - x]
            else:  # log_example_backward
                x1 = float(rng.uniform(0.02, 0.2) if i % 3 == 0 else rng.uniform(0.2, 6.0))
                args = [x1, float(rng.uniform(-6, 6))]
            probes.append({"fn": fname, "args": args, "dout": dout})
    return probes


EXAMPLE_DRIVER = """
import numpy as np


def run(probe):
    function = globals()[probe["fn"]]
    result = function(*probe["args"], dout=probe["dout"])
    return [float(np.asarray(v, dtype=np.float64)) for v in result]
"""


def _example_check(part_name: str) -> Callable[[list, list], Verdict]:
    def check(probes: list, results: list) -> Verdict:
        bad = _bad_length(probes, results)
        if bad:
            return bad
        failures = []
        for probe, got in zip(probes, results, strict=True):
            fname, args, dout = probe["fn"], tuple(probe["args"]), probe["dout"]
            names, forward, partials, label = EXAMPLES[fname]
            call = ", ".join(f"{n}={a:.6g}" for n, a in zip(names, args, strict=True))
            where = f"{fname}({call}, dout={dout:.4g})  [{label}]"
            if is_error(got):
                failures.append(f"{where}: your code raised {got['error']}")
                continue
            n_out = 1 + len(names)
            if not isinstance(got, list) or len(got) != n_out:
                failures.append(
                    f"{where}: return a tuple of {n_out} numbers "
                    f"(the value, then dL/d{', dL/d'.join(names)}); got {describe(got)}"
                )
                continue
            value = forward(*args)
            grads = [dout * p for p in partials(*args)]
            # float64 central differences of L = dout * f, as an independent witness
            fd = _fd(lambda v, fw=forward, d=dout: d * fw(*v), np.array(args), 1e-6)
            size = 1.0 + sum(abs(a) for a in args) ** 2
            msg = _cmp(
                f"{where}: the value {label.split(' =')[0]}", value, got[0], 1e-12, 1e-12 * size
            )
            if msg is None:
                got_g = [float(g) for g in got[1:]]
                scales = [abs(dout) * m for m in SCALES[fname](*args)]
                for i, name in enumerate(names):
                    scale = max(scales[i], abs(grads[i])) + 1e-13 * abs(dout)
                    if abs(got_g[i] - grads[i]) <= 1e-11 * scale:
                        continue
                    hint = ""
                    for text, wrong in _wrong_partials(fname, args, dout).items():
                        if _close(got_g, list(wrong), 1e-9, 1e-12):
                            hint = text
                            break
                    else:
                        rel = abs(got_g[i] - grads[i]) / max(abs(grads[i]), 1e-300)
                        if rel < 1e-4:
                            hint = _FD_HINT.format(rel=rel)
                    msg = (
                        f"{where}: wrong dL/d{name}.\n"
                        f"    expected: {grads[i]:.10g}   (finite differences: {fd[i]:.8g})\n"
                        f"    got:      {got_g[i]:.10g}\n"
                        f"    all expected: {', '.join(f'{g:.6g}' for g in grads)}\n"
                        f"    all got:      {', '.join(f'{g:.6g}' for g in got_g)}"
                    )
                    if hint:
                        msg += f"\n    Likely cause: {hint}"
                    break
            if msg:
                failures.append(msg)
        return _verdict(part_name, failures, len(probes))

    return check


# ----------------------------------------------------------------------------------------
# Parts 3-5: gradient() of gate ops on mytorch tensors
# ----------------------------------------------------------------------------------------

# op -> (class name in the notebook, number of inputs, forward, reference VJPs)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


OPS: dict[str, tuple] = {
    "mul": ("Multiply", 2, lambda a, b: a * b, lambda g, a, b: (g * b, g * a)),
    "div": ("Divide", 2, lambda a, b: a / b, lambda g, a, b: (g / b, -g * a / b**2)),
    "max": (
        "Maximum",
        2,
        lambda a, b: np.maximum(a, b),
        lambda g, a, b: (g * (a > b), g * (b > a)),
    ),
    "sigmoid": (
        "Sigmoid",
        1,
        _sigmoid,
        lambda g, a: (g * np.exp(-a) / (1.0 + np.exp(-a)) ** 2,),
    ),
}

# How an op is wired into a small graph, and the scalar loss L = sum(g * out) it feeds.
#   plain:   out = op(a, b)                    (unary: op(a))
#   reuse:   out = op(a, a)                    (unary: op(op(a)))   one tensor used twice
#   diamond: out = op(op(a, b), b)             (unary: op(a) * op(a)... via mul of numpy) b twice
#   twice:   backward() on two fresh graphs; leaf gradients accumulate


def _graph_forward(kind: str, case: str, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    _, arity, fw, _ = OPS[kind]
    if arity == 1:
        if case == "reuse":
            return fw(fw(a))
        return fw(a)
    if case == "reuse":
        return fw(a, a)
    if case == "diamond":
        return fw(fw(a, b), b)
    return fw(a, b)


def _expected_grads(kind, case, a, b, g) -> list[np.ndarray]:
    _, arity, fw, vjp = OPS[kind]
    if arity == 1:
        if case == "reuse":
            inner = fw(a)
            (g_inner,) = vjp(g, inner)
            return [vjp(g_inner, a)[0]]
        (da,) = vjp(g, a)
        return [2 * da if case == "twice" else da]
    if case == "reuse":
        da1, da2 = vjp(g, a, a)
        return [da1 + da2]
    if case == "diamond":
        c = fw(a, b)
        dc, db2 = vjp(g, c, b)
        da, db1 = vjp(dc, a, b)
        return [da, db1 + db2]
    da, db = vjp(g, a, b)
    if case == "twice":
        return [2 * da, 2 * db]
    return [da, db]


def _op_probes(seed: int, kinds: list[str], n_each: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    probes = []
    cases = ["plain", "plain", "reuse", "diamond", "twice", "plain"]
    for kind in kinds:
        arity = OPS[kind][1]
        for i in range(n_each):
            rank = i % 4
            shape = tuple(int(n) for n in rng.integers(1, 4, size=rank))
            case = cases[i % len(cases)]
            if arity == 1 and case == "diamond":
                case = "plain"
            if kind == "div" and case == "reuse":  # a / a is constant: a degenerate question
                case = "diamond"
            if kind == "max" and case in ("reuse", "diamond"):  # max(a, a): ties everywhere
                case = "plain"
            if kind == "sigmoid":
                a = rng.uniform(-6.0, 6.0, size=shape)
                b = None
            elif kind == "max":
                a = rng.uniform(-3.0, 3.0, size=shape)
                gap = _signed(rng, 0.1, 2.0, shape)  # never a tie
                b = a + gap
            elif kind == "div":
                a = _signed(rng, 0.2, 3.0, shape)
                b = _signed(rng, 0.3 if i % 3 else 0.05, 2.0, shape)  # small |b|: curvy
                if case == "diamond":  # out = (a / b) / b
                    b = _signed(rng, 0.5, 2.0, shape)
            else:  # mul
                a = _signed(rng, 0.2, 3.0, shape)
                b = _signed(rng, 0.2, 3.0, shape)
            g = _signed(rng, 0.2, 2.0, shape)  # a random upstream gradient, never all ones
            probe: dict[str, Any] = {
                "kind": kind,
                "case": case,
                "a": a.tolist(),
                "g": g.tolist(),
                "shape": list(shape),
            }
            if b is not None:
                probe["b"] = b.tolist()
            probes.append(probe)
    return probes


OP_DRIVER = """
import numpy as np
import mytorch

_CLASS = {"mul": "Multiply", "div": "Divide", "max": "Maximum", "sigmoid": "Sigmoid"}


def _grad_list(t):
    return None if t.grad is None else np.asarray(t.grad.data, dtype=np.float64).tolist()


def run(probe):
    cls = globals()[_CLASS[probe["kind"]]]
    case = probe["case"]
    a = mytorch.Tensor(np.array(probe["a"], dtype=np.float64), requires_grad=True)
    g = np.array(probe["g"], dtype=np.float64)
    if "b" not in probe:  # a unary op
        if case == "reuse":
            out = cls()(cls()(a))
        else:
            out = cls()(a)
        out.backward(g)
        if case == "twice":
            out = cls()(a)
            out.backward(g)
        return {"out": np.asarray(out.data).tolist(), "grads": [_grad_list(a)]}
    b = mytorch.Tensor(np.array(probe["b"], dtype=np.float64), requires_grad=True)
    if case == "reuse":
        out = cls()(a, a)
    elif case == "diamond":
        out = cls()(cls()(a, b), b)
    else:
        out = cls()(a, b)
    out.backward(g)
    if case == "twice":
        out = cls()(a, b)
        out.backward(g)
    grads = [_grad_list(a)] if case == "reuse" else [_grad_list(a), _grad_list(b)]
    return {"out": np.asarray(out.data).tolist(), "grads": grads}
"""

_CASE_TEXT = {
    "plain": "out = {op}(a{b})",
    "reuse": "out = {op}(a, a)  (one tensor used twice)",
    "diamond": "out = {op}({op}(a, b), b)  (b used twice)",
    "twice": "two backward() calls on out = {op}(a{b}) (gradients accumulate)",
}
_CASE_TEXT_UNARY = {"reuse": "out = {op}({op}(a))  (the op applied twice)"}


def _op_wrong_guesses(kind, case, a, b, g) -> dict[str, list]:
    """Gradients that typical mistakes produce, to name the likely cause."""
    guesses: dict[str, list] = {}
    ones = np.ones_like(g)
    if case == "plain":
        guesses["the gradient ignores out_grad (it is the local derivative alone)"] = (
            _expected_grads(kind, case, a, b, ones)
        )
        if kind == "mul":
            guesses["each input got its own value instead of the other input's"] = [g * a, g * b]
        if kind == "div":
            guesses["d(a/b)/db is -a/b^2: check the sign and the square"] = [g / b, g * a / b**2]
            guesses["d(a/b)/db is -a/b^2 (the square is missing)"] = [g / b, -g * a / b]
        if kind == "max":
            guesses["the max gate routes the gradient to the larger input, not the smaller"] = [
                g * (a < b),
                g * (b < a),
            ]
            guesses["the max gate routes, it does not split: the larger input gets all of it"] = [
                0.5 * g,
                0.5 * g,
            ]
        if kind == "sigmoid":
            s = _sigmoid(a)
            guesses["sigma'(x) = sigma(x) (1 - sigma(x)); you used sigma(x) alone"] = [g * s]
            guesses["sigma'(x) = sigma(x) (1 - sigma(x)); the factor sigma(x) is missing"] = [
                g * (1 - s)
            ]
    return guesses


def _op_check(part_name: str) -> Callable[[list, list], Verdict]:
    def check(probes: list, results: list) -> Verdict:
        bad = _bad_length(probes, results)
        if bad:
            return bad
        failures = []
        for probe, got in zip(probes, results, strict=True):
            kind, case = probe["kind"], probe["case"]
            cls, arity, fw, _ = OPS[kind]
            a = np.array(probe["a"], dtype=np.float64)
            b = np.array(probe["b"], dtype=np.float64) if "b" in probe else None
            g = np.array(probe["g"], dtype=np.float64)
            text = (_CASE_TEXT_UNARY.get(case) if arity == 1 else None) or _CASE_TEXT[case]
            graph = text.format(op=f"{cls}()", b=", b" if arity == 2 else "")
            inputs = f"a={describe(a)}" + (f", b={describe(b)}" if b is not None else "")
            where = f"{cls}: {graph} with {inputs}, upstream gradient {describe(g)}"
            if is_error(got):
                failures.append(f"{where}: your code raised {got['error']}")
                continue
            if not isinstance(got, dict) or "grads" not in got or "out" not in got:
                failures.append(f"{where}: unexpected result {describe(got)}")
                continue
            out_expected = _graph_forward(kind, "plain" if case == "twice" else case, a, b)
            msg = _cmp(
                f"{where}: the forward value {cls}.compute", out_expected, got["out"], 1e-12, 1e-14
            )
            if msg:
                failures.append(msg)
                continue
            expected = _expected_grads(kind, case, a, b, g)
            names = ["a"] if (arity == 1 or case == "reuse") else ["a", "b"]
            grads = got["grads"]
            if not isinstance(grads, list) or len(grads) != len(names):
                failures.append(f"{where}: unexpected result {describe(got)}")
                continue
            # finite differences of the same little graph, float64, with the same upstream g
            times = 2.0 if case == "twice" else 1.0
            graph_case = "plain" if case == "twice" else case
            fd = []
            for i in range(len(names)):

                def loss(v, i=i, a=a, b=b, g=g, kind=kind, case=graph_case, times=times):
                    aa = v if i == 0 else a
                    bb = v if i == 1 else b
                    if case == "reuse":
                        bb = aa
                    return times * float(np.sum(g * _graph_forward(kind, case, aa, bb)))

                fd.append(_fd(loss, a if i == 0 else b))
            for i, name in enumerate(names):
                label = f"{where}: the gradient with respect to {name}"
                if grads[i] is None:
                    failures.append(f"{label} is missing (None): return one gradient per input")
                    break
                exp_i = np.asarray(expected[i], dtype=np.float64)
                scale = np.abs(exp_i) + 1e-13 * (1.0 + np.max(np.abs(g)))
                got_i = _arr(grads[i])
                if (
                    got_i is not None
                    and got_i.shape == exp_i.shape
                    and np.all(np.abs(got_i - exp_i) <= 1e-10 * scale)
                ):
                    continue
                hint = ""
                for text_, wrong in _op_wrong_guesses(kind, case, a, b, g).items():
                    if i < len(wrong) and _close(grads[i], wrong[i], 1e-9, 1e-12):
                        hint = text_
                        break
                else:
                    rel = _rel_gap(grads[i], exp_i)
                    if 1e-12 < rel < 1e-4:
                        hint = _FD_HINT.format(rel=rel)
                    elif _close(grads[i], fd[i], 1e-5, 1e-7):
                        hint = _FD_HINT.format(rel=rel)
                    elif case == "twice":
                        hint = "the second backward() must add to .grad: return fresh tensors"
                m = _cmp(label, exp_i, grads[i], 1e-10, 1e-13, hint=hint)
                if m is None:
                    m = f"{label}: not exact enough (finite-difference accuracy is not). {hint}"
                failures.append(m + f"\n    (float64 finite differences give {describe(fd[i])})")
                break
        return _verdict(part_name, failures, len(probes))

    return check


# ----------------------------------------------------------------------------------------
# Parts 6 and 7: topological order and reverse accumulation on a graph given as data
# ----------------------------------------------------------------------------------------

UNARY = ["exp", "sin", "log", "neg", "cos"]
BINARY = ["add", "sub", "mul"]


def _apply(op: str, args: list[float]) -> float:
    if op == "add":
        return args[0] + args[1]
    if op == "sub":
        return args[0] - args[1]
    if op == "mul":
        return args[0] * args[1]
    if op == "exp":
        return math.exp(args[0])
    if op == "log":
        return math.log(args[0])
    if op == "sin":
        return math.sin(args[0])
    if op == "cos":
        return math.cos(args[0])
    if op == "neg":
        return -args[0]
    raise KeyError(op)


def _local(op: str, args: list[float], out: float) -> list[float]:
    if op == "add":
        return [1.0, 1.0]
    if op == "sub":
        return [1.0, -1.0]
    if op == "mul":
        return [args[1], args[0]]
    if op == "exp":
        return [out]
    if op == "log":
        return [1.0 / args[0]]
    if op == "sin":
        return [math.cos(args[0])]
    if op == "cos":
        return [-math.sin(args[0])]
    if op == "neg":
        return [-1.0]
    raise KeyError(op)


def ancestors(graph: dict, output: str) -> set[str]:
    seen: set[str] = set()
    stack = [output]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(graph[name][1])
    return seen


def ref_topological_order(graph: dict, output: str) -> list[str]:
    order: list[str] = []
    done: set[str] = set()
    stack: list[tuple[str, bool]] = [(output, False)]
    while stack:
        name, expanded = stack.pop()
        if name in done:
            continue
        if expanded:
            done.add(name)
            order.append(name)
            continue
        stack.append((name, True))
        for parent in reversed(graph[name][1]):
            if parent not in done:
                stack.append((parent, False))
    return order


def ref_forward(graph: dict, order: list[str], leaves: dict[str, float]) -> dict[str, float]:
    values: dict[str, float] = {}
    for name in order:
        op, parents = graph[name]
        values[name] = leaves[name] if op == "input" else _apply(op, [values[p] for p in parents])
    return values


def ref_backward(graph, order, values, output, seed) -> dict[str, float]:
    adj = {name: 0.0 for name in order}
    adj[output] = seed
    for name in reversed(order):
        op, parents = graph[name]
        if op == "input":
            continue
        local = _local(op, [values[p] for p in parents], values[name])
        for parent, d in zip(parents, local, strict=True):
            adj[parent] += adj[name] * d
    return adj


def _random_graph(rng: np.random.Generator, n_leaves: int, n_ops: int) -> tuple[dict, str]:
    """A random DAG whose nodes reuse earlier ones (x*x, diamonds), listed in random order."""
    names = [f"x{i + 1}" for i in range(n_leaves)]
    graph: dict[str, tuple[str, list[str]]] = {n: ("input", []) for n in names}
    positive: set[str] = set(names)  # nodes known to be positive (for log); leaves are
    for j in range(n_ops):
        name = f"v{j + 1}"
        recent = names[-4:]
        if rng.random() < 0.6:
            op = str(rng.choice(BINARY))
            p1 = str(rng.choice(recent))
            p2 = p1 if rng.random() < 0.2 else str(rng.choice(names))  # sometimes x op x
            parents = [p1, p2]
        else:
            op = str(rng.choice(UNARY))
            parents = [str(rng.choice(recent))]
            if op == "log" and parents[0] not in positive:
                op = "exp"
        if op == "exp" or (op == "mul" and parents[0] == parents[1]):
            positive.add(name)
        graph[name] = (op, parents)
        names.append(name)
    # an output that uses the last node and a second, earlier one (more branching)
    out = "out"
    graph[out] = ("add", [names[-1], str(rng.choice(names[n_leaves:-1] or names[:1]))])
    # a few nodes that the output does not need
    for k in range(int(rng.integers(1, 3))):
        graph[f"unused{k + 1}"] = ("mul", [str(rng.choice(names)), str(rng.choice(names))])
    keys = list(graph)
    rng.shuffle(keys)
    return {k: graph[k] for k in keys}, out


def _leaf_values(rng, graph) -> dict[str, float]:
    return {n: float(rng.uniform(0.3, 1.2)) for n, (op, _) in graph.items() if op == "input"}


def _finite(values: dict[str, float]) -> bool:
    return all(math.isfinite(v) and abs(v) < 1e6 for v in values.values())


def _graph_probes(seed: int, n: int, with_values: bool) -> list[dict]:
    rng = np.random.default_rng(seed)
    probes: list[dict] = []
    fixed = [_LOG_EXAMPLE, _X_TIMES_X]
    while len(probes) < n:
        if len(probes) < len(fixed):
            graph, out = fixed[len(probes)]
        else:
            graph, out = _random_graph(rng, int(rng.integers(1, 4)), int(rng.integers(3, 10)))
        probe: dict[str, Any] = {"graph": {k: [op, list(ps)] for k, (op, ps) in graph.items()}}
        probe["output"] = out
        if with_values:
            order = ref_topological_order(graph, out)
            leaves = _leaf_values(rng, {k: v for k, v in graph.items() if k in set(order)})
            if len(probes) == 0:
                leaves = {"x1": 2.0, "x2": 5.0}
            values = ref_forward(graph, order, leaves)
            if not _finite(values):
                continue
            probe["order"] = order
            probe["values"] = values
            probe["seed"] = float(_signed(rng, 0.3, 3.0))
        probes.append(probe)
    return probes


# The seeds' example y = ln(x1) + x1*x2 - sin(x2), and the smallest graph with reuse.
_LOG_EXAMPLE = (
    {
        "y": ("sub", ["v6", "v5"]),
        "v5": ("sin", ["x2"]),
        "x1": ("input", []),
        "v6": ("add", ["v3", "v4"]),
        "v4": ("mul", ["x1", "x2"]),
        "x2": ("input", []),
        "v3": ("log", ["x1"]),
    },
    "y",
)
_X_TIMES_X = ({"sq": ("mul", ["x", "x"]), "y": ("exp", ["sq"]), "x": ("input", [])}, "y")


TOPO_DRIVER = """
def run(probe):
    graph = {name: (op, list(parents)) for name, (op, parents) in probe["graph"].items()}
    order = topological_order(graph, probe["output"])
    return [str(name) for name in order]
"""


def _topo_check(probes: list, results: list) -> Verdict:
    bad = _bad_length(probes, results)
    if bad:
        return bad
    failures = []
    for probe, got in zip(probes, results, strict=True):
        graph = {k: (op, ps) for k, (op, ps) in probe["graph"].items()}
        out = probe["output"]
        shown = ", ".join(
            f"{k}=" + (f"{op}({', '.join(ps)})" if ps else "input") for k, (op, ps) in graph.items()
        )
        where = f"topological_order(graph, {out!r}) for the graph {{{shown}}}"
        if is_error(got):
            failures.append(f"{where}: your code raised {got['error']}")
            continue
        if not isinstance(got, list):
            failures.append(f"{where}: return a list of node names, got {describe(got)}")
            continue
        need = ancestors(graph, out)
        example = ", ".join(ref_topological_order(graph, out))
        dupes = sorted({n for n in got if got.count(n) > 1})
        extra = sorted(set(got) - need)
        missing = sorted(need - set(got))
        msg = None
        if dupes:
            msg = (
                f"{where}: {', '.join(dupes)} appear(s) more than once. A node reached along "
                "two paths (a diamond, or x*x) must be listed once: remember which nodes you "
                "have already visited."
            )
        elif missing:
            msg = f"{where}: missing node(s) {', '.join(missing)}, which {out!r} depends on."
        elif extra:
            msg = (
                f"{where}: {', '.join(extra)} should not be listed: {out!r} does not depend "
                "on it. List only the nodes reachable backwards from the output."
            )
        else:
            position = {n: i for i, n in enumerate(got)}
            for name in got:
                late = [p for p in graph[name][1] if position[p] > position[name]]
                if late:
                    msg = (
                        f"{where}: {name!r} comes before its input {late[0]!r}. Every node "
                        "must come after all of its inputs."
                    )
                    break
        if msg:
            mine = ", ".join(map(str, got))
            failures.append(f"{msg}\n    one valid order: {example}\n    your order:      {mine}")
    return _verdict("topological_order", failures, len(probes))


BACKWARD_DRIVER = """
def run(probe):
    graph = {name: (op, list(parents)) for name, (op, parents) in probe["graph"].items()}
    adjoints = backward_pass(
        graph, list(probe["order"]), dict(probe["values"]), probe["output"], probe["seed"]
    )
    return {str(name): float(value) for name, value in adjoints.items()}
"""


def _backward_check(probes: list, results: list) -> Verdict:
    bad = _bad_length(probes, results)
    if bad:
        return bad
    failures = []
    for probe, got in zip(probes, results, strict=True):
        graph = {k: (op, ps) for k, (op, ps) in probe["graph"].items()}
        order, values, out, seed = probe["order"], probe["values"], probe["output"], probe["seed"]
        shown = ", ".join(
            f"{k}=" + (f"{op}({', '.join(ps)})" if ps else "input")
            for k, (op, ps) in graph.items()
            if k in set(order)
        )
        where = f"backward_pass on {{{shown}}} with seed dL/d{out} = {seed:.4g}"
        if is_error(got):
            failures.append(f"{where}: your code raised {got['error']}")
            continue
        if not isinstance(got, dict):
            failures.append(f"{where}: return a dict {{node name: adjoint}}, got {describe(got)}")
            continue
        expected = ref_backward(graph, order, values, out, seed)
        leaves = [n for n in order if graph[n][0] == "input"]

        def f_of_leaves(v, leaves=leaves, graph=graph, order=order, seed=seed, out=out):
            return seed * ref_forward(graph, order, dict(zip(leaves, v, strict=True)))[out]

        fd = _fd(f_of_leaves, np.array([values[n] for n in leaves]), 1e-6)
        missing = [n for n in order if n not in got]
        if missing:
            failures.append(f"{where}: no adjoint for {', '.join(missing)}; return one per node")
            continue
        biggest = max(abs(v) for v in expected.values())
        for name in reversed(order):
            e, g = expected[name], got[name]
            if not isinstance(g, int | float) or abs(g - e) > 1e-9 * abs(e) + 1e-12 * biggest:
                hint = ""
                if all(got.get(k) == 1.0 for k in order):
                    hint = "every adjoint is 1: multiply by the local derivatives on the way back"
                users = [k for k in order if name in graph[k][1]]
                uses = sum(graph[k][1].count(name) for k in users)
                if uses > 1 and not hint:
                    hint = (
                        f"{name!r} feeds {uses} gate inputs; its adjoint is the SUM of the "
                        "contributions from all of them (+=, not =)"
                    )
                if (
                    not hint.startswith("every")
                    and isinstance(g, int | float)
                    and abs(seed) > 0
                    and abs(g - e / seed) <= 1e-9 * abs(e / seed)
                ):
                    hint = "start the backward pass from the given seed, not from 1"
                fd_text = ""
                if name in leaves:
                    fd_text = f"   (finite differences: {fd[leaves.index(name)]:.8g})"
                got_all = ", ".join(
                    f"{k}={got[k]:.5g}" if isinstance(got[k], int | float) else f"{k}=?"
                    for k in order
                )
                msg = (
                    f"{where}: wrong adjoint of {name!r}.\n"
                    f"    expected: {e:.10g}{fd_text}\n    got:      {g}\n"
                    f"    all expected: {', '.join(f'{k}={expected[k]:.5g}' for k in order)}\n"
                    f"    all got:      {got_all}"
                )
                if hint:
                    msg += f"\n    Likely cause: {hint}"
                failures.append(msg)
                break
    return _verdict("backward_pass", failures, len(probes))


# ----------------------------------------------------------------------------------------
# The parts
# ----------------------------------------------------------------------------------------


def _part(points, probes, driver, check, title, part_id):
    return Part(
        points=points,
        probes=probes,
        driver=driver,
        check=check,
        title=title,
        extra={"solution_cell": f"{part_id}-solution"},
    )


PARTS: dict[str, Part] = {
    "gate_examples": _part(
        15,
        _example_probes(201, ["circuit_backward", "exp_affine_backward"], 15),
        EXAMPLE_DRIVER,
        _example_check("circuit_backward / exp_affine_backward"),
        "Reverse passes by hand: 3(xy + max(z, w)) and exp(wx + b)",
        "gate_examples",
    ),
    "branching_examples": _part(
        15,
        _example_probes(202, ["ratio_backward", "log_example_backward"], 15),
        EXAMPLE_DRIVER,
        _example_check("ratio_backward / log_example_backward"),
        "Branching: x / (x + y) and ln(x1) + x1 x2 - sin(x2)",
        "branching_examples",
    ),
    "multiply_divide_ops": _part(
        15,
        _op_probes(203, ["mul", "div"], 14),
        OP_DRIVER,
        _op_check("Multiply / Divide"),
        "The multiply and divide gates as mytorch ops",
        "multiply_divide_ops",
    ),
    "maximum_op": _part(
        10,
        _op_probes(204, ["max"], 20),
        OP_DRIVER,
        _op_check("Maximum"),
        "The max gate as a mytorch op",
        "maximum_op",
    ),
    "sigmoid_op": _part(
        15,
        _op_probes(205, ["sigmoid"], 20),
        OP_DRIVER,
        _op_check("Sigmoid"),
        "The sigmoid gate as a mytorch op",
        "sigmoid_op",
    ),
    "topological_order": _part(
        15,
        _graph_probes(206, 24, with_values=False),
        TOPO_DRIVER,
        _topo_check,
        "Topological order of a computational graph",
        "topological_order",
    ),
    "backward_pass": _part(
        20,
        _graph_probes(207, 24, with_values=True),
        BACKWARD_DRIVER,
        _backward_check,
        "Reverse accumulation of adjoints",
        "backward_pass",
    ),
}
