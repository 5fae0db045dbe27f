"""Build the student edition of the mytorch package for one assignment.

Students install a copy of the library, so that copy must not hold the answer to an
exercise that is still open. In the package source an exercise is marked like this::

    def numerical_gradient(f, x, h=1e-6):
        # BEGIN EXERCISE 01-derivatives
        ...the answer...
        # END EXERCISE

``build_student_edition(out, "02-backprop")`` copies the package, replaces every exercise
of assignment 02-backprop and of every later assignment with a ``raise
NotImplementedError`` that says where the student writes it. Earlier assignments' exercises
stay in: they are closed, and later work builds on them. The grader's machinery
(``mytorch_course``) is a package of its own and never part of the edition.

Exercises marked for an assignment the course does not ship yet (no folder in ``solutions/``
nor ``assignments/``) stay in every edition for now: today's assignments 1 and 2 run the
engine whose pieces assignments 3, 4 and 6 will ask for. When such an assignment is added,
its exercises leave its edition and every earlier one, so the earlier notebooks must not
need them by then.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Collection
from pathlib import Path

import mytorch

from .course_dir import assignment_ids, find_course_root

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN EXERCISE (?P<assignment>[\w.-]+)")
END = re.compile(r"^\s*# END EXERCISE")
EXCLUDED = {"__pycache__"}


class ExerciseMarkerError(ValueError):
    """A BEGIN EXERCISE marker without its END (or the reverse)."""


def strip_exercises(
    source: str,
    assignment: str,
    where: str = "<source>",
    shipped: Collection[str] | None = None,
) -> tuple[str, int]:
    """Replace the exercises of ``assignment`` and later ones; return (text, count).

    With ``shipped`` (the course's assignment ids), exercises of other assignments are kept.
    """
    out: list[str] = []
    stripped = 0
    inside: re.Match | None = None
    keep_inside = True
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if inside:
                raise ExerciseMarkerError(f"{where}:{number}: nested BEGIN EXERCISE")
            inside = begin
            owner = begin["assignment"]
            keep_inside = owner < assignment or (shipped is not None and owner not in shipped)
            if not keep_inside:
                stripped += 1
                out.append(
                    f"{begin['indent']}raise NotImplementedError(\n"
                    f'{begin["indent"]}    "This is an exercise of assignment '
                    f'{begin["assignment"]}: write it in the assignment notebook."\n'
                    f"{begin['indent']})\n"
                )
            continue
        if end:
            if not inside:
                raise ExerciseMarkerError(f"{where}:{number}: END EXERCISE without BEGIN")
            inside = None
            continue
        if inside is None or keep_inside:
            out.append(line)
    if inside is not None:
        raise ExerciseMarkerError(f"{where}: BEGIN EXERCISE {inside['assignment']} never ends")
    return "".join(out), stripped


def course_assignments(root: Path) -> set[str]:
    """The assignments a course ships: its release folders and its sources.

    The release counts too, because a grading copy of the course has no solution notebooks.
    """
    released = {p.name for p in (root / "assignments").glob("*/") if any(p.glob("*.ipynb"))}
    return released | set(assignment_ids(root))


def build_student_edition(
    out_dir: Path, assignment: str, shipped: Collection[str] | None = None
) -> list[str]:
    """Write a pip-installable student edition to ``out_dir``; return what was stripped.

    ``shipped``: the course's assignments (default: ``course_assignments`` of the course).
    """
    if shipped is None:
        shipped = course_assignments(find_course_root())
    shipped = {*shipped, assignment}
    package = Path(mytorch.__file__).parent
    target = Path(out_dir) / "mytorch"
    if target.exists():
        shutil.rmtree(target)
    stripped_in: list[str] = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if EXCLUDED & set(relative.parts) or path.is_dir() or path.suffix == ".pyc":
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".py":
            text, count = strip_exercises(path.read_text(), assignment, str(relative), shipped)
            compile(text, str(relative), "exec")  # the edition must still import
            destination.write_text(text)
            if count:
                stripped_in.append(f"{relative} ({count})")
        else:
            shutil.copy2(path, destination)
    (Path(out_dir) / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["setuptools>=69"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        'name = "mytorch"\n'
        f'version = "{mytorch.__version__}+student.{assignment.replace("-", ".")}"\n'
        'requires-python = ">=3.11"\n'
        'dependencies = ["numpy>=1.26,<3", "graphviz==0.21"]\n\n'
        "[tool.setuptools.packages.find]\n"
        'include = ["mytorch*"]\n\n'
        "[tool.setuptools.package-data]\n"
        '"mytorch.data" = ["*.npz", "LICENSE*", "*.md"]\n'
    )
    return stripped_in
