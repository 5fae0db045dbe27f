"""VerifyProbes: grade the emitted results in the grading process, out of the student's reach."""

from __future__ import annotations

import json
import traceback
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from ..assignments import load_parts, loaded_digest
from ..integrity import record_verdicts
from ..notebook import error_output, is_graded_code, nbgrader_meta
from ..runner import Part, Verdict, grade
from .inject_probes import MARKER, RESOURCE_KEY

NO_PART = (
    "not graded: the graded cell {!r} has no Part in the assignment's grading/.../parts.py, "
    "so the grader cannot check it (instructor: declare one)"
)


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

    grading_dir = Unicode("grading", help="Folder holding one grading folder per assignment").tag(
        config=True
    )

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        state = resources.get(RESOURCE_KEY) or {"cells": {}, "nonce": "", "assignment": ""}
        info = resources.get("nbgrader", {})
        assignment = state["assignment"] or info.get("assignment", "")
        parts = load_parts(self.grading_dir, assignment) if assignment else {}
        verdicts: dict[str, dict[str, Any]] = {}
        for cell in nb.cells:
            if not is_graded_code(cell):
                continue
            grade_id = nbgrader_meta(cell)["grade_id"]
            if grade_id in verdicts:
                continue
            if grade_id not in state["cells"]:
                # Its own test code ran in the kernel, where student code could defeat it.
                verdicts[grade_id] = {"score": 0.0, "message": NO_PART.format(grade_id)}
                continue
            part, probes = parts[grade_id], state["cells"][grade_id]["probes"]
            results, reason = parse_probe_output(cell, state["nonce"], len(probes))
            if results is None:
                verdict = Verdict.fail(reason)
            else:
                try:
                    source = state["cells"][grade_id].get("solution_source", "")
                    verdict = grade(part, probes, results, source)
                except Exception:
                    # An instructor bug or an unexpected result shape: never a pass.
                    self.log.error("grading part %s raised:\n%s", grade_id, traceback.format_exc())
                    verdict = Verdict.fail(
                        "your results could not be checked (unexpected type or shape)"
                    )
            self._rewrite(cell, grade_id, part, verdict)
            cell.source = state["cells"][grade_id]["source"]
            verdicts[grade_id] = {"score": verdict.score, "message": verdict.message}
            self.log.info("part %s: score %.3g: %s", grade_id, verdict.score, verdict.message)
        # The run's scores come from this record, not from the gradebook (see integrity.py).
        record_verdicts(
            str(info.get("student", "")),
            assignment,
            str(info.get("notebook", "")),
            loaded_digest(self.grading_dir),
            verdicts,
        )
        return nb, resources

    @staticmethod
    def _rewrite(cell: NotebookNode, grade_id: str, part: Part, verdict: Verdict) -> None:
        points = float(nbgrader_meta(cell).get("points", part.points))
        cell.metadata["mytorch"] = {"score": verdict.score, "message": verdict.message}
        cell.execution_count = None
        if verdict.score >= 1.0:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=verdict.message)]
        elif verdict.score <= 0.0:
            head = f"Part {grade_id!r}: 0/{points:g} points"
            cell.outputs = [error_output("PartFailed", verdict.message, [head, verdict.message])]
        else:
            # nbgrader reads a float execute_result as the score (it must be in [0, points]).
            got = round(verdict.score * points, 6)
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=verdict.message + "\n"),
                nbformat.v4.new_output(
                    "execute_result", data={"text/plain": repr(got)}, execution_count=None
                ),
            ]
