"""Grading of assignment 05-networks ("Neural networks").

Units and derivations are done by hand in numpy (``forbidden`` names the engine), checked
against closed forms and float64 central differences with random upstream gradients. The
student's ``Linear`` and ``SGD`` are checked against the update rule; the training loop is
checked step by step (``zero_grad``) and by training on the digits, scored in the grading
process on held-out digits that never enter the student's kernel.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from mytorch_course.catalogue import anywhere, nonzero, softmax
from mytorch_course.checks import describe
from mytorch_course.numeric import central_difference
from mytorch_course.runner import Part

from . import drivers

BY_HAND = ("mytorch", "Tensor", "backward", "nn", "optim")
ARRAY, INT, SHAPE, NUMBER, ARRAYS = "array", "int", "shape", "number", "arrays"
# The ln(1 + e^-x) table of the lecture: the naive formula overflows from about -710 on.
ONE_VALUE = {
    "affine_forward",
    "relu_backward",
    "logistic",
    "logistic_backward",
    "decay",
    "log1p_exp_neg",
    "skip_backward",
}
SEED_TABLE = [-1.0, -2.0, -5.0, -10.0, -20.0, -50.0, -100.0, -200.0, -500.0, -1000.0, -2000.0]


def _probe(fn: str, args: list, kinds: list[str], fields: list[str]) -> dict:
    plain = [
        np.asarray(a).tolist() if k != ARRAYS else [np.asarray(x).tolist() for x in a]
        for a, k in zip(args, kinds, strict=True)
    ]
    return {
        "fn": fn,
        "args": plain,
        "kinds": kinds,
        "fields": fields,
        "returns": "one value" if fn in ONE_VALUE else "several",
    }


def _args(p: dict) -> list:
    out = []
    for value, kind in zip(p["args"], p["kinds"], strict=True):
        if kind == INT:
            out.append(np.array(value, dtype=np.int64))
        elif kind == SHAPE:
            out.append(tuple(value))
        elif kind == NUMBER:
            out.append(float(value))
        elif kind == ARRAYS:
            out.append([np.array(v, dtype=np.float64) for v in value])
        else:
            out.append(np.array(value, dtype=np.float64))
    return out


def _label(p: dict) -> str:
    return _label_of(json.dumps(p, sort_keys=True))


@lru_cache(maxsize=256)  # the runner names every probe it checks, passed or not
def _label_of(key: str) -> str:
    p = json.loads(key)
    names = {
        ARRAYS: lambda v: "[" + ", ".join(describe(x, 60) for x in v) + "]",
        SHAPE: lambda v: str(tuple(v)),
    }
    shown = [
        names.get(k, lambda v: describe(v, 80))(v)
        for v, k in zip(p["args"], p["kinds"], strict=True)
    ]
    return f"{p['fn']}({', '.join(shown)})"


def _function_part(
    points: float,
    probes: Callable,
    references: dict[str, Callable],
    seed: int,
    title: str,
    witnesses: dict[str, Callable] | None = None,
    mistakes: dict | None = None,
    tolerance: Any = (1e-9, 1e-12),
) -> Part:
    """A part whose probes call one of several numpy functions the student writes by hand."""

    @lru_cache(maxsize=256)  # a probe's reference and witness are asked for again and again
    def _expected(key: str) -> dict:
        p = json.loads(key)
        out = references[p["fn"]](*_args(p))
        out = out if isinstance(out, tuple) else (out,)
        return dict(zip(p["fields"], out, strict=True))

    @lru_cache(maxsize=256)
    def _witness(key: str) -> dict:
        p = json.loads(key)
        w = (witnesses or {}).get(p["fn"])
        return {} if w is None else w(p)

    def expected(p: dict) -> dict:
        return dict(_expected(json.dumps(p, sort_keys=True)))

    def witness(p: dict) -> dict:
        return dict(_witness(json.dumps(p, sort_keys=True)))

    return Part(
        points,
        probes,
        drivers.function,
        _label,
        expected,
        witness=witness,
        mistakes=mistakes or {},
        tolerance=tolerance,
        forbidden=BY_HAND,
        seed=seed,
        title=title,
    )


def _vjp_witness(forward: Callable, inputs: list[int], grad_arg: int, fields: list[str]):
    """Central differences of sum(g * forward(inputs)) for the probe's array arguments."""

    def witness(p: dict) -> dict:
        args = _args(p)
        g, xs = args[grad_arg], [args[i] for i in inputs]
        fd = central_difference(lambda *v: forward(*v, *args[len(inputs) + 1 :]), xs, g)
        return dict(zip(fields, fd, strict=True))

    return witness


def _when(fn: str, result: Callable[[list], Any], fields: list[str]) -> Callable[[dict], Any]:
    def wrong(p: dict) -> dict | None:
        if p["fn"] != fn:
            return None
        out = result(_args(p))
        return dict(zip(fields, out if isinstance(out, tuple) else (out,), strict=False))

    return wrong


# --- part 1: the units ---------------------------------------------------------------------


def stable_logistic(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


UNIT_REFERENCES: dict[str, Callable] = {
    "affine_forward": lambda x, w, b: x @ w + b,
    "affine_backward": lambda da, x, w: (da @ w.T, x.T @ da, da.sum(axis=0)),
    "relu_backward": lambda dz, a: dz * (a > 0),
    "logistic": stable_logistic,
    "logistic_backward": lambda dy, y: dy * y * (1.0 - y),
    "decay": lambda ws, lam: 0.5 * lam * sum(float(np.sum(w * w)) for w in ws),
    "decay_backward": lambda dr, ws, lam: tuple(dr * lam * w for w in ws),
    "add_backward": lambda dc, sa, sb: (_sum_to(dc, sa), _sum_to(dc, sb)),
}


def _sum_to(grad: np.ndarray, shape: tuple) -> np.ndarray:
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def _kinked(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)  # away from relu's kink


def unit_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for _ in range(4):
        m, n, k = (int(v) for v in rng.integers(1, 6, 3))
        x, w, b = anywhere(rng, (m, n)), anywhere(rng, (n, k)), anywhere(rng, (k,))
        out.append(_probe("affine_forward", [x, w, b], [ARRAY] * 3, ["A"]))
        out.append(
            _probe("affine_backward", [nonzero(rng, (m, k)), x, w], [ARRAY] * 3, ["dX", "dW", "db"])
        )
        shape = ((m, n), (m,), (2, m, n), ())[_ % 4]
        out.append(
            _probe("relu_backward", [nonzero(rng, shape), _kinked(rng, shape)], [ARRAY] * 2, ["dA"])
        )
        a = anywhere(rng, (m, n)) * 3.0
        a.flat[0] = (-1000.0, 1000.0, -745.5, 40.0)[_]  # e^1000 overflows a naive logistic
        out.append(_probe("logistic", [a], [ARRAY], ["Y"]))
        y = stable_logistic(anywhere(rng, (m, n)))
        out.append(_probe("logistic_backward", [nonzero(rng, (m, n)), y], [ARRAY] * 2, ["dA"]))
        ws = [anywhere(rng, (int(v), int(u))) for v, u in rng.integers(1, 5, (1 + _ % 3, 2))]
        lam = float(rng.uniform(0.01, 1.0))
        out.append(_probe("decay", [ws, lam], [ARRAYS, NUMBER], ["R"]))
        fields = [f"dW{i + 1}" for i in range(len(ws))]
        dr = float(nonzero(rng, ()))
        out.append(_probe("decay_backward", [dr, ws, lam], [NUMBER, ARRAYS, NUMBER], fields))
        big, small = [((m, n), (n,)), ((m, n), (1, n)), ((2, m, n), (m, 1)), ((m, n), (m, n))][_]
        out.append(
            _probe(
                "add_backward", [nonzero(rng, big), big, small], [ARRAY, SHAPE, SHAPE], ["da", "db"]
            )
        )
    return out


def _affine_witness(p: dict) -> dict:
    da, x, w = _args(p)
    b = np.zeros(w.shape[1])
    dx, dw, db = central_difference(lambda x_, w_, b_: x_ @ w_ + b_, [x, w, b], da)
    return {"dX": dx, "dW": dw, "db": db}


UNIT_WITNESSES = {
    "affine_backward": _affine_witness,
    "relu_backward": lambda p: {
        "dA": central_difference(lambda a: np.maximum(a, 0.0), [_args(p)[1]], _args(p)[0])[0]
    },
    "decay_backward": lambda p: dict(
        zip(
            p["fields"],
            central_difference(
                lambda *ws: np.array(UNIT_REFERENCES["decay"](ws, _args(p)[2])),
                _args(p)[1],
                np.array(_args(p)[0]),
            ),
            strict=True,
        )
    ),
}

UNIT_MISTAKES = {
    "the bias is added to every row: its gradient sums dA over the rows (axis 0)": _when(
        "affine_backward",
        lambda a: (a[0] @ a[2].T, a[1].T @ a[0], a[0].mean(axis=0)),
        ["dX", "dW", "db"],
    ),
    "the logistic's derivative is y (1 - y): multiply it by the upstream gradient dY": _when(
        "logistic_backward", lambda a: a[1] * (1.0 - a[1]), ["dA"]
    ),
    "the penalty is lambda/2 times the sum of squares, so its gradient is dR * lambda * W": _when(
        "decay_backward",
        lambda a: tuple(2.0 * a[0] * a[2] * w for w in a[1]),
        [f"dW{i + 1}" for i in range(3)][:1],
    ),
    "relu passes dZ where A > 0 and blocks it elsewhere (not the other way round)": _when(
        "relu_backward", lambda a: a[0] * (a[1] < 0), ["dA"]
    ),
}


# --- part 2: stable losses -------------------------------------------------------------------


def softmax_cross_entropy(z: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -np.sum(t * log_p) / m, (np.exp(log_p) - t) / m


def loss_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(12):
        m, k = int(rng.integers(1, 7)), int(rng.integers(2, 8))
        z = anywhere(rng, (m, k)) * 3.0
        if i % 3 == 0:  # logits of +-1000: exp overflows unless the maximum is taken out
            z[0] = rng.choice([-1000.0, 1000.0], k) + rng.uniform(-5, 5, k)
        if i % 3 == 1:
            z += rng.choice([-1000.0, 1000.0])
        t = np.eye(k)[rng.integers(0, k, m)]
        out.append(_probe("softmax_cross_entropy", [z, t], [ARRAY] * 2, ["loss", "dZ"]))
    table = [*SEED_TABLE, *rng.uniform(-30, 30, 5), 710.0, 1000.0]
    for x in table:
        out.append(_probe("log1p_exp_neg", [x], [ARRAY], ["value"]))
    out.append(_probe("log1p_exp_neg", [rng.uniform(-3000, 3000, (3, 4))], [ARRAY], ["value"]))
    return out


def _loss_witness(p: dict) -> dict:
    z, t = _args(p)
    if np.abs(z).max() > 50:  # finite differences of the float64 loss are too coarse there
        return {}
    (dz,) = central_difference(lambda v: np.array(softmax_cross_entropy(v, t)[0]), [z], 1.0)
    return {"dZ": dz}


def _no_mean(a: list) -> tuple:
    loss, dz = softmax_cross_entropy(*a)
    return loss * len(a[0]), dz * len(a[0])


LOSS_MISTAKES = {
    "the loss is the MEAN over the m rows, so each row's gradient is (P - T) / m": _when(
        "softmax_cross_entropy", _no_mean, ["loss", "dZ"]
    ),
    "the gradient of the cross-entropy of a softmax is P - T (probabilities minus targets)": (
        _when("softmax_cross_entropy", lambda a: softmax(a[0], -1) / len(a[0]), ["dZ"])
    ),
    "ln(1 + e^-x) = max(-x, 0) + ln(1 + e^-|x|) never overflows; for x < 0 it is about -x": (
        _when("log1p_exp_neg", lambda a: np.maximum(-a[0], 0.0), ["value"])
    ),
}


# --- part 3: multiclass logistic regression and a skip connection ---------------------------


def logreg_gradients(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple:
    e = softmax(w @ x + b, -1)
    e[int(y)] -= 1.0  # p - e_y
    return np.outer(e, x), e, w.T @ e


def skip_backward(x: np.ndarray, w1: np.ndarray, w2: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return dy + w1.T @ ((w2.T @ dy) * (w1 @ x > 0))


def derivation_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(12):
        n, k = int(rng.integers(1, 6)), int(rng.integers(2, 6))
        n = k + 1 if i % 4 == 0 else n  # non-square W: a transposed gradient has the wrong shape
        x, w, b, y = (
            anywhere(rng, (n,)),
            anywhere(rng, (k, n)),
            anywhere(rng, (k,)),
            rng.integers(k),
        )
        out.append(
            _probe("logreg_gradients", [x, y, w, b], [ARRAY, INT, ARRAY, ARRAY], ["dW", "db", "dx"])
        )
        h = int(rng.integers(1, 6))
        w1, w2 = anywhere(rng, (h, n)), anywhere(rng, (n, h))
        pre = w1 @ x
        w1[np.abs(pre) < 0.1] *= 3.0  # away from relu's kink
        out.append(_probe("skip_backward", [x, w1, w2, nonzero(rng, (n,))], [ARRAY] * 4, ["dx"]))
    return out


def _logreg_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, y: int) -> np.ndarray:
    z = w @ x + b
    return np.array(np.log(np.sum(np.exp(z - z.max()))) + z.max() - z[y])


DERIVATION_WITNESSES = {
    "logreg_gradients": lambda p: dict(
        zip(
            ["dx", "dW", "db"],
            central_difference(
                lambda x, w, b: _logreg_forward(x, w, b, int(_args(p)[1])),
                [_args(p)[0], _args(p)[2], _args(p)[3]],
                1.0,
            ),
            strict=True,
        )
    ),
    "skip_backward": lambda p: {
        "dx": central_difference(
            lambda x: _args(p)[2] @ np.maximum(_args(p)[1] @ x, 0.0) + x, [_args(p)[0]], _args(p)[3]
        )[0]
    },
}

DERIVATION_MISTAKES = {
    "the skip path adds delta_y itself to the gradient of x (y = ... + x)": _when(
        "skip_backward", lambda a: a[1].T @ ((a[2].T @ a[3]) * (a[1] @ a[0] > 0)), ["dx"]
    ),
    "through the ReLU only the entries with W1 x > 0 pass the gradient on": _when(
        "skip_backward", lambda a: a[3] + a[1].T @ (a[2].T @ a[3]), ["dx"]
    ),
    "minimising -log p_y pushes p_y up: the gradient is p - e_y, not e_y - p": _when(
        "logreg_gradients", lambda a: tuple(-g for g in logreg_gradients(*a)), ["dW", "db", "dx"]
    ),
}


# --- part 4: the two-layer network's backward pass, by hand ---------------------------------


def two_layer(x, t, w1, b1, w2, b2, lam) -> tuple:  # noqa: ANN001 - numpy arrays
    """The lecture's listing: loss and (dW1, db1, dW2, db2), relu, softmax CE and decay."""
    m = x.shape[0]
    a1 = x @ w1 + b1
    z = np.maximum(a1, 0.0)
    a2 = z @ w2 + b2
    data_loss, da2 = softmax_cross_entropy(a2, t)
    loss = data_loss + 0.5 * lam * (np.sum(w1 * w1) + np.sum(w2 * w2))
    dw2 = lam * w2 + z.T @ da2
    dz = da2 @ w2.T
    da1 = dz * (a1 > 0)
    dw1 = lam * w1 + x.T @ da1
    del m
    return loss, dw1, da1.sum(axis=0), dw2, da2.sum(axis=0)


NETWORK_FIELDS = ["loss", "dW1", "db1", "dW2", "db2"]


def network_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(20):
        m, n, h, k = (
            int(rng.integers(1, 6)),
            int(rng.integers(1, 6)),
            int(rng.integers(2, 6)),
            int(rng.integers(2, 5)),
        )
        x, w1, b1 = anywhere(rng, (m, n)), anywhere(rng, (n, h)), anywhere(rng, (h,))
        a1 = x @ w1 + b1
        b1 = b1 + np.where(np.abs(a1).min(axis=0) < 0.1, 0.3, 0.0)  # away from relu's kink
        w2, b2 = anywhere(rng, (h, k)), anywhere(rng, (k,))
        t = np.eye(k)[rng.integers(0, k, m)]
        lam = 0.0 if i % 5 == 0 else float(rng.uniform(0.01, 0.5))
        out.append(
            _probe(
                "two_layer_backward",
                [x, t, w1, b1, w2, b2, lam],
                [ARRAY] * 6 + [NUMBER],
                NETWORK_FIELDS,
            )
        )
    return out


def _network_witness(p: dict) -> dict:
    x, t, *weights, lam = _args(p)
    grads = central_difference(
        lambda w1, b1, w2, b2: np.array(two_layer(x, t, w1, b1, w2, b2, lam)[0]), weights, 1.0
    )
    return dict(zip(NETWORK_FIELDS[1:], grads, strict=True))


def _network_without(decay: bool = True, mean: bool = True) -> Callable[[list], tuple]:
    """The listing without the penalty's gradient, or without the 1/m of the mean."""

    def wrong(a: list) -> tuple:
        x, t, w1, b1, w2, b2, lam = a
        data_loss, *grads = two_layer(x, t, w1, b1, w2, b2, 0.0)
        grads = [g * (1.0 if mean else len(x)) for g in grads]
        if decay:
            grads[0], grads[2] = grads[0] + lam * w1, grads[2] + lam * w2
        return data_loss + 0.5 * lam * (np.sum(w1 * w1) + np.sum(w2 * w2)), *grads

    return wrong


def _decayed_biases(a: list) -> tuple:
    x, t, w1, b1, w2, b2, lam = a
    loss, dw1, db1, dw2, db2 = two_layer(x, t, w1, b1, w2, b2, lam)
    return loss, dw1, db1 + lam * b1, dw2, db2 + lam * b2


NETWORK_MISTAKES = {
    "the penalty (lambda/2)(|W1|^2 + |W2|^2) adds lambda * W to each weight's gradient": _when(
        "two_layer_backward", _network_without(decay=False), NETWORK_FIELDS
    ),
    "the data loss is the MEAN over the m rows: dA2 = (P - T) / m": _when(
        "two_layer_backward", _network_without(mean=False), NETWORK_FIELDS
    ),
    "the penalty holds the weight matrices only: the biases get no lambda * b": _when(
        "two_layer_backward", _decayed_biases, NETWORK_FIELDS
    ),
}


# --- part 5: the worksheet's sigmoid network, adjoint by adjoint ----------------------------

ADJOINTS = ["loss", "v7", "v6", "v5", "v3", "v2", "v1"]


def sigmoid_net(x: np.ndarray, w1: np.ndarray, w2: np.ndarray, y: np.ndarray) -> tuple:
    """x (1, n) -> v5 = x W1 -> v6 = sigma(v5) -> v7 = v6 W2 -> v8 = CE(v7, y)."""
    v5 = x @ w1
    v6 = stable_logistic(v5)
    v7 = v6 @ w2
    loss, bar_v7 = softmax_cross_entropy(v7, np.eye(w2.shape[1])[[int(y)]])
    bar_v3 = v6.T @ bar_v7
    bar_v6 = bar_v7 @ w2.T
    bar_v5 = bar_v6 * v6 * (1.0 - v6)
    return loss, bar_v7, bar_v6, bar_v5, bar_v3, x.T @ bar_v5, bar_v5 @ w1.T


def adjoint_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(20):
        n, h, k = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(2, 6))
        h = k + 1 if i % 4 == 0 else h  # W2 not square
        x, w1, w2 = anywhere(rng, (1, n)), anywhere(rng, (n, h)), anywhere(rng, (h, k))
        out.append(
            _probe(
                "sigmoid_net_adjoints",
                [x, w1, w2, rng.integers(k)],
                [ARRAY, ARRAY, ARRAY, INT],
                ADJOINTS,
            )
        )
    return out


def _adjoint_witness(p: dict) -> dict:
    x, w1, w2, y = _args(p)
    dx, dw1, dw2 = central_difference(
        lambda x_, a, b: np.array(sigmoid_net(x_, a, b, y)[0]), [x, w1, w2], 1.0
    )
    return {"v1": dx, "v2": dw1, "v3": dw2}


def _sigma_not_derivative(a: list) -> tuple:
    x, w1, w2, y = a
    loss, v7, v6, _, v3, _, _ = sigmoid_net(x, w1, w2, y)
    v5 = v6 * stable_logistic(x @ w1)
    return loss, v7, v6, v5, v3, x.T @ v5, v5 @ w1.T


ADJOINT_MISTAKES = {
    "sigma'(v5) = sigma(v5)(1 - sigma(v5)), not sigma(v5)": _when(
        "sigmoid_net_adjoints", _sigma_not_derivative, ADJOINTS
    ),
}


# --- part 6: Linear and SGD ------------------------------------------------------------------


def linear_probes(rng: np.random.Generator) -> list[dict]:
    out: list[dict] = []
    for i in range(10):
        n_in, n_out = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        n_out = n_in + 1 if i % 3 == 0 else n_out
        batch = (int(rng.integers(1, 5)),) if i % 4 else ()
        out.append(
            {
                "what": "Linear",
                "sizes": [n_in, n_out],
                "init_seed": int(rng.integers(2**31)),
                "W": anywhere(rng, (n_in, n_out)).tolist(),
                "b": anywhere(rng, (n_out,)).tolist(),
                "x": anywhere(rng, (*batch, n_in)).tolist(),
                "g": nonzero(rng, (*batch, n_out)).tolist(),
            }
        )
    for i in range(12):
        shapes = [(int(rng.integers(1, 4)), int(rng.integers(1, 4))), (int(rng.integers(1, 4)),)]
        settings = {
            "lr": float(rng.uniform(0.01, 0.5)),
            "momentum": 0.0 if i % 4 == 0 else float(rng.uniform(0.5, 0.95)),
            "weight_decay": 0.0 if i % 4 == 1 else float(rng.uniform(0.01, 0.2)),
        }
        out.append(
            {
                "what": "SGD",
                "settings": settings,
                "params": [anywhere(rng, s).tolist() for s in shapes],
                "grads": [[nonzero(rng, s).tolist() for s in shapes] for _ in range(3)],
            }
        )
    return out


def sgd_reference(p: dict, decay_first: bool = True, momentum_sign: float = 1.0) -> dict:
    s = p["settings"]
    params = [np.array(x, dtype=np.float64) for x in p["params"]]
    velocity = [np.zeros_like(x) for x in params]
    for step in p["grads"]:
        for i, g in enumerate(step):
            g = np.array(g) + (s["weight_decay"] * params[i] if decay_first else 0.0)
            velocity[i] = momentum_sign * s["momentum"] * velocity[i] + g
            params[i] = params[i] - s["lr"] * velocity[i]
    return {f"parameter {i}": x for i, x in enumerate(params)}


def linear_expected(p: dict) -> dict:
    if p["what"] == "SGD":
        return sgd_reference(p) | {"zero_grad clears the gradients": 1.0}
    w, b, x, g = (np.array(p[k], dtype=np.float64) for k in "Wbxg")
    x2, g2 = x.reshape(-1, w.shape[0]), g.reshape(-1, w.shape[1])
    return {
        "output": x @ w + b,
        "gradient of weight": x2.T @ g2,
        "gradient of bias": g2.sum(axis=0),
        "gradient of x": g @ w.T,
        "initial values within 1/sqrt(in_features)": 1.0,
        "parameters() lists weight and bias": 1.0,
    }


def linear_label(p: dict) -> str:
    if p["what"] == "Linear":
        n_in, n_out = p["sizes"]
        return (
            f"Linear({n_in}, {n_out}) with weight={describe(p['W'], 80)}, "
            f"bias={describe(p['b'], 60)}, x={describe(p['x'], 80)}"
        )
    s = p["settings"]
    return (
        f"SGD(lr={s['lr']:.4g}, momentum={s['momentum']:.4g}, "
        f"weight_decay={s['weight_decay']:.4g}): 3 steps from "
        f"{', '.join(describe(x, 60) for x in p['params'])}"
    )


LINEAR_MISTAKES = {
    "momentum keeps a velocity v = momentum * v + g (plus, not minus), and p -= lr * v": (
        lambda p: sgd_reference(p, momentum_sign=-1.0) if p["what"] == "SGD" else None
    ),
    "weight decay adds weight_decay * p to the gradient before the momentum update": (
        lambda p: sgd_reference(p, decay_first=False) if p["what"] == "SGD" else None
    ),
}


# --- part 7: the training loop ---------------------------------------------------------------

HIDDEN, EPOCHS, BATCH, LR, MOMENTUM = 32, 10, 32, 0.05, 0.9
STATED_ACCURACY = 0.85  # on the held-out digits (the notebook states it)


def _init(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    out = []
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        bound = 1.0 / np.sqrt(n_in)
        out += [rng.uniform(-bound, bound, (n_in, n_out)), rng.uniform(-bound, bound, n_out)]
    return out


def training_probes(rng: np.random.Generator) -> list[dict]:
    out = []
    for _ in range(20):
        n, h, k = int(rng.integers(2, 6)), int(rng.integers(2, 6)), int(rng.integers(2, 5))
        batches = []
        for _b in range(2):
            m = int(rng.integers(1, 6))
            batches.append([anywhere(rng, (m, n)).tolist(), rng.integers(0, k, m).tolist()])
        out.append(
            {
                "what": "train_step",
                "weights": [w.tolist() for w in _init(rng, [n, h, k])],
                "lr": float(rng.uniform(0.05, 0.5)),
                "momentum": float(rng.uniform(0, 0.9)),
                "batches": batches,
            }
        )
    out.append(
        {
            "what": "fit",
            "weights": [w.tolist() for w in _init(rng, [64, HIDDEN, 10])],
            "lr": LR,
            "momentum": MOMENTUM,
            "epochs": EPOCHS,
            "batch_size": BATCH,
            "shuffle_seed": int(rng.integers(2**31)),
        }
    )
    return out


def _mlp_loss_and_grads(weights: list, x: np.ndarray, y: np.ndarray) -> tuple:
    w1, b1, w2, b2 = weights
    t = np.eye(w2.shape[1])[y]
    loss, dw1, db1, dw2, db2 = two_layer(x, t, w1, b1, w2, b2, 0.0)
    return loss, [dw1, db1, dw2, db2]


def train_step_reference(p: dict, zero_grad: bool = True) -> dict:
    weights = [np.array(w, dtype=np.float64) for w in p["weights"]]
    velocity = [np.zeros_like(w) for w in weights]
    accumulated = [np.zeros_like(w) for w in weights]
    losses = []
    for xb, yb in p["batches"]:
        loss, grads = _mlp_loss_and_grads(weights, np.array(xb), np.array(yb, dtype=np.int64))
        losses.append(loss)
        if zero_grad:
            accumulated = grads
        else:
            accumulated = [a + g for a, g in zip(accumulated, grads, strict=True)]
        for i, g in enumerate(accumulated):
            velocity[i] = p["momentum"] * velocity[i] + g
            weights[i] = weights[i] - p["lr"] * velocity[i]
    return {"losses": np.array(losses)} | {f"parameter {i}": w for i, w in enumerate(weights)}


def _warp(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each 8x8 image moved by a random sub-pixel shift (bilinear), its ink scaled a little."""
    out = np.empty_like(images)
    grid = np.arange(8.0)
    for i, image in enumerate(images):
        dy, dx = rng.uniform(-0.35, 0.35, 2)
        rows = np.clip(grid - dy, 0, 7)
        cols = np.clip(grid - dx, 0, 7)
        r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
        r1, c1 = np.minimum(r0 + 1, 7), np.minimum(c0 + 1, 7)
        fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
        top = image[np.ix_(r0, c0)] * (1 - fc) + image[np.ix_(r0, c1)] * fc
        bottom = image[np.ix_(r1, c0)] * (1 - fc) + image[np.ix_(r1, c1)] * fc
        out[i] = (top * (1 - fr) + bottom * fr) * rng.uniform(0.9, 1.1)
    return np.clip(out, 0.0, 1.0)


@lru_cache(maxsize=8)
def heldout_digits(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out digits for one submission: the test split's images, each warped at random.

    They exist only in the grading process: the kernel trains and returns its weights, and
    the accuracy is measured here, so no image or label of this set reaches student code.
    """
    from mytorch.data import load_digits

    _, (x_test, y_test) = load_digits()
    warped = _warp(x_test.reshape(-1, 8, 8), np.random.default_rng(seed))
    return warped.reshape(-1, 64), y_test


def heldout_accuracy(weights: list, seed: int) -> float:
    w1, b1, w2, b2 = (np.array(w, dtype=np.float64) for w in weights)
    x, y = heldout_digits(seed)
    logits = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
    return float(np.mean(np.argmax(logits, axis=1) == y))


def check_training(p: dict, got: Any) -> str | None:
    if p["what"] == "fit":
        if not isinstance(got, dict) or "weights" not in got:
            return f"expected the trained weights, got {describe(got)}"
        shapes = [np.shape(w) for w in p["weights"]]
        try:
            weights = [np.array(w, dtype=np.float64) for w in got["weights"]]
        except (TypeError, ValueError):
            return "the trained weights are not arrays of numbers"
        if [w.shape for w in weights] != shapes or not all(np.all(np.isfinite(w)) for w in weights):
            return "the trained weights have the wrong shapes or are not finite"
        accuracy = heldout_accuracy(weights, p["shuffle_seed"])
        if accuracy < STATED_ACCURACY:
            return (
                f"after fit() the network classifies {accuracy:.1%} of the held-out digits "
                f"correctly; at least {STATED_ACCURACY:.0%} is asked. Does every step "
                "zero the gradients, go forward, backward, and step the optimiser, over "
                "all the batches of every epoch?"
            )
        return None
    return _compare_fields(train_step_reference(p), got, p)


ZERO_GRAD_HINT = (
    "call optimizer.zero_grad() (or model.zero_grad()) before backward(): gradients add up "
    "across calls, so the second step used the sum of both"
)


def _compare_fields(expected: dict, got: Any, p: dict) -> str | None:
    from mytorch_course.checks import compare

    if not isinstance(got, dict):
        return f"expected {', '.join(expected)}; got {describe(got)}"
    wrong = train_step_reference(p, zero_grad=False)
    for key, value in expected.items():
        if key not in got:
            return f"no value for {key!r} was returned"
        matches = _matches(wrong, got, key)
        msg = compare(key, value, got[key], 1e-9, 1e-12, hint=ZERO_GRAD_HINT if matches else "")
        if msg:
            return msg
    return None


def _matches(wrong: dict, got: dict, key: str) -> bool:
    from mytorch_course.checks import close

    return close(got.get(key), wrong[key], 1e-9, 1e-12)


def training_label(p: dict) -> str:
    if p["what"] == "fit":
        return (
            f"fit(a 64-{HIDDEN}-10 network, SGD(lr={p['lr']}, momentum={p['momentum']}), "
            f"the digits' training split, epochs={p['epochs']}, "
            f"batch_size={p['batch_size']})"
        )
    sizes = [len(p["weights"][0]), len(p["weights"][1]), len(p["weights"][3])]
    return (
        f"train_step twice on a {'-'.join(map(str, sizes))} network, "
        f"lr={p['lr']:.4g}, momentum={p['momentum']:.4g}, batches of "
        f"{len(p['batches'][0][1])} and {len(p['batches'][1][1])} rows"
    )


# fmt: off
PARTS: dict[str, Part] = {
    "units": _function_part(
        15, unit_probes, UNIT_REFERENCES, 501, "the units", witnesses=UNIT_WITNESSES,
        mistakes=UNIT_MISTAKES),
    "stable_losses": _function_part(
        15, loss_probes, {"softmax_cross_entropy": softmax_cross_entropy,
                          "log1p_exp_neg": lambda x: np.logaddexp(0.0, -x)},
        502, "softmax cross-entropy and ln(1 + e^-x)",
        witnesses={"softmax_cross_entropy": _loss_witness}, mistakes=LOSS_MISTAKES),
    "logreg_and_skip": _function_part(
        10, derivation_probes, {"logreg_gradients": logreg_gradients,
                                "skip_backward": skip_backward},
        503, "logistic regression and a skip connection", witnesses=DERIVATION_WITNESSES,
        mistakes=DERIVATION_MISTAKES),
    "two_layer_by_hand": _function_part(
        20, network_probes, {"two_layer_backward": two_layer}, 504,
        "the two-layer network by hand",
        witnesses={"two_layer_backward": _network_witness}, mistakes=NETWORK_MISTAKES),
    "sigmoid_net_adjoints": _function_part(
        10, adjoint_probes, {"sigmoid_net_adjoints": sigmoid_net}, 505,
        "the sigmoid network's adjoints",
        witnesses={"sigmoid_net_adjoints": _adjoint_witness}, mistakes=ADJOINT_MISTAKES),
    "linear_and_sgd": Part(
        15, linear_probes, drivers.linear_and_sgd, linear_label, linear_expected,
        mistakes=LINEAR_MISTAKES, seed=506, title="Linear and SGD"),
    "train_digits": Part(
        15, training_probes, drivers.training, training_label, check=check_training, seed=507,
        title="the training loop", time_budget=20.0),
}
# fmt: on
