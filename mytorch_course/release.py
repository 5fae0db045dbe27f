"""``mytorch-course release``: regenerate ``assignments/`` from ``solutions/`` reproducibly."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .course_dir import assignment_ids, copy_course
from .nbgrader_process import nbgrader
from .notebook import normalise_notebook
from .points import check_points


@dataclass(frozen=True)
class Change:
    """What a release did to one file: ``added``, ``updated``, ``removed`` or ``unchanged``."""

    path: Path
    what: str


def _release_bytes(path: Path) -> bytes:
    """The file as the release holds it (notebooks normalised, see :func:`normalise_notebook`)."""
    if path.suffix != ".ipynb":
        return path.read_bytes()
    text = nbformat.writes(normalise_notebook(nbformat.read(path, as_version=4)), version=4)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def release(root: Path, dest: Path | None = None, ids: Iterable[str] | None = None) -> list[Change]:
    """Regenerate ``assignments/`` (or ``dest``) from ``solutions/``; one Change per file.

    Refuses (``ValueError``, before anything is written) when a part's points disagree
    between the grading file, the notebook metadata and the "(N points)" text. Runs
    ``nbgrader generate_assignment`` in a temporary copy of the course, so the repository
    gets no gradebook rows, then normalises the notebooks. Files that would not change are
    not rewritten; files no longer generated are removed.
    """
    dest = dest or root / "assignments"
    ids = list(ids or assignment_ids(root))
    for aid in ids:
        check_points(root, aid)
    changes: list[Change] = []
    with tempfile.TemporaryDirectory(prefix="mytorch-release-") as tmp:
        work = Path(tmp)
        copy_course(root, work)
        shutil.rmtree(work / "assignments", ignore_errors=True)
        for aid in ids:
            res = nbgrader(["generate_assignment", aid, "--force"], work)
            if res.returncode != 0:
                raise RuntimeError(f"nbgrader generate_assignment {aid} failed:\n{res.stdout}")
            generated, out_dir = work / "assignments" / aid, dest / aid
            fresh = {
                p.relative_to(generated): _release_bytes(p)
                for p in sorted(generated.rglob("*"))
                if p.is_file()
            }
            old = {p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file()}
            for rel in sorted(old - set(fresh)):
                (out_dir / rel).unlink()
                changes.append(Change(out_dir / rel, "removed"))
            for rel, data in fresh.items():
                target = out_dir / rel
                if rel in old and target.read_bytes() == data:
                    changes.append(Change(target, "unchanged"))
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                changes.append(Change(target, "updated" if rel in old else "added"))
    return changes
