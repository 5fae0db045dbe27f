"""A part's points are written three times; ``release`` refuses when they disagree.

The grading file declares ``Part.points`` (what the runner scores), the graded cell's
nbgrader metadata holds ``points`` (what nbgrader totals and exports), and the markdown that
introduces the part tells the student "(N points)". A change in one place only would grade
against one number and announce another.
"""

from __future__ import annotations

import re
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from .assignments import folder_name, load_parts
from .course_dir import source_notebooks
from .notebook import is_graded_code, nbgrader_meta
from .runner import Part

POINTS_TEXT = re.compile(r"\((\d+(?:\.\d+)?)\s+points?\)")


def points_problems(
    notebooks: dict[str, NotebookNode], parts: dict[str, Part], parts_file: str
) -> list[str]:
    """Sentences naming each part whose three point counts disagree (empty when all agree).

    The "(N points)" texts of a part are those in the markdown cells after the previous
    graded cell and before its own; a part without such a text is not checked for it.
    ``parts`` empty means the assignment has no grading file (only the text is checked).
    """
    problems: list[str] = []
    graded: set[str] = set()
    for name, nb in notebooks.items():
        texts: list[float] = []
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                texts += [float(n) for n in POINTS_TEXT.findall(cell.source)]
            if not is_graded_code(cell):
                continue
            meta = nbgrader_meta(cell)
            part_id, points = str(meta["grade_id"]), float(meta.get("points", 0))
            graded.add(part_id)
            where = f'part "{part_id}" ({name}.ipynb)'
            declared = parts.get(part_id)
            if parts and declared is None:
                problems.append(
                    f"{where} is a graded cell worth {points:g} points, "
                    f"but {parts_file} declares no Part for it"
                )
            elif declared is not None and float(declared.points) != points:
                problems.append(
                    f"{where}: {parts_file} gives it {float(declared.points):g} points, "
                    f"the notebook metadata {points:g}"
                )
            for text in sorted(set(texts)):
                if text != points:
                    problems.append(
                        f'{where}: the text before it says "({text:g} points)", '
                        f"the notebook metadata {points:g}"
                    )
            texts = []
    for part_id in sorted(set(parts) - graded):
        problems.append(
            f'part "{part_id}" is declared in {parts_file} ({float(parts[part_id].points):g} '
            f"points) but no graded cell has that grade_id"
        )
    return problems


def check_points(root: Path, assignment_id: str) -> None:
    """Raise ``ValueError`` naming every part of ``assignment_id`` whose points disagree."""
    parts_file = f"grading/{folder_name(assignment_id)}/parts.py"
    parts = load_parts(root / "grading", assignment_id)
    problems = points_problems(source_notebooks(root, assignment_id), parts, parts_file)
    if problems:
        raise ValueError(
            f"{assignment_id}: the points disagree; make them equal, then release again:\n  "
            + "\n  ".join(problems)
        )
