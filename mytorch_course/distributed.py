"""Autograde on Dask: each submission is a task, graded by a worker in a scratch course.

A :class:`GradingTask` is (assignment, student, submitted files, their sha256). A worker
grades a list of them (:func:`grade_chunk`, one nbgrader process for the list) in a scratch
course of its own: a copy of the grading files and the release (:class:`CourseBundle`), its
own SQLite gradebook and the sandbox, so nothing is shared between workers but the bundle.
It sends back a :class:`TaskResult` per task: the verdict records the grading process
wrote, the notes, the autograded notebooks, the feedback pages, nbgrader's log and the time.

The coordinator (:func:`grade_distributed`, i.e. the ``mytorch-course autograde`` process)
checks the records exactly as a local run does (:func:`reports.fill_scores`: made with the
coordinator's grading files, scores in range, points from its own release), writes the
files into its course copy and is the only writer of the gradebook. A result cache keyed by
(assignment, student, sha256 of the files, digest of the grading files) makes a regrade of
the same bytes return the same result without grading it again.

Dask settings that matter here: tasks have unique keys and ``pure=False`` (two identical
submissions are two tasks); a task whose worker dies is retried on at most
:data:`ALLOWED_FAILURES` other workers, then reported as failed (a chunk of several
students is then split, and a single task that still fails is graded once more alone, so
that only the poisoned one fails, not a classmate that was queued beside it; the course
bundle is a task's result, which the scheduler recomputes when its workers die); each
chunk has a wall-clock limit (:func:`task_limit`) after which its students are reported as
failed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .integrity import Snapshot, digest, write_record
from .reports import SubmissionResult, fill_scores, sync_gradebook

ALLOWED_FAILURES = 1  # a task that kills its worker gets one more worker, not three
MAX_FILE_BYTES = 100 * 2**20  # a submitted, autograded or feedback file; logs are cut shorter
MAX_LOG_CHARS = 2_000_000
BUNDLE_FOLDERS = ("grading", "assignments", "solutions")  # solutions: answers already stripped
BUNDLE_FILES = ("nbgrader_config.py", "gradebook.db")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.() -]{0,200}$")  # a file name, not a path


def _skip(rel: Path) -> bool:
    return "__pycache__" in rel.parts or rel.suffix == ".pyc"


@dataclass(frozen=True)
class CourseBundle:
    """What a worker needs to grade: the prepared course copy without any submission."""

    files: dict[str, bytes]  # relative path -> bytes

    @classmethod
    def from_course(cls, work: Path) -> CourseBundle:
        files = {
            name: (work / name).read_bytes() for name in BUNDLE_FILES if (work / name).is_file()
        }
        for folder in BUNDLE_FOLDERS:
            for path in sorted((work / folder).rglob("*")):
                rel = path.relative_to(work)
                if path.is_file() and not path.is_symlink() and not _skip(rel):
                    files[str(rel)] = path.read_bytes()
        return cls(files)

    @property
    def digest(self) -> str:
        """Of everything that decides a grade (the gradebook holds a time stamp: not it)."""
        return digest({n: b for n, b in self.files.items() if n != "gradebook.db"})

    def write(self, dest: Path) -> None:
        for name, data in self.files.items():
            path = dest / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


@dataclass(frozen=True)
class GradingTask:
    """One submission: the files of ``submitted/<student>/<assignment>/``."""

    assignment: str
    student: str
    files: dict[str, bytes]  # file name -> bytes (notebooks and timestamp.txt)
    sha256: str

    @classmethod
    def from_files(cls, assignment: str, student: str, files: dict[str, bytes]) -> GradingTask:
        return cls(assignment, student, dict(files), digest(files))

    @classmethod
    def from_submitted(cls, work: Path, student: str, assignment: str) -> GradingTask:
        folder = work / "submitted" / student / assignment
        files = {
            p.name: p.read_bytes()
            for p in sorted(folder.iterdir())
            if p.is_file() and not p.is_symlink() and SAFE_NAME.match(p.name)
        }
        return cls.from_files(assignment, student, files)

    def key(self) -> str:
        """A Dask key no other task has (``pure=False`` alone would not name it)."""
        return f"grade-{self.assignment}-{self.student}-{self.sha256[:12]}-{uuid.uuid4().hex[:8]}"

    def cache_key(self, course_digest: str) -> str:
        parts = [self.assignment, self.student, self.sha256, course_digest]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass
class TaskResult:
    """What a worker sends back for one task (plain data; checked by the coordinator)."""

    assignment: str
    student: str
    sha256: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # notebook -> record
    notes: list[str] = field(default_factory=list)
    autograded: dict[str, bytes] = field(default_factory=dict)  # notebook file name -> bytes
    feedback: dict[str, bytes] = field(default_factory=dict)  # feedback file name -> bytes
    logs: dict[str, str] = field(default_factory=dict)  # log file name -> text
    warnings: str = ""  # what the worker's run would have printed to the instructor
    seconds: float = 0.0
    retries: int = 0
    failed: str = ""  # not graded at all, and why (worker died, wall-clock limit, ...)

    def to_json(self) -> str:
        data = asdict(self)
        for name in ("autograded", "feedback"):
            data[name] = {k: base64.b64encode(v).decode() for k, v in data[name].items()}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> TaskResult:
        data = json.loads(text)
        for name in ("autograded", "feedback"):
            data[name] = {k: base64.b64decode(v) for k, v in data[name].items()}
        return cls(**data)


def task_limit(budget: float, n_tasks: int) -> float:
    """Wall-clock seconds a chunk of ``n_tasks`` may take: the batch, one retry each, and
    the feedback (every step inside is also a process killed at its own time limit)."""
    return budget * (n_tasks + 1) + 300.0


# --------------------------------------------------------------------------- the worker


def _read_folder(folder: Path, limit: int = MAX_FILE_BYTES) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file()
        and not p.is_symlink()
        and SAFE_NAME.match(p.name)
        and p.stat().st_size <= limit
    }


def _grade_in_scratch(
    scratch: Path, bundle: CourseBundle, tasks: list[GradingTask], budget: float
) -> list[TaskResult]:
    from .autograde import grade_in_place

    bundle.write(scratch)
    for task in tasks:
        folder = scratch / "submitted" / task.student / task.assignment
        folder.mkdir(parents=True)
        for name, data in task.files.items():
            if SAFE_NAME.match(name):
                (folder / name).write_bytes(data)
    jobs = [(t.student, t.assignment) for t in tasks]
    records: dict[tuple[str, str, str], dict] = {}
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        graded = grade_in_place(
            scratch,
            jobs,
            workers=1,
            budget=budget,
            progress=False,
            # one process for the chunk only where this worker's sandbox keeps them apart
            batch=len(jobs) if sandboxed_here() else 1,
            records=records,
        )
    by_job = {(r.student, r.assignment): r for r in graded}
    logs = {
        p.name: p.read_text(errors="replace")[-MAX_LOG_CHARS:]
        for p in sorted((scratch / "logs").glob("*.log"))
    }
    out = []
    for task in tasks:
        res = by_job[(task.student, task.assignment)]
        mine = {n: t for n, t in logs.items() if task.student in n}
        out.append(
            TaskResult(
                task.assignment,
                task.student,
                task.sha256,
                records={
                    nb: rec
                    for (s, a, nb), rec in records.items()
                    if (s, a) == (task.student, task.assignment)
                },
                notes=list(res.notes),
                autograded=_read_folder(scratch / "autograded" / task.student / task.assignment),
                feedback=_read_folder(scratch / "feedback" / task.student / task.assignment),
                logs=mine,
                warnings=stderr.getvalue(),
                seconds=res.seconds,
                retries=res.retries,
            )
        )
    return out


def grade_chunk(
    bundle: CourseBundle, tasks: list[GradingTask], budget: float, sandbox_mode: str = ""
) -> list[TaskResult]:
    """Grade ``tasks`` (one assignment) in a scratch course; runs on a Dask worker.

    Never raises for a submission's sake: a chunk over its wall-clock limit comes back as
    failed results, and the scratch course is deleted.
    """
    from . import sandbox

    if sandbox_mode:  # the coordinator's choice, for this worker's nbgrader processes
        os.environ[sandbox.ENV_MODE] = sandbox_mode
    else:
        os.environ.pop(sandbox.ENV_MODE, None)
    start = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="mytorch-task-"))
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["results"] = _grade_in_scratch(scratch, bundle, tasks, budget)
        except Exception as exc:  # a grader bug: the coordinator reports it per student
            box["error"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    limit = task_limit(budget, len(tasks))
    thread.join(limit)
    if thread.is_alive():  # its nbgrader processes die at their own limits; leave the folder
        why = f"not graded: over the wall-clock limit of {limit:.0f}s for its batch"
        return [_failed(t, why, time.monotonic() - start) for t in tasks]
    shutil.rmtree(scratch, ignore_errors=True)
    if "error" in box:
        return [_failed(t, f"not graded: the grader failed ({box['error']})", 0.0) for t in tasks]
    return box["results"]


def _bundle(bundle: CourseBundle) -> CourseBundle:
    """The task that hands the bundle to the workers (see :func:`grade_distributed`)."""
    return bundle


def _failed(task: GradingTask, why: str, seconds: float) -> TaskResult:
    return TaskResult(task.assignment, task.student, task.sha256, seconds=seconds, failed=why)


# --------------------------------------------------------------------------- the coordinator


class ResultCache:
    """Task results on disk, one JSON file per cache key (see :meth:`GradingTask.cache_key`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> TaskResult | None:
        try:
            return TaskResult.from_json((self.folder / f"{key}.json").read_text())
        except (OSError, ValueError, TypeError):
            return None

    def put(self, key: str, result: TaskResult) -> None:
        path = self.folder / f"{key}.json"
        tmp = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(result.to_json())
        tmp.replace(path)


@contextlib.contextmanager
def dask_client(scheduler: str, workers: int) -> Iterator[Any]:
    """A Dask client: ``"local"`` starts a ``LocalCluster`` of ``workers`` processes (one
    thread each) for this run; anything else is the address of a running scheduler."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler != "local":
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        with (
            LocalCluster(
                n_workers=max(1, workers),
                threads_per_worker=1,
                processes=True,
                memory_limit=0,  # the kernels' memory is bounded by the sandbox, not by Dask
                dashboard_address=":0",  # a free port: never collides with another cluster
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client


def sandboxed_here() -> bool:
    """Whether this process's nbgrader children will sandbox their kernels."""
    from . import sandbox

    return os.environ.get(sandbox.ENV_MODE, "") != "off" and sandbox.sandbox_support()[0]


def auto_batch(n_tasks: int, workers: int, sandboxed: bool) -> int:
    """Students per nbgrader process when ``--batch`` is not given: several (less start-up
    per submission) only when the sandbox keeps each kernel away from its classmates'
    files; enough chunks to keep every worker busy."""
    if not sandboxed:
        return 1
    return max(1, min(8, math.ceil(n_tasks / max(1, workers))))


def _check_result(result: Any, task: GradingTask) -> TaskResult:
    """A worker's result for ``task``, or a failed one when it is not what it claims."""
    ok = (
        isinstance(result, TaskResult)
        and (result.assignment, result.student, result.sha256)
        == (task.assignment, task.student, task.sha256)
        and all(SAFE_NAME.match(n) for n in [*result.autograded, *result.feedback, *result.logs])
    )
    return result if ok else _failed(task, "not graded: the worker's result did not match", 0.0)


def _merge(work: Path, private: Path, result: TaskResult) -> SubmissionResult:
    """Lay a worker's files out in ``work`` as a local run would; its records go to
    ``private`` for :func:`fill_scores` to check."""
    res = SubmissionResult(
        result.student, result.assignment, seconds=result.seconds, retries=result.retries
    )
    res.notes = list(result.notes) + ([result.failed] if result.failed else [])
    for notebook, record in result.records.items():
        if isinstance(record, dict) and record.get("notebook") == notebook:
            write_record(private, record)  # read_verdicts checks its student and assignment
    for folder, files in (("autograded", result.autograded), ("feedback", result.feedback)):
        dest = work / folder / result.student / result.assignment
        shutil.rmtree(dest, ignore_errors=True)
        if files:
            dest.mkdir(parents=True)
            for name, data in files.items():
                (dest / name).write_bytes(data)
    (work / "logs").mkdir(exist_ok=True)
    for name, text in result.logs.items():
        (work / "logs" / name).write_text(text)
    return res


def summary(results: list[SubmissionResult], wall: float) -> str:
    """Graded, failed (with why), and time per submission."""
    failed = [r for r in results if any(n.startswith("not graded:") for n in r.notes)]
    lines = [
        f"{len(results) - len(failed)} graded, {len(failed)} failed, "
        f"{wall / max(1, len(results)):.1f}s wall per submission"
    ]
    for r in failed:
        why = next(n for n in r.notes if n.startswith("not graded:"))
        lines.append(f"  failed: {r.student} / {r.assignment}: {why}")
    return "\n".join(lines)


def grade_distributed(
    work: Path,
    jobs: list[tuple[str, str]],
    scheduler: str = "local",
    workers: int = 2,
    budget: float = 300.0,
    batch: int = 0,
    progress: bool = True,
    cache: Path | None = None,
    db_url: str | None = None,
) -> list[SubmissionResult]:
    """Grade ``jobs`` laid out in the prepared course copy ``work`` on Dask workers.

    ``batch`` 0: :func:`auto_batch`. ``cache``: a folder of earlier results (read and
    written). Results are checked and merged here, and the gradebook (``db_url``, default
    ``work``'s gradebook.db; never seen by a worker) written here only.
    """
    from distributed import as_completed
    from tqdm import tqdm

    from . import sandbox

    mode = os.environ.get(sandbox.ENV_MODE, "")
    sandboxed = sandboxed_here()
    bundle = CourseBundle.from_course(work)
    course_digest = bundle.digest
    store = ResultCache(cache) if cache is not None else None
    tasks = [GradingTask.from_submitted(work, s, a) for s, a in jobs]
    done: dict[tuple[str, str], TaskResult] = {}
    todo: list[GradingTask] = []
    for task in tasks:
        hit = store.get(task.cache_key(course_digest)) if store else None
        if hit is not None and not hit.failed:
            done[(task.student, task.assignment)] = _check_result(hit, task)
        else:
            todo.append(task)
    bar = tqdm(total=len(tasks), desc="autograde", unit="nb", disable=not progress)
    bar.update(len(done))
    if todo:
        size = batch or auto_batch(len(todo), workers, sandboxed)
        chunks = []
        for aid in sorted({t.assignment for t in todo}):
            mine = [t for t in todo if t.assignment == aid]
            chunks += [mine[i : i + size] for i in range(0, len(mine), size)]
        with dask_client(scheduler, workers) as client:
            # The bundle is a task's result, not scattered data: when the workers holding it
            # die (a poisoned classmate can kill them), the scheduler computes it again from
            # its graph instead of cancelling every grading task that needs it.
            shared = client.submit(_bundle, bundle, key=f"course-{uuid.uuid4().hex}", pure=False)

            def submit(chunk: list[GradingTask]) -> Any:
                return client.submit(
                    grade_chunk, shared, chunk, budget, mode, key=chunk[0].key(), pure=False
                )

            def record(chunk: list[GradingTask], got: list[Any]) -> None:
                by_student = {getattr(r, "student", None): r for r in got or []}
                for task in chunk:
                    result = _check_result(by_student.get(task.student), task)
                    done[(task.student, task.assignment)] = result
                    if store and not result.failed:
                        store.put(task.cache_key(course_digest), result)
                bar.update(len(chunk))

            suspects: list[GradingTask] = []
            pending = {submit(chunk): chunk for chunk in chunks}
            running = as_completed(list(pending))
            for future in running:
                chunk = pending.pop(future)
                try:
                    got = future.result()
                except Exception:  # its workers died (KilledWorker), or Dask failed
                    if len(chunk) > 1:  # find the poisoned one: one task per student
                        for task in chunk:
                            new = submit([task])
                            pending[new] = [task]
                            running.add(new)
                    else:
                        suspects += chunk
                    continue
                record(chunk, got)
            # A task may have been queued on the workers that a poisoned classmate killed:
            # each suspect is graded once more, alone on the cluster, before it is failed.
            for task in suspects:
                try:
                    got = submit([task]).result()
                except Exception as exc:
                    why = f"not graded: its worker failed ({type(exc).__name__}: {exc})"[:300]
                    got = [_failed(task, why, 0.0)]
                record([task], got)
    bar.close()
    return _coordinate(work, [done[(t.student, t.assignment)] for t in tasks], db_url)


def _coordinate(
    work: Path, task_results: list[TaskResult], db_url: str | None = None
) -> list[SubmissionResult]:
    """Check and merge the workers' results; write the gradebook (the only writer)."""
    warnings = sorted({w.strip() for r in task_results for w in [r.warnings] if w.strip()})
    private = Path(tempfile.mkdtemp(prefix="mytorch-run-"))  # mode 0700, outside work
    try:
        results = [_merge(work, private, r) for r in task_results]
        results.sort(key=lambda r: (r.assignment, r.student))
        fill_scores(work, results, private, Snapshot(work).grading_digest())
    finally:
        shutil.rmtree(private, ignore_errors=True)
    try:
        sync_gradebook(work, results, add_missing=True, db_url=db_url)
    except Exception as exc:
        print(f"warning: the gradebook could not be updated ({exc})", file=sys.stderr)
    for text in warnings:
        print(text, file=sys.stderr)
    return results
