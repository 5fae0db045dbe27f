"""nbgrader's exchange (what JupyterHub's assignment list uses), with a temporary exchange
folder: the instructor releases, a student fetches, works and submits, the instructor
collects and grades, the student fetches the feedback. The README's commands, as written."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import nbformat
import pytest

from mytorch_course import samples
from mytorch_course.course_dir import copy_course
from mytorch_course.nbgrader_process import nbgrader_env

pytestmark = [pytest.mark.slow]

AID = "00-toy"


def nbg(*args: str, cwd: Path, exchange: Path) -> str:
    res = subprocess.run(
        ["nbgrader", *args, f"--Exchange.root={exchange}"],
        cwd=cwd, env=nbgrader_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout + res.stderr


def test_release_fetch_submit_collect_grade_and_fetch_feedback(
    toy_root: Path, tmp_path: Path
) -> None:
    course = copy_course(toy_root, tmp_path / "course")
    exchange, home = tmp_path / "exchange", tmp_path / "student-home"
    exchange.mkdir()
    home.mkdir()  # no nbgrader_config.py: the student knows only the course id

    nbg("generate_assignment", AID, cwd=course, exchange=exchange)
    nbg("release_assignment", AID, cwd=course, exchange=exchange)
    assert "00-toy" in nbg("list", "--course", "mytorch", cwd=home, exchange=exchange)
    nbg("fetch_assignment", AID, "--course", "mytorch", cwd=home, exchange=exchange)
    fetched = home / AID / f"{AID}.ipynb"
    assert fetched.read_bytes() == (course / "assignments" / AID / f"{AID}.ipynb").read_bytes()
    nbformat.write(samples.solved(course, AID)[AID], fetched)  # the student's work
    nbg("submit", AID, "--course", "mytorch", cwd=home, exchange=exchange)

    nbg("collect", AID, cwd=course, exchange=exchange)
    (student,) = [p.name for p in (course / "submitted").iterdir()]  # the login name
    nbg("autograde", AID, cwd=course, exchange=exchange)
    nbg("generate_feedback", AID, cwd=course, exchange=exchange)
    nbg("release_feedback", AID, cwd=course, exchange=exchange)
    nbg("export", cwd=course, exchange=exchange)
    with open(course / "grades.csv") as fh:
        assert [(r["student_id"], float(r["score"])) for r in csv.DictReader(fh)] == [
            (student, 25.0)
        ]

    nbg("fetch_feedback", AID, "--course", "mytorch", cwd=home, exchange=exchange)
    (page,) = (home / AID / "feedback").rglob(f"{AID}.html")
    html = page.read_text()
    assert "25.0 / 25.0 points" in html and "Part 2: sum_rows_grad</a>" in html
