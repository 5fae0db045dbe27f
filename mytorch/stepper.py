"""A backprop stepper: walk a loss's tape backwards one record at a time, in a notebook.

``backprop_stepper(loss, buffer_class)`` replays the reverse walk over the records that
``loss`` depends on, newest first, keeping the gradients in a buffer of ``buffer_class`` (the
``MemoryBuffer`` written in assignment 3: ``accumulate(tensor, grad)``, ``get(tensor)``,
``pop(tensor)``). Each step shows the graph (``mytorch.draw``) with the record being visited
highlighted, and a table of the spots the buffer holds after it. The widgets come from
ipywidgets, imported when a stepper is made; the steps themselves (``Stepper.steps``) need
none, so a test can check them without a browser.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autograd import graph_operations
from .draw import draw
from .recording import Operation, no_grad
from .tensor import Tensor

HIGHLIGHT = "#ff9f40"


@dataclass
class Step:
    """The buffer after visiting one record (``record`` None: before the walk, seed only)."""

    record: Operation | None
    spots: dict[str, np.ndarray]  # tensor name -> gradient in its spot


class Stepper:
    """The steps of one reverse walk, and (once shown) the widget that pages through them."""

    def __init__(
        self,
        loss: Tensor,
        buffer_class: type,
        names: Mapping[Tensor, str] | None = None,
        out_grad: Any = None,
    ) -> None:
        self.loss = loss
        self.records = graph_operations(loss)
        self.tensors = _tensors(loss, self.records)
        self.names = {t.slot: f"t{i}" for i, t in enumerate(self.tensors)}
        self.names |= {t.slot: t.name for t in self.tensors if t.name}
        self.names |= {t.slot: name for t, name in (names or {}).items()}
        seed = np.ones_like(loss.data) if out_grad is None else np.asarray(out_grad)
        self.steps = self._walk(buffer_class(), Tensor(seed))
        self.position = 0
        self._widget: Any = None

    def _walk(self, buffer: Any, seed: Tensor) -> list[Step]:
        buffer.accumulate(self.loss, seed)
        steps = [Step(None, self._spots(buffer))]
        with no_grad():
            for record in reversed(self.records):
                out_grad = buffer.pop(record.output)
                if out_grad is None:
                    continue
                grads = record.op.gradient(out_grad, record.output)
                grads = grads if isinstance(grads, tuple | list) else (grads,)
                for tensor, grad in zip(record.inputs, grads, strict=True):
                    if grad is not None and tensor.requires_grad:
                        buffer.accumulate(tensor, grad)
                steps.append(Step(record, self._spots(buffer)))
        return steps

    def _spots(self, buffer: Any) -> dict[str, np.ndarray]:
        spots = {}
        for t in self.tensors:
            grad = buffer.get(t)
            if grad is not None:
                spots[self.names[t.slot]] = np.array(getattr(grad, "data", grad), dtype=float)
        return spots

    def caption(self, position: int) -> str:
        step = self.steps[position]
        if step.record is None:
            return f"before the walk: the seed waits in the spot of {self.names[self.loss.slot]}"
        r = step.record
        ins = ", ".join(self.names[t.slot] for t in r.inputs)
        out = self.names[r.output_slot]
        return f"step {position}: visited {out} = {r.op!r}({ins}); its spot is freed"

    def graph_svg(self, position: int) -> str:
        graph = draw(self.loss, show_order=True, show_grad=False)
        record = self.steps[position].record
        if record is not None:  # a second statement for the gate overrides its colour
            graph.node(f"op{record.output_slot}", style="filled", fillcolor=HIGHLIGHT, penwidth="3")
        return graph.pipe(format="svg").decode()

    def table_html(self, position: int) -> str:
        spots = self.steps[position].spots
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(_short(grad))}</td></tr>"
            for name, grad in spots.items()
        )
        head = f"<b>{html.escape(self.caption(position))}</b><br>"
        return (
            head
            + f"<table><tr><th>spot</th><th>gradient</th></tr>{rows}</table>"
            + ("" if spots else "<i>the buffer is empty</i>")
        )

    def go(self, position: int) -> None:
        """Show step ``position`` (0: the seed only; the last: the walk is over)."""
        self.position = max(0, min(position, len(self.steps) - 1))
        if self._widget is not None:
            self._refresh()

    @property
    def widget(self) -> Any:
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self) -> Any:
        try:
            import ipywidgets as widgets
        except ImportError as err:  # pragma: no cover - the course environment has it
            raise ImportError(
                "the backprop stepper needs ipywidgets: pip install ipywidgets"
            ) from err
        self._back = widgets.Button(description="◀ back")
        self._next = widgets.Button(description="next ▶")
        self._graph = widgets.HTML()
        self._table = widgets.HTML()
        self._back.on_click(lambda _: self.go(self.position - 1))
        self._next.on_click(lambda _: self.go(self.position + 1))
        box = widgets.VBox([widgets.HBox([self._back, self._next]), self._graph, self._table])
        self._widget = box
        self._refresh()
        return box

    def _refresh(self) -> None:
        self._graph.value = self.graph_svg(self.position)
        self._table.value = self.table_html(self.position)
        self._back.disabled = self.position == 0
        self._next.disabled = self.position == len(self.steps) - 1

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def backprop_stepper(
    loss: Tensor,
    buffer_class: type,
    names: Mapping[Tensor, str] | None = None,
    out_grad: Any = None,
) -> Stepper:
    """A stepper over ``loss``'s reverse walk, with a buffer of ``buffer_class``."""
    return Stepper(loss, buffer_class, names, out_grad)


def _tensors(loss: Tensor, records: list[Operation]) -> list[Tensor]:
    seen: dict[int, Tensor] = {}
    for record in records:
        for t in (*record.inputs, record.output):
            if t is not None:
                seen.setdefault(t.slot, t)
    seen.setdefault(loss.slot, loss)
    return list(seen.values())


def _short(grad: np.ndarray) -> str:
    return np.array2string(grad, precision=4, threshold=8)
