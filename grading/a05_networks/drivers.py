"""Drivers of assignment 05-networks: they run in the student's kernel (as source).

Each driver calls the student's code on one probe and returns plain JSON; it never judges.
The training driver returns the trained weights only: the held-out digits that measure the
accuracy never enter the kernel (the grading process scores the weights itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import mytorch
from mytorch import nn


def _plain(value: Any) -> Any:
    """A student's result (Tensor, array, number, list of them) as plain JSON numbers."""
    if isinstance(value, mytorch.Tensor):
        value = value.data
    if isinstance(value, list | tuple) and any(
        isinstance(v, mytorch.Tensor | np.ndarray) for v in value
    ):
        return [_plain(v) for v in value]
    return np.asarray(value, dtype=np.float64).tolist()


def _argument(value: Any, kind: str) -> Any:
    if kind == "int":
        return np.array(value, dtype=np.int64)
    if kind == "shape":
        return tuple(value)
    if kind == "number":
        return float(value)
    if kind == "arrays":
        return [np.array(v, dtype=np.float64) for v in value]
    return np.array(value, dtype=np.float64)


def function(probe: dict, student: Mapping[str, Any]) -> dict:
    """``student[fn](*args)``: one value, a dict (kept by key) or a sequence named by ``fields``."""
    args = [_argument(v, k) for v, k in zip(probe["args"], probe["kinds"], strict=True)]
    result = student[probe["fn"]](*args)
    fields = probe["fields"]
    if isinstance(result, dict):
        return {f: _plain(result[f]) for f in fields if f in result}
    if probe["returns"] == "one value":
        return {fields[0]: _plain(result)}
    return {f: _plain(r) for f, r in zip(fields, result, strict=False)}


def _parameters(module: Any) -> tuple[Any, Any]:
    weight, bias = module.weight, module.bias
    if not isinstance(weight, nn.Parameter) or not isinstance(bias, nn.Parameter):
        raise TypeError("Linear's weight and bias must be nn.Parameter objects (so they train)")
    return weight, bias


def linear_and_sgd(probe: dict, student: Mapping[str, Any]) -> dict:
    """The student's ``Linear`` (forward, parameters, gradients) or ``SGD`` (a few steps)."""
    if probe["what"] == "Linear":
        n_in, n_out = probe["sizes"]
        layer = student["Linear"](n_in, n_out, rng=np.random.default_rng(probe["init_seed"]))
        weight, bias = _parameters(layer)
        bound = 1.0 / np.sqrt(n_in)
        start = np.concatenate([np.ravel(weight.data), np.ravel(bias.data)])
        in_bounds = bool(np.all(np.abs(start) <= bound))
        found = {id(p) for p in layer.parameters()}
        weight.data = np.array(probe["W"], dtype=np.float64)
        bias.data = np.array(probe["b"], dtype=np.float64)
        x = mytorch.Tensor(np.array(probe["x"], dtype=np.float64), requires_grad=True)
        out = layer(x)
        (out * mytorch.Tensor(np.array(probe["g"], dtype=np.float64))).sum().backward()
        return {
            "output": _plain(out),
            "gradient of weight": _plain(weight.grad),
            "gradient of bias": _plain(bias.grad),
            "gradient of x": _plain(x.grad),
            "initial values within 1/sqrt(in_features)": float(in_bounds),
            "parameters() lists weight and bias": float(found == {id(weight), id(bias)}),
        }
    params = [nn.Parameter(np.array(p, dtype=np.float64)) for p in probe["params"]]
    settings = probe["settings"]
    optimizer = student["SGD"](
        params,
        lr=settings["lr"],
        momentum=settings["momentum"],
        weight_decay=settings["weight_decay"],
    )
    for step in probe["grads"]:
        for p, g in zip(params, step, strict=True):
            p.grad = mytorch.Tensor(np.array(g, dtype=np.float64))
        optimizer.step()
    optimizer.zero_grad()
    cleared = all(p.grad is None or not np.any(p.grad.data) for p in params)
    return {f"parameter {i}": _plain(p) for i, p in enumerate(params)} | {
        "zero_grad clears the gradients": float(cleared)
    }


# --- training: the grader's own layer and optimiser, so that only the loop is graded ---------


class _Layer(nn.Module):
    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(bias)

    def forward(self, x: mytorch.Tensor) -> mytorch.Tensor:
        return x @ self.weight + self.bias


class _SGD:
    def __init__(self, params: list, lr: float, momentum: float) -> None:
        self.params, self.lr, self.momentum = params, lr, momentum
        self.velocity = [np.zeros_like(p.data) for p in params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for p, v in zip(self.params, self.velocity, strict=True):
            if p.grad is not None:
                v *= self.momentum
                v += p.grad.data
                p.data = p.data - self.lr * v


def _network(weights: list) -> tuple[nn.Module, list]:
    w1, b1, w2, b2 = (np.array(w, dtype=np.float64) for w in weights)
    first, second = _Layer(w1, b1), _Layer(w2, b2)
    return nn.Sequential(first, nn.ReLU(), second), [first, second]


def _weights(layers: list) -> list:
    return [_plain(p) for layer in layers for p in (layer.weight, layer.bias)]


def training(probe: dict, student: Mapping[str, Any]) -> dict:
    """Two calls of ``train_step`` on a small batch, or a whole ``fit`` on the digits."""
    model, layers = _network(probe["weights"])
    optimizer = _SGD(model.parameters(), probe["lr"], probe["momentum"])
    if probe["what"] == "train_step":
        losses = []
        for xb, yb in probe["batches"]:
            x, y = np.array(xb, dtype=np.float64), np.array(yb, dtype=np.int64)
            losses.append(float(student["train_step"](model, optimizer, x, y)))
        weights = _weights(layers)
        return {"losses": losses} | {f"parameter {i}": w for i, w in enumerate(weights)}
    from mytorch.data import load_digits

    (x_train, y_train), _ = load_digits()
    rng = np.random.default_rng(probe["shuffle_seed"])
    student["fit"](model, optimizer, x_train, y_train, probe["epochs"], probe["batch_size"], rng)
    return {"weights": _weights(layers)}
