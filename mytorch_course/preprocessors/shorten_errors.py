"""ShortenErrors: feedback shows ``ename: evalue`` only, never a traceback or test code."""

from __future__ import annotations

from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor


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
