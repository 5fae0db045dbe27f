"""Results of a grading run: per-part scores with reasons, CSV files and the summary table."""

from __future__ import annotations

import csv
import datetime
import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .gradebook import COURSE_ID, sqlite_url
from .integrity import read_verdicts
from .notebook import nbgrader_meta


@dataclass
class PartResult:
    part: str
    score: float
    max_score: float
    reason: str = ""
    notebook: str = ""


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


def graded_cells(work: Path, aid: str) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, points) of every graded cell of the release, in order."""
    cells = []
    for path in sorted((work / "assignments" / aid).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = nbgrader_meta(cell)
            if meta.get("grade") and "grade_id" in meta:
                cells.append((path.stem, str(meta["grade_id"]), float(meta.get("points", 0))))
    return cells


def fill_scores(
    work: Path,
    results: list[SubmissionResult],
    verdicts: Path | None = None,
    grading_digest: str = "",
) -> None:
    """Per-part scores from the grading process's verdict records (``verdicts``, see
    integrity.py) and the points of the release; never from the gradebook. Without a record
    made with the original grading files (``grading_digest``), a part scores 0."""
    for res in results:
        for notebook, grade_id, points in graded_cells(work, res.assignment):
            record = verdicts and read_verdicts(verdicts, res.student, res.assignment, notebook)
            parts = record.get("parts") if record else None
            verdict = parts.get(grade_id) if isinstance(parts, dict) else None
            score, reason = 0.0, "; ".join(res.notes) or "not graded"
            if record and record.get("grading_digest") != grading_digest:
                reason = "not graded: the grading files had changed when it was graded"
            elif isinstance(verdict, dict):
                fraction = verdict.get("score")
                if isinstance(fraction, int | float) and 0.0 <= fraction <= 1.0:  # not NaN
                    score = round(fraction * points, 6)
                reason = "" if score >= points else str(verdict.get("message", ""))
            res.parts.append(PartResult(grade_id, score, points, reason, notebook))


def submitted_timestamp(work: Path, student: str, aid: str) -> datetime.datetime | None:
    """The submission's ``timestamp.txt`` (nbgrader's collect writes it), read as nbgrader
    autograde reads it; None when missing or unreadable."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc((work / "submitted" / student / aid / "timestamp.txt").read_text().strip())
    except (OSError, ValueError):
        return None


def sync_gradebook(
    work: Path,
    results: list[SubmissionResult],
    add_missing: bool = False,
    db_url: str | None = None,
) -> None:
    """Overwrite the gradebook's scores with ``results`` (nbgrader's feedback reads them): a
    score or manual grade a kernel wrote there changes nothing. ``add_missing``: first add
    the students and submissions nbgrader did not (the results came from Dask workers).
    ``db_url``: the run's gradebook (default: ``gradebook.db`` in ``work``)."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    with Gradebook(db_url or sqlite_url(work), COURSE_ID) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission: harmless
        for res in results:
            if add_missing:  # as nbgrader autograde does, the submission's time included
                gb.update_or_create_student(res.student)
                when = submitted_timestamp(work, res.student, res.assignment)
                gb.update_or_create_submission(
                    res.assignment, res.student, **({"timestamp": when} if when else {})
                )
            for part in res.parts:
                try:
                    grade = gb.find_grade(part.part, part.notebook, res.assignment, res.student)
                except MissingEntry:
                    continue
                grade.auto_score, grade.manual_score, grade.extra_credit = part.score, None, None
                grade.cell.max_score = part.max_score
        gb.db.commit()


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
