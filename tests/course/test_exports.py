"""LMS exports (mytorch_course/exports.py) from a gradebook filled by hand through nbgrader's
API: column conventions of Canvas and Gradescope, quoting (a name with a comma or a quote
survives the csv module), per-part columns, and the plain ``nbgrader export``."""

from __future__ import annotations

import csv
import datetime
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mytorch_course import gradebook
from mytorch_course.cli import main as cli_main
from mytorch_course.nbgrader_process import nbgrader_env

REPO = Path(__file__).resolve().parents[2]
HW1, HW2 = "hw1", 'hw2, "the sequel"'  # a comma and quotes in a column name, too
DUE = datetime.datetime(2026, 3, 1, 12, 0, 0)
EVIL = '=HYPERLINK("http://x","y")'  # a student id a spreadsheet would run


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course folder whose gradebook.db holds two assignments and four students:

    hw1 (p1: 4 points, p2: 6 points, due DUE): alice 3 + 6 on time; bob 4 + 2, 1h30 late
    with a 1-point penalty; EVIL 1 + 0; carol did not submit.
    hw2 (q: 5 points): alice 5.
    """
    from nbgrader.api import Gradebook

    folder = tmp_path_factory.mktemp("export-course")
    shutil.copy(REPO / "nbgrader_config.py", folder / "nbgrader_config.py")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", nbgrader_env()["PATH"])  # a new gradebook runs alembic
        gb = Gradebook(gradebook.sqlite_url(folder), gradebook.COURSE_ID)
    with gb:
        gb.add_assignment(HW1, duedate=DUE)
        gb.add_notebook("nb", HW1)
        gb.add_grade_cell("p1", "nb", HW1, max_score=4, cell_type="code")
        gb.add_grade_cell("p2", "nb", HW1, max_score=6, cell_type="code")
        gb.add_assignment(HW2)
        gb.add_notebook("nb", HW2)
        gb.add_grade_cell("q", "nb", HW2, max_score=5, cell_type="code")
        gb.add_student("alice", first_name="Ann", last_name="O'Neil, Jr.", lms_user_id="4711")
        gb.add_student("bob", first_name='Bob "Bobby"', last_name="Smith", email="b@u.edu")
        gb.add_student("carol", first_name="Carol", last_name="Jones")
        gb.add_student(EVIL)
        scores = {
            ("alice", HW1): ({"p1": 3, "p2": 6}, DUE - datetime.timedelta(hours=1), 0),
            ("bob", HW1): ({"p1": 4, "p2": 2}, DUE + datetime.timedelta(minutes=90), 1),
            (EVIL, HW1): ({"p1": 1, "p2": 0}, DUE, 0),
            ("alice", HW2): ({"q": 5}, DUE, 0),
        }
        for (student, aid), (parts, when, penalty) in scores.items():
            gb.add_submission(aid, student, timestamp=when)
            for part, score in parts.items():
                gb.find_grade(part, "nb", aid, student).auto_score = score
            gb.find_submission_notebook("nb", aid, student).late_submission_penalty = penalty
        gb.db.commit()
    return folder


def export(course: Path, fmt: str, *options: str) -> list[list[str]]:
    out = course / f"{fmt}.csv"
    db = gradebook.sqlite_url(course)
    assert cli_main(["export", "--format", fmt, "--db", db, "--to", str(out), *options]) == 0
    with open(out, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_canvas_columns_points_possible_and_quoting(course: Path) -> None:
    rows = export(course, "canvas")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", HW1, HW2]
    assert rows[1] == ["Points Possible", "", "", "", "", "10", "5"]
    assert rows[2:] == [
        ["'" + EVIL, "", "", "'" + EVIL, "", "1", ""],  # as text, never a formula
        ["O'Neil, Jr., Ann", "4711", "", "alice", "", "9", "5"],
        ['Smith, Bob "Bobby"', "", "", "bob", "", "5", ""],  # 4 + 2 - 1 late
        ["Jones, Carol", "", "", "carol", "", "", ""],  # no submission: left alone
    ]


def test_canvas_per_part_columns_and_assignment_ids(course: Path) -> None:
    rows = export(course, "canvas", "--per-part", "--assignment", HW1)
    assert rows[0][5:] == [HW1, f"{HW1}: p1", f"{HW1}: p2"]
    assert rows[1][5:] == ["10", "4", "6"]
    assert [r[5:] for r in rows[2:]] == [["1", "1", "0"], ["9", "3", "6"], ["5", "4", "2"]] + [
        ["", "", ""]
    ]
    from mytorch_course.exports import CanvasExporter

    assert CanvasExporter(canvas_ids={HW1: "123"}).column(HW1) == f"{HW1} (123)"


def test_gradescope_course_layout(course: Path) -> None:
    rows = export(course, "gradescope")
    people = ["First Name", "Last Name", "SID", "Email", "Sections"]
    per = ["", " - Max Points", " - Submission Time", " - Lateness (H:M:S)"]
    assert rows[0] == people + [HW1 + s for s in per] + [HW2 + s for s in per]
    by_sid = {r[2]: r for r in rows[1:]}
    assert by_sid["bob"] == ['Bob "Bobby"', "Smith", "bob", "b@u.edu", ""] + [
        "5",
        "10",
        "2026-03-01 13:30:00 +0000",
        "01:30:00",
    ] + ["", "5", "", ""]
    assert by_sid["alice"][5:] == ["9", "10", "2026-03-01 11:00:00 +0000", "00:00:00"] + [
        "5",
        "5",
        "2026-03-01 12:00:00 +0000",
        "00:00:00",
    ]
    assert by_sid["carol"][5:] == ["", "10", "", "", "", "5", "", ""]
    assert by_sid["'" + EVIL][0:2] == ["", ""]


def test_gradescope_per_question_layout_needs_one_assignment(course: Path) -> None:
    rows = export(course, "gradescope", "--per-part", "--assignment", HW1)
    assert rows[0][5:13] == [
        "Total Score",
        "Max Points",
        "Status",
        "Submission ID",
        "Submission Time",
        "Lateness (H:M:S)",
        "View Count",
        "Submission Count",
    ]
    assert rows[0][13:] == ["1: p1 (4.0 pts)", "2: p2 (6.0 pts)"]
    by_sid = {r[2]: r for r in rows[1:]}
    assert by_sid["bob"][5:8] == ["5", "10", "Graded"] and by_sid["bob"][13:] == ["4", "2"]
    assert by_sid["carol"][5:8] == ["", "10", "Missing"] and by_sid["carol"][13:] == ["", ""]
    out = course / "two.csv"
    db = gradebook.sqlite_url(course)
    args = ["export", "--format", "gradescope", "--per-part", "--db", db, "--to", str(out)]
    assert cli_main(args) == 1  # two assignments: refused, with the way out


def test_csv_keeps_nbgrader_columns_quoted(course: Path) -> None:
    rows = export(course, "csv", "--student", "alice", "--student", "carol")
    assert rows[0] == [
        "assignment",
        "duedate",
        "timestamp",
        "student_id",
        "last_name",
        "first_name",
        "email",
        "raw_score",
        "late_submission_penalty",
        "score",
        "max_score",
    ]
    assert [r[0] for r in rows[1:]] == [HW1, HW1, HW2, HW2]
    alice = rows[1]
    assert alice[3:] == ["alice", "O'Neil, Jr.", "Ann", "", "9", "0", "9", "10"]
    assert rows[2][3:] == ["carol", "Jones", "Carol", "", "0", "0", "0", "10"]


def test_unknown_assignment_and_missing_gradebook_are_clear_errors(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = gradebook.sqlite_url(course)
    assert cli_main(["export", "--db", db, "--assignment", "nope", "--to", "x.csv"]) == 1
    assert "no assignment nope" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["export", "--db", gradebook.sqlite_url(empty)]) == 1
    assert "no gradebook at" in capsys.readouterr().err


def test_db_urls_are_normalized_or_refused() -> None:
    assert gradebook.normalize_db_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert gradebook.normalize_db_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert gradebook.normalize_db_url("sqlite:///x/gradebook.db") == "sqlite:///x/gradebook.db"
    assert "secret" not in gradebook.redact("postgresql+psycopg://u:secret@h/db")
    for bad in ("mysql://u@h/db", "gradebook.db", "postgresql+psycopg2://u@h/db"):
        with pytest.raises(gradebook.GradebookUnavailable, match="postgresql://"):
            gradebook.normalize_db_url(bad)


@pytest.mark.slow
def test_plain_nbgrader_export_uses_the_quoted_exporters(course: Path) -> None:
    def nbgrader_export(*args: str) -> list[list[str]]:
        res = subprocess.run(
            [sys.executable, "-m", "nbgrader", "export", *args],
            cwd=course,
            env=nbgrader_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, res.stdout + res.stderr
        with open(course / args[-1], newline="") as fh:
            return list(csv.reader(fh))

    default = nbgrader_export("--to", "grades.csv")  # nbgrader_config.py: our CsvExporter
    assert {len(r) for r in default} == {11}  # the comma in a name shifted nothing
    assert ["alice", "O'Neil, Jr.", "Ann"] in [r[3:6] for r in default]
    canvas = nbgrader_export(
        "--exporter", "mytorch_course.exports.CanvasExporter", "--to", "canvas.csv"
    )
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert ["O'Neil, Jr., Ann", "4711", "", "alice", "", "9", "5"] in canvas


def test_an_unreachable_or_unsupported_gradebook_stops_grading_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aid = "01-derivatives"
    subs = tmp_path / "subs" / "alice" / aid
    subs.mkdir(parents=True)
    shutil.copy(REPO / "assignments" / aid / f"{aid}.ipynb", subs)
    base = ["--root", str(REPO), "autograde", str(tmp_path / "subs"), "--out", str(tmp_path)]
    closed = "postgresql://grader:s3cret@127.0.0.1:1/mytorch"  # nothing listens on port 1
    assert cli_main([*base, "--db", closed]) == 2
    err = capsys.readouterr().err
    assert "cannot open the gradebook postgresql+psycopg://grader:***@127.0.0.1:1/mytorch" in err
    assert "s3cret" not in err
    assert cli_main([*base, "--db", "mysql://grader@dbhost/mytorch"]) == 2
    assert "unsupported gradebook database 'mysql'" in capsys.readouterr().err
