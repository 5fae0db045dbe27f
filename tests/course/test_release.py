"""`mytorch-course release`: deterministic, and the committed assignments/ is not stale."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mytorch_course.course_dir import assignment_ids
from mytorch_course.nbgrader_process import nbgrader_env
from mytorch_course.release import release
from mytorch_course.student_edition import build_student_edition

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_committed_assignments_are_in_sync_with_solutions(tmp_path: Path) -> None:
    ids = assignment_ids(REPO) if (REPO / "solutions").is_dir() else []
    if not ids:
        pytest.skip("no assignments yet")
    release(REPO, tmp_path / "assignments", ids)
    fresh = _tree(tmp_path / "assignments")
    committed = _tree(REPO / "assignments")
    stale = sorted(k for k in fresh if committed.get(k) != fresh[k])
    extra = sorted(set(committed) - set(fresh))
    assert (
        not stale and not extra
    ), f"assignments/ is stale (run `make release`): changed {stale}, not generated {extra}"


def test_release_is_deterministic_and_strips_solutions(toy_root: Path, tmp_path: Path) -> None:
    first = _tree(toy_root / "assignments")
    res = subprocess.run(
        [sys.executable, "-m", "mytorch_course.cli", "--root", str(toy_root), "release"],
        check=True,
        capture_output=True,
        text=True,
        env=nbgrader_env(),
    )
    assert _tree(toy_root / "assignments") == first
    assert res.stdout.splitlines() == ["0 file(s) changed, 1 unchanged"], res.stdout
    text = (toy_root / "assignments" / "00-toy" / "00-toy.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "raise NotImplementedError()" in text and "2 * np.asarray(x)" not in text
    assert not (toy_root / "gradebook.db").exists()  # the release ran in a temporary copy
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert filecmp.cmp(toy_root / "nbgrader_config.py", REPO / "nbgrader_config.py", shallow=False)


def test_release_says_what_changed(toy_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "course"
    shutil.copytree(toy_root, root, ignore=shutil.ignore_patterns("gradebook.db"))
    notebook = root / "solutions" / "00-toy" / "00-toy.ipynb"
    notebook.write_text(notebook.read_text().replace("A tiny assignment", "A small assignment"))
    stray = root / "assignments" / "00-toy" / "old-notes.txt"
    stray.write_text("no longer in solutions/")
    changes = {(c.path.relative_to(root).as_posix(), c.what) for c in release(root)}
    assert changes == {
        ("assignments/00-toy/00-toy.ipynb", "updated"),
        ("assignments/00-toy/old-notes.txt", "removed"),
    }
    assert "A small assignment" in (root / "assignments" / "00-toy" / "00-toy.ipynb").read_text()
    assert not stray.exists()


def _wheel(project: Path, out: Path) -> set[str]:
    """Build ``project`` into a wheel in ``out``; the names of the files inside it."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(project), "--no-deps", "-q", "-w", str(out)],
        check=True, capture_output=True, env=nbgrader_env(),
    )  # fmt: skip
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_wheels_hold_no_answers(tmp_path: Path) -> None:
    """The instructor's wheel holds the engine and the tooling, never grading/ or solutions;
    the student edition's wheel holds the engine only."""
    project = tmp_path / "project"  # a clean copy: the build writes into its source folder
    project.mkdir()
    for item in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / item, project / item)
    for package in ("mytorch", "mytorch_course"):
        shutil.copytree(
            REPO / package, project / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    names = _wheel(project, tmp_path / "wheel")
    tops = {n.split("/")[0] for n in names}
    assert "mytorch/tensor.py" in names and "mytorch_course/runner.py" in names
    assert "mytorch_course/templates/feedback/feedback.html.j2" in names
    assert not {"grading", "solutions", "assignments", "tests"} & tops, tops
    edition = tmp_path / "edition"
    build_student_edition(edition, "01-derivatives")
    names = _wheel(edition, tmp_path / "edition-wheel")
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"mytorch"}, tops
    assert "mytorch/check.py" in names
