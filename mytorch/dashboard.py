"""A training dashboard for notebooks: live loss and accuracy curves, a learning-rate slider.

>>> def run(lr):                      # one short training run, one (loss, accuracy) per epoch
...     for epoch in range(5):
...         yield 1.0 / (1 + epoch * lr), min(1.0, 0.5 + epoch * lr)
>>> dashboard = TrainingDashboard(run, lr=0.05, epochs=5)   # display it in Jupyter
>>> history = dashboard.train(0.05)                         # what the Train button does

The Train button runs a training; moving the slider trains again with the new learning
rate. The curves are redrawn after every epoch, so a long run shows its progress; ``history``
holds the latest run's numbers. An error inside a run (an exercise not written yet, a loss
that becomes NaN) is shown in the dashboard instead of being raised, so that the notebook
carries on.

ipywidgets and matplotlib are imported when a dashboard is made, not with mytorch (the engine
itself needs numpy only).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

Run = Callable[[float], Iterable[tuple[float, float]]]


def _widgets() -> tuple[Any, Any]:
    try:
        import ipywidgets
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "TrainingDashboard needs ipywidgets and matplotlib: pip install ipywidgets matplotlib"
        ) from err
    return ipywidgets, plt


class TrainingDashboard:
    """Runs ``run(lr)`` (an iterable of ``(loss, accuracy)`` per epoch) and plots it live."""

    def __init__(
        self,
        run: Run,
        lr: float = 0.05,
        epochs: int = 10,
        lr_range: tuple[float, float] = (1e-3, 3.0),
    ) -> None:
        if not 0 < lr_range[0] < lr_range[1] or not lr_range[0] <= lr <= lr_range[1]:
            raise ValueError(f"lr {lr} must be positive and inside lr_range {lr_range}")
        ipywidgets, self._plt = _widgets()
        self.run, self.epochs = run, int(epochs)
        self.history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        self.runs = 0
        self.draws = 0  # how often the curves were redrawn (after every epoch)
        self.error: str | None = None
        self.slider = ipywidgets.FloatLogSlider(
            value=lr,
            base=10,
            min=math.log10(lr_range[0]),
            max=math.log10(lr_range[1]),
            step=0.05,
            description="learning rate",
            continuous_update=False,
        )
        self.button = ipywidgets.Button(description="Train", icon="play")
        self.status = ipywidgets.HTML("Press <b>Train</b>, or move the slider.")
        self.output = ipywidgets.Output()
        self.widget = ipywidgets.VBox(
            [ipywidgets.HBox([self.slider, self.button]), self.status, self.output]
        )
        self.slider.observe(lambda change: self.train(change["new"]), names="value")
        self.button.on_click(lambda _: self.train(self.slider.value))

    def train(self, lr: float) -> dict[str, list[float]]:
        """One run at learning rate ``lr``, redrawing after each epoch; returns the history."""
        self.runs += 1
        self.history = {"loss": [], "accuracy": []}
        self.error = None
        self.button.disabled = True
        try:
            for loss, accuracy in self.run(lr):
                self.history["loss"].append(float(loss))
                self.history["accuracy"].append(float(accuracy))
                self._draw(lr)
                if not math.isfinite(loss):
                    self.error = f"the loss is {loss} at lr = {lr:.3g}: the steps are too large"
                    break
        except Exception as err:  # noqa: BLE001 - shown to the student, the notebook carries on
            self.error = f"{type(err).__name__}: {err}"
        finally:
            self.button.disabled = False
        if self.error or not self.history["loss"]:
            self._draw(lr)
        return self.history

    def _draw(self, lr: float) -> None:
        done = len(self.history["loss"])
        if self.error:
            self.status.value = f"<b>Stopped:</b> {self.error}"
        else:
            last = f", accuracy {self.history['accuracy'][-1]:.1%}" if done else ""
            self.status.value = f"lr = {lr:.3g}: epoch {done} of {self.epochs}{last}"
        from IPython.display import display

        self.draws += 1
        with self.output:
            self.output.clear_output(wait=True)
            figure = self.figure()
            display(figure)
            self._plt.close(figure)

    def figure(self) -> Any:
        """The two curves of the latest run, as a matplotlib figure."""
        figure, (left, right) = self._plt.subplots(1, 2, figsize=(8, 3))
        epochs = range(1, len(self.history["loss"]) + 1)
        left.plot(epochs, self.history["loss"], "o-")
        left.set(title="training loss", xlabel="epoch", xlim=(0.5, self.epochs + 0.5))
        right.plot(epochs, self.history["accuracy"], "o-", color="tab:green")
        right.set(title="test accuracy", xlabel="epoch", xlim=(0.5, self.epochs + 0.5), ylim=(0, 1))
        figure.tight_layout()
        return figure

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
