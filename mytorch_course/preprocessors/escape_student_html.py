"""EscapeStudentHTML: feedback shows what a student's notebook holds as text, never as HTML.

nbconvert renders ``text/html``, ``image/svg+xml`` and ``application/javascript`` outputs,
raw HTML in markdown, raw cells and widget state as they are, so a student's ``<script>``
would run in whoever opens the feedback. This keeps only plain text and checked bitmap
images: any other rich output is shown as its source text, markdown is escaped (or shown
verbatim when it could spell a script link), raw cells are shown verbatim, and every output
and metadata field is rebuilt from a whitelist.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import unquote

from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")
TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # an HTML tag, comment or autolink begins
SCRIPT_SCHEME = re.compile(r"(?i)(java|vb)script:")
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")  # nbgrader's own rule; shown unescaped in feedback
NBGRADER_FLAGS = ("grade", "solution", "task", "locked")
NBGRADER_NUMBERS = ("points", "score")
NOTEBOOK_METADATA = ("kernelspec", "language_info")


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def as_text_block(source: str) -> str:
    """Markdown showing ``source`` verbatim: a fenced code block longer than any fence in it."""
    fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", source)), default=0))
    return f"{fence}text\n{source}\n{fence}"


def escape_markdown(source: str) -> str:
    """Markdown whose HTML tags show as text (tag starts escaped). A cell that could spell a
    script link once decoded (markdown decodes character references in links, repeatedly)
    is shown verbatim as a text block instead."""
    decoded, previous = source, ""
    for _ in range(10):  # until nothing more decodes
        if decoded == previous:
            break
        decoded, previous = html.unescape(unquote(decoded)), decoded
    if SCRIPT_SCHEME.search(re.sub(r"[\s\x00-\x1f\\]", "", decoded)):
        return as_text_block(source)
    return TAG_START.sub("&lt;", source)


def _safe_nbgrader(meta: Any) -> dict[str, Any]:
    """nbgrader's cell metadata with only known keys of the right type (feedback prints
    ``grade_id`` into HTML unescaped); a bad ``grade_id`` drops the metadata."""
    if not isinstance(meta, dict) or not GRADE_ID.match(str(meta.get("grade_id", "x"))):
        return {}
    safe = {k: meta[k] for k in NBGRADER_FLAGS if isinstance(meta.get(k), bool)}
    safe |= {k: meta[k] for k in NBGRADER_NUMBERS if isinstance(meta.get(k), int | float)}
    for key in ("grade_id", "comment", "schema_version"):
        if key in meta:
            safe[key] = meta[key]
    return safe


def _plain_data(data: dict[str, Any]) -> dict[str, str]:
    """Only ``text/plain`` and well-formed bitmaps; other types' source becomes the text."""
    safe: dict[str, str] = {}
    shown_as_text = []
    for mime, value in data.items():
        value = _text(value) if not isinstance(value, dict) else ""
        if mime == "text/plain":
            safe[mime] = value
        elif mime in IMAGE_TYPES and BASE64.match(value):
            safe[mime] = value
        else:
            shown_as_text.append(f"[{mime} shown as text]\n{value}" if value else f"[{mime}]")
    if "text/plain" not in safe and shown_as_text:
        safe["text/plain"] = "\n".join(shown_as_text)
    return safe


def _safe_output(out: dict[str, Any]) -> NotebookNode | None:
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
        return from_dict({"output_type": kind, "name": name, "text": _text(out.get("text", ""))})
    if kind == "error":
        return from_dict(
            {
                "output_type": kind,
                "ename": _text(out.get("ename", "")),
                "evalue": _text(out.get("evalue", "")),
                "traceback": [_text(t) for t in out.get("traceback", [])],
            }
        )
    if kind in ("display_data", "execute_result"):
        safe = {"output_type": kind, "data": _plain_data(dict(out.get("data", {}))), "metadata": {}}
        if kind == "execute_result":
            count = out.get("execution_count")
            safe["execution_count"] = count if isinstance(count, int) else None
        return from_dict(safe)
    return None


class EscapeStudentHTML(NbGraderPreprocessor):
    """Feedback: render no student HTML, SVG, script, widget or raw cell; show them as text."""

    escape_markdown = Bool(
        True,
        help="Escape HTML in markdown cells (a student can add or edit any markdown cell).",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        nb.metadata = from_dict({k: nb.metadata[k] for k in NOTEBOOK_METADATA if k in nb.metadata})
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        nbgrader = _safe_nbgrader(cell.metadata.get("nbgrader"))
        cell.metadata = from_dict({"nbgrader": nbgrader} if nbgrader else {})
        cell.pop("attachments", None)
        cell.source = _text(cell.get("source", ""))
        if cell.cell_type == "raw":  # raw cells reach the HTML untouched: show them as text
            cell.cell_type = "markdown"
            cell.source = as_text_block(cell.source)
        elif cell.cell_type == "markdown" and self.escape_markdown:
            cell.source = escape_markdown(cell.source)
        elif cell.cell_type == "code":
            outputs = (_safe_output(out) for out in cell.get("outputs", []))
            cell.outputs = [out for out in outputs if out is not None]
        return cell, resources
