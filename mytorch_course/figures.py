"""Figures rendered in advance, for the notebooks that come before the engine.

The student editions of assignments 1 and 2 leave out the engine that records graphs and
runs ``backward()`` (students write it in assignment 3). Their notebooks still show the
engine at work: these figures are drawn here with the full engine and written to
``solutions/<assignment>/figures/`` (``mytorch-course figures``), which the release copies
into ``assignments/<assignment>/figures/``. A figure is ``NAME.svg`` (the graph) and
``NAME.txt`` (what the demo printed); the notebook's ``show_figure(NAME)`` shows both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mytorch
from mytorch import Tensor

Render = Callable[[], list[tuple[str, object, str]]]  # [(name, graph, printed text)]


def _cube() -> list[tuple[str, object, str]]:
    x = Tensor(2.0, requires_grad=True, name="x")
    y = x * x * x
    y.name = "y = x·x·x"
    y.backward()
    text = f"dy/dx from the engine: {float(x.grad.data)!r}   (exact: 3·2² = 12)"
    return [("cube", mytorch.draw(y), text)]


def _wiggle() -> list[tuple[str, object, str]]:
    x = Tensor(1.7, requires_grad=True, name="x")
    g = x * mytorch.sin(x * x)
    g.name = "g"
    g.backward()
    return [("wiggle", mytorch.draw(g), f"engine:        g'(1.7) = {float(x.grad.data)!r}")]


def _circuit() -> list[tuple[str, object, str]]:
    x = Tensor(-2.0, requires_grad=True, name="x")
    y = Tensor(5.0, requires_grad=True, name="y")
    z = Tensor(-4.0, requires_grad=True, name="z")
    v1 = x + y
    v1.name = "v1"
    f = v1 * z
    f.name = "f"
    before = mytorch.draw(f)
    f.backward(retain_grad=True)
    text = f"df/dx = {x.grad.item()}   df/dy = {y.grad.item()}   df/dz = {z.grad.item()}"
    return [("circuit-forward", before, ""), ("circuit-backward", mytorch.draw(f), text)]


def _log_example() -> list[tuple[str, object, str]]:
    x1 = Tensor(2.0, requires_grad=True, name="x1")
    x2 = Tensor(5.0, requires_grad=True, name="x2")
    y = mytorch.log(x1) + x1 * x2 - mytorch.sin(x2)
    y.name = "y"
    order = mytorch.draw(y, show_order=True)
    y.backward()
    text = f"y = {y.item():.3f}, dy/dx1 = {x1.grad.item():.4f}, dy/dx2 = {x2.grad.item():.4f}"
    return [("log-example-order", order, ""), ("log-example-backward", mytorch.draw(y), text)]


def _neuron() -> list[tuple[str, object, str]]:
    w = [Tensor(v, requires_grad=True, name=f"w{i}") for i, v in enumerate([-3.0, 2.0, -3.0])]
    x = [Tensor(v, requires_grad=True, name=f"x{i}") for i, v in [(1, -1.0), (2, -2.0)]]
    neuron = mytorch.sigmoid(w[0] + w[1] * x[0] + w[2] * x[1])
    neuron.name = "f"
    before = mytorch.draw(neuron)
    neuron.backward()
    text = "\n".join(
        [
            f"f = {neuron.item():.3f}",
            f"df/dw = {[round(t.grad.item(), 3) for t in w]}",
            f"df/dx = {[round(t.grad.item(), 3) for t in x]}",
        ]
    )
    return [("neuron-forward", before, ""), ("neuron-backward", mytorch.draw(neuron), text)]


FIGURES: dict[str, list[Render]] = {
    "01-derivatives": [_cube, _wiggle],
    "02-backprop": [_circuit, _log_example, _neuron],
}


def render_figures(assignment: str, out_dir: Path) -> list[Path]:
    """Draw ``assignment``'s figures with the full engine into ``out_dir``; return the files."""
    written: list[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for render in FIGURES.get(assignment, []):
        for name, graph, text in render():
            svg = out_dir / f"{name}.svg"
            svg.write_bytes(graph.pipe(format="svg"))
            written.append(svg)
            if text:
                (out_dir / f"{name}.txt").write_text(text + "\n")
                written.append(out_dir / f"{name}.txt")
    return written
