"""The course directory: where it is, what it holds, and a working copy of it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

COURSE_ITEMS = ("nbgrader_config.py", "solutions", "assignments", "grading")
COURSE_FOLDERS = tuple(item for item in COURSE_ITEMS if "." not in item)
_IGNORE = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")


def find_course_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding ``nbgrader_config.py``: from ``start`` (or cwd) upwards, else the
    folder this package was installed from (an editable install of the repository)."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / "solutions").is_dir():
            return folder
    repo = Path(__file__).resolve().parents[1]
    if (repo / "nbgrader_config.py").is_file():
        return repo
    raise SystemExit("no course found: run this from the repository (nbgrader_config.py)")


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
