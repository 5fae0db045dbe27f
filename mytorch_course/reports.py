"""Results of a grading run: per-part scores with reasons, CSV files and the summary table."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .notebook import nbgrader_meta


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


def _reasons(work: Path, student: str, aid: str) -> dict[str, str]:
    """Per graded cell, the reason from the autograded notebook (VerifyProbes' message)."""
    reasons: dict[str, str] = {}
    for path in sorted((work / "autograded" / student / aid).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            gid = nbgrader_meta(cell).get("grade_id")
            if not gid or not nbgrader_meta(cell).get("grade"):
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
