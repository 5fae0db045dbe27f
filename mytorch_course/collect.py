"""Submission collection: a folder or an LMS zip, laid out as nbgrader's ``submitted/``.

A notebook is filed under the identity of *where it came from* (its top folder, or the
LMS's own fields of a downloaded file name), never under a name a student wrote into a
file name. Accepted layouts, relative to the root of the folder or zip:

* ``<student>/<assignment>/<nb>.ipynb`` (nbgrader) and ``<student>/<nb>.ipynb``: the
  student is the top folder, whatever lies below it. A Moodle folder
  ``<Full Name>_<participant id>_assignsubmission_file`` becomes ``<Full Name>_<id>``.
* flat files at the root, as LMS downloads name them:
  Canvas ``<login>[_LATE]_<user id>_<submission id>_<original name>.ipynb`` (student
  ``<login>_<user id>``), Moodle ``<Full Name>_<participant id>_assignsubmission_file_<original
  name>.ipynb`` (student ``<Full Name>_<id>``), or exactly ``<student>_<nb>.ipynb``.
  Any other flat file is skipped with a message: nothing says whose it is.
* one enclosing folder (a zipped folder) is looked through when it is alone at the root,
  holds no notebook itself and is not an nbgrader student folder.

Which notebook a file is comes from its (original) name: the longest notebook name of the
course it contains. Two different files for one (student, notebook) are not graded: the
student's result records why, naming both. Zip members are never extracted by their own
names (no traversal, no absolute paths); symlinks and oversized members are refused, and
the total size extracted is bounded (zip bombs).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .course_dir import assignment_ids, release_notebooks
from .notebook import write_notebook
from .reports import SubmissionResult, fill_scores

MAX_NOTEBOOK_BYTES = 100 * 2**20  # a notebook with plots is a few MB; 100 MB is not homework
MAX_TOTAL_BYTES = 2 * 2**30
MAX_ZIP_MEMBERS = 50_000

CANVAS = re.compile(r"^(?P<who>[^_]+)(?:_LATE)?_(?P<id>\d+)_\d+_(?P<name>.+)$")
MOODLE_FILE = re.compile(r"^(?P<who>.+?)_(?P<id>\d+)_assignsubmission_file_(?P<name>.+)$")
MOODLE_FOLDER = re.compile(r"^(?P<who>.+?)_(?P<id>\d+)_assignsubmission_\w+$")
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
JUNK_PARTS = ("__MACOSX", ".ipynb_checkpoints")


class CollectError(Exception):
    """The submissions cannot be read safely (corrupt zip, zip bomb, missing input)."""


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


@dataclass
class Collected:
    """What :func:`collect_submissions` filed: ``jobs`` to grade, and per (student,
    assignment) ``notes`` for the results (conflicts, refused files)."""

    jobs: list[tuple[str, str]] = field(default_factory=list)
    notes: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def note(self, key: tuple[str, str], text: str) -> None:
        self.notes.setdefault(key, []).append(text)
        print(f"{key[0]} ({key[1]}): {text}", file=sys.stderr)

    def skip(self, text: str) -> None:
        self.skipped.append(text)
        print(f"skipping {text}", file=sys.stderr)


@dataclass
class _File:
    parts: tuple[str, ...]  # where it was, relative to the root: only used as an identity
    path: Path | None  # its bytes on disk (None: refused)
    size: int


def safe_student_id(raw: str) -> str:
    """A folder name for ``raw``: unchanged when already safe, else cleaned and suffixed with
    a hash of ``raw``, so two distinct ids never clean to the same name."""
    if SAFE_ID.match(raw):
        return raw
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", raw).lstrip("_.-")[:40] or "student"
    return f"{clean}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"


def _student_ids(raws: set[str]) -> dict[str, str]:
    """Safe ids for all raw ids; ids equal but for case get the hash too (case-insensitive
    file systems would merge their folders). Raises if two ids still coincide."""
    ids = {raw: safe_student_id(raw) for raw in raws}
    by_fold: dict[str, list[str]] = {}
    for raw, sid in ids.items():
        by_fold.setdefault(sid.casefold(), []).append(raw)
    for group in by_fold.values():
        if len(group) > 1:
            for raw in group:
                ids[raw] = f"{ids[raw]}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
    seen: dict[str, str] = {}
    for raw, sid in ids.items():
        if sid.casefold() in seen:
            raise CollectError(f"students {seen[sid.casefold()]!r} and {raw!r} map to one folder")
        seen[sid.casefold()] = raw
    return ids


def _member_parts(name: str) -> tuple[str, ...] | None:
    """The path parts of a zip member, or None when it is absolute or climbs out."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if ".." in parts:
        return None
    return parts


def _is_junk(parts: tuple[str, ...]) -> bool:
    return any(p in JUNK_PARTS or p.startswith(".") for p in parts)


def _read_zip(src: Path, dest: Path, out: Collected, max_nb: int, max_total: int) -> list[_File]:
    """Notebook members of ``src`` written to ``dest/<n>.ipynb`` (never under their own names)."""
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    total = 0
    try:
        with zipfile.ZipFile(src) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise CollectError(f"{src.name} has {len(infos)} members, over {MAX_ZIP_MEMBERS}")
            for i, info in enumerate(infos):
                if info.is_dir() or not info.filename.lower().endswith(".ipynb"):
                    continue
                parts = _member_parts(info.filename)
                if parts is None:
                    out.skip(f"{info.filename!r} in {src.name}: absolute or '..' path")
                    continue
                if _is_junk(parts):
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    out.skip(f"{info.filename!r} in {src.name}: a symbolic link")
                    continue
                if info.file_size > max_nb:
                    files.append(_File(parts, None, info.file_size))
                    continue
                target = dest / f"{i}.ipynb"
                size = 0
                with zf.open(info) as fin, open(target, "wb") as fout:
                    while chunk := fin.read(1 << 20):
                        size += len(chunk)  # the header's size can lie: count what comes out
                        total += len(chunk)
                        if total > max_total:
                            raise CollectError(
                                f"{src.name} expands to more than {max_total / 2**20:.0f} MB of "
                                "notebooks (a zip bomb?); nothing was graded"
                            )
                        if size > max_nb:
                            break
                        fout.write(chunk)
                if size > max_nb:
                    target.unlink()
                    files.append(_File(parts, None, size))
                else:
                    files.append(_File(parts, target, size))
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise CollectError(
            f"{src} is not a readable zip file ({exc}); download it again from the LMS"
        ) from exc
    return files


def _read_folder(src: Path, out: Collected, max_nb: int) -> list[_File]:
    files = []
    for dirpath, dirnames, filenames in os.walk(src):  # does not follow symlinked folders
        dirnames.sort()
        for name in dirnames:
            if (Path(dirpath) / name).is_symlink():
                out.skip(f"{Path(dirpath) / name}: a symbolic link")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            parts = path.relative_to(src).parts
            if not name.lower().endswith(".ipynb") or _is_junk(parts):
                continue
            if path.is_symlink():
                out.skip(f"{path}: a symbolic link")
                continue
            size = path.stat().st_size
            files.append(_File(parts, path if size <= max_nb else None, size))
    return files


def _unwrap(files: list[_File], aids: set[str]) -> list[_File]:
    """Look through one enclosing folder (a zipped folder): alone at the root, no notebook
    directly inside, and not an nbgrader student folder (``<student>/<assignment>/``)."""
    while files and all(len(f.parts) >= 3 for f in files):
        tops = {f.parts[0] for f in files}
        if len(tops) != 1 or any(f.parts[1] in aids for f in files):
            break
        files = [_File(f.parts[1:], f.path, f.size) for f in files]
    return files


def _identify(parts: tuple[str, ...], names: list[str]) -> tuple[str, str] | str:
    """(raw student id, notebook name) of a file, or why it cannot be filed."""

    def notebook(file_name: str) -> str | None:
        stem = file_name[: -len(".ipynb")]
        return next((n for n in names if n in stem), None)  # names: longest first

    if len(parts) >= 2:  # a student's folder: everything below it is theirs
        folder = parts[0]
        moodle = MOODLE_FOLDER.match(folder)
        who = f"{moodle['who']}_{moodle['id']}" if moodle else folder
        nb = notebook(parts[-1])
        return (who, nb) if nb else "not a notebook of this course"
    file_name = parts[0]
    for lms in (MOODLE_FILE, CANVAS):
        m = lms.match(file_name)
        if m:
            nb = notebook(m["name"])
            return (f"{m['who']}_{m['id']}", nb) if nb else "not a notebook of this course"
    for nb in names:
        if file_name.endswith(f"_{nb}.ipynb") and len(file_name) > len(nb) + 7:
            return file_name[: -len(f"_{nb}.ipynb")], nb
    if notebook(file_name):
        return (
            "a notebook at the root without an owner: put it in a folder named after the "
            "student, or keep the LMS's download name"
        )
    return "not a notebook of this course"


def _same_bytes(paths: list[Path]) -> bool:
    return len({hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}) == 1


def collect_submissions(
    src: Path,
    root: Path,
    work: Path,
    max_notebook_bytes: int = MAX_NOTEBOOK_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> Collected:
    """File the notebooks of a folder or LMS zip ``src`` into ``work/submitted`` (see the
    module's docstring for the layouts); raises :class:`CollectError` on unreadable input."""
    out = Collected()
    if not src.exists():
        raise CollectError(f"{src} does not exist")
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise CollectError(f"{src} is neither a folder nor a readable zip file")
        files = _read_zip(src, work / "extracted", out, max_notebook_bytes, max_total_bytes)
    else:
        files = _read_folder(src, out, max_notebook_bytes)
    by_notebook = {nb: aid for aid in assignment_ids(root) for nb in release_notebooks(root, aid)}
    names = sorted(by_notebook, key=len, reverse=True)
    files = _unwrap(files, set(by_notebook.values()))

    filed: dict[tuple[str, str], list[_File]] = {}
    for f in files:
        who = _identify(f.parts, names)
        if isinstance(who, str):
            out.skip(f"{'/'.join(f.parts)}: {who}")
        else:
            filed.setdefault(who, []).append(f)
    ids = _student_ids({raw for raw, _ in filed})

    placed: dict[tuple[str, str], dict[str, Path]] = {}
    for (raw, nb), copies in sorted(filed.items()):
        key = (ids[raw], by_notebook[nb])
        shown = ", ".join(repr("/".join(f.parts)) for f in copies)
        too_big = [f for f in copies if f.path is None]
        if too_big:
            out.note(
                key,
                f"{nb}: not graded: {shown} is over the {max_notebook_bytes / 2**20:.0f} MB "
                "limit for a notebook (clear its outputs and submit again)",
            )
        elif len(copies) > 1 and not _same_bytes([f.path for f in copies if f.path]):
            out.note(
                key,
                f"{nb}: not graded: {len(copies)} different files for one notebook: {shown}; "
                "keep one and grade again",
            )
        else:
            if len(copies) > 1:
                out.note(key, f"{nb}: identical copies {shown}: graded once")
            placed.setdefault(key, {})[nb] = copies[0].path  # type: ignore[assignment]
    for (student, aid), notebooks in placed.items():
        place_submission(work, student, aid, notebooks)
    out.jobs = sorted(placed)
    return out


def add_collection_notes(
    work: Path, results: list[SubmissionResult], collected: Collected
) -> list[SubmissionResult]:
    """``results`` with the collection's notes added, and a result (all parts 0, with the
    reason) for each student whose submission could not be graded at all."""
    by_key = {(r.student, r.assignment): r for r in results}
    ungraded = []
    for key, notes in sorted(collected.notes.items()):
        if key not in by_key:
            by_key[key] = SubmissionResult(*key)
            ungraded.append(by_key[key])
        by_key[key].notes += notes
    if ungraded:
        from .autograde import prepare_course  # the gradebook must know the assignment

        graded = {r.assignment for r in results}
        prepare_course(work, sorted({r.assignment for r in ungraded} - graded))
        fill_scores(work, ungraded)
    return sorted(by_key.values(), key=lambda r: (r.assignment, r.student))
