"""Batch autograding: one nbgrader process per student (or per small batch), with retries.

A crash, a hang or a broken notebook in one submission never touches another.
"""

from __future__ import annotations

import copy
import shutil
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import nbformat

from .collect import place_submission
from .course_dir import copy_course, release_notebooks
from .gradebook import create_schema, db_args, sqlite_url
from .integrity import Integrity, read_verdicts
from .nbgrader_process import nbgrader
from .notebook import nbgrader_meta, write_notebook
from .reports import SubmissionResult, fill_scores, sync_gradebook


def _autograded_ok(work: Path, student: str, aid: str) -> bool:
    folder = work / "autograded" / student / aid
    submitted = work / "submitted" / student / aid
    return all((folder / p.name).is_file() for p in submitted.glob("*.ipynb"))


def repair_from_release(work: Path, student: str, aid: str) -> list[str]:
    """Rebuild each submitted notebook on the release copy, keeping the student's answers.

    Used when nbgrader rejects a notebook as a whole (broken JSON or metadata): solution cells
    are matched by grade_id, else by position; everything else comes from the release.
    """
    notes = []
    folder = work / "submitted" / student / aid
    for name, rel_nb in release_notebooks(work, aid).items():
        path = folder / f"{name}.ipynb"
        answers: dict[str, str] = {}
        try:
            sub = nbformat.read(path, as_version=4)
            sol_ids = [
                nbgrader_meta(c)["grade_id"]
                for c in rel_nb.cells
                if nbgrader_meta(c).get("solution")
            ]
            sub_cells = [c for c in sub.cells if c.get("cell_type") == "code"]
            for cell in sub_cells:
                gid = nbgrader_meta(cell).get("grade_id")
                if gid in sol_ids:
                    answers[gid] = cell.source
            if not answers:  # metadata gone: match by position among code cells
                rel_code = [c for c in rel_nb.cells if c.cell_type == "code"]
                if len(rel_code) == len(sub_cells):
                    for rc, sc in zip(rel_code, sub_cells, strict=True):
                        if nbgrader_meta(rc).get("solution"):
                            answers[nbgrader_meta(rc)["grade_id"]] = sc.source
        except Exception as exc:  # unreadable notebook: grade the release (scores 0)
            notes.append(f"{name}: unreadable notebook ({type(exc).__name__}); graded as empty")
        nb = copy.deepcopy(rel_nb)
        for cell in nb.cells:
            gid = nbgrader_meta(cell).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        write_notebook(nb, path)
        notes.append(f"{name}: rebuilt on the release copy ({len(answers)} answers kept)")
    return notes


def _check(
    run: Integrity | None, results: list[SubmissionResult], when: str, students: Iterable[str] = ()
) -> None:
    """Restore changed grading files and ``students``' submissions (see integrity.py); tell
    the students graded just now (``results``)."""
    changed = run.check(when, students) if run is not None else []
    if changed:
        note = "the grading files changed while this was graded (restored): " + ", ".join(changed)
        for result in results:
            result.notes.append(note)


def grade_one(
    work: Path,
    student: str,
    aid: str,
    budget: float,
    run: Integrity | None = None,
    db_url: str | None = None,
) -> SubmissionResult:
    """Autograde one student's assignment with retries; never raises."""
    result = SubmissionResult(student, aid)
    start = time.monotonic()
    args = ["autograde", aid, "--student", student, "--force", *db_args(db_url or sqlite_url(work))]
    log = work / "logs" / f"{aid}--{student}.log"
    log.parent.mkdir(exist_ok=True)
    for attempt in range(4):
        _check(run, [], f"before grading {student}", [student])
        res = nbgrader(args, work, timeout=budget, env=run and run.env())
        _check(run, [result], f"after grading {student}")
        with open(log, "a") as fh:  # nbgrader's own log, for the instructor
            fh.write(f"=== attempt {attempt + 1}: exit {res.returncode}\n{res.stdout}\n")
        if res.returncode == 0 and _autograded_ok(work, student, aid):
            break
        if res.returncode == -9:
            result.notes.append(f"stopped after the {budget:.0f}s time budget")
            break
        if "database is locked" in res.stdout and attempt < 3:
            result.retries += 1
            time.sleep(0.5 + attempt)  # SQLite contention between workers: just retry
            continue
        if attempt == 0 or not any("rebuilt" in n for n in result.notes):
            tail = [ln for ln in res.stdout.splitlines() if "ERROR" in ln or "rror" in ln][-3:]
            result.notes.append("nbgrader failed: " + " | ".join(tail)[:300])
            result.notes += repair_from_release(work, student, aid)
            if run is not None:  # the repaired notebook is the one to grade from now on
                run.accept(student, aid)
            continue
        break
    result.seconds = time.monotonic() - start
    return result


def prepare_course(work: Path, ids: Iterable[str], db_url: str | None = None) -> None:
    """Fill the work copy's ``gradebook.db`` (and its release) from the source notebooks,
    and the course gradebook ``db_url`` too when it is another one (PostgreSQL): Dask workers
    grade from a copy of the work folder, its SQLite gradebook included (distributed.py)."""
    urls = dict.fromkeys([sqlite_url(work), db_url or sqlite_url(work)])
    for aid in ids:
        for url in urls:
            res = nbgrader(["generate_assignment", aid, "--force", *db_args(url)], work)
            if res.returncode != 0:
                raise RuntimeError(f"nbgrader generate_assignment {aid} failed:\n{res.stdout}")


def grade_batch(
    work: Path,
    aid: str,
    students: list[str],
    budget: float,
    run: Integrity | None = None,
    db_url: str | None = None,
) -> list[SubmissionResult]:
    """Several students of one assignment in ONE nbgrader process (saves its start-up).

    nbgrader grades each student independently and carries on after a failure; whoever has
    no autograded notebook afterwards is re-graded alone by :func:`grade_one` (with repairs).
    """
    if len(students) == 1:
        return [grade_one(work, students[0], aid, budget, run, db_url)]
    start = time.monotonic()
    everyone = {p.name for p in (work / "submitted").iterdir() if (p / aid).is_dir()}
    exclude = ",".join(sorted(everyone - set(students)))
    args = ["autograde", aid, "--force", *db_args(db_url or sqlite_url(work))]
    if exclude:
        args.append(f"--CourseDirectory.student_id_exclude={exclude}")
    _check(run, [], f"before grading {', '.join(students)}", students)
    res = nbgrader(args, work, timeout=budget * len(students), env=run and run.env())
    (work / "logs").mkdir(exist_ok=True)
    (work / "logs" / f"{aid}--batch-{students[0]}.log").write_text(res.stdout)
    share = (time.monotonic() - start) / len(students)
    batch = [SubmissionResult(student, aid, seconds=share) for student in students]
    _check(run, batch, f"after grading {', '.join(students)}")
    return [
        result
        if _autograded_ok(work, result.student, aid)
        else grade_one(work, result.student, aid, budget, run, db_url)
        for result in batch
    ]


def strip_answers(work: Path) -> None:
    """Delete the solution notebooks from a work copy once the gradebook is filled.

    Student code runs as the same user as nbgrader and could read them from disk; autograde
    needs only the gradebook, the release and the non-notebook files of solutions/.
    """
    for path in (work / "solutions").rglob("*.ipynb"):
        path.unlink()


def autograde(
    work: Path,
    jobs: list[tuple[str, str]],
    workers: int = 2,
    budget: float = 300.0,
    progress: bool = True,
    prepare: bool = True,
    batch: int = 1,
    scheduler: str | None = None,
    cache: Path | None = None,
    db_url: str | None = None,
) -> list[SubmissionResult]:
    """Grade ``jobs`` ((student, assignment) pairs laid out in ``work/submitted``).

    ``workers`` nbgrader processes run at once; each grades ``batch`` students (1: one
    process per student, the most isolated; more: less start-up time per submission).
    ``scheduler``: None grades here, in ``work``, from a thread pool; ``"local"`` (a Dask
    ``LocalCluster``) or a Dask scheduler's address sends each batch, as tasks, to Dask
    workers that grade in scratch courses of their own (see distributed.py); ``cache``
    keeps their results so that a regrade of the same bytes is not graded again.
    ``db_url``: the course gradebook (default: ``gradebook.db`` in ``work``; see gradebook.py).
    """
    db_url = db_url or sqlite_url(work)
    create_schema(db_url)  # once, before any nbgrader process (they would race to)
    aids = sorted({aid for _, aid in jobs})
    if prepare:
        prepare_course(work, aids, db_url)
    strip_answers(work)
    if scheduler is not None:
        from .distributed import grade_distributed

        return grade_distributed(
            work,
            jobs,
            scheduler=scheduler,
            workers=workers,
            budget=budget,
            batch=batch,
            progress=progress,
            cache=cache,
            db_url=db_url,
        )
    if batch <= 0:
        from .distributed import auto_batch, sandboxed_here

        most = max((sum(a == aid for _, a in jobs) for aid in aids), default=1)
        batch = auto_batch(most, workers, sandboxed_here())
    return grade_in_place(
        work, jobs, workers=workers, budget=budget, progress=progress, batch=batch, db_url=db_url
    )


def grade_in_place(
    work: Path,
    jobs: list[tuple[str, str]],
    workers: int = 2,
    budget: float = 300.0,
    progress: bool = True,
    batch: int = 1,
    records: dict[tuple[str, str, str], dict] | None = None,
    db_url: str | None = None,
) -> list[SubmissionResult]:
    """Grade ``jobs`` in the prepared course copy ``work`` (kernels run from its folders);
    ``records`` receives each notebook's verdict record ((student, assignment, notebook) ->
    record) before the run's private folder is deleted. ``db_url``: the gradebook (default:
    ``gradebook.db`` in ``work``)."""
    from tqdm import tqdm

    aids = sorted({aid for _, aid in jobs})
    chunks: list[tuple[str, list[str]]] = []
    for aid in aids:
        students = [s for s, a in jobs if a == aid]
        size = max(1, batch)
        chunks += [(aid, students[i : i + size]) for i in range(0, len(students), size)]
    run = Integrity.start(work, db_url)  # before the first kernel
    try:
        results: list[SubmissionResult] = []
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {
                pool.submit(grade_batch, work, a, ss, budget, run, db_url): len(ss)
                for a, ss in chunks
            }
            bar = tqdm(total=len(jobs), desc="autograde", unit="nb", disable=not progress)
            for fut in as_completed(futures):
                results.extend(fut.result())
                bar.update(futures[fut])
            bar.close()
        _check(run, [], "after grading")
        results.sort(key=lambda r: (r.assignment, r.student))
        fill_scores(work, results, run.verdicts, run.snapshot.grading_digest())
        if records is not None:
            for res in results:
                for notebook in sorted({p.notebook for p in res.parts}):
                    key = (res.student, res.assignment, notebook)
                    record = read_verdicts(run.verdicts, *key)
                    if record is not None:
                        records[key] = record
        write_feedback(work, aids, results, run, db_url)
    finally:
        run.close()
    if warning := run.report():
        print(f"warning: {warning}", file=sys.stderr)
    return results


def check_autograded(work: Path, result: SubmissionResult) -> str:
    """'' when every autograded notebook of ``result`` is a readable notebook, else why not."""
    folder = work / "autograded" / result.student / result.assignment
    for name in sorted({p.notebook for p in result.parts}):
        path = folder / f"{name}.ipynb"
        try:
            nbformat.validate(nbformat.read(path, as_version=4))
        except FileNotFoundError:
            return f"{name}: the autograded notebook is missing"
        except Exception as exc:
            return f"{name}: the autograded notebook is corrupted ({type(exc).__name__})"
    return ""


def write_feedback(
    work: Path,
    aids: list[str],
    results: list[SubmissionResult],
    run: Integrity | None = None,
    db_url: str | None = None,
) -> None:
    """nbgrader's feedback HTML, with the verdicts' scores; a student whose notebook or
    feedback is broken gets a note, and everyone else's feedback is written."""
    try:
        sync_gradebook(work, results, db_url)
    except Exception as exc:  # a gradebook a kernel broke: the exports stand without it
        print(f"warning: the gradebook could not be updated ({exc}); no feedback", file=sys.stderr)
        for result in results:
            result.notes.append("no feedback: the gradebook was unreadable")
        return
    broken = {}
    for result in results:
        if reason := check_autograded(work, result):
            broken[(result.student, result.assignment)] = reason
            folder = work / "autograded" / result.student / result.assignment
            shutil.rmtree(folder, ignore_errors=True)  # nbgrader skips it, not everyone
    for aid in aids:
        # One process for all students: nbgrader's start-up costs more than the HTML export.
        args = ["generate_feedback", aid, "--force", *db_args(db_url or sqlite_url(work))]
        fb = nbgrader(args, work, timeout=600)
        if fb.returncode != 0:
            print(f"warning: generate_feedback {aid} reported errors", file=sys.stderr)
    if run is not None:
        _check(run, [], "after the feedback")
    for result in results:
        folder = work / "feedback" / result.student / result.assignment
        missing = [
            n
            for n in sorted({p.notebook for p in result.parts})
            if not (folder / f"{n}.html").is_file()
        ]
        if missing:
            why = broken.get((result.student, result.assignment), "nbgrader could not write it")
            result.notes.append(f"no feedback for {', '.join(missing)}: {why}")


def grade_notebooks(
    root: Path,
    submissions: dict[tuple[str, str], dict[str, Any]],
    work: Path,
    workers: int = 2,
    budget: float = 300.0,
    progress: bool = False,
    batch: int = 1,
    scheduler: str | None = None,
    cache: Path | None = None,
    db_url: str | None = None,
) -> dict[tuple[str, str], SubmissionResult]:
    """Grade in-memory submissions ((student, assignment) -> {notebook name: nb or Path}) in a
    fresh copy of the course at ``work``; used by the demo and the tests (``scheduler`` and
    ``cache``: see :func:`autograde`)."""
    copy_course(root, work)
    for (student, aid), notebooks in submissions.items():
        place_submission(work, student, aid, notebooks)
    results = autograde(
        work,
        sorted(submissions),
        workers=workers,
        budget=budget,
        progress=progress,
        batch=batch,
        scheduler=scheduler,
        cache=cache,
        db_url=db_url,
    )
    return {(r.student, r.assignment): r for r in results}
