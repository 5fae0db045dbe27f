"""Fast, in-process tests of each assignment and its grading files.

* the solution notebook runs top to bottom and its visible tests pass;
* the reference solution passes every part's hidden check;
* every known-wrong variant fails its own part and no other;
* the untouched release (solutions stubbed out) runs its non-test cells and scores 0;
* the notebook follows the nbgrader protocol (metadata, ids, points, no outputs).

The real nbgrader round trip (kernels, preprocessors) is tested by the pipeline's own tests.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


@dataclass(frozen=True)
class Assignment:
    name: str
    functions: tuple[str, ...]  # what the solved notebook must define
    answers: tuple[str, ...]  # reference-code fragments that must not appear in the release

    @property
    def notebook(self) -> Path:
        return ROOT / "solutions" / self.name / f"{self.name}.ipynb"

    @functools.cached_property
    def grading(self) -> ModuleType:
        return _load(ROOT / "grading" / f"{self.name}.py")

    @functools.cached_property
    def mutants(self) -> dict[str, dict[str, str]]:
        return _load(ROOT / "grading" / "mutants" / f"{self.name}.py").MUTANTS

    @property
    def parts(self) -> dict:
        return self.grading.PARTS


ASSIGNMENTS = {
    a.name: a
    for a in [
        Assignment(
            "01-derivatives",
            ("forward_difference", "central_difference", "numerical_gradient", "d_cube",
             "d_wiggle", "grad_check", "gradient_descent"),
            ("(f(x + h) - f(x)) / h", "(f(x + h) - f(x - h)) / (2 * h)",
             "2.0 * x**2 * np.cos(x**2)", "2 * v**2 * np.cos"),
        ),
        Assignment(
            "02-backprop",
            ("circuit_backward", "exp_affine_backward", "ratio_backward",
             "log_example_backward", "Multiply", "Divide", "Maximum", "Sigmoid",
             "topological_order", "backward_pass"),
            ("out_grad * b, out_grad * a", "-out_grad * a", "node * (1.0 - node)",
             "adjoint[parent] +=", "placed.add"),
        ),
    ]
}  # fmt: skip


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"grading_{path.stem.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cells(assignment: Assignment) -> list[dict]:
    return json.loads(assignment.notebook.read_text())["cells"]


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _stub_solutions(source: str) -> str:
    """What nbgrader's ClearSolutions leaves of a solution cell."""
    pattern = re.compile(
        r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M
    )
    return pattern.sub(lambda m: "\n".join(m.group(1) + line for line in STUB.split("\n")), source)


def run_notebook(
    assignment: Assignment,
    replace: dict[str, str] | None = None,
    graded: bool = True,
    demos: bool = True,
    stub: bool = False,
) -> dict:
    """Execute the notebook's code cells in one namespace, like a kernel would."""
    namespace: dict = {"__name__": "__main__"}
    replace = replace or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in _cells(assignment):
            if cell["cell_type"] != "code":
                continue
            meta = _meta(cell)
            gid = meta.get("grade_id", cell["id"])
            source = replace.get(gid, _source(cell))
            if meta.get("grade"):
                if not graded:
                    continue
            elif not meta and not demos:
                continue
            if stub and meta.get("solution"):
                source = _stub_solutions(source)
            exec(compile(source, f"<cell {gid}>", "exec"), namespace)
    plt.close("all")
    return namespace


def grade(assignment: Assignment, part_id: str, namespace: dict):
    """Run the part's driver on every probe in ``namespace``, then check in this process."""
    part = assignment.parts[part_id]
    exec(compile(part.driver, f"<driver {part_id}>", "exec"), namespace)
    run = namespace["run"]
    results = []
    for probe in part.probes:
        try:
            result = run(json.loads(json.dumps(probe)))
        except Exception as err:  # noqa: BLE001 - a student's error is data here
            result = {"error": f"{type(err).__name__}: {err}"}
        results.append(json.loads(json.dumps(result)))
    return part.check(part.probes, results)


@functools.cache
def solution_namespace(name: str) -> dict:
    return run_notebook(ASSIGNMENTS[name])


names = pytest.mark.parametrize("name", sorted(ASSIGNMENTS))


@names
def test_solution_notebook_runs_with_visible_tests(name):
    for function in ASSIGNMENTS[name].functions:
        assert callable(solution_namespace(name)[function]), function


PART_CASES = [(n, p) for n, a in sorted(ASSIGNMENTS.items()) for p in sorted(a.parts)]


@pytest.mark.parametrize(("name", "part_id"), PART_CASES)
def test_reference_passes(name, part_id):
    verdict = grade(ASSIGNMENTS[name], part_id, dict(solution_namespace(name)))
    assert verdict.score == 1.0, verdict.message


MUTANT_CASES = [
    (n, part, variant)
    for n, a in sorted(ASSIGNMENTS.items())
    for part, variants in a.mutants.items()
    for variant in variants
]


@pytest.mark.parametrize(("name", "part_id", "variant"), MUTANT_CASES)
def test_mutant_loses_exactly_its_part(name, part_id, variant):
    assignment = ASSIGNMENTS[name]
    source = assignment.mutants[part_id][variant]
    namespace = run_notebook(assignment, {f"{part_id}-solution": source}, graded=False, demos=False)
    for other in assignment.parts:
        verdict = grade(assignment, other, dict(namespace))
        if other == part_id:
            assert verdict.score == 0.0, f"mutant {variant} was not caught:\n{verdict.message}"
            assert len(verdict.message) > 40, verdict.message
        else:
            assert (
                verdict.score == 1.0
            ), f"mutant {part_id}/{variant} broke {other}: {verdict.message}"


@names
def test_every_part_has_enough_mutants(name):
    assignment = ASSIGNMENTS[name]
    assert set(assignment.mutants) == set(assignment.parts)
    for part_id, variants in assignment.mutants.items():
        assert len(variants) >= 3, part_id


@names
def test_untouched_release_runs_and_scores_zero(name):
    assignment = ASSIGNMENTS[name]
    namespace = run_notebook(assignment, graded=False, stub=True)
    for part_id in assignment.parts:
        verdict = grade(assignment, part_id, dict(namespace))
        assert verdict.score == 0.0, part_id
        assert "NotImplementedError" in verdict.message, verdict.message


@names
def test_emitting_garbage_scores_zero(name):
    for part_id, part in ASSIGNMENTS[name].parts.items():
        for junk in ([], [None] * len(part.probes), ["text"] * len(part.probes)):
            assert part.check(part.probes, junk).score == 0.0, part_id


@names
def test_notebook_follows_the_nbgrader_protocol(name):
    assignment = ASSIGNMENTS[name]
    cells = _cells(assignment)
    ids = [c["id"] for c in cells]
    assert len(ids) == len(set(ids)), "cell ids must be unique"
    grade_ids = [_meta(c)["grade_id"] for c in cells if _meta(c)]
    assert len(grade_ids) == len(set(grade_ids)), "grade_ids must be unique"
    graded = {}
    for cell in cells:
        assert cell["cell_type"] != "code" or (
            cell["outputs"] == [] and cell["execution_count"] is None
        )
        meta = _meta(cell)
        if not meta:
            continue
        assert meta["schema_version"] == 3
        source = _source(cell)
        if meta["solution"]:
            assert meta["grade"] is False and meta["locked"] is False
            assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source
            assert meta["grade_id"].endswith("-solution")
        elif meta["grade"]:
            assert meta["locked"] is True
            assert 10 <= meta["points"] <= 20
            assert f'# graded outside your kernel: part "{meta["grade_id"]}"' in source
            assert "### BEGIN HIDDEN TESTS" in source and "### END HIDDEN TESTS" in source
            graded[meta["grade_id"]] = meta["points"]
        else:
            assert meta["locked"] is True
    assert graded == {k: p.points for k, p in assignment.parts.items()}
    assert 4 <= len(graded) <= 8
    for part_id, part in assignment.parts.items():
        assert f"{part_id}-solution" in grade_ids
        assert part.extra["solution_cell"] == f"{part_id}-solution"


@names
def test_release_gives_nothing_away(name):
    """Outside the solution regions the notebook must not contain the reference code."""
    assignment = ASSIGNMENTS[name]
    cells = _cells(assignment)
    text = "\n".join(_stub_solutions(_source(c)) for c in cells if c["cell_type"] == "code")
    for fragment in assignment.answers:
        assert fragment not in text, fragment


@names
def test_probes_are_many_and_json(name):
    for part_id, part in ASSIGNMENTS[name].parts.items():
        assert len(part.probes) >= 20, part_id
        json.dumps(part.probes, allow_nan=False)


def test_backprop_worked_examples_reproduce_the_seeds():
    ns = solution_namespace("02-backprop")
    f, dx, dy, dz, dw = ns["circuit_backward"](3.0, -4.0, 2.0, -1.0)
    assert (f, dx, dy, dz, dw) == (-30.0, -12.0, 9.0, 3.0, 0.0)
    y, dw_, dx_, db_ = ns["exp_affine_backward"](2.0, 3.0, -4.0)
    assert (round(y, 2), round(dx_, 2), round(dw_, 2), round(db_, 2)) == (7.39, 14.78, 22.17, 7.39)
    assert ns["ratio_backward"](-1.0, 2.0) == (-1.0, 2.0, 1.0)
    y, d1, d2 = ns["log_example_backward"](2.0, 5.0)
    assert (round(y, 3), d1, round(d2, 3)) == (11.652, 5.5, 1.716)
    assert ns["add_mul_backward"](-2.0, 5.0, -4.0) == (-12.0, -4.0, -4.0, 3.0)
