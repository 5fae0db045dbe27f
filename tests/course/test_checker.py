"""The student's checker, ``mytorch-check``, and the package that brings it.

The structural checks read a notebook without running it (fast). The slow test is the
student's whole path: build a student edition's wheel, install it alone in a fresh virtual
environment, run every released notebook top to bottom with it, and check a notebook with
typical mistakes, a deleted test cell and a changed cell id, reading the sentences.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from mytorch.checker import find_manifest, fingerprint, manifest, structural_problems
from mytorch_course.course_dir import assignment_ids
from mytorch_course.samples import solved, variant_sources
from mytorch_course.student_edition import build_student_edition, build_wheel

REPO = Path(__file__).resolve().parents[2]


def release(aid: str) -> dict:
    return json.loads((REPO / "assignments" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))


def cell_index(notebook: dict, cell_id: str) -> int:
    return next(i for i, c in enumerate(notebook["cells"]) if c.get("id") == cell_id)


def test_the_manifest_lists_each_part_with_what_the_student_writes():
    parts = manifest(release("02-backprop"), "02-backprop")["parts"]
    assert [p["number"] for p in parts] == [1, 2, 3, 4, 5, 6, 7]
    assert parts[2]["names"] == ["Multiply", "Divide"] and parts[2]["points"] == 15
    assert parts[6]["names"] == ["backward_pass"] and parts[6]["points"] == 20
    parts = manifest(release("04-tensor-gradients"), "04-tensor-gradients")["parts"]
    assert parts[3]["names"] == ["unbroadcast", "BroadcastTo"]
    assert parts[5]["names"] == ["sum_over_batch", "BatchedMatMul"]


def test_the_manifest_holds_no_code():
    for aid in assignment_ids(REPO):
        text = json.dumps(manifest(release(aid), aid))
        assert "return" not in text and "def " not in text and "np." not in text, aid


def test_an_untouched_release_has_no_structural_problem():
    for aid in assignment_ids(REPO):
        assert structural_problems(release(aid), manifest(release(aid), aid)) == [], aid


def test_a_renamed_notebook_is_known_by_its_test_cells_and_a_foreign_one_is_not():
    known = {aid: manifest(release(aid), aid) for aid in ("03-engine", "04-tensor-gradients")}
    renamed = Path("my copy.ipynb")
    assert find_manifest(renamed, release("04-tensor-gradients"), known)["assignment"] == (
        "04-tensor-gradients"
    )
    # assignment 5 shares cell ids such as code-04 with both, but none of their test cells
    assert find_manifest(renamed, release("05-networks"), known) is None


def problems_after(change) -> list[str]:
    notebook = release("02-backprop")
    expected = manifest(notebook, "02-backprop")
    changed = copy.deepcopy(notebook)
    change(changed)
    return structural_problems(changed, expected)


def test_a_deleted_test_cell_is_named_with_its_part():
    def delete(nb: dict) -> None:
        del nb["cells"][cell_index(nb, "maximum_op")]

    assert problems_after(delete) == [
        "The test cell of Part 4 (Maximum; 10 points) (cell id 'maximum_op') was deleted. The "
        "grader needs it: copy it back from a fresh copy of the notebook, at the same place."
    ]


def test_an_edited_test_cell_and_a_changed_id_are_named():
    def edit(nb: dict) -> None:
        cell = nb["cells"][cell_index(nb, "sigmoid_op")]
        cell["source"] = "print('all good')\n"

    (problem,) = problems_after(edit)
    assert problem.startswith(
        "The test cell of Part 5 (Sigmoid; 15 points) (cell id 'sigmoid_op') was edited."
    )

    def rename(nb: dict) -> None:
        nb["cells"][cell_index(nb, "topological_order")]["id"] = "my-cell"

    (problem,) = problems_after(rename)
    assert problem.startswith(
        "The id of the test cell of Part 6 (topological_order; 15 points) was changed from "
        "'topological_order' to 'my-cell'. The grader finds cells by their id"
    )


def test_a_missing_function_is_named():
    def rename(nb: dict) -> None:
        cell = nb["cells"][cell_index(nb, "multiply_divide_ops-solution")]
        cell["source"] = "".join(cell["source"]).replace("class Divide(", "class Division(")

    assert problems_after(rename) == [
        "Part 3 (Multiply, Divide; 15 points): the notebook no longer defines Divide. The "
        "grader calls it by that name: keep the names and signatures the notebook gives."
    ]


def test_whitespace_at_the_ends_of_a_cell_is_not_an_edit():
    assert fingerprint("x = 1\n") == fingerprint("\nx = 1   \n\n")
    assert fingerprint("x = 1\n") != fingerprint("x = 2\n")


# --- the student's whole path, from a fresh virtual environment ----------------------------

EDITION = "04-tensor-gradients"
IN_EDITION = [a for a in assignment_ids(REPO) if a <= EDITION]  # the package's assignments
MISTAKES = {  # (part, variant of grading/a02_backprop/variants.py)
    ("branching_examples", "assign_instead_of_accumulate"),
    ("multiply_divide_ops", "ignores_out_grad"),
    ("topological_order", "no_visited_set"),
}


def mistaken_notebook(folder: Path) -> Path:
    """Assignment 2 solved, but for three typical mistakes, a deleted test cell (Part 4),
    a changed cell id (Part 5's test) and a trial line left at the top level."""
    sources = variant_sources(REPO, "02-backprop")
    replace = dict(sources[m] for m in MISTAKES)
    (notebook,) = solved(REPO, "02-backprop", replace).values()
    cells = notebook.cells
    del cells[next(i for i, c in enumerate(cells) if c.get("id") == "maximum_op")]
    next(c for c in cells if c.get("id") == "sigmoid_op")["id"] = "sigmoid-tests"
    trial = next(c for c in cells if c.get("id") == "topological_order-solution")
    trial.source += "\n\ntopological_order(log_graph, 'nowhere')\n"
    path = folder / "02-backprop.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def student_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh virtual environment with only the student package of EDITION installed."""
    work = tmp_path_factory.mktemp("student")
    build_student_edition(work / "edition", EDITION, REPO)
    wheel = build_wheel(work / "edition")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [
        str(venv / "bin" / "pip"),
        "install",
        "-q",
        "--no-compile",
        "--disable-pip-version-check",
    ]
    result = subprocess.run([*install, str(wheel)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return venv, wheel


def student_env(venv: Path, home: Path) -> dict[str, str]:
    """Only the venv on PATH, and a home of its own (no user-level kernels or config)."""
    home.mkdir(exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR")}
    return keep | {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home)}


def mytorch_check(venv: Path, notebook: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "mytorch-check"), notebook.name],
        cwd=notebook.parent,
        capture_output=True,
        text=True,
        env=student_env(venv, notebook.parent.parent / "home"),
        timeout=900,
    )


@pytest.mark.slow
def test_the_wheel_holds_the_library_the_manifests_and_no_answer(student_venv):
    _, wheel = student_venv
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("mytorch/", "mytorch-")) for n in names), names
    releases = sorted(n for n in names if n.startswith("mytorch/releases/"))
    assert releases == [f"mytorch/releases/{a}.json" for a in IN_EDITION]
    elementwise = zipfile.ZipFile(wheel).read("mytorch/ops/elementwise.py").decode()
    assert "This is an exercise of assignment 04-tensor-gradients" in elementwise
    assert "BEGIN EXERCISE" not in elementwise
    metadata = next(n for n in names if n.endswith("METADATA"))
    requires = zipfile.ZipFile(wheel).read(metadata).decode()
    for imported in ("numpy", "graphviz", "ipywidgets", "matplotlib", "ipykernel", "nbclient"):
        assert f"Requires-Dist: {imported}" in requires, imported


@pytest.mark.slow
@pytest.mark.parametrize("aid", IN_EDITION)
def test_every_released_notebook_runs_top_to_bottom_with_only_the_package(
    student_venv, aid, tmp_path
):
    venv, _ = student_venv
    folder = tmp_path / "work" / aid
    shutil.copytree(REPO / "assignments" / aid, folder)
    result = mytorch_check(venv, folder / f"{aid}.ipynb")
    report = result.stdout
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Problems the grader would meet" not in report, report  # nothing raises elsewhere
    parts = re.findall(r"^  - Part \d+ \(.*?\): (.*)$", report, flags=re.M)
    assert parts and all(p.startswith("it is not written yet") for p in parts), report
    assert f"0 of {len(parts)} parts pass their visible checks." in report


@pytest.mark.slow
def test_the_checker_reports_mistakes_and_a_broken_structure_in_sentences(student_venv, tmp_path):
    venv, _ = student_venv
    folder = tmp_path / "work"
    shutil.copytree(REPO / "assignments" / "02-backprop" / "figures", folder / "figures")
    result = mytorch_check(venv, mistaken_notebook(folder))
    report = result.stdout
    assert result.returncode == 1, report + result.stderr
    assert (
        "The test cell of Part 4 (Maximum; 10 points) (cell id 'maximum_op') was deleted."
    ) in report
    assert (
        "The id of the test cell of Part 5 (Sigmoid; 15 points) was changed from 'sigmoid_op' "
        "to 'sigmoid-tests'."
    ) in report
    assert re.search(
        r"Cell \d+ \(your answer cell, id 'topological_order-solution'\) raises at top level: "
        r"KeyError: 'nowhere'\. The grader runs the notebook top to bottom",
        report,
    ), report
    lines = report.splitlines()

    def verdict(part: str) -> str:
        start = next(i for i, line in enumerate(lines) if line.startswith(f"  - Part {part} "))
        end = next(
            (i for i in range(start + 1, len(lines)) if not lines[i].startswith("      ")),
            len(lines),
        )
        return "\n".join(lines[start:end])

    assert verdict("1").endswith("the visible checks pass.")
    part2 = verdict("2")
    assert "a visible check fails:" in part2 and "ratio_backward(x=-1, y=2" in part2
    assert "expected: 2" in part2 and "got:      1" in part2
    assert "Likely cause: x is used twice (numerator and sum): add both contributions" in part2
    part3 = verdict("3")
    assert "Multiply.gradient with a=" in part3 and "gradient of a: wrong value" in part3
    assert "Likely cause: multiply by out_grad: the chain rule scales" in part3
    assert "its test cell is missing, so its checks did not run." in verdict("4")
    assert verdict("5").endswith("the visible checks pass.")  # its id changed, but it runs
    assert "appears more than once: place each node once" in verdict("6")
    assert verdict("7").endswith("the visible checks pass.")
    assert "3 of 7 parts pass their visible checks." in report


@pytest.mark.slow
def test_a_solved_notebook_passes_and_the_checker_exits_with_0(student_venv, tmp_path):
    venv, _ = student_venv
    folder = tmp_path / "work"
    shutil.copytree(REPO / "assignments" / "01-derivatives", folder)
    (notebook,) = solved(REPO, "01-derivatives").values()
    nbformat.write(notebook, folder / "01-derivatives.ipynb")
    result = mytorch_check(venv, folder / "01-derivatives.ipynb")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Problems the grader would meet" not in result.stdout
    assert "6 of 6 parts pass their visible checks." in result.stdout
