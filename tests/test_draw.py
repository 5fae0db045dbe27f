"""Drawing graphs with the real `dot` program."""

from __future__ import annotations

import shutil
import warnings

import graphviz
import numpy as np
import pytest

import mytorch as mt
from mytorch.draw import DOT_MISSING

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` not installed")


def example():
    x = mt.Tensor(-2.0, requires_grad=True, name="x")
    y = mt.Tensor(5.0, requires_grad=True, name="y")
    z = mt.Tensor(-4.0, requires_grad=True, name="z")
    f = (x + y) * z
    f.name = "f"
    return f, (x, y, z)


def test_draw_returns_a_digraph_with_boxes_gates_and_values():
    f, _ = example()
    graph = mt.draw(f)
    assert isinstance(graph, graphviz.Digraph)
    source = graph.source
    assert "<b>x</b>" in source and "<b>f</b>" in source
    assert "-12" in source  # the value of f
    assert "shape=box" in source and "circle" in source
    assert "grad" not in source  # no backward yet


def test_gradients_order_and_buffer_appear_when_asked():
    f, (x, _, _) = example()
    f.backward()
    source = mt.draw(f, show_order=True, show_buffer=True).source
    assert "grad -4" in source  # x's gradient
    assert "#1 +" in source and "#2 ×" in source
    assert f"spot {x.slot}" in source


def test_big_tensors_show_their_shape():
    w = mt.Tensor(np.ones((8, 5)), requires_grad=True)
    source = mt.draw((w * 2.0).sum()).source
    assert "shape 8×5" in source


@needs_dot
def test_real_dot_renders_svg_with_labels():
    f, _ = example()
    f.backward()
    svg = mt.draw(f).pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert ">x<" in svg and "grad" in svg
    bundle = mt.draw(f)._repr_mimebundle_()
    assert "image/svg+xml" in bundle


def test_missing_dot_explains_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    f, _ = example()
    with pytest.warns(UserWarning, match="apt-get install graphviz"):
        graph = mt.draw(f)
    bundle = graph._repr_mimebundle_()
    assert bundle == {"text/plain": DOT_MISSING}
    assert "brew install graphviz" in DOT_MISSING


def test_missing_dot_message_appears_once_per_graph_in_ipython(monkeypatch, capsys):
    """In IPython (and so Jupyter) the displayed graph says how to install dot; no warning
    repeats it."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("PATH", "/nonexistent")
    shell = InteractiveShell.instance()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # a warning would print every time
            result = shell.run_cell(
                "import mytorch as mt\n"
                "x = mt.Tensor([1.0, 2.0], requires_grad=True)\n"
                "mt.draw((x * x).sum())\n"
            )
    finally:
        InteractiveShell.clear_instance()
    assert result.success, result.error_in_exec
    captured = capsys.readouterr()
    shown = [captured.out, captured.err, *(str(w.message) for w in caught)]
    assert sum(text.count("apt-get install graphviz") for text in shown) == 1, shown
