"""Fixtures for the course-pipeline tests: a toy course and helpers to grade submissions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mytorch_course.release import release

REPO = Path(__file__).resolve().parents[2]
TOY = Path(__file__).resolve().parent / "fixtures" / "toy"


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny course (numpy only) with the repository's nbgrader_config.py, released."""
    root = tmp_path_factory.mktemp("toy-course")
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(TOY, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    release(root)
    return root


@pytest.fixture(autouse=True)
def library_engine() -> object:
    """Assignment 3's notebook plugs the student's engine into mytorch (``use_engine``); the
    tests that run it in process must not leave it plugged for the next test."""
    yield
    import mytorch

    mytorch.use_engine()
