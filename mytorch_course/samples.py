"""Sample submissions for the demo and the tests, built from the instructor's files.

They are generated (not stored) so they always match the current solutions, and so that no
solution ever ships inside the ``mytorch`` wheel.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from .assignments import load_mutants, load_parts
from .course_dir import release_notebooks, source_notebooks
from .notebook import make_submission, solution_cell_for

# A student cell that tries the exploits that work against plain nbgrader (verified with
# nbgrader 0.9.6): patched numpy checks and an input transformer that turns every later cell
# (the hidden tests included) into `pass`.
TAMPER_CELL = """\
import numpy as np
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
"""


def solved(root: Path, aid: str, replace: dict[str, str] | None = None) -> dict[str, NotebookNode]:
    """The release with every solution cell filled in (``replace``: grade_id -> code)."""
    sources = source_notebooks(root, aid)
    return {
        name: make_submission(nb, sources[name], replace)
        for name, nb in release_notebooks(root, aid).items()
    }


def target_cell(root: Path, aid: str, nb: NotebookNode, part: str) -> str:
    """The solution cell a part's mutants replace: ``Part.extra["solution_cell"]`` when the
    grading file says so, else the nearest solution cell before the graded cell."""
    parts = load_parts(root / "grading", aid)
    if part in parts and parts[part].extra.get("solution_cell"):
        return str(parts[part].extra["solution_cell"])
    return solution_cell_for(nb, part)


def with_mutant(root: Path, aid: str, part: str, code: str) -> dict[str, NotebookNode]:
    """Solutions with the solution cell tested by ``part`` replaced by ``code``."""
    out = {}
    for name, nb in release_notebooks(root, aid).items():
        try:
            solution_cell_for(nb, part)  # is the part in this notebook?
            sol_id = target_cell(root, aid, nb, part)
        except KeyError:
            out[name] = solved(root, aid)[name]
            continue
        out[name] = make_submission(nb, source_notebooks(root, aid)[name], {sol_id: code})
    return out


def tampering(root: Path, aid: str) -> dict[str, NotebookNode]:
    """The untouched release plus a first code cell that patches numpy and IPython."""
    out = {}
    for name, nb in release_notebooks(root, aid).items():
        nb = copy.deepcopy(nb)
        nb.cells.insert(0, nbformat.v4.new_code_cell(TAMPER_CELL))
        out[name] = nb
    return out


def partly_wrong(root: Path, aid: str) -> tuple[dict[str, NotebookNode], str]:
    """Solutions with the first known-wrong variant of the first part that has one."""
    mutants = load_mutants(root, aid)
    for part, variants in mutants.items():
        for variant, code in variants.items():
            return with_mutant(root, aid, part, code), f"{part} ({variant})"
    # No mutants file yet: break the first solution cell instead.
    first = next(iter(release_notebooks(root, aid).values()))
    sol = next(
        c.metadata["nbgrader"]["grade_id"]
        for c in first.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    )
    return solved(root, aid, {sol: "raise RuntimeError('not done')"}), sol


DEMO_STUDENTS = {
    "solutions": "the instructor's solutions",
    "release": "the untouched release",
    "partly-wrong": "the solutions with one part replaced by a known-wrong variant",
    "tampering": "patches np.allclose and adds an IPython input transformer",
}


def demo_samples(root: Path, aid: str) -> tuple[dict[str, dict[str, NotebookNode]], str]:
    """student id -> notebooks for the demo (see DEMO_STUDENTS), and which part is wrong."""
    wrong, label = partly_wrong(root, aid)
    return {
        "solutions": solved(root, aid),
        "release": {k: copy.deepcopy(v) for k, v in release_notebooks(root, aid).items()},
        "partly-wrong": wrong,
        "tampering": tampering(root, aid),
    }, label
