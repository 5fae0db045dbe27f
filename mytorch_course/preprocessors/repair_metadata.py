"""RepairMetadata: restore broken nbgrader cell metadata from the release, or drop it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from ..notebook import nbgrader_meta


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
                meta = nbgrader_meta(rcell)
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
