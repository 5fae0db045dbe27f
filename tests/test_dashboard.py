"""The training dashboard, driven without a browser: the slider and the button rerun training,
the curves follow each epoch, and a failing run is shown rather than raised."""

from __future__ import annotations

import math

import matplotlib
import pytest

matplotlib.use("Agg")

pytest.importorskip("ipywidgets")

from mytorch.dashboard import TrainingDashboard  # noqa: E402


class Recorder:
    """A fake training run: loss 1/(1 + lr * epoch); it records what the dashboard drew."""

    def __init__(self, dashboard_ref: list) -> None:
        self.calls: list[float] = []
        self.seen_during_run: list[int] = []
        self.ref = dashboard_ref

    def __call__(self, lr: float):
        self.calls.append(lr)
        for epoch in range(4):
            if self.ref:  # what the dashboard shows while the run is still going
                self.seen_during_run.append(len(self.ref[0].history["loss"]))
            yield 1.0 / (1.0 + lr * epoch), 0.25 * epoch


def make(lr: float = 0.1) -> tuple[TrainingDashboard, Recorder]:
    ref: list = []
    run = Recorder(ref)
    dashboard = TrainingDashboard(run, lr=lr, epochs=4)
    ref.append(dashboard)
    return dashboard, run


def test_nothing_trains_until_asked_and_the_button_trains_at_the_slider_value() -> None:
    dashboard, run = make(0.1)
    assert run.calls == [] and dashboard.runs == 0
    dashboard.button.click()
    assert run.calls == [pytest.approx(0.1)]
    assert dashboard.history["loss"] == pytest.approx([1.0, 1 / 1.1, 1 / 1.2, 1 / 1.3])
    assert dashboard.history["accuracy"] == [0.0, 0.25, 0.5, 0.75]
    assert "epoch 4 of 4" in dashboard.status.value and "75.0%" in dashboard.status.value


def test_moving_the_slider_reruns_a_training_with_the_new_rate() -> None:
    dashboard, run = make(0.1)
    dashboard.slider.value = 1.0
    assert run.calls == [pytest.approx(1.0)] and dashboard.runs == 1
    assert dashboard.history["loss"][-1] == pytest.approx(1 / (1 + 1.0 * 3))
    dashboard.slider.value = 0.01
    assert run.calls[-1] == pytest.approx(0.01) and dashboard.runs == 2
    assert dashboard.history["loss"][-1] == pytest.approx(1 / (1 + 0.01 * 3))  # a fresh history


def test_the_curves_are_redrawn_after_every_epoch() -> None:
    dashboard, run = make()
    dashboard.train(0.5)
    assert run.seen_during_run == [0, 1, 2, 3]  # each epoch was recorded before the next began
    assert dashboard.draws == 4  # and drawn
    loss_axes, accuracy_axes = dashboard.figure().axes
    assert list(loss_axes.lines[0].get_ydata()) == dashboard.history["loss"]
    assert list(accuracy_axes.lines[0].get_ydata()) == [0.0, 0.25, 0.5, 0.75]


def test_an_unwritten_exercise_is_shown_not_raised() -> None:
    def unfinished(lr: float):
        raise NotImplementedError("write Linear first")
        yield  # pragma: no cover

    dashboard = TrainingDashboard(unfinished, lr=0.05, epochs=3)
    history = dashboard.train(0.05)
    assert history == {"loss": [], "accuracy": []}
    assert "NotImplementedError: write Linear first" in dashboard.status.value
    assert not dashboard.button.disabled


def test_a_diverging_run_stops_and_says_why() -> None:
    def diverging(lr: float):
        yield 2.0, 0.1
        yield math.inf, 0.1
        yield 1.0, 0.9  # never reached

    dashboard = TrainingDashboard(diverging, lr=2.0, epochs=3)
    dashboard.train(2.0)
    assert dashboard.history["loss"] == [2.0, math.inf]
    assert "too large" in dashboard.status.value


def test_a_learning_rate_outside_the_slider_is_refused() -> None:
    with pytest.raises(ValueError, match="lr_range"):
        TrainingDashboard(lambda lr: iter(()), lr=10.0)
