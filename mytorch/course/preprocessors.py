"""nbgrader preprocessors that make grading trustworthy; wired up in ``nbgrader_config.py``.

Autograde pipeline (``c.Autograde.autograde_preprocessors``)::

    InjectProbes -> RobustExecute -> VerifyProbes -> (nbgrader's usual ones)

* :class:`InjectProbes` swaps each graded test cell's source for generated code that only
  *emits* the student's results on grader-chosen probes, as one line
  ``MYTORCH-PROBE <nonce> <json>``.
* :class:`RobustExecute` is nbgrader's ``Execute`` that survives a kernel death: the cell that
  killed the kernel is neutralised and the notebook re-run, so only that cell is lost.
* :class:`VerifyProbes` parses the line in the grading process (out of the student's reach),
  runs the part's ``check`` and rewrites the cell's outputs: an ``error`` on failure (nbgrader
  gives 0), a plain OK stream on success, a float ``execute_result`` for partial credit. It
  restores the cell's source, so the autograded notebook never shows probes or drivers.

Sanitize pipeline: :class:`RepairMetadata` restores or drops broken nbgrader cell metadata
before nbgrader's own checks (which would otherwise fail the whole submission).

Feedback pipeline: :class:`ShortenErrors` reduces tracebacks to one line.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import secrets
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Float, Integer, Unicode

from mytorch.course.grading import Part, Verdict

MARKER = "MYTORCH-PROBE"
HIDDEN_PLACEHOLDER = "### BEGIN HIDDEN TESTS"
_RESOURCE_KEY = "mytorch_probes"

_parts_cache: dict[tuple[str, float], dict[str, Part]] = {}


def load_parts(grading_dir: str | os.PathLike[str], assignment_id: str) -> dict[str, Part]:
    """Load ``PARTS`` from ``<grading_dir>/<assignment_id>.py`` ({} when there is none)."""
    path = Path(grading_dir) / f"{assignment_id}.py"
    if not path.is_file():
        return {}
    key = (str(path.resolve()), path.stat().st_mtime)
    if key not in _parts_cache:
        # A file path, not an import: assignment ids ("01-derivatives") are not module names.
        name = "_mytorch_grading_" + hashlib.sha1(key[0].encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses need the module registered
        spec.loader.exec_module(module)
        parts = getattr(module, "PARTS", None)
        if not isinstance(parts, dict):
            raise RuntimeError(f"{path} must define PARTS: dict[str, Part]")
        _parts_cache[key] = parts
    return _parts_cache[key]


def _nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _is_graded_code(cell: NotebookNode) -> bool:
    meta = _nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and "grade_id" in meta


# The code that runs in the student's kernel. It is a template (not an f-string) so that the
# probes and the driver are embedded as string literals and parsed there.
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
        resources[_RESOURCE_KEY] = state
        for cell in nb.cells:
            if not _is_graded_code(cell):
                continue
            grade_id = _nbgrader_meta(cell)["grade_id"]
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


def _error_output(ename: str, evalue: str, lines: list[str]) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=lines)


def parse_probe_output(cell: NotebookNode, nonce: str, n_probes: int) -> tuple[list | None, str]:
    """The student's results from a probe cell's outputs, or (None, reason)."""
    text = "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )
    lines = [ln for ln in text.splitlines() if ln.startswith(MARKER)]
    errors = [
        f"{o.get('ename', '')}: {o.get('evalue', '')}".strip(": ")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    if not lines:
        why = f" ({'; '.join(errors)[:300]})" if errors else ""
        return None, (
            "the grader's probe cell produced no results"
            + why
            + ". Did an earlier cell crash the kernel, loop forever, or change Python itself?"
        )
    if len(lines) > 1:
        return None, "the grader's probe cell printed its result line more than once"
    fields = lines[0].split(" ", 2)
    if len(fields) != 3 or fields[1] != nonce:
        return None, "the grader's result line did not come from the grader (wrong nonce)"
    try:
        results = json.loads(fields[2])
    except ValueError:
        return None, "the grader's result line could not be read (garbled output)"
    if not isinstance(results, list) or len(results) != n_probes:
        return None, f"expected {n_probes} results from the probe cell, got something else"
    return results, ""


class VerifyProbes(NbGraderPreprocessor):
    """Grade probe cells in the grading process and rewrite their outputs (after Execute)."""

    grading_dir = Unicode("grading", help="Folder holding <assignment-id>.py files").tag(
        config=True
    )

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        state = resources.get(_RESOURCE_KEY)
        if not state:
            return nb, resources
        parts = load_parts(self.grading_dir, state["assignment"])
        seen: set[str] = set()
        for cell in nb.cells:
            if not _is_graded_code(cell):
                continue
            grade_id = _nbgrader_meta(cell)["grade_id"]
            if grade_id not in state["cells"] or grade_id in seen:
                continue
            seen.add(grade_id)
            part = parts[grade_id]
            results, reason = parse_probe_output(cell, state["nonce"], len(part.probes))
            if results is None:
                verdict = Verdict.fail(reason)
            else:
                try:
                    verdict = part.check(part.probes, results)
                    if not isinstance(verdict, Verdict):
                        raise TypeError(f"check returned {type(verdict).__name__}")
                except Exception:
                    # An instructor bug or an unexpected result shape: never a pass.
                    self.log.error("check of part %s raised:\n%s", grade_id, traceback.format_exc())
                    verdict = Verdict.fail(
                        "your results could not be checked (unexpected type or shape)"
                    )
            self._rewrite(cell, grade_id, part, verdict)
            cell.source = state["cells"][grade_id]["source"]
            self.log.info("part %s: score %.3g: %s", grade_id, verdict.score, verdict.message)
        return nb, resources

    @staticmethod
    def _rewrite(cell: NotebookNode, grade_id: str, part: Part, verdict: Verdict) -> None:
        points = float(_nbgrader_meta(cell).get("points", part.points))
        cell.metadata["mytorch"] = {"score": verdict.score, "message": verdict.message}
        cell.execution_count = None
        if verdict.score >= 1.0:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=verdict.message)]
        elif verdict.score <= 0.0:
            head = f"Part {grade_id!r}: 0/{points:g} points"
            cell.outputs = [_error_output("PartFailed", verdict.message, [head, verdict.message])]
        else:
            # nbgrader reads a float execute_result as the score (it must be in [0, points]).
            got = round(verdict.score * points, 6)
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=verdict.message + "\n"),
                nbformat.v4.new_output(
                    "execute_result", data={"text/plain": repr(got)}, execution_count=None
                ),
            ]


class RobustExecute(Execute):
    """nbgrader's Execute, but a dead kernel costs only the cell that killed it.

    On ``DeadKernelError`` the offending cell is replaced by a comment and the whole notebook
    re-runs in a fresh kernel (state must be rebuilt from the top), up to ``max_deaths`` times.
    """

    max_deaths = Integer(3, help="Kernel deaths tolerated before giving up").tag(config=True)

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
                    _error_output(
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


class RepairMetadata(NbGraderPreprocessor):
    """Restore nbgrader cell metadata from the release copy, or drop it when unknown.

    A renamed ``grade_id`` or hand-edited metadata makes nbgrader reject the whole notebook.
    Known cells get the release's metadata back; unknown ones become ordinary cells (their
    code still runs), and ``OverwriteCells.add_missing_cells`` re-inserts the graded cell.
    """

    release_dir = Unicode("assignments", help="The nbgrader release folder").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        info = resources["nbgrader"]
        path = Path(self.release_dir) / info["assignment"] / f"{info['notebook']}.ipynb"
        reference: dict[str, dict[str, Any]] = {}
        if path.is_file():
            for rcell in nbformat.read(path, as_version=4).cells:
                meta = _nbgrader_meta(rcell)
                if "grade_id" in meta:
                    reference[meta["grade_id"]] = meta
        for cell in nb.cells:
            meta = cell.get("metadata", {})
            if "nbgrader" not in meta:
                continue
            raw = meta["nbgrader"]
            grade_id = raw.get("grade_id") if isinstance(raw, dict) else None
            if isinstance(grade_id, str) and grade_id in reference:
                if raw != reference[grade_id]:
                    self.log.warning("restoring nbgrader metadata of cell %r", grade_id)
                    meta["nbgrader"] = copy.deepcopy(reference[grade_id])
            else:
                self.log.warning("dropping unknown nbgrader metadata %r", raw)
                del meta["nbgrader"]
                for key in ("editable", "deletable"):
                    meta.pop(key, None)
        return nb, resources


class ShortenErrors(NbGraderPreprocessor):
    """Feedback: reduce every traceback to ``ename: evalue`` so no test code is shown."""

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if out.get("ename") == "PartFailed":
                    out["traceback"] = list(out.get("traceback", []))[:2]
                else:
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources
