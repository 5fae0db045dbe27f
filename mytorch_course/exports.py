"""Grades out of the gradebook, for a learning management system: nbgrader export plugins.

    nbgrader export --exporter mytorch_course.exports.CanvasExporter --to canvas.csv
    mytorch-course export --format canvas --to canvas.csv        (the same, from the course)

Three formats, all written with the csv module (a name with a comma or a quote survives):

- ``csv`` (:class:`CsvExporter`): nbgrader's own columns (``assignment, duedate, timestamp,
  student_id, last_name, first_name, email, raw_score, late_submission_penalty, score,
  max_score``), one row per student and assignment; ``nbgrader export`` uses it here.
- ``canvas`` (:class:`CanvasExporter`): Canvas's gradebook CSV: ``Student, ID, SIS User ID,
  SIS Login ID, Section``, then a column per assignment (``<name> (<Canvas id>)`` when
  ``CanvasExporter.canvas_ids`` maps it to an existing Canvas assignment; a new name makes
  Canvas create the assignment on import), and a second row ``Points Possible``. The student
  is ``Last, First``, ``ID`` is nbgrader's ``lms_user_id`` and ``SIS Login ID`` the nbgrader
  student id. A student without a submission gets an empty cell (Canvas leaves it alone).
- ``gradescope`` (:class:`GradescopeExporter`): Gradescope's course grade export: ``First
  Name, Last Name, SID, Email, Sections``, then for each assignment ``<name>``, ``<name> -
  Max Points``, ``<name> - Submission Time``, ``<name> - Lateness (H:M:S)``.

``per_part`` (``--per-part``) adds a column per graded part: ``<assignment>: <part>`` in the
csv and Canvas formats (Canvas makes each one an assignment of its own); for Gradescope it
writes one assignment's layout instead (``Total Score, Max Points, Status, Submission ID,
Submission Time, Lateness (H:M:S), View Count, Submission Count``, then ``<n>: <part>
(<points> pts)``), so it needs exactly one assignment (``--assignment NAME``).

Scores are nbgrader's: the sum of the parts (after ``mytorch-course autograde``, the
verdicts of the grading process) minus any late penalty, never below 0.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Bool, Dict, Unicode

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheets run these as formulas


def text(value: object) -> str:
    """A text cell: None is empty; a value a spreadsheet would run as a formula (a student
    id like ``=HYPERLINK(...)``) is written with a leading ``'``, as spreadsheets expect."""
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(FORMULA_START) else s


def number(value: float | None) -> str:
    """A score: up to 4 decimals, no trailing zeros (``12.5``, ``3``); None is empty."""
    if value is None:
        return ""
    s = f"{round(float(value), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def lateness(seconds: float | None) -> str:
    """Gradescope's ``H:M:S`` (hours may exceed 24)."""
    if seconds is None:
        return ""
    total = max(0, int(round(seconds)))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def utc_time(when: datetime.datetime | None) -> str:
    """nbgrader stores UTC without a zone; Gradescope writes ``2026-01-31 23:59:00 +0000``."""
    return "" if when is None else when.strftime("%Y-%m-%d %H:%M:%S +0000")


@dataclass
class Part:
    notebook: str
    name: str  # the graded cell's grade_id
    max_score: float


@dataclass
class Submission:
    raw_score: float
    penalty: float
    timestamp: datetime.datetime | None
    seconds_late: float
    submission_id: str
    parts: dict[tuple[str, str], float] = field(default_factory=dict)  # (nb, part) -> score

    @property
    def score(self) -> float:
        return max(0.0, self.raw_score - self.penalty)


@dataclass
class AssignmentGrades:
    name: str
    duedate: datetime.datetime | None
    max_score: float
    parts: list[Part]
    submissions: dict[str, Submission]  # student id -> submission

    def part_label(self, part: Part) -> str:
        several = len({p.notebook for p in self.parts}) > 1
        return f"{part.notebook}/{part.name}" if several else part.name


def read_part_scores(gb: Gradebook) -> dict[tuple[str, str], dict[tuple[str, str], float]]:
    """{(assignment, student): {(notebook, part): score}} in one query (walking nbgrader's
    objects costs a query per submitted notebook: minutes for a course of thousands)."""
    from nbgrader.api import (
        Assignment,
        BaseCell,
        Grade,
        Notebook,
        SubmittedAssignment,
        SubmittedNotebook,
    )

    query = (
        gb.db.query(
            Assignment.name,
            SubmittedAssignment.student_id,
            Notebook.name,
            BaseCell.name,
            Grade.score,
        )
        .select_from(Grade)
        .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
        .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
        .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
        .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
        .join(BaseCell, Grade.cell_id == BaseCell.id)
    )
    out: dict[tuple[str, str], dict[tuple[str, str], float]] = {}
    for aid, student, notebook, part, score in query:
        out.setdefault((aid, student), {})[(notebook, part)] = float(score or 0)
    return out


def read_grades(
    gb: Gradebook, assignments: Iterable[str] = (), students: Iterable[str] = ()
) -> tuple[list, list[AssignmentGrades]]:
    """The students and the assignments' grades (only ``assignments`` / ``students`` when
    given), sorted by id and name."""
    want_a, want_s = set(assignments), set(students)
    missing = sorted(want_a - {a.name for a in gb.assignments})
    if missing:
        raise MissingEntry(f"no assignment {', '.join(missing)} in the gradebook")
    people = sorted((s for s in gb.students if not want_s or s.id in want_s), key=lambda s: s.id)
    ids = {s.id for s in people}
    part_scores = read_part_scores(gb)
    out = []
    for assignment in sorted(gb.assignments, key=lambda a: a.name):
        if want_a and assignment.name not in want_a:
            continue
        parts = [
            Part(nb.name, cell.name, float(cell.max_score or 0))
            for nb in sorted(assignment.notebooks, key=lambda n: n.name)
            for cell in sorted(nb.grade_cells, key=lambda c: c.name)
        ]
        subs = {}
        for sub in assignment.submissions:
            if sub.student_id not in ids:
                continue
            subs[sub.student_id] = Submission(
                raw_score=float(sub.score or 0),
                penalty=float(sub.late_submission_penalty or 0),
                timestamp=sub.timestamp,
                seconds_late=float(sub.total_seconds_late or 0),
                submission_id=sub.id,
                parts=part_scores.get((assignment.name, sub.student_id), {}),
            )
        out.append(
            AssignmentGrades(
                assignment.name, assignment.duedate, float(assignment.max_score or 0), parts, subs
            )
        )
    return people, out


class LmsExporter(ExportPlugin):
    """Common part of the exporters: selection, the per-part switch, writing the file."""

    per_part = Bool(False, help="add a column per graded part").tag(config=True)
    default_name = "grades.csv"

    def rows(self, students: list, grades: list[AssignmentGrades]) -> list[list[str]]:
        raise NotImplementedError

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or self.default_name
        students, grades = read_grades(
            gradebook, [str(a) for a in self.assignment], [str(s) for s in self.student]
        )
        rows = self.rows(students, grades)
        self.log.info("Exporting %d rows to %s", len(rows) - 1, dest)
        with open(dest, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)


class CsvExporter(LmsExporter):
    """nbgrader's CSV columns, quoted properly (nbgrader's own exporter does not quote)."""

    COLUMNS = [
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

    def rows(self, students: list, grades: list[AssignmentGrades]) -> list[list[str]]:
        labels = (
            [(a.name, p, f"{a.name}: {a.part_label(p)}") for a in grades for p in a.parts]
            if self.per_part
            else []
        )
        out = [self.COLUMNS + [label for _, _, label in labels]]
        for a in grades:
            for s in students:
                sub = a.submissions.get(s.id)
                row = [
                    text(a.name),
                    "" if a.duedate is None else str(a.duedate),
                    "" if sub is None or sub.timestamp is None else str(sub.timestamp),
                    text(s.id),
                    text(s.last_name),
                    text(s.first_name),
                    text(s.email),
                    number(sub.raw_score if sub else 0.0),
                    number(sub.penalty if sub else 0.0),
                    number(sub.score if sub else 0.0),
                    number(a.max_score),
                ]
                for aid, part, _ in labels:
                    mine = sub is not None and aid == a.name
                    row.append(number(sub.parts.get((part.notebook, part.name))) if mine else "")
                out.append(row)
        return out


class CanvasExporter(LmsExporter):
    """Canvas's gradebook CSV (import it under Grades -> Import)."""

    default_name = "canvas.csv"
    canvas_ids = Dict(
        {},
        help="nbgrader assignment name -> Canvas assignment id, so the column updates that "
        "existing Canvas assignment ('<name> (<id>)'); unmapped ones are created on import",
    ).tag(config=True)
    section = Unicode("", help="the Section column (Canvas matches it when given)").tag(config=True)

    def column(self, name: str) -> str:
        canvas_id = self.canvas_ids.get(name)
        return f"{name} ({canvas_id})" if canvas_id else name

    def rows(self, students: list, grades: list[AssignmentGrades]) -> list[list[str]]:
        head = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
        points = ["Points Possible", "", "", "", ""]
        for a in grades:
            head.append(text(self.column(a.name)))
            points.append(number(a.max_score))
            for part in a.parts if self.per_part else []:
                head.append(text(f"{a.name}: {a.part_label(part)}"))
                points.append(number(part.max_score))
        out = [head, points]
        for s in students:
            name = ", ".join(n for n in (s.last_name, s.first_name) if n) or s.id
            row = [text(name), text(s.lms_user_id), "", text(s.id), text(self.section)]
            for a in grades:
                sub = a.submissions.get(s.id)
                row.append(number(sub.score) if sub else "")
                for part in a.parts if self.per_part else []:
                    row.append(number(sub.parts.get((part.notebook, part.name))) if sub else "")
            out.append(row)
        return out


class GradescopeExporter(LmsExporter):
    """Gradescope's grade export layout (the course's, or with ``per_part`` one
    assignment's, with a column per question)."""

    default_name = "gradescope.csv"
    PEOPLE = ["First Name", "Last Name", "SID", "Email", "Sections"]

    def person(self, s) -> list[str]:
        return [text(s.first_name), text(s.last_name), text(s.id), text(s.email), ""]

    def rows(self, students: list, grades: list[AssignmentGrades]) -> list[list[str]]:
        if self.per_part:
            if len(grades) != 1:
                raise ValueError(
                    "Gradescope's per-question layout holds one assignment: choose it with "
                    "--assignment NAME (nbgrader export: --assignment [NAME])"
                )
            return self.assignment_rows(students, grades[0])
        head = list(self.PEOPLE)
        for a in grades:
            name = text(a.name)
            head += [
                name,
                f"{name} - Max Points",
                f"{name} - Submission Time",
                f"{name} - Lateness (H:M:S)",
            ]
        out = [head]
        for s in students:
            row = self.person(s)
            for a in grades:
                sub = a.submissions.get(s.id)
                row += [
                    number(sub.score) if sub else "",
                    number(a.max_score),
                    utc_time(sub.timestamp) if sub else "",
                    lateness(sub.seconds_late) if sub else "",
                ]
            out.append(row)
        return out

    def assignment_rows(self, students: list, a: AssignmentGrades) -> list[list[str]]:
        head = self.PEOPLE + [
            "Total Score",
            "Max Points",
            "Status",
            "Submission ID",
            "Submission Time",
            "Lateness (H:M:S)",
            "View Count",
            "Submission Count",
        ]
        head += [
            text(f"{i}: {a.part_label(p)} ({p.max_score:.1f} pts)")
            for i, p in enumerate(a.parts, 1)
        ]
        out = [head]
        for s in students:
            sub = a.submissions.get(s.id)
            row = self.person(s)
            if sub is None:
                row += ["", number(a.max_score), "Missing", "", "", "", "0", "0"]
                row += [""] * len(a.parts)
            else:
                row += [
                    number(sub.score),
                    number(a.max_score),
                    "Graded",
                    sub.submission_id,
                    utc_time(sub.timestamp),
                    lateness(sub.seconds_late),
                    "0",
                    "1",
                ]
                row += [number(sub.parts.get((p.notebook, p.name))) for p in a.parts]
            out.append(row)
        return out


EXPORTERS: dict[str, type[LmsExporter]] = {
    "csv": CsvExporter,
    "canvas": CanvasExporter,
    "gradescope": GradescopeExporter,
}
