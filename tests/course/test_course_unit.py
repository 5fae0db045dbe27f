"""Fast tests of the course helpers that need no nbgrader run."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from mytorch_course.collect import collect_submissions
from mytorch_course.notebook import make_submission, normalise_notebook, solution_cell_for

TOY = Path(__file__).resolve().parent / "fixtures" / "toy"
NB = TOY / "solutions" / "00-toy" / "00-toy.ipynb"


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    for folder in ("solutions", "assignments"):
        (root / folder / "00-toy").mkdir(parents=True)
        shutil.copy(NB, root / folder / "00-toy" / "00-toy.ipynb")
    return root


def test_collect_submissions_understands_common_layouts(tmp_path: Path) -> None:
    root = _root(tmp_path)
    src = tmp_path / "in"
    for rel in [
        "alice/00-toy/00-toy.ipynb",  # nbgrader's layout
        "bob/00-toy.ipynb",  # a folder per student
        "lms/carol_123_456_00-toy.ipynb",  # LMS download inside a folder
        "dave_00-toy.ipynb",  # LMS download, flat
        "erin/notes.ipynb",  # not a notebook of the course: skipped
    ]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(NB, src / rel)
    work = tmp_path / "work"
    jobs = collect_submissions(src, root, work)
    assert jobs == [(s, "00-toy") for s in ("alice", "bob", "carol", "dave")]
    assert (work / "submitted" / "carol" / "00-toy" / "00-toy.ipynb").is_file()
    assert (work / "submitted" / "carol" / "00-toy" / "timestamp.txt").is_file()


def test_make_submission_fills_solutions_and_mutant_target(tmp_path: Path) -> None:
    source = nbformat.read(NB, as_version=4)
    release = nbformat.read(NB, as_version=4)
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "# YOUR CODE HERE\nraise NotImplementedError()"
    sub = make_submission(release, source, {"sum-rows-solution": "pass"})
    sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in sub.cells}
    assert "BEGIN SOLUTION" not in sources["square-grad-solution"]
    assert "return 2 * np.asarray(x)" in sources["square-grad-solution"]
    assert sources["sum-rows-solution"] == "pass"
    assert solution_cell_for(release, "sum-rows-grad") == "sum-rows-solution"


def test_normalise_notebook_is_stable() -> None:
    nb = nbformat.read(NB, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x")]
    nb.cells[1].execution_count = 3
    nb.cells[2]["id"] = "not a valid id!"
    once = nbformat.writes(normalise_notebook(nb))
    twice = nbformat.writes(normalise_notebook(nbformat.reads(once, as_version=4)))
    assert once == twice and '"outputs": []' in once and "not a valid id" not in once
