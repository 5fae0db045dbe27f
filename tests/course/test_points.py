"""`release` refuses when a part's points disagree between the grading file, the notebook
metadata and the "(N points)" text, naming the part; the shipped assignments agree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mytorch_course.course_dir import assignment_ids
from mytorch_course.points import check_points
from mytorch_course.release import release

REPO = Path(__file__).resolve().parents[2]
TOY = Path(__file__).resolve().parent / "fixtures" / "toy"
TOY_NB = Path("solutions/00-toy/00-toy.ipynb")


@pytest.mark.parametrize("aid", assignment_ids(REPO))
def test_the_shipped_assignments_agree(aid: str) -> None:
    check_points(REPO, aid)


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A copy of the toy course (its grading folder at a new path: a fresh import)."""
    root = tmp_path / "course"
    shutil.copytree(TOY, root, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "nbgrader_config.py", root)
    return root


def _edit_notebook(root: Path, grade_id: str | None, text: str | None, points: int | None):
    """Set the points of the graded cell ``grade_id``; put ``text`` into the markdown of
    part 2 (the markdown cell just before ``sum-rows-solution``)."""
    path = root / TOY_NB
    nb = json.loads(path.read_text())
    for index, cell in enumerate(nb["cells"]):
        meta = cell["metadata"].get("nbgrader", {})
        if points is not None and meta.get("grade_id") == grade_id:
            meta["points"] = points
        if text and meta.get("grade_id") == "sum-rows-solution":
            nb["cells"][index - 1]["source"] = f"## Part 2 {text}\nWrite `sum_rows_grad`."
    path.write_text(json.dumps(nb))


def _refusal(root: Path) -> str:
    with pytest.raises(ValueError) as err:
        release(root)
    assert not (root / "assignments").exists(), "a refused release wrote files"
    return str(err.value)


def test_the_toy_agrees_and_a_matching_text_passes(toy: Path) -> None:
    _edit_notebook(toy, None, "(15 points)", None)
    check_points(toy, "00-toy")


def test_grading_file_and_metadata_disagree(toy: Path) -> None:
    parts = toy / "grading" / "a00_toy" / "parts.py"
    parts.write_text(parts.read_text().replace("points=15,", "points=12,"))
    message = _refusal(toy)
    assert 'part "sum-rows-grad" (00-toy.ipynb)' in message
    assert "grading/a00_toy/parts.py gives it 12 points, the notebook metadata 15" in message
    assert "square-grad" not in message  # only the part that disagrees is named


def test_text_and_metadata_disagree(toy: Path) -> None:
    _edit_notebook(toy, None, "(20 points)", None)
    message = _refusal(toy)
    assert 'part "sum-rows-grad"' in message
    assert 'the text before it says "(20 points)", the notebook metadata 15' in message


def test_metadata_changed_alone_is_named_against_both(toy: Path) -> None:
    _edit_notebook(toy, "square-grad", None, 7)
    message = _refusal(toy)
    assert 'part "square-grad" (00-toy.ipynb): grading/a00_toy/parts.py gives it 10' in message
    assert "the notebook metadata 7" in message


def test_a_part_without_a_cell_and_a_cell_without_a_part(toy: Path) -> None:
    path = toy / TOY_NB
    path.write_text(path.read_text().replace('"sum-rows-grad"', '"sum-rows-renamed"'))
    message = _refusal(toy)
    assert 'part "sum-rows-renamed" (00-toy.ipynb) is a graded cell worth 15 points' in message
    assert "declares no Part for it" in message
    assert 'part "sum-rows-grad" is declared in grading/a00_toy/parts.py (15 points)' in message


def test_the_command_refuses_with_the_part_named(toy: Path) -> None:
    _edit_notebook(toy, None, "(20 points)", None)
    res = subprocess.run(
        [sys.executable, "-m", "mytorch_course.cli", "--root", str(toy), "release"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("release refused: 00-toy: the points disagree")
    assert 'part "sum-rows-grad"' in res.stderr
