"""Small helpers the book's chapters share (imported by their code cells).

``picture_slider`` builds a slider that flips between pictures drawn in advance. The
pictures and the link between slider and pictures live in the browser (an ipywidgets
``Stack`` joined to the slider with ``jslink``), so the widget keeps working in the
static HTML book, where no Python kernel is running.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets


def to_image(picture: Any) -> widgets.Image:
    """A matplotlib Figure or a graphviz graph as an ipywidgets Image."""
    if hasattr(picture, "savefig"):  # matplotlib Figure
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        picture.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(picture)
        return widgets.Image(value=buffer.getvalue(), format="png")
    if hasattr(picture, "pipe"):  # graphviz Digraph
        return widgets.Image(value=picture.pipe(format="svg"), format="svg+xml")
    raise TypeError(f"cannot show {type(picture).__name__} as a picture")


def picture_slider(
    values: Sequence[Any],
    draw: Callable[[Any], Any],
    description: str,
    labels: Sequence[str] | None = None,
    start: int = 0,
) -> widgets.VBox:
    """A slider over ``values``; moving it shows ``draw(value)`` (drawn once per value)."""
    labels = list(labels) if labels is not None else [f"{v:g}" for v in values]
    stack = widgets.Stack([to_image(draw(v)) for v in values], selected_index=start)
    slider = widgets.SelectionSlider(
        options=list(zip(labels, range(len(values)), strict=True)),
        value=start,
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="60%"),
    )
    widgets.jslink((slider, "index"), (stack, "selected_index"))
    return widgets.VBox([slider, stack])
