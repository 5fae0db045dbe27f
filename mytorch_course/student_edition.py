"""Build the student edition of the mytorch package for one assignment.

Students install a copy of the library, so that copy must not hold the answer to an
exercise that is still open. In the package source an exercise is marked like this::

    def numerical_gradient(f, x, h=1e-6):
        # BEGIN EXERCISE 01-derivatives
        ...the answer...
        # END EXERCISE

A region that several assignments ask for names each of them
(``# BEGIN EXERCISE 02-backprop 04-tensor-gradients``: assignment 2 writes ``Multiply``,
assignment 4 the same gradient with broadcasting).

``build_student_edition(out, "02-backprop")`` copies the package and replaces every region
that an assignment from 02-backprop on asks for with a ``raise NotImplementedError`` naming
the first such assignment, whether or not the course ships that assignment yet: an edition
never holds a later assignment's answer. Regions only earlier assignments ask for stay in:
they are closed, and later work builds on them. So assignments 1 and 2 run without the
engine's recording and reverse walk (assignment 3): their notebooks show pre-rendered
figures where they need it. The grader's machinery (``mytorch_course``) is a package of its
own and never part of the edition.

The edition also ships, for each released assignment up to its own, the manifest that the
student's checker ``mytorch-check`` compares a notebook with (cell ids, the text of the test
and setup cells, the names each part defines: :func:`mytorch.checker.manifest`), and it
depends on what the notebooks import. :func:`build_wheel` turns the folder into the wheel a
student installs with one ``pip install``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mytorch
from mytorch.checker import RELEASES, manifest

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN EXERCISE (?P<rest>.*)$")
ASSIGNMENT_ID = re.compile(r"\b\d\d-[A-Za-z][\w.-]*")
END = re.compile(r"^\s*# END EXERCISE")
EXCLUDED = {"__pycache__", RELEASES}
# What the notebooks import, and what mytorch-check runs them with (nbclient, ipykernel).
DEPENDENCIES = [
    "numpy>=1.26,<3",
    "graphviz==0.21",
    "ipywidgets==8.1.*",
    "matplotlib>=3.8",
    "ipykernel>=6.29",
    "nbclient>=0.10",
    "nbformat>=5.9",
]
LAB = ["jupyterlab==4.6.*"]  # the extra [lab], for a student without Jupyter


class ExerciseMarkerError(ValueError):
    """A BEGIN EXERCISE marker without its END (or the reverse), or without an assignment."""


def exercise_message(owner: str, edition: str) -> str:
    """What an exercise of assignment ``owner`` says when called in ``edition``'s copy."""
    if owner == edition:
        return f"This is an exercise of assignment {owner}: write it in the assignment notebook."
    return (
        f"This is an exercise of assignment {owner}, a later one: this copy of mytorch "
        f"(the student edition of {edition}) leaves it out."
    )


def marker_assignments(line: str) -> list[str] | None:
    """The assignments a ``# BEGIN EXERCISE`` line names (None: not such a line)."""
    begin = BEGIN.match(line)
    return None if begin is None else ASSIGNMENT_ID.findall(begin["rest"])


def strip_exercises(source: str, assignment: str, where: str = "<source>") -> tuple[str, int]:
    """Replace the exercises of ``assignment`` and later ones; return (text, count)."""
    out: list[str] = []
    stripped = 0
    inside: str | None = None  # the assignments of the open region
    keep_inside = True
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if inside is not None:
                raise ExerciseMarkerError(f"{where}:{number}: nested BEGIN EXERCISE")
            owners = ASSIGNMENT_ID.findall(begin["rest"])
            if not owners:
                raise ExerciseMarkerError(
                    f"{where}:{number}: BEGIN EXERCISE names no assignment (e.g. 03-engine)"
                )
            inside = " ".join(owners)
            still_open = sorted(owner for owner in owners if owner >= assignment)
            keep_inside = not still_open
            if still_open:
                stripped += 1
                out.append(
                    f"{begin['indent']}raise NotImplementedError(\n"
                    f'{begin["indent"]}    "{exercise_message(still_open[0], assignment)}"\n'
                    f"{begin['indent']})\n"
                )
            continue
        if end:
            if inside is None:
                raise ExerciseMarkerError(f"{where}:{number}: END EXERCISE without BEGIN")
            inside = None
            continue
        if inside is None or keep_inside:
            out.append(line)
    if inside is not None:
        raise ExerciseMarkerError(f"{where}: BEGIN EXERCISE {inside} never ends")
    return "".join(out), stripped


def edition_version(assignment: str) -> str:
    """The version of ``assignment``'s edition: a local version, 0.1.0+student.02backprop."""
    return f"{mytorch.__version__}+student.{assignment.replace('-', '').lower()}"


def build_student_edition(out_dir: Path, assignment: str, root: Path | None = None) -> list[str]:
    """Write a pip-installable student edition to ``out_dir``; return what was stripped.

    ``root`` is the course folder whose ``assignments/`` (the release) gives the checker's
    manifests; without it the edition has none (the grader's editions need none).
    """
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
            text, count = strip_exercises(path.read_text(), assignment, str(relative))
            compile(text, str(relative), "exec")  # the edition must still import
            destination.write_text(text)
            if count:
                stripped_in.append(f"{relative} ({count})")
        else:
            shutil.copy2(path, destination)
    if root is not None:
        write_manifests(target / RELEASES, assignment, root)
    (Path(out_dir) / "README.md").write_text(
        f"# mytorch, the student edition of assignment {assignment}\n\n"
        "Install it, with everything the notebooks import, in one command:\n"
        '`pip install "mytorch-<version>-py3-none-any.whl[lab]"` (leave out `[lab]` if you '
        "have Jupyter already).\n\n"
        "Before you submit, check your notebook: `mytorch-check NOTEBOOK.ipynb` runs it top to "
        "bottom in a fresh kernel and says, part by part, whether the visible checks pass and "
        "whatever the grader would stumble on.\n"
    )
    dependencies, lab = (", ".join(f'"{d}"' for d in deps) for deps in (DEPENDENCIES, LAB))
    (Path(out_dir) / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["setuptools>=69"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        'name = "mytorch"\n'
        f'version = "{edition_version(assignment)}"\n'
        f'description = "MyTorch, the student edition of assignment {assignment}"\n'
        'readme = "README.md"\n'
        'requires-python = ">=3.11"\n'
        f"dependencies = [{dependencies}]\n\n"
        "[project.optional-dependencies]\n"
        f"lab = [{lab}]\n\n"
        "[project.scripts]\n"
        'mytorch-check = "mytorch.checker:main"\n\n'
        "[tool.setuptools.packages.find]\n"
        'include = ["mytorch*"]\n\n'
        "[tool.setuptools.package-data]\n"
        '"mytorch.data" = ["*.npz", "LICENSE*", "*.md"]\n'
        f'"mytorch" = ["{RELEASES}/*.json"]\n'
    )
    return stripped_in


def write_manifests(folder: Path, assignment: str, root: Path) -> list[str]:
    """The checker's manifest of every released assignment up to ``assignment``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for release in sorted((Path(root) / "assignments").glob("*/*.ipynb")):
        aid = release.parent.name
        if release.stem != aid or aid > assignment or ".ipynb_checkpoints" in release.parts:
            continue
        data = manifest(json.loads(release.read_text(encoding="utf-8")), aid)
        (folder / f"{aid}.json").write_text(json.dumps(data, indent=1) + "\n")
        written.append(aid)
    return written


def build_wheel(out_dir: Path) -> Path:
    """Build the edition in ``out_dir`` into ``out_dir/dist/mytorch-...whl`` (pip wheel)."""
    out_dir = Path(out_dir).resolve()
    dist = out_dir / "dist"
    for old in dist.glob("*.whl"):
        old.unlink()
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist)]
    result = subprocess.run([*command, str(out_dir)], capture_output=True, text=True)
    wheels = sorted(dist.glob("mytorch-*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise RuntimeError(f"pip wheel failed for {out_dir}:\n{result.stderr[-2000:]}")
    return wheels[0]
