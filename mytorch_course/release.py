"""``mytorch-course release``: regenerate ``assignments/`` from ``solutions/`` reproducibly."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import nbformat

from .course_dir import assignment_ids, copy_course
from .nbgrader_process import nbgrader
from .notebook import normalise_notebook, write_notebook


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
