"""InjectProbes: swap each graded test cell for code that only *emits* the student's results.

The emitted line ``MYTORCH-PROBE <nonce> <json>`` is read by :mod:`.verify_probes`.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Unicode

from ..assignments import load_parts
from ..notebook import is_graded_code, nbgrader_meta

MARKER = "MYTORCH-PROBE"
RESOURCE_KEY = "mytorch_probes"

_EMITTER = """\
# Grader probe cell for part {grade_id!r}: it runs your code on the grader's inputs and
# prints the results; the grading itself happens outside this kernel.
def _mytorch_probe_cell():
    # Builtins are reached through the module: a student's global named `min` or `type`
    # (legal, and common) must not break grading.
    import builtins as B, contextlib, io, json, signal, time
    probes = json.loads({probes!r})
    namespace = B.dict(B.globals())
    B.exec(B.compile({driver!r}, "<grader driver>", "exec"), namespace)
    run = namespace["run"]

    class ProbeTimeout(B.BaseException):
        pass

    def on_alarm(signum, frame):
        raise ProbeTimeout()

    def encode(obj):
        if B.hasattr(obj, "tolist"):
            return obj.tolist()
        if B.hasattr(obj, "numpy"):
            return obj.numpy().tolist()
        raise B.TypeError("result is not JSON-serialisable: " + B.type(obj).__name__)

    budget, per_probe = {budget!r}, {per_probe!r}
    start = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    records = []
    try:
        for probe in probes:
            left = budget - (time.monotonic() - start)
            if left <= 0:
                records.append(json.dumps({{"error": "TimeoutError: time budget used up"}}))
                continue
            sink = io.StringIO()
            try:
                signal.setitimer(signal.ITIMER_REAL, B.min(per_probe, left))
                try:
                    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                        value = run(probe)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                records.append(json.dumps(value, default=encode, allow_nan=True))
            except ProbeTimeout:
                msg = "TimeoutError: took longer than %.3gs" % B.min(per_probe, left)
                records.append(json.dumps({{"error": msg}}))
            except B.BaseException as exc:  # the student's error is this probe's result
                msg = B.type(exc).__name__ + ": " + B.str(exc)[:300]
                records.append(json.dumps({{"error": msg}}))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
    B.print({marker!r}, {nonce!r}, "[" + ",".join(records) + "]", flush=True)


_mytorch_probe_cell()
del _mytorch_probe_cell
"""


class InjectProbes(NbGraderPreprocessor):
    """Replace graded test cells that have a ``Part`` with the probe emitter (before Execute)."""

    grading_dir = Unicode("grading", help="Folder holding <assignment-id>.py files").tag(
        config=True
    )
    max_cell_budget = Float(20.0, help="Upper bound of a part's in-kernel time budget").tag(
        config=True
    )
    per_probe_timeout = Float(5.0, help="Seconds one run(probe) may take").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        assignment_id = resources["nbgrader"]["assignment"]
        parts = load_parts(self.grading_dir, assignment_id)
        nonce = secrets.token_hex(16)  # per submission: a printed line cannot be prepared
        state: dict[str, Any] = {"nonce": nonce, "cells": {}, "assignment": assignment_id}
        resources[RESOURCE_KEY] = state
        for cell in nb.cells:
            if not is_graded_code(cell):
                continue
            grade_id = nbgrader_meta(cell)["grade_id"]
            part = parts.get(grade_id)
            if part is None or grade_id in state["cells"]:
                continue
            state["cells"][grade_id] = {"source": cell.source}
            budget = min(float(part.time_budget), self.max_cell_budget)
            cell.source = _EMITTER.format(
                grade_id=grade_id,
                probes=json.dumps(part.probes, allow_nan=True),
                driver=part.driver,
                budget=budget,
                per_probe=min(self.per_probe_timeout, budget),
                marker=MARKER,
                nonce=nonce,
            )
        return nb, resources
