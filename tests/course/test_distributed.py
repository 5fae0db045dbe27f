"""The Dask path's pieces that need no cluster: task identity and the result cache key, the
course bundle, and the coordinator's checks of what a worker sends back (a worker's result
is data to check, like the verdict records of a local run)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mytorch_course.course_dir import copy_course
from mytorch_course.distributed import (
    CourseBundle,
    GradingTask,
    ResultCache,
    TaskResult,
    _check_result,
    _coordinate,
    auto_batch,
    summary,
)
from mytorch_course.integrity import Snapshot

AID = "00-toy"
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def _task(student: str = "alice", data: bytes = NB) -> GradingTask:
    return GradingTask.from_files(AID, student, {f"{AID}.ipynb": data})


def test_the_cache_key_follows_the_bytes_the_student_and_the_grading_files() -> None:
    key = _task().cache_key("grading-1")
    assert key == _task().cache_key("grading-1")  # a regrade of the same bytes: same result
    assert key != _task(data=NB + b" ").cache_key("grading-1")
    assert key != _task("bob").cache_key("grading-1")  # a copy is graded for its own student
    assert key != _task().cache_key("grading-2")  # a fixed grading file regrades everyone


def test_task_keys_are_unique_even_for_identical_submissions() -> None:
    assert _task().key() != _task().key()


def test_the_bundle_digest_follows_grading_files_not_the_gradebook(
    toy_root: Path, tmp_path: Path
) -> None:
    work = copy_course(toy_root, tmp_path / "work")
    (work / "gradebook.db").write_bytes(b"one")
    (work / "grading" / "__pycache__").mkdir(exist_ok=True)
    (work / "grading" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    bundle = CourseBundle.from_course(work)
    assert "gradebook.db" in bundle.files and not any(".pyc" in n for n in bundle.files)
    assert not any(n.startswith("submitted") for n in bundle.files)
    (work / "gradebook.db").write_bytes(b"two")  # a new time stamp in the same definitions
    assert CourseBundle.from_course(work).digest == bundle.digest
    part_file = next((work / "grading").rglob("parts.py"))
    part_file.write_text(part_file.read_text() + "\n# changed\n")
    assert CourseBundle.from_course(work).digest != bundle.digest


def test_a_result_survives_the_cache(tmp_path: Path) -> None:
    result = TaskResult(AID, "alice", "abc", feedback={"x.html": b"\x00\xffhtml"}, seconds=1.5)
    cache = ResultCache(tmp_path)
    cache.put("k", result)
    assert cache.get("k") == result
    (tmp_path / "bad.json").write_text("{not json")
    assert cache.get("bad") is None and cache.get("missing") is None


@pytest.mark.parametrize(
    "forged",
    [
        TaskResult(AID, "bob", "sha"),  # another student's result
        TaskResult(AID, "alice", "other"),  # other bytes than those sent
        TaskResult(AID, "alice", "sha", feedback={"../../grades.csv": b"x"}),  # a path
        TaskResult(AID, "alice", "sha", logs={"/etc/passwd": "x"}),
        None,
    ],
)
def test_a_result_that_is_not_what_it_claims_fails_the_task(forged: TaskResult | None) -> None:
    task = GradingTask(AID, "alice", {}, "sha")
    checked = _check_result(forged, task)
    assert checked.failed.startswith("not graded:") and checked.student == "alice"
    assert not checked.feedback and not checked.logs and not checked.records


def _record(work: Path, notebook: str, scores: dict[str, object], digest: str = "") -> dict:
    return {
        "student": "alice",
        "assignment": AID,
        "notebook": notebook,
        "grading_digest": digest or Snapshot(work).grading_digest(),
        "parts": {k: {"score": v, "message": "why"} for k, v in scores.items()},
    }


def test_the_coordinator_scores_only_records_it_can_trust(
    toy_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = copy_course(toy_root, tmp_path / "work")  # no gradebook: its warning is expected
    honest = TaskResult(AID, "alice", "s", records={AID: _record(work, AID, {"square-grad": 1.0})})
    [res] = _coordinate(work, [honest])
    # square-grad is 10 points in the release; sum-rows-grad has no record: 0, with a reason
    assert {p.part: p.score for p in res.parts} == {"square-grad": 10.0, "sum-rows-grad": 0.0}
    forged = [
        _record(work, AID, {"square-grad": 1.0}, digest="0" * 64),  # other grading files
        _record(work, AID, {"square-grad": 7.0}),  # out of range
        _record(work, AID, {"square-grad": float("nan")}),
        _record(work, "another-notebook", {"square-grad": 1.0}),  # filed under another name
    ]
    for record in forged:
        task = TaskResult(AID, "alice", "s", records={AID: record})
        [res] = _coordinate(work, [task])
        assert res.score == 0, record
    assert "gradebook could not be updated" in capsys.readouterr().err


def test_failed_tasks_are_summarised_with_their_reason(toy_root: Path, tmp_path: Path) -> None:
    work = copy_course(toy_root, tmp_path / "work")
    dead = TaskResult(AID, "bob", "s", failed="not graded: its worker failed (KilledWorker)")
    results = _coordinate(work, [dead])
    assert results[0].score == 0 and "KilledWorker" in results[0].parts[0].reason
    text = summary(results, wall=10.0)
    assert text.startswith("0 graded, 1 failed, 10.0s wall per submission")
    assert "bob / 00-toy: not graded: its worker failed (KilledWorker)" in text


def test_batches_only_where_the_sandbox_keeps_classmates_apart() -> None:
    assert auto_batch(100, 2, sandboxed=False) == 1
    assert auto_batch(100, 2, sandboxed=True) == 8  # capped: a crash costs a few students
    assert auto_batch(6, 2, sandboxed=True) == 3  # every worker gets work
    assert auto_batch(1, 4, sandboxed=True) == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--scheduler", "locl"], "tcp://host:8786"),
        (["--cache", "c"], "add --scheduler local"),
    ],
)
def test_scheduler_flags_that_cannot_work_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    from mytorch_course import cli

    out = tmp_path / "out"
    assert cli.main(["autograde", str(tmp_path), "--out", str(out), *flags]) == 2
    assert message in capsys.readouterr().err and not out.exists()


@pytest.mark.slow
def test_a_chunk_over_its_wall_clock_limit_comes_back_failed(
    toy_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker side of the limit: grade_chunk answers at the limit, with the reason, for
    every student of the chunk, while the grading it gave up on dies at its own limits."""
    from mytorch_course import distributed, samples, sandbox
    from mytorch_course.autograde import prepare_course, strip_answers
    from mytorch_course.collect import place_submission
    from mytorch_course.gradebook import create_schema, sqlite_url

    work = copy_course(toy_root, tmp_path / "work")
    create_schema(sqlite_url(work))
    prepare_course(work, [AID])
    strip_answers(work)
    place_submission(work, "alice", AID, samples.solved(toy_root, AID))
    tasks = [GradingTask.from_submitted(work, "alice", AID)]
    monkeypatch.setattr(distributed, "task_limit", lambda budget, n: 1.0)
    start = time.monotonic()
    mode = os.environ.get(sandbox.ENV_MODE, "")  # grade_chunk sets it for its process
    results = distributed.grade_chunk(CourseBundle.from_course(work), tasks, 60, mode)
    assert time.monotonic() - start < 5  # grading and feedback of the toy notebook take longer
    assert [r.student for r in results] == ["alice"]
    assert results[0].failed == "not graded: over the wall-clock limit of 1s for its batch"
