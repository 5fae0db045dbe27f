"""Sample submissions for the demo and the tests, built from the instructor's files.

They are generated (not stored) so they always match the current solutions, and so that no
solution ever ships inside the ``mytorch`` wheel.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from .assignments import apply_patch, load_parts, load_variants
from .course_dir import release_notebooks, source_notebooks
from .notebook import make_submission, nbgrader_meta, solution_cell_for, strip_solution_markers

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
    """The solution cell a part's variants patch: ``Part.solution_cell`` when the part says
    so, else the nearest solution cell before the graded cell."""
    declared = load_parts(root / "grading", aid).get(part)
    return (declared and declared.solution_cell) or solution_cell_for(nb, part)


def variant_sources(root: Path, aid: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(part, variant) -> (solution cell grade_id, the cell's code with the patch applied)."""
    out = {}
    variants = load_variants(root / "grading", aid)
    for nb in source_notebooks(root, aid).values():
        cells = {nbgrader_meta(c).get("grade_id"): c.source for c in nb.cells}
        for part, patches in variants.items():
            if part not in cells:
                continue
            cell = target_cell(root, aid, nb, part)
            solution = strip_solution_markers(cells[cell])
            for variant, patch in patches.items():
                out[(part, variant)] = (cell, apply_patch(solution, patch))
    return out


def with_variant(root: Path, aid: str, part: str, variant: str) -> dict[str, NotebookNode]:
    """The solutions with the known-wrong ``variant`` of ``part`` in its solution cell."""
    cell, code = variant_sources(root, aid)[(part, variant)]
    return solved(root, aid, {cell: code})


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
    for part, variants in load_variants(root / "grading", aid).items():
        for variant in variants:
            return with_variant(root, aid, part, variant), f"{part} ({variant})"
    # No variants yet: break the first solution cell instead.
    first = next(iter(release_notebooks(root, aid).values()))
    sol = next(
        nbgrader_meta(c)["grade_id"] for c in first.cells if nbgrader_meta(c).get("solution")
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
