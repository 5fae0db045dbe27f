"""Nothing on disk is trusted once student code has run (mytorch_course/integrity.py)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest
from test_sandbox import no_rights, run  # noqa: F401  (no_rights is a fixture)

from mytorch_course import assignments, integrity
from mytorch_course.integrity import (
    DIGESTS_ENV,
    VERDICTS_ENV,
    GradingFilesChanged,
    Integrity,
    Snapshot,
    read_verdicts,
    record_verdicts,
)
from mytorch_course.nbgrader_process import nbgrader_env
from mytorch_course.reports import SubmissionResult, fill_scores

PARTS_PY = """\
from mytorch_course.runner import Part
from . import drivers

PARTS = {
    "double": Part(
        points=4,
        probes=lambda rng: [{"x": 1.0}],
        driver=drivers.double,
        label=lambda p: "double",
        expected=lambda p: 2 * p["x"],
    )
}
"""
DRIVERS_PY = 'def double(probe, student):\n    return student["double"](probe["x"])\n'


def make_grading(folder: Path) -> Path:
    (folder / "a09_twice").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "a09_twice" / "__init__.py").write_text("")
    (folder / "a09_twice" / "parts.py").write_text(PARTS_PY)
    (folder / "a09_twice" / "drivers.py").write_text(DRIVERS_PY)
    return folder


def test_snapshot_finds_changed_removed_and_planted_files_and_restores_them(
    tmp_path: Path,
) -> None:
    make_grading(tmp_path / "grading")
    (tmp_path / "nbgrader_config.py").write_text("c = 1\n")
    (tmp_path / "gradebook.db").write_text("grades")  # not watched: nbgrader writes it
    snap = Snapshot(tmp_path)
    assert snap.changes() == []
    (tmp_path / "grading" / "a09_twice" / "parts.py").write_text("PARTS = {}")
    (tmp_path / "grading" / "a09_twice" / "drivers.py").unlink()
    (tmp_path / "nbgrader_config.json").write_text("{}")
    (tmp_path / "gradebook.db").write_text("other grades")
    changed = [
        "grading/a09_twice/drivers.py",
        "grading/a09_twice/parts.py",
        "nbgrader_config.json",
    ]
    assert snap.changes() == changed
    assert snap.restore() == changed
    assert (tmp_path / "grading" / "a09_twice" / "parts.py").read_text() == PARTS_PY
    assert (tmp_path / "grading" / "a09_twice" / "drivers.py").read_text() == DRIVERS_PY
    assert not (tmp_path / "nbgrader_config.json").exists()
    assert snap.changes() == []


def test_a_repaired_submission_is_accepted_and_others_are_restored(tmp_path: Path) -> None:
    for student in ("alice", "bob"):
        (tmp_path / "submitted" / student / "a").mkdir(parents=True)
        (tmp_path / "submitted" / student / "a" / "a.ipynb").write_text(student)
    run_ = Integrity.start(tmp_path)
    (tmp_path / "submitted" / "alice" / "a" / "a.ipynb").write_text("repaired by the grader")
    run_.accept("alice", "a")
    (tmp_path / "submitted" / "bob" / "a" / "a.ipynb").write_text("overwritten by a kernel")
    (tmp_path / "submitted" / "bob" / "a" / "planted.py").write_text("x")
    assert run_.check("after grading alice", ["alice"]) == []
    assert run_.check("before grading bob", ["bob"]) == [
        "submitted/bob/a/a.ipynb",
        "submitted/bob/a/planted.py",
    ]
    assert not (tmp_path / "submitted" / "bob" / "a" / "planted.py").exists()
    assert (tmp_path / "submitted" / "bob" / "a" / "a.ipynb").read_text() == "bob"
    assert (tmp_path / "submitted" / "alice" / "a" / "a.ipynb").read_text().startswith("repaired")
    assert "submitted/bob/a/a.ipynb: found before grading bob" in run_.report()
    run_.close()
    assert not run_.private.exists()


def test_parts_are_loaded_once_and_a_later_change_on_disk_is_not_used(tmp_path: Path) -> None:
    grading = make_grading(tmp_path / "grading")
    part = assignments.load_parts(grading, "09-twice")["double"]
    before = assignments.driver_sources(part)
    assert before == [DRIVERS_PY]
    (grading / "a09_twice" / "drivers.py").write_text("def double(probe, student):\n    return 1\n")
    (grading / "a09_twice" / "parts.py").write_text("PARTS = {}\n")
    assert assignments.driver_sources(part) == [DRIVERS_PY]  # what ships to the kernel
    assert list(assignments.load_parts(grading, "09-twice")) == ["double"]
    assert assignments.loaded_digest(grading) == integrity.digest(
        {"__init__.py": b"", "a09_twice/__init__.py": b"", "a09_twice/parts.py": PARTS_PY.encode()}
        | {"a09_twice/drivers.py": DRIVERS_PY.encode()}
    )


def test_shared_drivers_ship_in_front_as_loaded_and_the_relative_import_is_dropped(
    tmp_path: Path,
) -> None:
    grading = make_grading(tmp_path / "grading")
    shared = "def twice(x):\n    return 2 * x\n"
    (grading / "shared_drivers.py").write_text(shared)
    drivers = (
        "from ..shared_drivers import twice\n\n\n"
        "def double(probe, student):\n    return twice(probe['x'])\n"
    )
    (grading / "a09_twice" / "drivers.py").write_text(drivers)
    part = assignments.load_parts(grading, "09-twice")["double"]
    (grading / "shared_drivers.py").write_text("def twice(x):\n    return 99\n")  # planted later
    sources = assignments.driver_sources(part)
    assert sources[0] == shared  # the bytes loaded, not the planted ones
    assert "import" not in sources[1] and sources[1].count("\n") == drivers.count("\n")
    namespace: dict = {"__name__": "grader_drivers"}  # as the probe cell runs them
    for source in sources:
        exec(compile(source, "<grader driver>", "exec"), namespace)
    assert namespace["double"]({"x": 3.0}, {}) == 6.0


def test_a_grading_process_refuses_part_files_that_changed_before_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grading = make_grading(tmp_path / "grading")
    digest = integrity.digest(integrity.grading_sources(grading))
    monkeypatch.setenv(DIGESTS_ENV, json.dumps({str(grading.resolve()): digest}))
    (grading / "a09_twice" / "parts.py").write_text(PARTS_PY.replace("2 * p", "0 * p"))
    with pytest.raises(GradingFilesChanged, match="changed after grading started"):
        assignments.load_parts(grading, "09-twice")


def release_notebook(folder: Path, points: dict[str, float]) -> None:
    cells = [
        nbformat.v4.new_code_cell(
            "pass", metadata={"nbgrader": {"grade": True, "grade_id": gid, "points": pts}}
        )
        for gid, pts in points.items()
    ]
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "hw.ipynb")


def test_scores_come_from_verdict_records_never_from_the_gradebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release_notebook(tmp_path / "assignments" / "hw", {"p1": 4, "p2": 6, "p3": 10})
    (tmp_path / "gradebook.db").write_text("a kernel's idea of the grades")
    verdicts = tmp_path / "verdicts"
    verdicts.mkdir()
    monkeypatch.setenv(VERDICTS_ENV, str(verdicts))
    parts = {"p1": {"score": 1.0, "message": "OK"}, "p2": {"score": 0.5, "message": "half"}}
    record_verdicts("alice", "hw", "hw", "digest-1", parts)
    record_verdicts("bob", "hw", "hw", "digest-0", parts)  # graded with other grading files
    odd = {"p1": {"score": float("nan")}, "p2": {"score": "1"}, "p3": {"score": 1.5}}
    record_verdicts("dave", "hw", "hw", "digest-1", odd)  # never more than 0 for nonsense
    record_verdicts("erin", "hw", "hw", "digest-1", [1, 2])  # type: ignore[arg-type]
    results = [SubmissionResult(s, "hw") for s in ("alice", "bob", "carol", "dave", "erin")]
    results[2].notes.append("nbgrader failed: boom")
    fill_scores(tmp_path, results, verdicts, "digest-1")
    alice, bob, carol = ({p.part: (p.score, p.reason) for p in r.parts} for r in results[:3])
    assert results[3].score == results[4].score == 0
    assert alice == {"p1": (4.0, ""), "p2": (3.0, "half"), "p3": (0.0, "not graded")}
    assert {p: s for p, (s, _) in bob.items()} == {"p1": 0.0, "p2": 0.0, "p3": 0.0}
    assert "grading files had changed" in bob["p1"][1]
    assert carol["p1"] == (0.0, "nbgrader failed: boom")


def test_a_record_is_only_read_for_the_submission_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VERDICTS_ENV, str(tmp_path))
    record_verdicts("alice", "hw", "hw", "d", {"p1": {"score": 1.0, "message": "OK"}})
    (alice_file,) = tmp_path.glob("*.json")
    assert read_verdicts(tmp_path, "alice", "hw", "hw")["parts"]["p1"]["score"] == 1.0
    # a copy under bob's name still says alice: not bob's
    bob_file = integrity._record_path(tmp_path, "bob", "hw", "hw")
    bob_file.write_text(alice_file.read_text())
    assert read_verdicts(tmp_path, "bob", "hw", "hw") is None
    bob_file.write_text("garbage")
    assert read_verdicts(tmp_path, "bob", "hw", "hw") is None


def test_an_unsandboxed_kernel_is_not_told_where_the_verdicts_go(
    tmp_path: Path,
    no_rights: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(VERDICTS_ENV, str(tmp_path))
    monkeypatch.setenv(DIGESTS_ENV, "{}")
    edition = tmp_path / "editions" / tmp_path.name  # the notebook folder names the assignment
    (edition / "mytorch").mkdir(parents=True)
    (edition / "mytorch" / "__init__.py").write_text("")
    (out,) = run(
        ["import os\nprint('SEEN', sorted(k for k in os.environ if k.startswith('MYTORCH_')))"],
        tmp_path,
        edition,
    )
    assert "SEEN" in out and "MYTORCH_VERDICTS" not in out and DIGESTS_ENV not in out, out


def test_the_gradebooks_assignment_definition_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", nbgrader_env()["PATH"])  # nbgrader runs alembic
    path = tmp_path / "gradebook.db"
    with Gradebook(f"sqlite:///{path}") as gb:
        gb.add_assignment("hw")
        gb.add_notebook("hw", "hw")
        gb.add_grade_cell("p1", "hw", "hw", max_score=4, cell_type="code")
        gb.add_student("alice")
    definition = integrity.GradebookDefinition(f"sqlite:///{path}")
    assert definition.restore() == []
    with sqlite3.connect(path) as db:  # what a kernel without the sandbox can do
        db.execute("UPDATE grade_cells SET max_score = 1000")
        db.execute("DELETE FROM student")  # not part of the definition: left alone
    assert definition.restore() == ["gradebook.db: grade_cells"]
    with Gradebook(f"sqlite:///{path}") as gb:
        assert gb.find_grade_cell("p1", "hw", "hw").max_score == 4
        assert gb.students == []


def test_autograde_warns_when_the_instructors_course_folder_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mytorch_course import cli

    root = tmp_path / "course"
    toy = Path(__file__).resolve().parent / "fixtures" / "toy"
    shutil.copytree(toy, root)
    (root / "nbgrader_config.py").write_text("")
    (root / "assignments" / "00-toy").mkdir(parents=True)
    shutil.copy(root / "solutions" / "00-toy" / "00-toy.ipynb", root / "assignments" / "00-toy")
    subs = tmp_path / "subs" / "alice" / "00-toy"
    subs.mkdir(parents=True)
    shutil.copy(root / "solutions" / "00-toy" / "00-toy.ipynb", subs)

    def lingering_backdoor(work: Path, jobs: list, *args: object, **kw: object) -> list:
        (root / "grading" / "a00_toy" / "backdoor.py").write_text("PWNED = 1")
        return []

    monkeypatch.setattr(cli, "_grade_and_report", lingering_backdoor)
    code = cli.main(["--root", str(root), "autograde", str(tmp_path / "subs"), "--out", "x"])
    assert code == 0
    err = capsys.readouterr().err
    assert "your course folder" in err and "grading/a00_toy/backdoor.py" in err, err
