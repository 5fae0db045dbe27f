"""The tape's lifecycle: what is freed, what accumulates, and bounded memory."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np

import mytorch as mt
from mytorch import nn


def test_evaluation_loop_without_no_grad_does_not_grow_memory():
    model = nn.Sequential(nn.Linear(64, 64, rng=0), nn.ReLU(), nn.Linear(64, 10, rng=1))
    batch = mt.Tensor(np.random.default_rng(0).standard_normal((32, 64)))
    for _ in range(50):  # warm up caches and the tape's pruning threshold
        model(batch).sum()
    tracemalloc.start()
    model(batch).sum()
    start, _ = tracemalloc.get_traced_memory()
    for _ in range(3000):
        model(batch).sum()  # forgot no_grad(): each graph is still recorded...
    end, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # ...but dies with its tensors, so 3000 iterations cost no more than a few graphs.
    assert end - start < 200_000, f"memory grew by {end - start} bytes"
    assert len(mt.tape._refs) < 4096


def test_graphs_are_freed_by_reference_counting_alone():
    gc.disable()  # no cycle collector: a reference cycle would keep the graph alive
    try:
        x = mt.Tensor(np.ones(3), requires_grad=True)
        y = mt.exp(x * 2.0).sum()
        record = weakref.ref(y.record)
        output = weakref.ref(y)
        y.backward()
        del y
        assert output() is None and record() is None
    finally:
        gc.enable()


def test_intermediate_spots_are_freed_and_leaves_keep_their_gradient():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 3.0
    loss = (hidden * hidden).sum()
    loss.backward()
    assert hidden.grad is None and loss.grad is None
    assert x.grad is not None


def test_rerunning_a_cell_builds_a_fresh_independent_graph():
    def cell():
        w = mt.Tensor([0.5, -1.0], requires_grad=True)
        loss = (w * w).sum()
        loss.backward()
        return w

    first, second = cell(), cell()
    np.testing.assert_array_equal(first.grad.data, second.grad.data)
    assert first.slot != second.slot


def test_backward_ignores_unrelated_graphs_on_the_tape():
    a = mt.Tensor(1.0, requires_grad=True)
    b = mt.Tensor(2.0, requires_grad=True)
    unrelated = b * 5.0
    loss = a * 3.0
    later = b * 7.0  # recorded after loss
    loss.backward()
    assert a.grad.item() == 3.0 and b.grad is None
    del unrelated, later


def test_tape_summary_lists_ops_shapes_and_gradient_norms():
    x = mt.Tensor(np.ones((2, 3)), requires_grad=True)
    w = mt.Tensor(np.full((3, 4), 0.5), requires_grad=True)
    loss = mt.tanh(x @ w).sum()
    summary = mt.tape_summary(loss)
    assert [row.op for row in summary.rows] == ["MatMul", "Tanh", "Sum"]
    matmul = summary.rows[0]
    assert matmul.input_shapes == [(2, 3), (3, 4)] and matmul.output_shape == (2, 4)
    expected_out_norm = np.linalg.norm(1 - np.tanh(np.full((2, 4), 1.5)) ** 2)
    assert np.isclose(matmul.out_grad_norm, expected_out_norm)
    assert "MatMul" in str(summary) and "<table>" in summary._repr_html_()
    assert x.grad is None  # the summary does not touch .grad


def test_trace_backward_shows_the_buffer_filling_and_emptying():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    a = mt.exp(x)  # op 1
    b = a * a  # op 2: a is used twice, one spot receives both gradients
    loss = b.sum()  # op 3
    trace = mt.trace_backward(loss)
    assert [s.op for s in trace] == ["Sum", "Mul", "Exp"]
    assert trace[0].spots == {b.slot: (2,)}  # Sum handed its gradient to b's spot
    assert trace[1].spots == {a.slot: (2,)}  # b's spot freed, a's spot holds the sum
    assert trace[2].spots == {} and trace[2].bytes == 0  # x is a leaf: nothing left
    assert x.grad is None
