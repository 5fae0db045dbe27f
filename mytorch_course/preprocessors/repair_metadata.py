"""Sanitize steps that compare a submission with the release the student started from.

:class:`RepairMetadata` restores broken nbgrader cell metadata from the release, or drops
it; :class:`OverwriteReleasedCells` is nbgrader's ``OverwriteCells`` that warns about a
changed test cell only when the student really changed it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells
from nbgrader.utils import compute_checksum
from traitlets import Unicode

from ..notebook import nbgrader_meta


def released_metadata(release_dir: str, resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """grade_id -> nbgrader metadata of the released notebook being graded ({} if none)."""
    info = resources["nbgrader"]
    path = Path(release_dir) / info["assignment"] / f"{info['notebook']}.ipynb"
    if not path.is_file():
        return {}
    cells = nbformat.read(path, as_version=4).cells
    return {m["grade_id"]: m for m in map(nbgrader_meta, cells) if "grade_id" in m}


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
        reference = released_metadata(self.release_dir, resources)
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


class OverwriteReleasedCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, quiet about test cells the student left as released.

    The gradebook's checksum of a test cell covers its hidden tests, which the release
    leaves out, so nbgrader warns "checksum has changed" for every graded cell of every
    submission, hiding the real edits. A cell whose checksum equals the released one is
    restored to the gradebook's source silently; any other change is still reported.
    """

    release_dir = Unicode("assignments", help="The nbgrader release folder").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        released = released_metadata(self.release_dir, resources)
        self._released_checksums = {k: m.get("checksum") for k, m in released.items()}
        return super().preprocess(nb, resources)

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], cell_index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        grade_id = nbgrader_meta(cell).get("grade_id")
        self._as_released = (
            grade_id in self._released_checksums
            and nbgrader_meta(cell).get("locked") is True
            and compute_checksum(cell) == self._released_checksums[grade_id]
        )
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name: str, attr: str, old: Any, new: Any) -> None:
        if attr == "checksum" and self._as_released:
            self.log.debug("cell %s is as released; its hidden tests are restored", name)
            return
        super().report_change(name, attr, old, new)
