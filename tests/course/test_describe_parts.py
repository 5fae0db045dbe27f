"""The feedback's part names and scoring sentences come from the parts' declarations."""

from __future__ import annotations

from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mytorch_course.preprocessors import DescribeParts

PARTS = """
from mytorch_course.runner import Part

def _part(points, partial, title):
    return Part(points=points, probes=lambda rng: [{}], driver=None, label=str,
                expected=lambda p: 0, partial=partial, title=title)

PARTS = {"first": _part(10, False, "Multiply / Divide"), "second": _part(5, True, "")}
"""


def graded(grade_id: str, points: int) -> object:
    meta = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id}
    return new_code_cell("pass", metadata={"nbgrader": {**meta, "points": points}})


def test_names_number_the_graded_cells_and_scoring_follows_partial(tmp_path: Path) -> None:
    folder = tmp_path / "grading" / "a09_demo"
    folder.mkdir(parents=True)
    (tmp_path / "grading" / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "parts.py").write_text(PARTS)
    solution = {"solution": True, "grade": False, "locked": False, "grade_id": "first-solution"}
    nb = new_notebook(
        cells=[
            new_markdown_cell("intro"),
            new_code_cell("x = 1", metadata={"nbgrader": solution}),
            graded("first", 10),
            graded("second", 5),
            graded("unknown", 3),
        ]
    )
    resources = {"nbgrader": {"assignment": "09-demo", "notebook": "09-demo"}}
    DescribeParts(grading_dir=str(tmp_path / "grading")).preprocess(nb, resources)
    parts = resources["parts"]
    assert parts["first"]["name"] == "Part 1: Multiply / Divide"
    assert parts["first"]["scoring"].startswith("All or nothing")
    assert parts["second"] == {
        "name": "Part 2: second",  # no title declared: the grade_id
        "scoring": "Partial credit: the points are shared out over the checked cases that pass.",
    }
    assert parts["unknown"] == {"name": "Part 3: unknown", "scoring": ""}
