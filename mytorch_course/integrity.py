"""Nothing on disk is trusted once student code has run.

The grading files (``grading/``, ``nbgrader_config.py``, the release in ``assignments/``)
are read before the first kernel starts; :class:`Snapshot` keeps their bytes, notices any
later change (a kernel without the sandbox, a planted file) and puts the originals back.
Child nbgrader processes get the digest of ``grading/`` (:data:`DIGESTS_ENV`) and refuse
part files that differ from it.

Scores come from *verdict records*: the grading process (``VerifyProbes``) writes each
notebook's verdicts into a folder outside the course copy (:data:`VERDICTS_ENV`); the
results and exports are built from those records and the snapshot's release notebooks,
never from ``gradebook.db`` (which a kernel without the sandbox can reach). The gradebook
is then overwritten with the verdicts, so nbgrader's feedback shows the same scores.

With the sandbox (root + bubblewrap) kernels see none of these files, so this is a second
line of defence. Without it, a kernel runs with the grader's rights and everything here is
best effort: it stops a kernel that edits or plants course files, or writes the gradebook,
but not one that goes looking for the verdict folder or waits for the run to end.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy
import sqlalchemy.pool

from . import gradebook

DIGESTS_ENV = "MYTORCH_GRADING_DIGESTS"  # JSON {resolved grading folder: sha256}
VERDICTS_ENV = "MYTORCH_VERDICTS"  # folder for verdict records (outside the course copy)
GRADING_ENV_KEYS = (DIGESTS_ENV, VERDICTS_ENV)  # never passed on to a kernel

# What grading reads from the course copy; the top-level files include any config a kernel
# might plant (nbgrader also reads nbgrader_config.json). Submissions: see Submissions.
WATCHED_FOLDERS = ("grading", "assignments")
UNWATCHED_TOP_FILES = ("gradebook.db", "gradebook.db-journal", ".nbgrader.log")


class GradingFilesChanged(RuntimeError):
    """A grading file differs from the one hashed before the first kernel started."""


def _skip(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix == ".pyc"


def grading_sources(grading_dir: Path) -> dict[str, bytes]:
    """Every ``.py`` file under ``grading_dir`` (relative path -> bytes)."""
    return {
        str(p.relative_to(grading_dir)): p.read_bytes()
        for p in sorted(grading_dir.rglob("*.py"))
        if p.is_file() and not _skip(p.relative_to(grading_dir))
    }


def digest(files: dict[str, bytes]) -> str:
    """One sha256 over named files (names and contents)."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def expected_digest(grading_dir: Path) -> str | None:
    """The digest this process was told its grading folder has (None: not told)."""
    table = json.loads(os.environ.get(DIGESTS_ENV) or "{}")
    return table.get(str(grading_dir.resolve()))


class Snapshot:
    """The bytes of the watched course files, taken before any student code runs."""

    def __init__(self, root: Path, folders: Iterable[str] = WATCHED_FOLDERS) -> None:
        self.root = root
        self.folders = tuple(folders)
        self.files = self._read()

    def _paths(self) -> list[Path]:
        paths = [
            p for p in self.root.iterdir() if p.is_file() and p.name not in UNWATCHED_TOP_FILES
        ]
        for name in self.folders:
            folder = self.root / name
            if folder.is_dir():
                paths += [
                    p
                    for p in folder.rglob("*")
                    if (p.is_file() or p.is_symlink()) and not _skip(p.relative_to(self.root))
                ]
        return sorted(paths)

    def _read(self) -> dict[str, bytes]:
        files = {}
        for path in self._paths():
            rel = str(path.relative_to(self.root))
            try:
                files[rel] = b"" if path.is_symlink() else path.read_bytes()
            except OSError:
                files[rel] = b"\0unreadable"
        return files

    def changes(self) -> list[str]:
        """Watched files that differ now: changed, removed or planted (sorted)."""
        now = self._read()
        names = set(now) | set(self.files)
        return sorted(n for n in names if now.get(n) != self.files.get(n))

    def restore(self) -> list[str]:
        """Put every watched file back as it was; returns what had changed."""
        changed = self.changes()
        for name in changed:
            path = self.root / name
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                continue  # a planted folder: its files are handled one by one
            if name in self.files:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.files[name])
        return changed

    def grading_digest(self) -> str:
        prefix = "grading" + os.sep
        return digest(
            {
                n[len(prefix) :]: b
                for n, b in self.files.items()
                if n.startswith(prefix) and n.endswith(".py")
            }
        )


def _hash_tree(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


class Submissions:
    """The submitted notebooks, copied (and hashed) before any kernel ran. Each student's
    folder is checked, and put back, right before that student is graded: a kernel that
    overwrote a classmate's notebook changes nothing (and costs one folder's hashing, not
    the whole class's, per student)."""

    def __init__(self, submitted: Path, backup: Path) -> None:
        self.submitted, self.backup = submitted, backup
        if submitted.is_dir():
            shutil.copytree(submitted, backup, symlinks=True)
        self.hashes = _hash_tree(backup) if backup.is_dir() else {}

    def restore(self, student: str) -> list[str]:
        """Put ``student``'s submitted files back; returns what had changed."""
        folder, saved = self.submitted / student, self.backup / student
        mine = {n: h for n, h in self.hashes.items() if Path(n).parts[0] == student}
        now = (
            {f"{student}/{n}": h for n, h in _hash_tree(folder).items()} if folder.is_dir() else {}
        )
        changed = sorted(n for n in set(mine) | set(now) if mine.get(n) != now.get(n))
        if changed or any(p.is_symlink() for p in folder.rglob("*")):
            shutil.rmtree(folder, ignore_errors=True)
            if saved.is_dir():
                shutil.copytree(saved, folder, symlinks=True)
        return [f"submitted/{n}" for n in changed]

    def accept(self, student: str, assignment: str) -> None:
        """The grader itself rewrote this submission (a repair): it is the original now."""
        saved = self.backup / student / assignment
        shutil.rmtree(saved, ignore_errors=True)
        shutil.copytree(self.submitted / student / assignment, saved, symlinks=True)
        prefix = f"{student}/{assignment}/"
        self.hashes = {n: h for n, h in self.hashes.items() if not n.startswith(prefix)}
        self.hashes |= {prefix + n: h for n, h in _hash_tree(saved).items()}


# The gradebook's description of the assignments (not the students' grades): nbgrader
# refuses every later notebook whose cells disagree with it (e.g. a planted max_score).
DEFINITION_TABLES = (
    "course",
    "assignment",
    "notebook",
    "base_cell",
    "grade_cells",
    "solution_cells",
    "task_cells",
    "source_cell",
)


class GradebookDefinition:
    """The rows of the gradebook's definition tables, taken before any kernel ran.

    Works on any gradebook URL (SQLite or PostgreSQL): rows are compared by primary key and
    put back in one transaction, parents before children, so a server that enforces foreign
    keys accepts the repair.
    """

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.name = gradebook.label(db_url)
        self.tables: list[sqlalchemy.Table] = []
        # One connection per use (NullPool): nothing held open between checks; SQLite waits
        # up to a minute for a writing nbgrader process, as sqlite3.connect(timeout=60).
        sqlite = {"timeout": 60} if gradebook.is_sqlite(db_url) else {}
        self.engine = sqlalchemy.create_engine(
            db_url, poolclass=sqlalchemy.pool.NullPool, connect_args=sqlite
        )
        self.rows = self._read() if self._exists() else {}

    def _exists(self) -> bool:
        if gradebook.is_sqlite(self.db_url):  # never create an empty SQLite file
            return Path(self.db_url.split(":///", 1)[1]).is_file()
        return True

    def _reflect(self) -> list[sqlalchemy.Table]:
        """The definition tables (parents first), read from the database once."""
        if not self.tables:
            meta = sqlalchemy.MetaData()
            names = set(sqlalchemy.inspect(self.engine).get_table_names())
            meta.reflect(self.engine, only=[t for t in DEFINITION_TABLES if t in names])
            self.tables = list(meta.sorted_tables)
        return self.tables

    @staticmethod
    def _key(table: sqlalchemy.Table, row: tuple) -> tuple:
        return tuple(row[table.columns.keys().index(c.name)] for c in table.primary_key)

    def _read(self) -> dict[str, dict[tuple, tuple]]:
        """{table: {primary key: row}}."""
        tables = self._reflect()
        with self.engine.connect() as db:
            return {
                t.name: {self._key(t, tuple(r)): tuple(r) for r in db.execute(sqlalchemy.select(t))}
                for t in tables
            }

    def restore(self) -> list[str]:
        """Put the definition rows back; returns '<gradebook>: <table>' for each changed."""
        if not self.rows:
            return []
        try:
            now = self._read()
        except sqlalchemy.exc.SQLAlchemyError:
            return [f"{self.name}: unreadable"]
        changed = [t for t in self.rows if now.get(t) != self.rows[t]]
        if not changed:
            return []
        try:
            with self.engine.begin() as db:
                ordered = [t for t in self._reflect() if t.name in changed]
                for table in reversed(ordered):  # planted rows: children first
                    keys = list(table.primary_key)
                    for key in set(now.get(table.name, {})) - set(self.rows[table.name]):
                        where = [c == v for c, v in zip(keys, key, strict=True)]
                        db.execute(table.delete().where(*where))
                for table in ordered:  # changed rows back, removed rows again: parents first
                    keys = list(table.primary_key)
                    for key, row in self.rows[table.name].items():
                        mine = now.get(table.name, {}).get(key)
                        if mine == row:
                            continue
                        values = dict(zip(table.columns.keys(), row, strict=True))
                        if mine is None:
                            db.execute(table.insert().values(values))
                        else:
                            where = [c == v for c, v in zip(keys, key, strict=True)]
                            db.execute(table.update().where(*where).values(values))
        except sqlalchemy.exc.SQLAlchemyError as exc:
            reason = type(getattr(exc, "orig", None) or exc).__name__
            return [f"{self.name}: {t} (could not be put back: {reason})" for t in changed]
        return [f"{self.name}: {t}" for t in changed]


# --------------------------------------------------------------------------- verdict records


def _record_path(folder: Path, student: str, assignment: str, notebook: str) -> Path:
    key = json.dumps([student, assignment, notebook])
    return folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


def record_verdicts(
    student: str, assignment: str, notebook: str, grading_digest: str, parts: dict[str, Any]
) -> None:
    """Write one notebook's verdicts ({grade_id: {"score": 0..1, "message": str}}) where the
    run that started this process reads them (no-op outside ``mytorch-course autograde``)."""
    folder = os.environ.get(VERDICTS_ENV)
    if not folder:
        return
    record = {
        "student": student,
        "assignment": assignment,
        "notebook": notebook,
        "grading_digest": grading_digest,
        "parts": parts,
    }
    write_record(Path(folder), record)


def write_record(folder: Path, record: dict[str, Any]) -> None:
    """Store one verdict record in ``folder`` (also used for the records Dask workers send
    back, which :func:`read_verdicts` then checks like any other)."""
    key = (str(record.get("student")), str(record.get("assignment")), str(record.get("notebook")))
    path = _record_path(folder, *key)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)  # atomic: a retry's record replaces the earlier attempt's


def read_verdicts(folder: Path, student: str, assignment: str, notebook: str) -> dict | None:
    """The record of one notebook, or None (missing or not what it claims to be)."""
    path = _record_path(folder, student, assignment, notebook)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    key = (record.get("student"), record.get("assignment"), record.get("notebook"))
    return record if key == (student, assignment, notebook) else None


@dataclass
class Integrity:
    """One grading run: its snapshots, its private folder (verdict records, the copy of the
    submissions) and what was found changed."""

    work: Path
    private: Path
    snapshot: Snapshot
    submissions: Submissions
    gradebook: GradebookDefinition
    found: dict[str, list[str]] = field(default_factory=dict)  # file -> when it was found
    _lock: threading.Lock = field(default_factory=threading.Lock)  # one check at a time

    @classmethod
    def start(cls, work: Path, db_url: str | None = None) -> Integrity:
        """Take the snapshots; call before the first kernel starts. ``db_url``: the run's
        gradebook (default: ``gradebook.db`` in ``work``)."""
        private = Path(tempfile.mkdtemp(prefix="mytorch-run-"))  # mode 0700, outside work
        (private / "verdicts").mkdir()
        return cls(
            work,
            private,
            Snapshot(work),
            Submissions(work / "submitted", private / "submitted"),
            GradebookDefinition(db_url or gradebook.sqlite_url(work)),
        )

    @property
    def verdicts(self) -> Path:
        return self.private / "verdicts"

    def close(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """Environment for the nbgrader processes of this run."""
        grading = str((self.work / "grading").resolve())
        return {
            DIGESTS_ENV: json.dumps({grading: self.snapshot.grading_digest()}),
            VERDICTS_ENV: str(self.verdicts),
        }

    def check(self, when: str, students: Iterable[str] = ()) -> list[str]:
        """Restore any changed grading file (and the submissions of ``students``); remember
        which and when (e.g. 'after grading alice')."""
        with self._lock:
            changed = self.snapshot.restore() + self.gradebook.restore()
            for student in students:
                changed += self.submissions.restore(student)
            for name in changed:
                self.found.setdefault(name, []).append(when)
        return changed

    def accept(self, student: str, assignment: str) -> None:
        with self._lock:
            self.submissions.accept(student, assignment)

    def report(self) -> str:
        """'' when nothing changed; else the warning for the instructor."""
        if not self.found:
            return ""
        lines = [
            "the grading files changed during grading (restored from the copy taken before "
            "the first kernel; scores come only from verdicts made with the original files):"
        ]
        lines += [f"  {name}: found {', '.join(when)}" for name, when in sorted(self.found.items())]
        return "\n".join(lines)
