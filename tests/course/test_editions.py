"""Every assignment's student edition: it imports, holds no answer to an exercise of that
assignment or a later one (each stripped piece fails naming its assignment), and the released
notebook runs top to bottom against it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mytorch_course.course_dir import assignment_ids, release_notebooks
from mytorch_course.notebook import nbgrader_meta
from mytorch_course.samples import solved
from mytorch_course.student_edition import ASSIGNMENT_ID, BEGIN, END, build_student_edition

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "mytorch"
ASSIGNMENTS = assignment_ids(REPO)


def regions(text: str) -> list[tuple[list[str], str]]:
    """(assignments, body) of every exercise region of a source file."""
    found, owners, body = [], None, []
    for line in text.splitlines(keepends=True):
        if BEGIN.match(line):
            owners, body = ASSIGNMENT_ID.findall(line), []
        elif END.match(line):
            found.append((owners, "".join(body)))
            owners = None
        elif owners is not None:
            body.append(line)
    return found


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def edition(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp(f"edition-{request.param}")
    build_student_edition(folder, request.param)
    return request.param, folder


def run_in(edition: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=edition,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(edition), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_no_open_exercise_survives_in_the_edition(edition) -> None:
    aid, folder = edition
    checked = 0
    for source in PACKAGE.rglob("*.py"):
        relative = source.relative_to(PACKAGE)
        text = (folder / "mytorch" / relative).read_text()
        assert "BEGIN EXERCISE" not in text, relative
        for owners, body in regions(source.read_text()):
            open_ones = sorted(o for o in owners if o >= aid)
            if open_ones:
                checked += 1
                assert body not in text, f"{relative}: the answer of {owners} is in edition {aid}"
                assert f"exercise of assignment {open_ones[0]}:" in text, relative
            else:
                assert body in text, f"{relative}: closed exercise {owners} missing from {aid}"
    assert checked >= 60  # every op's gradient and tangent, the engine, the numerical gradient


# What each stripped piece says when called in an edition (None: it works there).
PROBE = """
import json, numpy as np, mytorch as mt
from mytorch import Tensor
results = {}
def attempt(name, call):
    try:
        call()
        results[name] = None
    except NotImplementedError as e:
        results[name] = str(e)
attempt("numerical_gradient", lambda: mt.numerical_gradient(lambda v: float(v.sum()), [1.0]))
def sgd():
    p = Tensor([1.0]); p.grad = Tensor([1.0]); mt.optim.SGD([p], lr=0.1).step()
attempt("SGD.step", sgd)
attempt("recording", lambda: Tensor([1.0], requires_grad=True) * 2.0)
buffer = mt.MemoryBuffer()
attempt("MemoryBuffer", lambda: buffer.accumulate(0, Tensor(1.0)))
for op, args in [(mt.ops.Mul(), (2.0, 3.0)), (mt.ops.Div(), (2.0, 3.0)),
                 (mt.ops.Maximum(), (2.0, 3.0)), (mt.ops.Sigmoid(), (0.5,)),
                 (mt.ops.Add(), (2.0, 3.0)), (mt.ops.Tanh(), (0.5,))]:
    attempt(f"{type(op).__name__}.gradient",
            lambda: mt.op_gradients(op, *args, out_grad=1.0))
    node = mt.apply_op(op, *args)
    attempt(f"{type(op).__name__}.tangent",
            lambda: op.tangent(tuple(Tensor(1.0) for _ in args), node))
print(json.dumps(results))
"""
OWNERS = {
    "numerical_gradient": "01-derivatives",
    "SGD.step": "01-derivatives",
    "recording": "03-engine",
    "MemoryBuffer": "03-engine",
    **{f"{op}.gradient": "02-backprop" for op in ("Mul", "Div", "Maximum", "Sigmoid")},
    **{f"{op}.gradient": "04-tensor-gradients" for op in ("Add", "Tanh")},
    **{
        f"{op}.tangent": "06-beyond-backprop"
        for op in ("Mul", "Div", "Maximum", "Sigmoid", "Add", "Tanh")
    },
}


def test_the_edition_imports_and_each_stripped_piece_names_its_assignment(edition) -> None:
    aid, folder = edition
    result = run_in(folder, PROBE)
    assert result.returncode == 0, result.stderr
    said = json.loads(result.stdout)
    assert set(said) == set(OWNERS)
    for name, owner in OWNERS.items():
        if owner < aid:
            assert said[name] is None, f"{name} (closed, {owner}) fails in edition {aid}"
        else:
            assert said[name] == (
                f"This is an exercise of assignment {owner}: write it in the assignment notebook."
            ), (name, said[name])


# ------------------------------------------------------------------ notebooks, top to bottom


def run_notebook(nb: nbformat.NotebookNode, folder: Path, edition: Path) -> list[tuple[int, str]]:
    """Run ``nb`` in ``folder`` with ``edition``'s mytorch; (cell index, error name) per error."""
    env = dict(os.environ, PYTHONPATH=str(edition))
    client = NotebookClient(
        nb,
        timeout=300,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute(env=env)
    errors = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append((index, output["ename"]))
    return errors


def imported_mytorch(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_released_notebook_runs_top_to_bottom_against_its_edition(aid, tmp_path) -> None:
    edition = tmp_path / "edition"
    build_student_edition(edition, aid)
    release = REPO / "assignments" / aid
    cases = {"solved": solved(REPO, aid), "release": release_notebooks(REPO, aid)}
    for case, notebooks in cases.items():
        for name, nb in notebooks.items():
            folder = tmp_path / case
            shutil.copytree(release, folder, dirs_exist_ok=True)
            where = nbformat.v4.new_code_cell("import mytorch; print('MYTORCH', mytorch.__file__)")
            nb.cells.insert(0, where)
            errors = run_notebook(nb, folder, edition)
            assert f"MYTORCH {edition}" in imported_mytorch(nb), "the kernel used another mytorch"
            if case == "solved":
                assert errors == [], f"{name}: errors in cells {errors}"
                continue
            exercise_cells = {
                i
                for i, cell in enumerate(nb.cells)
                if nbgrader_meta(cell).get("solution") or nbgrader_meta(cell).get("grade")
            }
            outside = [(i, e) for i, e in errors if i not in exercise_cells]
            assert errors and not outside, f"{name}: errors outside exercise cells: {outside}"
            figures = [
                o
                for c in nb.cells
                for o in c.get("outputs", [])
                if "image/svg+xml" in o.get("data", {})
            ]
            assert figures, "the engine's pre-rendered figures were not shown"
