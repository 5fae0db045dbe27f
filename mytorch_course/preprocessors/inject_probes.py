"""InjectProbes: swap each graded test cell for code that only *emits* the student's results.

The emitted line ``MYTORCH-PROBE <nonce> <json>`` is read by :mod:`.verify_probes`.

Probes are drawn per submission, from the student's id, the assignment's id, the part's id
and the course secret, so the same submission graded twice gets the same probes (a regrade
is reproducible) while two students get different ones (feedback that shows a failing
case's expected value answers nobody else's case). Without a secret the draw still differs
per student, but anyone who has the grading code can reproduce it: a warning says so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Unicode, default

from ..assignments import driver_sources, load_parts
from ..notebook import is_graded_code, nbgrader_meta, solution_cell_for

MARKER = "MYTORCH-PROBE"
RESOURCE_KEY = "mytorch_probes"
SECRET_ENV, SECRET_FILE_ENV = "MYTORCH_COURSE_SECRET", "MYTORCH_COURSE_SECRET_FILE"


def submission_seed(secret: str, student: str, assignment: str, part: str) -> int:
    """The seed of one part's probes for one submission (HMAC-SHA256 of its ids)."""
    message = "\0".join((student, assignment, part)).encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


_EMITTER = """\
# Grader probe cell for part {grade_id!r}: it runs your code on the grader's inputs and
# prints the results; the grading itself happens outside this kernel.
def _mytorch_probe_cell():
    # Builtins are reached through the module: a student's global named `min` or `type`
    # (legal, and common) must not break grading.
    import builtins as B, contextlib, io, json, signal, time
    probes = json.loads({probes!r})
    student = B.dict(B.globals())
    drivers = {{"__name__": "grader_drivers"}}
    for source in {drivers!r}:
        B.exec(B.compile(source, "<grader driver>", "exec"), drivers)
    driver = drivers[{driver!r}]

    def run(probe):
        return driver(probe, student)

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

    grading_dir = Unicode("grading", help="Folder holding one grading folder per assignment").tag(
        config=True
    )
    max_cell_budget = Float(20.0, help="Upper bound of a part's in-kernel time budget").tag(
        config=True
    )
    per_probe_timeout = Float(5.0, help="Seconds one run(probe) may take").tag(config=True)
    course_secret = Unicode(
        help=f"The secret probes are drawn with (default: ${SECRET_ENV}). Never commit it."
    ).tag(config=True)
    course_secret_file = Unicode(
        help="A file outside the repository holding the secret, used when course_secret is "
        f"empty (default: ${SECRET_FILE_ENV})"
    ).tag(config=True)

    @default("course_secret")
    def _secret_from_environment(self) -> str:
        return os.environ.get(SECRET_ENV, "")

    @default("course_secret_file")
    def _secret_file_from_environment(self) -> str:
        return os.environ.get(SECRET_FILE_ENV, "")

    def secret(self) -> str:
        """The course secret; '' (with a warning) when none is configured."""
        if self.course_secret:
            return self.course_secret
        if self.course_secret_file:
            path = Path(self.course_secret_file).expanduser()
            try:
                return path.read_text().strip()
            except OSError as err:
                raise ValueError(f"cannot read the course secret file {path}: {err}") from err
        self.log.warning(
            "No course secret: probes are drawn from the student's and the assignment's ids "
            "alone, so anyone with the grading code can reproduce a student's probes. Set $%s "
            "(or c.InjectProbes.course_secret_file in nbgrader_config.py) to a random string "
            "kept outside the repository.",
            SECRET_ENV,
        )
        return ""

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        assignment_id = resources["nbgrader"]["assignment"]
        student_id = str(resources["nbgrader"].get("student") or "")
        parts = load_parts(self.grading_dir, assignment_id)
        secret = self.secret() if parts else ""
        nonce = secrets.token_hex(16)  # per submission: a printed line cannot be prepared
        state: dict[str, Any] = {"nonce": nonce, "cells": {}, "assignment": assignment_id}
        resources[RESOURCE_KEY] = state
        sources = {
            nbgrader_meta(c)["grade_id"]: c.source
            for c in nb.cells
            if nbgrader_meta(c).get("grade_id")
        }
        for cell in nb.cells:
            if not is_graded_code(cell):
                continue
            grade_id = nbgrader_meta(cell)["grade_id"]
            part = parts.get(grade_id)
            if part is None or grade_id in state["cells"]:
                continue
            seed = submission_seed(secret, student_id, assignment_id, grade_id)
            probes = part.draw(seed)
            solution = part.solution_cell or _solution_cell(nb, grade_id)
            state["cells"][grade_id] = {
                "source": cell.source,
                "probes": probes,
                "seed": seed,
                "solution_source": sources.get(solution, ""),  # as submitted
            }
            budget = min(float(part.time_budget), self.max_cell_budget)
            cell.source = _EMITTER.format(
                grade_id=grade_id,
                probes=json.dumps(probes),
                drivers=driver_sources(part),
                driver=part.driver.__name__,
                budget=budget,
                per_probe=min(self.per_probe_timeout, budget),
                marker=MARKER,
                nonce=nonce,
            )
        return nb, resources


def _solution_cell(nb: NotebookNode, grade_id: str) -> str | None:
    try:
        return solution_cell_for(nb, grade_id)
    except KeyError:
        return None
