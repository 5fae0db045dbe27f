"""Seeing the engine: computational graphs (graphviz) and a tape summary table."""

from __future__ import annotations

import html
import shutil
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import graphviz
import numpy as np

from .autograd import graph_operations, reverse_walk, seed_gradient
from .tensor import Tensor

DOT_MISSING = (
    "mytorch.draw: the graphviz `dot` program was not found, so graphs cannot be rendered. "
    "Install it: Debian/Ubuntu `sudo apt-get install graphviz`, macOS `brew install graphviz`, "
    "conda `conda install -c conda-forge graphviz`, Windows `winget install graphviz`; "
    "then restart the kernel."
)


class Graph(graphviz.Digraph):
    """A Digraph that explains how to install ``dot`` instead of failing in Jupyter."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except graphviz.ExecutableNotFound:
            return {"text/plain": DOT_MISSING}


def _displayed_by_ipython() -> bool:
    """Whether an IPython shell (Jupyter's kernel too) will display the graph, and so show
    DOT_MISSING itself: a warning as well would print the message twice per graph."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def _format(array: np.ndarray, max_values: int) -> str:
    if array.size == 1:
        return f"{array.item():.4g}"
    if array.size <= max_values:
        return np.array2string(array, precision=3, separator=", ", suppress_small=True)
    return "shape " + "×".join(str(n) for n in array.shape)


def _op_label(op: Any) -> str:
    """The op's symbol, unless its repr says more (e.g. ``PowerScalar(2)``)."""
    text = repr(op)
    symbol = getattr(op, "symbol", None)
    return symbol if symbol and text == type(op).__name__ else text


def draw(
    root: Tensor,
    show_order: bool = False,
    show_buffer: bool = False,
    show_grad: bool = True,
    max_values: int = 6,
    rankdir: str = "LR",
) -> Graph:
    """Draw ``root``'s computational graph: tensors are boxes, ops are round gates.

    * A box shows the tensor's name (if it has one), its value when small (else its shape)
      and, after ``backward()``, its gradient.
    * ``show_order`` numbers the gates in tape order (the order backward reverses).
    * ``show_buffer`` labels each box with its memory-buffer spot (its slot id).
    """
    if shutil.which("dot") is None and not _displayed_by_ipython():
        warnings.warn(DOT_MISSING, stacklevel=2)
    graph = Graph(graph_attr={"rankdir": rankdir}, node_attr={"fontname": "Helvetica"})
    records = graph_operations(root)
    tensors: dict[int, Tensor] = {root.slot: root}
    for record in records:
        for t in record.inputs:
            tensors.setdefault(t.slot, t)
        out = record.output
        if out is not None:
            tensors.setdefault(out.slot, out)

    for t in tensors.values():
        rows = []
        if t.name:
            rows.append(f"<b>{html.escape(t.name)}</b>")
        rows.append(html.escape(_format(t.data, max_values)))
        if show_grad and t.grad is not None:
            rows.append(
                f"<font color='#b03030'>grad {html.escape(_format(t.grad.data, max_values))}</font>"
            )
        if show_buffer:
            rows.append(f"<font color='#3050b0'>spot {t.slot}</font>")
        label = "<" + "<br/>".join(rows) + ">"
        color = "#e8f0ff" if t.is_leaf and t.requires_grad else "#f4f4f4"
        graph.node(f"t{t.slot}", label, shape="box", style="rounded,filled", fillcolor=color)

    for position, record in enumerate(records):
        gate = f"op{record.output_slot}"
        label = _op_label(record.op)
        if show_order:
            label = f"#{position + 1} {label}"
        graph.node(gate, label, shape="circle" if len(label) <= 4 else "ellipse",
                   style="filled", fillcolor="#fff3d6")  # fmt: skip
        for t in record.inputs:
            graph.edge(f"t{t.slot}", gate)
        graph.edge(gate, f"t{record.output_slot}")
    return graph


@dataclass
class TapeRow:
    position: int
    op: str
    input_shapes: list[tuple[int, ...]]
    output_shape: tuple[int, ...]
    out_grad_norm: float | None
    input_grad_norms: list[float | None]


class TapeSummary:
    """A table of the ops on a loss's tape with shapes and gradient norms."""

    def __init__(self, rows: list[TapeRow]) -> None:
        self.rows = rows

    def _cells(self) -> list[list[str]]:
        def norm(x: float | None) -> str:
            return "-" if x is None else f"{x:.4g}"

        return [
            [
                str(r.position),
                r.op,
                ", ".join(str(s) for s in r.input_shapes),
                str(r.output_shape),
                norm(r.out_grad_norm),
                ", ".join(norm(n) for n in r.input_grad_norms),
            ]
            for r in self.rows
        ]

    _HEADER = ["#", "op", "input shapes", "output shape", "|out grad|", "|input grads|"]

    def __str__(self) -> str:
        cells = [self._HEADER] + self._cells()
        widths = [max(len(row[i]) for row in cells) for i in range(len(self._HEADER))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self._cells()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def tape_summary(loss: Tensor, out_grad: Any = None) -> TapeSummary:
    """Summarise ``loss``'s tape: each op, its shapes, and the gradient norms it passed back.

    Runs its own backward pass (leaving every ``.grad`` untouched) to measure the norms.
    """
    records = graph_operations(loss)
    if loss.requires_grad:
        reverse_walk(loss, seed_gradient(loss, out_grad), record_norms=True)
    rows = []
    for position, record in enumerate(records, start=1):
        out_norm, in_norms = record.grad_norms or (None, [None] * len(record.inputs))
        rows.append(
            TapeRow(
                position,
                repr(record.op),
                [t.shape for t in record.inputs],
                record.output.shape if record.output is not None else (),
                out_norm,
                list(in_norms),
            )
        )
    return TapeSummary(rows)
