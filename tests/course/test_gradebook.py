"""Creating the gradebook: once, in process, stamped as nbgrader would stamp it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mytorch_course import gradebook


def test_a_new_gradebook_is_stamped_with_the_migration_the_alembic_program_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What nbgrader's own stamp would be: ask the `alembic` program about nbgrader's scripts.
    from nbgrader.dbutil import ALEMBIC_DIR

    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {ALEMBIC_DIR}\n")
    alembic = os.path.join(os.path.dirname(sys.executable), "alembic")
    heads = subprocess.run(
        [alembic, "-c", str(ini), "heads"], capture_output=True, text=True, check=True
    )
    head = heads.stdout.split()[0]

    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no `alembic` program to be found
    path = tmp_path / "gradebook.db"
    gradebook.create_schema(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
        assert db.execute("SELECT id FROM course").fetchall() == [(gradebook.COURSE_ID,)]
    gradebook.create_schema(f"sqlite:///{path}")  # a second time changes nothing
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_an_unreachable_gradebook_says_which_and_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-folder' / 'gradebook.db'}"
    with pytest.raises(gradebook.GradebookUnavailable, match="cannot open the gradebook"):
        gradebook.create_schema(url)


def test_the_slow_unused_import_fails_fast_in_the_coordinator_too() -> None:
    # A fresh interpreter: in this one, another test may have imported the module already.
    code = (
        "import mytorch_course, nbformat\n"
        "try:\n"
        "    import rfc3987_syntax\n"
        "    print('imported')\n"
        "except ImportError:\n"
        "    print('blocked')\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1 + 1')])\n"
        "nbformat.validate(nb)\n"  # notebooks still validate without it
        "print('valid')\n"
    )
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, check=False
    )
    assert result.stdout.split() == ["blocked", "valid"], result.stderr
