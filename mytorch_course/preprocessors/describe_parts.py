"""DescribeParts: the feedback names each graded part and says how it is scored."""

from __future__ import annotations

from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from ..assignments import load_parts
from ..notebook import is_graded_code, nbgrader_meta

ALL_OR_NOTHING = "All or nothing: the points are given only when every checked case passes."
PARTIAL = "Partial credit: the points are shared out over the checked cases that pass."


class DescribeParts(NbGraderPreprocessor):
    """Put ``resources["parts"]``: grade_id -> {"name", "scoring"} for the feedback template.

    The name is "Part N: <title>" (N counts the notebook's graded cells, as its text does);
    the scoring sentence comes from the Part's declaration (``partial``).
    """

    grading_dir = Unicode("grading", help="The folder of the grading files").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        parts = load_parts(self.grading_dir, resources["nbgrader"]["assignment"])
        described: dict[str, dict[str, str]] = {}
        graded = [
            nbgrader_meta(c)["grade_id"]
            for c in nb.cells
            if is_graded_code(c) and not nbgrader_meta(c).get("solution")
        ]
        for number, grade_id in enumerate(graded, start=1):
            part = parts.get(grade_id)
            title = part.title if part is not None and part.title else grade_id
            described[grade_id] = {
                "name": f"Part {number}: {title}",
                "scoring": "" if part is None else PARTIAL if part.partial else ALL_OR_NOTHING,
            }
        resources["parts"] = described
        return nb, resources
