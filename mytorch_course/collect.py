"""Submission collection: a folder or an LMS zip, laid out as nbgrader's ``submitted/``."""

from __future__ import annotations

import re
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

from .course_dir import assignment_ids, release_notebooks
from .notebook import write_notebook


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
