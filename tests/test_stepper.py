"""The backprop stepper of assignment 3, driven without a browser: its steps replay the
reverse walk with the buffer class it is given, and its buttons page through them."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import mytorch as mt
from mytorch.stepper import HIGHLIGHT, backprop_stepper


class SlotBuffer:
    """A buffer with the interface assignment 3 asks for, keyed by slot."""

    def __init__(self) -> None:
        self.spots: dict[int, mt.Tensor] = {}

    def accumulate(self, tensor: mt.Tensor, grad: mt.Tensor) -> None:
        key = tensor.slot
        self.spots[key] = grad if key not in self.spots else self.spots[key] + grad

    def get(self, tensor: mt.Tensor) -> mt.Tensor | None:
        return self.spots.get(tensor.slot)

    def pop(self, tensor: mt.Tensor) -> mt.Tensor | None:
        return self.spots.pop(tensor.slot, None)


def wx_plus_b() -> tuple[mt.Tensor, dict[str, np.ndarray]]:
    values = {"w": np.array([1.0, -2.0]), "x": np.array([3.0, 0.5]), "b": np.array([0.5, 0.5])}
    leaves = {k: mt.Tensor(v, requires_grad=True, name=k) for k, v in values.items()}
    z = leaves["w"] * leaves["x"]
    z.name = "z"
    y = z + leaves["b"]
    y.name = "y"
    return y, values


def test_the_steps_follow_the_buffer_filling_and_emptying() -> None:
    y, v = wx_plus_b()
    g = np.array([2.0, -1.0])  # not all ones
    stepper = backprop_stepper(y, SlotBuffer, out_grad=g)
    spots = [step.spots for step in stepper.steps]
    assert [sorted(s) for s in spots] == [["y"], ["b", "z"], ["b", "w", "x"]]
    assert np.array_equal(spots[1]["z"], g) and np.array_equal(spots[1]["b"], g)
    assert np.array_equal(spots[2]["w"], g * v["x"]) and np.array_equal(spots[2]["x"], g * v["w"])
    assert stepper.steps[0].record is None
    assert [type(s.record.op).__name__ for s in stepper.steps[1:]] == ["Add", "Mul"]
    assert "visited y = Add(z, b)" in stepper.caption(1)


def test_a_tensor_used_twice_collects_both_gradients() -> None:
    x = mt.Tensor(np.array([1.5, -0.5]), requires_grad=True, name="x")
    y = x * x
    y.name = "y"
    g = np.array([0.5, 3.0])
    last = backprop_stepper(y, SlotBuffer, out_grad=g).steps[-1].spots
    assert np.allclose(last["x"], 2 * g * x.data)


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot")
def test_the_buttons_page_through_the_steps_and_highlight_the_gate() -> None:
    pytest.importorskip("ipywidgets")
    y, _ = wx_plus_b()
    stepper = backprop_stepper(y, SlotBuffer, out_grad=np.array([2.0, -1.0]))
    widget = stepper.widget
    assert stepper._back.disabled and HIGHLIGHT not in stepper._graph.value
    assert "<td>y</td>" in stepper._table.value
    stepper._next.click()
    assert stepper.position == 1 and HIGHLIGHT in stepper._graph.value
    assert "<td>z</td>" in stepper._table.value and "<td>y</td>" not in stepper._table.value
    stepper._next.click()
    stepper._next.click()  # past the end: stays on the last step
    assert stepper.position == 2 and stepper._next.disabled
    assert "<td>w</td>" in stepper._table.value
    stepper._back.click()
    assert stepper.position == 1
    assert widget is stepper.widget
    assert "application/vnd.jupyter.widget-view+json" in stepper._repr_mimebundle_()
