"""CapOutputs: bound what a student's cells printed before it is stored or shown.

nbgrader's ``LimitOutput`` counts lines, so one 20 MB line passes it. This caps characters:
each text output keeps its head and tail and says how much was cut; large images are
replaced by a note; once the notebook's budget is spent, later outputs become a note.
"""

from __future__ import annotations

from typing import Any

from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Int

BINARY_TYPES = ("image/png", "image/jpeg", "image/gif")


def cut_middle(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and tail around a note."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut:,} characters cut by the grader ...]\n{text[-tail:]}"


def _note(text: str) -> NotebookNode:
    return from_dict({"output_type": "stream", "name": "stdout", "text": text + "\n"})


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


class CapOutputs(NbGraderPreprocessor):
    """Cap each cell's outputs and the whole notebook's, keeping the head and tail of text."""

    max_cell_chars = Int(
        20_000, help="Characters of text all of a cell's outputs keep (each keeps head and tail)."
    ).tag(config=True)
    max_image_chars = Int(
        2_000_000, help="Largest image (base64 characters) kept; a larger one becomes a note."
    ).tag(config=True)
    max_notebook_chars = Int(
        5_000_000,
        help="Characters of output (text and images) a notebook keeps; the rest become a note.",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        self._left = self.max_notebook_chars
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if cell.get("cell_type") != "code" or not cell.get("outputs"):
            return cell, resources
        cell_left = self.max_cell_chars
        kept = []
        for out in cell.outputs:
            if self._left <= 0:
                kept.append(_note("[more output removed: the notebook's output limit was reached]"))
                break
            if cell_left <= 0:
                kept.append(_note("[more output removed: the cell's output limit was reached]"))
                break
            used = 0
            if out.get("output_type") == "stream":
                out["text"] = cut_middle(_text(out.get("text", "")), cell_left)
                used = len(out["text"])
            elif out.get("output_type") == "error":
                out["evalue"] = cut_middle(_text(out.get("evalue", "")), 2_000)
                lines = out.get("traceback", [])[:50]
                out["traceback"] = [cut_middle(_text(t), 2_000) for t in lines]
                used = len(out["evalue"]) + sum(len(t) for t in out["traceback"])
            for mime in list(out.get("data", {})):
                value = _text(out["data"][mime])
                if mime in BINARY_TYPES:
                    if len(value) > self.max_image_chars:
                        del out["data"][mime]
                        note = f"[{mime} of {len(value):,} characters removed by the grader]"
                        out["data"].setdefault("text/plain", note)
                        continue
                    used += len(value)
                else:
                    out["data"][mime] = cut_middle(value, cell_left)
                    used += len(out["data"][mime])
            cell_left -= used
            self._left -= used
            kept.append(out)
        cell.outputs = kept
        return cell, resources
