"""The plain nbgrader CLI works from the course root with the project's protections, and
`mytorch-course autograde` takes an LMS-style zip."""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mytorch_course import samples
from mytorch_course.collect import place_submission
from mytorch_course.course_dir import copy_course
from mytorch_course.nbgrader_process import nbgrader_env

pytestmark = [pytest.mark.slow]

AID = "00-toy"


def nbg(*args: str, cwd: Path) -> str:
    res = subprocess.run(
        ["nbgrader", *args], cwd=cwd, env=nbgrader_env(), capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout + res.stderr


def _edited_test_cell(work: Path, grade_id: str) -> dict:
    """Solutions whose visible test cell ``grade_id`` the student edited."""
    nb = samples.solved(work, AID)[AID]
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = "assert True  # the student's own test\n" + cell.source
    return {AID: nb}


def test_plain_nbgrader_commands(toy_root: Path, tmp_path: Path) -> None:
    """The README's commands, exactly, in a fresh clone (a release and no gradebook)."""
    work = copy_course(toy_root, tmp_path / "course")
    released = (work / "assignments" / AID / f"{AID}.ipynb").read_bytes()
    nbg("generate_assignment", AID, cwd=work)  # no --force: it fills the gradebook
    assert (work / "assignments" / AID / f"{AID}.ipynb").read_bytes() == released
    place_submission(work, "alice", AID, samples.solved(work, AID))
    place_submission(work, "mallory", AID, samples.tampering(work, AID))
    place_submission(work, "carol", AID, _edited_test_cell(work, "sum-rows-grad"))
    log = nbg("autograde", AID, cwd=work)
    # One warning: carol's edited test cell; the untouched ones (hidden tests) are quiet.
    changed = [ln for ln in log.splitlines() if "has changed" in ln]
    assert len(changed) == 1 and "cell sum-rows-grad" in changed[0], changed
    nbg("generate_feedback", AID, cwd=work)
    nbg("export", cwd=work)
    with open(work / "grades.csv") as fh:
        rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(fh)}
    assert rows == {"alice": 25.0, "mallory": 0.0, "carol": 25.0}
    html = (work / "feedback" / "alice" / AID / f"{AID}.html").read_text()
    assert "OK: part passed" in html and "HIDDEN TESTS" not in html
    # The feedback names the parts and says how they are scored, with nbgrader's commands too.
    assert "Part 1: square_grad</a>" in html and "Part 2: sum_rows_grad</a>" in html
    assert "Test cell" not in html and "All or nothing" in html


def test_cli_autograde_from_lms_zip_and_validate(toy_root: Path, tmp_path: Path) -> None:
    good = samples.solved(toy_root, AID)[AID]
    import nbformat

    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"alice_1234_5678_{AID}.ipynb", nbformat.writes(good))
        zf.writestr(f"bob_999_{AID}.ipynb", "{ this is not json")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mytorch_course.cli", "--root", str(toy_root)]
    res = subprocess.run(
        [*cmd, "autograde", str(archive), "--out", str(out), "--workers", "2"],
        capture_output=True,
        text=True,
        env=nbgrader_env(),
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "alice_1234" in res.stdout and "25/25" in res.stdout
    with open(out / "totals.csv") as fh:
        totals = {r["student"]: float(r["score"]) for r in csv.DictReader(fh)}
    assert totals == {"alice_1234": 25.0, "bob_999": 0.0}  # Canvas and flat LMS names
    assert (out / "feedback" / "alice_1234" / AID / f"{AID}.html").is_file()

    nb_path = tmp_path / f"{AID}.ipynb"
    nb_path.write_text(nbformat.writes(good))
    ok = subprocess.run(
        [*cmd, "validate", str(nb_path)], capture_output=True, text=True, env=nbgrader_env()
    )
    assert ok.returncode == 0, ok.stdout
    stub = tmp_path / f"stub-{AID}.ipynb"
    stub.write_bytes((toy_root / "assignments" / AID / f"{AID}.ipynb").read_bytes())
    bad = subprocess.run(
        [*cmd, "validate", str(stub)], capture_output=True, text=True, env=nbgrader_env()
    )
    assert bad.returncode != 0 and "NotImplementedError" in bad.stdout


def test_demo_prints_the_grade_table(toy_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    res = subprocess.run(
        [sys.executable, "-m", "mytorch_course.cli", "--root", str(toy_root), "demo"]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        env=nbgrader_env(),
    )
    assert res.returncode == 0, res.stdout + res.stderr
    rows = {ln.split()[0]: ln.split()[-1] for ln in res.stdout.splitlines() if "/25" in ln}
    assert rows == {
        "partly-wrong": "15/25",
        "release": "0/25",
        "solutions": "25/25",
        "tampering": "0/25",
    }, res.stdout
    assert not list(toy_root.glob("gradebook.db"))  # the demo ran in a temporary copy
    assert (out / "grades.csv").is_file()
