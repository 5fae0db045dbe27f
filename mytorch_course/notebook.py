"""Notebook access in one place: nbgrader cell metadata, solution cells, reading and writing."""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode

_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    """The cell's nbgrader metadata ({} when absent or not a dict)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def is_graded_code(cell: NotebookNode) -> bool:
    """A code cell that nbgrader grades (it has points and a grade_id)."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and "grade_id" in meta


def strip_solution_markers(source: str) -> str:
    """The code between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (markers removed)."""
    lines = [
        ln
        for ln in source.splitlines()
        if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    ]
    return "\n".join(lines)


def solution_cell_for(nb: NotebookNode, part_id: str) -> str:
    """The grade_id of the solution cell a graded part tests: the nearest one before it."""
    last = None
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            last = meta.get("grade_id")
        if meta.get("grade_id") == part_id:
            if last is None:
                raise KeyError(f"no solution cell before part {part_id!r}")
            return str(last)
    raise KeyError(f"part {part_id!r} not found")


def make_submission(
    release_nb: NotebookNode,
    source_nb: NotebookNode,
    replace: dict[str, str] | None = None,
) -> NotebookNode:
    """A student's notebook: the release with solution cells filled from the source.

    ``replace`` maps a solution cell's grade_id to the code the 'student' wrote instead.
    """
    answers = {
        nbgrader_meta(c)["grade_id"]: strip_solution_markers(c.source)
        for c in source_nb.cells
        if nbgrader_meta(c).get("solution") and "grade_id" in nbgrader_meta(c)
    }
    answers.update(replace or {})
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and gid in answers:
            cell.source = answers[gid]
    return nb


def normalise_notebook(nb: NotebookNode) -> NotebookNode:
    """Strip everything volatile so that a release is byte-for-byte reproducible."""
    nb.metadata.pop("widgets", None)
    for meta_key in ("celltoolbar",):
        nb.metadata.pop(meta_key, None)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cid = cell.get("id", "")
        if not _CELL_ID.match(str(cid)) or cid in seen:
            digest = hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()[:12]
            cid = f"cell-{index}-{digest}"
        seen.add(cid)
        cell["id"] = cid
    return nb


def write_notebook(nb: NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb, version=4)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def error_output(ename: str, evalue: str, lines: list[str]) -> NotebookNode:
    """An ``error`` output (nbgrader scores a graded cell with one as 0)."""
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=lines)
