"""The instructor's jobs: release, build submissions, batch autograde, collect grades.

Everything shells out to the plain ``nbgrader`` CLI (configured by ``nbgrader_config.py``),
one process per student, so a crash in one submission never touches another.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode

COURSE_ITEMS = ("nbgrader_config.py", "solutions", "assignments", "grading")
_IGNORE = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


# --------------------------------------------------------------------------- environment


def find_course_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding ``nbgrader_config.py``: from ``start`` (or cwd) upwards, else the
    folder this package was installed from (an editable install of the repository)."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / "solutions").is_dir():
            return folder
    repo = Path(__file__).resolve().parents[2]
    if (repo / "nbgrader_config.py").is_file():
        return repo
    raise SystemExit("no course found: run this from the repository (nbgrader_config.py)")


def nbgrader_env() -> dict[str, str]:
    """Environment for nbgrader subprocesses.

    nbgrader shells out to ``alembic`` (needs the venv's bin on PATH), and the kernel plus the
    grading process must import ``mytorch`` even when it is not installed.
    """
    env = dict(os.environ)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    package_parent = str(Path(__file__).resolve().parents[2])
    speedups = str(Path(__file__).resolve().parent / "_speedups")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (speedups, package_parent, env.get("PYTHONPATH")) if p
    )
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silence a debugpy warning
    env["PYTHONWARNINGS"] = "ignore"
    return env


def nbgrader(
    args: list[str], cwd: Path, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` in ``cwd``; on timeout kill its whole process group (kernel too)."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=nbgrader_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a group of its own, so a timeout can kill the kernel too
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return subprocess.CompletedProcess(cmd, -9, out + "\n[timed out]", None)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, None)


def copy_course(root: Path, dest: Path) -> Path:
    """Copy what nbgrader needs (config, solutions, release, grading) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in COURSE_ITEMS:
        src = root / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=_IGNORE, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copy2(src, dest / item)
    return dest


def assignment_ids(root: Path) -> list[str]:
    src = root / "solutions"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


# --------------------------------------------------------------------------- release


def normalise_notebook(nb: NotebookNode) -> NotebookNode:
    """Strip everything volatile so that a release is byte-for-byte reproducible."""
    nb.metadata.pop("widgets", None)
    for meta_key in ("celltoolbar",):
        nb.metadata.pop(meta_key, None)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cid = cell.get("id", "")
        if not _CELL_ID.match(str(cid)) or cid in seen:
            digest = hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()[:12]
            cid = f"cell-{index}-{digest}"
        seen.add(cid)
        cell["id"] = cid
    return nb


def write_notebook(nb: NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb, version=4)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def release(root: Path, dest: Path | None = None, ids: Iterable[str] | None = None) -> list[Path]:
    """Regenerate ``assignments/`` (or ``dest``) from ``solutions/``; returns written files.

    Runs ``nbgrader generate_assignment`` in a temporary copy of the course, so the repository
    gets no gradebook rows, then normalises the notebooks (see :func:`normalise_notebook`).
    """
    dest = dest or root / "assignments"
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="mytorch-release-") as tmp:
        work = Path(tmp)
        copy_course(root, work)
        shutil.rmtree(work / "assignments", ignore_errors=True)
        for aid in ids or assignment_ids(root):
            res = nbgrader(["generate_assignment", aid, "--force"], work)
            if res.returncode != 0:
                raise RuntimeError(f"nbgrader generate_assignment {aid} failed:\n{res.stdout}")
            out_dir = dest / aid
            shutil.rmtree(out_dir, ignore_errors=True)
            for path in sorted((work / "assignments" / aid).rglob("*")):
                if path.is_dir():
                    continue
                target = out_dir / path.relative_to(work / "assignments" / aid)
                target.parent.mkdir(parents=True, exist_ok=True)
                if path.suffix == ".ipynb":
                    nb = normalise_notebook(nbformat.read(path, as_version=4))
                    write_notebook(nb, target)
                else:
                    shutil.copyfile(path, target)
                written.append(target)
    return written


# --------------------------------------------------------------------------- submissions


def _meta(cell: NotebookNode) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def strip_solution_markers(source: str) -> str:
    """The code between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (markers removed)."""
    lines = [
        ln
        for ln in source.splitlines()
        if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    ]
    return "\n".join(lines)


def solution_cell_for(nb: NotebookNode, part_id: str) -> str:
    """The grade_id of the solution cell a graded part tests: the nearest one before it."""
    last = None
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            last = meta.get("grade_id")
        if meta.get("grade_id") == part_id:
            if last is None:
                raise KeyError(f"no solution cell before part {part_id!r}")
            return str(last)
    raise KeyError(f"part {part_id!r} not found")


def make_submission(
    release_nb: NotebookNode,
    source_nb: NotebookNode,
    replace: dict[str, str] | None = None,
) -> NotebookNode:
    """A student's notebook: the release with solution cells filled from the source.

    ``replace`` maps a solution cell's grade_id to the code the 'student' wrote instead.
    """
    answers = {
        _meta(c)["grade_id"]: strip_solution_markers(c.source)
        for c in source_nb.cells
        if _meta(c).get("solution") and "grade_id" in _meta(c)
    }
    answers.update(replace or {})
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if _meta(cell).get("solution") and gid in answers:
            cell.source = answers[gid]
    return nb


def load_mutants(root: Path, aid: str) -> dict[str, dict[str, str]]:
    """``MUTANTS`` from ``grading/mutants/<aid>.py`` ({} when absent)."""
    path = root / "grading" / "mutants" / f"{aid}.py"
    if not path.is_file():
        return {}
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": f"_mutants_{aid}"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return dict(namespace.get("MUTANTS", {}))


def release_notebooks(root: Path, aid: str) -> dict[str, NotebookNode]:
    return {
        p.stem: nbformat.read(p, as_version=4)
        for p in sorted((root / "assignments" / aid).glob("*.ipynb"))
    }


def source_notebooks(root: Path, aid: str) -> dict[str, NotebookNode]:
    return {
        p.stem: nbformat.read(p, as_version=4)
        for p in sorted((root / "solutions" / aid).glob("*.ipynb"))
    }


def place_submission(work: Path, student: str, aid: str, notebooks: dict[str, Any]) -> None:
    """Lay out ``submitted/<student>/<aid>/<name>.ipynb`` (values: NotebookNode or Path)."""
    folder = work / "submitted" / student / aid
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, nb in notebooks.items():
        target = folder / f"{name}.ipynb"
        if isinstance(nb, Path):
            shutil.copyfile(nb, target)
        else:
            write_notebook(nb, target)
    (folder / "timestamp.txt").write_text("2000-01-01 00:00:00 UTC\n")


def collect_submissions(src: Path, root: Path, work: Path) -> list[tuple[str, str]]:
    """Lay out submissions from a folder or an LMS zip into ``work/submitted``.

    Accepted: ``<student>/<assignment>/<nb>.ipynb`` (nbgrader's layout),
    ``<student>/<nb>.ipynb`` and flat ``<student>_<anything>_<nb>.ipynb`` (LMS downloads).
    The assignment is found from the notebook's name.
    """
    if src.is_file() and zipfile.is_zipfile(src):
        extracted = work / "extracted"
        with zipfile.ZipFile(src) as zf:
            zf.extractall(extracted)
        src = extracted
    by_notebook = {
        nb_name: aid for aid in assignment_ids(root) for nb_name in release_notebooks(root, aid)
    }
    found: dict[tuple[str, str], dict[str, Path]] = {}
    for path in sorted(src.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        rel = path.relative_to(src).parts
        name = next((n for n in sorted(by_notebook, key=len, reverse=True) if n in path.stem), None)
        if name is None:
            print(f"skipping {path}: not a notebook of this course", file=sys.stderr)
            continue
        if len(rel) >= 3 and rel[-2] == by_notebook[name]:
            student = rel[-3]  # nbgrader's layout
        elif path.stem != name and "_" in path.stem:
            student = path.stem.split("_")[0]  # LMS download: <student>_..._<notebook>
        elif len(rel) >= 2:
            student = rel[-2]  # <student>/<notebook>.ipynb
        else:
            student = "unknown"
        student = re.sub(r"[^A-Za-z0-9_.-]", "_", student) or "unknown"
        found.setdefault((student, by_notebook[name]), {})[name] = path
    for (student, aid), notebooks in found.items():
        place_submission(work, student, aid, notebooks)
    return sorted(found)


# --------------------------------------------------------------------------- autograde


@dataclass
class PartResult:
    part: str
    score: float
    max_score: float
    reason: str = ""


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    parts: list[PartResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    retries: int = 0  # re-runs after SQLite contention (not the student's fault)

    @property
    def score(self) -> float:
        return sum(p.score for p in self.parts)

    @property
    def max_score(self) -> float:
        return sum(p.max_score for p in self.parts)


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
            sol_ids = [_meta(c)["grade_id"] for c in rel_nb.cells if _meta(c).get("solution")]
            sub_cells = [c for c in sub.cells if c.get("cell_type") == "code"]
            for cell in sub_cells:
                gid = _meta(cell).get("grade_id")
                if gid in sol_ids:
                    answers[gid] = cell.source
            if not answers:  # metadata gone: match by position among code cells
                rel_code = [c for c in rel_nb.cells if c.cell_type == "code"]
                if len(rel_code) == len(sub_cells):
                    for rc, sc in zip(rel_code, sub_cells, strict=True):
                        if _meta(rc).get("solution"):
                            answers[_meta(rc)["grade_id"]] = sc.source
        except Exception as exc:  # unreadable notebook: grade the release (scores 0)
            notes.append(f"{name}: unreadable notebook ({type(exc).__name__}); graded as empty")
        nb = copy.deepcopy(rel_nb)
        for cell in nb.cells:
            gid = _meta(cell).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        write_notebook(nb, path)
        notes.append(f"{name}: rebuilt on the release copy ({len(answers)} answers kept)")
    return notes


def grade_one(work: Path, student: str, aid: str, budget: float) -> SubmissionResult:
    """Autograde one student's assignment with retries; never raises."""
    result = SubmissionResult(student, aid)
    start = time.monotonic()
    args = ["autograde", aid, "--student", student, "--force"]
    log = work / "logs" / f"{aid}--{student}.log"
    log.parent.mkdir(exist_ok=True)
    for attempt in range(4):
        res = nbgrader(args, work, timeout=budget)
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
            continue
        break
    result.seconds = time.monotonic() - start
    return result


def _reasons(work: Path, student: str, aid: str) -> dict[str, str]:
    """Per graded cell, the reason from the autograded notebook (VerifyProbes' message)."""
    reasons: dict[str, str] = {}
    for path in sorted((work / "autograded" / student / aid).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            gid = _meta(cell).get("grade_id")
            if not gid or not _meta(cell).get("grade"):
                continue
            verdict = cell.metadata.get("mytorch")
            if verdict:
                reasons[gid] = "" if verdict["score"] >= 1 else verdict["message"]
            else:
                errs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                if errs:
                    reasons[gid] = f"{errs[0].get('ename')}: {errs[0].get('evalue')}"[:300]
    return reasons


def fill_scores(work: Path, results: list[SubmissionResult]) -> None:
    """Read per-part scores from the gradebook (serially: SQLite)."""
    from nbgrader.api import Gradebook, MissingEntry

    db_url = "sqlite:///" + str(work / "gradebook.db")
    with Gradebook(db_url) as gb:
        for res in results:
            reasons = _reasons(work, res.student, res.assignment)
            try:
                sub = gb.find_submission(res.assignment, res.student)
            except MissingEntry:
                sub = None
            assignment = gb.find_assignment(res.assignment)
            for nb in assignment.notebooks:
                for cell in nb.grade_cells:
                    score = 0.0
                    if sub is not None:
                        try:
                            grade = gb.find_grade(cell.name, nb.name, res.assignment, res.student)
                            score = float(grade.score or 0.0)
                        except MissingEntry:
                            pass
                    reason = reasons.get(cell.name, "")
                    if not reason and score < cell.max_score:
                        reason = "; ".join(res.notes) or "not graded"
                    res.parts.append(PartResult(cell.name, score, float(cell.max_score), reason))


def prepare_course(work: Path, ids: Iterable[str]) -> None:
    """Fill the work copy's gradebook (and its release) from the source notebooks."""
    for aid in ids:
        res = nbgrader(["generate_assignment", aid, "--force"], work)
        if res.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {aid} failed:\n{res.stdout}")


def grade_batch(work: Path, aid: str, students: list[str], budget: float) -> list[SubmissionResult]:
    """Several students of one assignment in ONE nbgrader process (saves its start-up).

    nbgrader grades each student independently and carries on after a failure; whoever has
    no autograded notebook afterwards is re-graded alone by :func:`grade_one` (with repairs).
    """
    if len(students) == 1:
        return [grade_one(work, students[0], aid, budget)]
    start = time.monotonic()
    everyone = {p.name for p in (work / "submitted").iterdir() if (p / aid).is_dir()}
    exclude = ",".join(sorted(everyone - set(students)))
    args = ["autograde", aid, "--force"]
    if exclude:
        args.append(f"--CourseDirectory.student_id_exclude={exclude}")
    res = nbgrader(args, work, timeout=budget * len(students))
    (work / "logs").mkdir(exist_ok=True)
    (work / "logs" / f"{aid}--batch-{students[0]}.log").write_text(res.stdout)
    share = (time.monotonic() - start) / len(students)
    results = []
    for student in students:
        if _autograded_ok(work, student, aid):
            results.append(SubmissionResult(student, aid, seconds=share))
        else:
            results.append(grade_one(work, student, aid, budget))
    return results


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
) -> list[SubmissionResult]:
    """Grade ``jobs`` ((student, assignment) pairs laid out in ``work/submitted``).

    ``workers`` nbgrader processes run at once; each grades ``batch`` students (1: one
    process per student, the most isolated; more: less start-up time per submission).
    """
    from tqdm import tqdm

    aids = sorted({aid for _, aid in jobs})
    if prepare:
        prepare_course(work, aids)
    strip_answers(work)
    chunks: list[tuple[str, list[str]]] = []
    for aid in aids:
        students = [s for s, a in jobs if a == aid]
        size = max(1, batch)
        chunks += [(aid, students[i : i + size]) for i in range(0, len(students), size)]
    results: list[SubmissionResult] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(grade_batch, work, a, ss, budget): len(ss) for a, ss in chunks}
        bar = tqdm(total=len(jobs), desc="autograde", unit="nb", disable=not progress)
        for fut in as_completed(futures):
            results.extend(fut.result())
            bar.update(futures[fut])
        bar.close()
    for aid in aids:
        # One process for all students: nbgrader's start-up costs more than the HTML export.
        fb = nbgrader(["generate_feedback", aid, "--force"], work, timeout=600)
        if fb.returncode != 0:
            print(f"warning: generate_feedback {aid} reported errors", file=sys.stderr)
    results.sort(key=lambda r: (r.assignment, r.student))
    fill_scores(work, results)
    return results


def write_reports(work: Path, results: list[SubmissionResult], out: Path) -> None:
    """grades.csv (one row per part), totals.csv, and the feedback HTML folder."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "assignment", "part", "score", "max_score", "reason"])
        for r in results:
            for p in r.parts:
                w.writerow([r.student, r.assignment, p.part, p.score, p.max_score, p.reason])
    with open(out / "totals.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "assignment", "score", "max_score", "seconds", "notes"])
        for r in results:
            w.writerow(
                [
                    r.student,
                    r.assignment,
                    r.score,
                    r.max_score,
                    round(r.seconds, 1),
                    "; ".join(r.notes),
                ]
            )
    for folder in ("feedback", "logs"):
        if (work / folder).is_dir():
            shutil.copytree(work / folder, out / folder, dirs_exist_ok=True)
    (out / "results.json").write_text(
        json.dumps(
            [
                {
                    "student": r.student,
                    "assignment": r.assignment,
                    "score": r.score,
                    "max_score": r.max_score,
                    "seconds": r.seconds,
                    "notes": r.notes,
                    "parts": [p.__dict__ for p in r.parts],
                }
                for r in results
            ],
            indent=1,
        )
    )


def format_table(results: list[SubmissionResult], reasons: bool = True) -> str:
    """One table per assignment: a row per student, a column per part, then the reasons."""
    lines: list[str] = []
    for aid in sorted({r.assignment for r in results}):
        rows = [r for r in results if r.assignment == aid]
        parts = [p.part for p in rows[0].parts]
        width = max(7, *(len(r.student) for r in rows))
        cols = [max(len(p), 7) for p in parts]
        lines.append(f"== {aid} ==")
        head = (
            "student".ljust(width)
            + "  "
            + "  ".join(p.rjust(c) for p, c in zip(parts, cols, strict=True))
        )
        lines.append(head + "     total")
        lines.append("-" * (len(head) + 10))
        for r in rows:
            cells = [
                f"{p.score:g}/{p.max_score:g}".rjust(c) for p, c in zip(r.parts, cols, strict=True)
            ]
            total = f"{r.score:g}/{r.max_score:g}".rjust(10)
            lines.append(r.student.ljust(width) + "  " + "  ".join(cells) + total)
        if reasons:
            for r in rows:
                for p in r.parts:
                    if p.reason and p.score < p.max_score:
                        short = " ".join(p.reason.split())
                        short = short if len(short) <= 200 else short[:197] + "..."
                        lines.append(f"  {r.student} / {p.part}: {short}")
                for note in r.notes:
                    lines.append(f"  {r.student}: note: {note[:150]}")
        lines.append("")
    return "\n".join(lines)


def grade_notebooks(
    root: Path,
    submissions: dict[tuple[str, str], dict[str, Any]],
    work: Path,
    workers: int = 2,
    budget: float = 300.0,
    progress: bool = False,
    batch: int = 1,
) -> dict[tuple[str, str], SubmissionResult]:
    """Grade in-memory submissions ((student, assignment) -> {notebook name: nb or Path}) in a
    fresh copy of the course at ``work``; used by the demo and the tests."""
    copy_course(root, work)
    for (student, aid), notebooks in submissions.items():
        place_submission(work, student, aid, notebooks)
    results = autograde(
        work, sorted(submissions), workers=workers, budget=budget, progress=progress
    )
    return {(r.student, r.assignment): r for r in results}
