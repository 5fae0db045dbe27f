"""RobustExecute: nbgrader's Execute, but a dead kernel costs only the cell that killed it."""

from __future__ import annotations

import copy
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

from ..notebook import error_output
from ..sandbox import SandboxKernelManager


class RobustExecute(Execute):
    """nbgrader's Execute, but a dead kernel costs only the cell that killed it.

    On ``DeadKernelError`` the offending cell is replaced by a comment and the whole notebook
    re-runs in a fresh kernel (state must be rebuilt from the top), up to ``max_deaths`` times.
    """

    max_deaths = Integer(3, help="Kernel deaths tolerated before giving up").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Every kernel in its sandbox (see sandbox.py); a kwarg because config cannot
        # override the one nbgrader's Execute passes.
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        skipped: list[int] = []
        for _ in range(self.max_deaths + 1):
            work = copy.deepcopy(nb)
            for idx in skipped:
                work.cells[idx].source = "# [grader] skipped: this cell stopped the Python kernel"
            self._mytorch_index = -1
            try:
                out, resources = super().preprocess(work, resources, km)
            except DeadKernelError:
                idx = self._mytorch_index
                if idx < 0 or idx in skipped:
                    raise
                self.log.warning("kernel died in cell %d; re-running without it", idx)
                skipped.append(idx)
                continue
            for idx in skipped:
                cell = out.cells[idx]
                cell.source = nb.cells[idx].source
                cell.outputs = [
                    error_output(
                        "KernelDied",
                        "this cell stopped the Python kernel (os._exit, a crash or out of "
                        "memory); it was skipped and the notebook re-run without it",
                        ["KernelDied: this cell stopped the Python kernel; it was skipped"],
                    )
                ]
            nb.cells[:] = out.cells
            nb.metadata = out.metadata
            return nb, resources
        raise DeadKernelError(f"kernel died {self.max_deaths + 1} times")

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        self._mytorch_index = index
        return super().preprocess_cell(cell, resources, index)
