"""Fast, in-process tests of every assignment that has a grading folder (found, not listed).

* the solution notebook runs top to bottom with its visible tests;
* the reference solution passes every part, and agrees with its finite-difference witness;
* every known-wrong variant applies exactly once, loses its own part and no other;
* the untouched release (solutions stubbed out) runs and scores 0;
* the notebook follows the nbgrader protocol, and the release gives no answer away.

The real nbgrader round trip (kernels, preprocessors) is tested by the pipeline's own tests.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from mytorch_course.assignments import (
    apply_patch,
    driver_sources,
    load_parts,
    load_variants,
    variant_reasons,
)
from mytorch_course.checks import close
from mytorch_course.course_dir import assignment_ids
from mytorch_course.notebook import strip_solution_markers
from mytorch_course.runner import Part, Verdict, grade

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GRADING = ROOT / "grading"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
AIDS = [a for a in assignment_ids(ROOT) if load_parts(GRADING, a)]
# Seeds besides each part's own: probes are drawn per submission, so every part must grade
# right for any seed (its reference passes, every known-wrong variant and mistake fails).
OTHER_SEEDS = (1, 2, 3, 2**40 + 7, 2**63 - 5)


def _cells(aid: str) -> list[dict]:
    return json.loads((ROOT / "solutions" / aid / f"{aid}.ipynb").read_text())["cells"]


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
    aid: str, replace: dict[str, str] | None = None, graded: bool = True, stub: bool = False
) -> dict:
    """Execute the notebook's code cells in one namespace, like a kernel would."""
    namespace: dict = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in _cells(aid):
            meta = _meta(cell)
            if cell["cell_type"] != "code" or (meta.get("grade") and not graded):
                continue
            source = (replace or {}).get(meta.get("grade_id"), _source(cell))
            if stub and meta.get("solution"):
                source = _stub_solutions(source)
            exec(compile(source, f"<cell {meta.get('grade_id', cell['id'])}>", "exec"), namespace)
    plt.close("all")
    return namespace


def results_of(part: Part, probes: list, namespace: dict) -> list:
    """What the probe cell would emit: the driver, shipped as source, run on every probe."""
    drivers: dict = {"__name__": "grader_drivers"}
    for source in driver_sources(part):  # as the probe cell runs them
        exec(compile(source, "<grader driver>", "exec"), drivers)
    student = dict(namespace)
    results = []
    for probe in probes:
        try:
            result = drivers[part.driver.__name__](json.loads(json.dumps(probe)), student)
        except Exception as err:  # noqa: BLE001 - a student's error is data here
            result = {"error": f"{type(err).__name__}: {err}"}
        results.append(json.loads(json.dumps(result, default=lambda a: a.tolist())))
    return results


def solution_sources(aid: str, replace: dict[str, str] | None = None) -> dict[str, str]:
    """Each part's solution cell as submitted (``replace``: grade_id -> code)."""
    return {
        part_id: (replace or {}).get(f"{part_id}-solution")
        or strip_solution_markers(
            _source(
                next(c for c in _cells(aid) if _meta(c).get("grade_id") == f"{part_id}-solution")
            )
        )
        for part_id in load_parts(GRADING, aid)
    }


def verdicts(
    aid: str, namespace: dict, replace: dict[str, str] | None = None, seed: int | None = None
) -> dict[str, Verdict]:
    out, sources = {}, solution_sources(aid, replace)
    for part_id, part in load_parts(GRADING, aid).items():
        probes = part.draw(seed)
        out[part_id] = grade(part, probes, results_of(part, probes, namespace), sources[part_id])
    return out


@functools.cache
def solution_namespace(aid: str) -> dict:
    return run_notebook(aid)


def variant_cases() -> list:
    return [(a, p, v) for a in AIDS for p, vs in load_variants(GRADING, a).items() for v in vs]


def variant_code(aid: str, part_id: str, variant: str) -> str:
    source = _source(
        next(c for c in _cells(aid) if _meta(c).get("grade_id") == f"{part_id}-solution")
    )
    return apply_patch(
        strip_solution_markers(source), load_variants(GRADING, aid)[part_id][variant]
    )


@pytest.mark.parametrize("aid", AIDS)
def test_reference_passes_every_part(aid: str) -> None:
    for part_id, verdict in verdicts(aid, dict(solution_namespace(aid))).items():
        assert verdict.score == 1.0, (part_id, verdict.message)


@pytest.mark.parametrize("aid", AIDS)
@pytest.mark.parametrize("seed", OTHER_SEEDS)
def test_reference_passes_every_part_for_any_seed(aid: str, seed: int) -> None:
    for part_id, verdict in verdicts(aid, dict(solution_namespace(aid)), seed=seed).items():
        assert verdict.score == 1.0, (part_id, seed, verdict.message)


def _reference_with(part: Part, probe: dict, mistake: Callable) -> object:
    """What a student who made ``mistake`` emits for ``probe`` (the reference elsewhere)."""
    right = part.expected(probe)
    if isinstance(right, dict) and part.second_order:
        right = right | part.second_order(probe)
    try:
        wrong = mistake(probe)
    except (ValueError, ZeroDivisionError):
        wrong = None
    if wrong is None:
        return right
    return right | wrong if isinstance(right, dict) else wrong


@pytest.mark.parametrize("aid", AIDS)
def test_every_declared_mistake_is_caught_for_any_seed(aid: str) -> None:
    missed = []
    for part_id, part in load_parts(GRADING, aid).items():
        for seed in (part.seed, *OTHER_SEEDS):
            probes = part.draw(seed)
            for hint, mistake in part.mistakes.items():
                results = [_reference_with(part, p, mistake) for p in probes]
                results = json.loads(json.dumps(results, default=lambda a: np.asarray(a).tolist()))
                if grade(part, probes, results).score != 0.0:
                    missed.append((part_id, seed, hint))
    assert not missed, missed


@pytest.mark.parametrize("aid", AIDS)
def test_reference_agrees_with_its_witness(aid: str) -> None:
    for part_id, part in load_parts(GRADING, aid).items():
        if part.witness is None:
            continue
        for probe in part.draw():
            expected, witness = part.expected(probe), part.witness(probe)
            for key, value in witness.items() if isinstance(witness, dict) else [(None, witness)]:
                exp = expected if key is None else expected[key]
                assert close(exp, value, 1e-5, 1e-6), (part_id, key, probe)


@pytest.mark.parametrize(("aid", "part_id", "variant"), variant_cases())
def test_variant_loses_exactly_its_part(aid: str, part_id: str, variant: str) -> None:
    code = variant_code(aid, part_id, variant)  # raises unless every patch applies exactly once
    replace = {f"{part_id}-solution": code}
    namespace = run_notebook(aid, replace, graded=False)
    reason = variant_reasons(GRADING, aid).get(variant, "test cases failed")
    for other, verdict in verdicts(aid, namespace, replace).items():
        if other == part_id:
            assert verdict.score == 0.0, f"{variant} was not caught:\n{verdict.message}"
            assert reason in verdict.message, verdict.message
        else:
            assert verdict.score == 1.0, f"{part_id}/{variant} broke {other}: {verdict.message}"
    part, source = load_parts(GRADING, aid)[part_id], solution_sources(aid, replace)[part_id]
    for seed in OTHER_SEEDS:  # caught whatever the submission's probes
        probes = part.draw(seed)
        verdict = grade(part, probes, results_of(part, probes, namespace), source)
        assert verdict.score == 0.0, f"{variant} was not caught for seed {seed}"
        assert reason in verdict.message, (seed, verdict.message)


# What the student must read for some variants: the hint names the case, not just the rule.
SPECIFIC_MESSAGES = {
    ("01-derivatives", "forward_difference", "returns_ones"): "forward-difference quotient",
    ("01-derivatives", "numerical_gradient", "returns_ones"): "one central difference per entry",
    ("01-derivatives", "analytic_derivatives", "returns_ones"): "derivative at each x",
    ("01-derivatives", "grad_check", "off_by_1pct"): "worst element: index (",
    ("01-derivatives", "gradient_descent", "missing_x0"): "n_steps + 1 = ",
    ("02-backprop", "backward_pass", "assign_instead_of_accumulate"): "' feeds 2 gate inputs",
}


@pytest.mark.parametrize(("aid", "part_id", "variant"), sorted(SPECIFIC_MESSAGES))
def test_variant_message_is_specific(aid: str, part_id: str, variant: str) -> None:
    code = variant_code(aid, part_id, variant)
    verdict = verdicts(aid, run_notebook(aid, {f"{part_id}-solution": code}, graded=False))
    assert SPECIFIC_MESSAGES[aid, part_id, variant] in verdict[part_id].message, verdict[
        part_id
    ].message


@pytest.mark.parametrize("aid", AIDS)
def test_every_part_has_enough_variants(aid: str) -> None:
    variants = load_variants(GRADING, aid)
    assert set(variants) == set(load_parts(GRADING, aid))
    assert all(len(v) >= 3 for v in variants.values()), variants.keys()


@pytest.mark.parametrize("aid", AIDS)
def test_untouched_release_runs_and_scores_zero(aid: str) -> None:
    for part_id, verdict in verdicts(aid, run_notebook(aid, graded=False, stub=True)).items():
        assert verdict.score == 0.0, part_id
        assert "NotImplementedError" in verdict.message, verdict.message


@pytest.mark.parametrize("aid", AIDS)
def test_garbage_and_nan_score_zero(aid: str) -> None:
    for part_id, part in load_parts(GRADING, aid).items():
        probes = part.draw()
        nan = [_poison(part.expected(p)) if part.expected else [np.nan] for p in probes]
        for junk in ([], [None] * len(probes), ["text"] * len(probes), nan):
            assert grade(part, probes, junk).score == 0.0, (part_id, junk[:1])


def _poison(expected: object) -> object:
    """The expected result with every number replaced by NaN (JSON's NaN, as emitted)."""
    if isinstance(expected, dict):
        return {k: _poison(v) for k, v in expected.items()}
    return json.loads(json.dumps(np.full(np.shape(expected), np.nan).tolist()))


@pytest.mark.parametrize("aid", AIDS)
def test_notebook_follows_the_nbgrader_protocol(aid: str) -> None:
    cells = _cells(aid)
    ids = [c["id"] for c in cells]
    assert len(ids) == len(set(ids)), "cell ids must be unique"
    grade_ids = [_meta(c)["grade_id"] for c in cells if _meta(c)]
    assert len(grade_ids) == len(set(grade_ids)), "grade_ids must be unique"
    graded = {}
    for cell in cells:
        assert cell["cell_type"] != "code" or (
            cell["outputs"] == [] and cell["execution_count"] is None
        )
        meta, source = _meta(cell), _source(cell)
        if not meta:
            continue
        assert meta["schema_version"] == 3
        if meta["solution"]:
            assert meta["grade"] is False and meta["locked"] is False
            assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source
            assert meta["grade_id"].endswith("-solution")
        elif meta["grade"]:
            assert meta["locked"] is True and 10 <= meta["points"] <= 20
            assert f'# graded outside your kernel: part "{meta["grade_id"]}"' in source
            assert "### BEGIN HIDDEN TESTS" in source and "### END HIDDEN TESTS" in source
            graded[meta["grade_id"]] = meta["points"]
        else:
            assert meta["locked"] is True
    parts = load_parts(GRADING, aid)
    assert graded == {k: p.points for k, p in parts.items()}
    assert 4 <= len(graded) <= 8
    assert all(f"{part_id}-solution" in grade_ids for part_id in parts)


@pytest.mark.parametrize("aid", AIDS)
def test_release_gives_nothing_away(aid: str) -> None:
    """No computing line of a solution region (one with arithmetic, longer than a trivial one)
    appears anywhere else in the notebook."""
    cells = [c for c in _cells(aid) if c["cell_type"] == "code"]
    outside = "\n".join(_stub_solutions(_source(c)) for c in cells)
    regions = re.findall(
        r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", "\n".join(map(_source, cells)), re.S
    )
    lines = {ln.strip() for r in regions for ln in r.splitlines()}
    answers = {ln for ln in lines if len(ln) >= 20 and re.search(r"[-+*/@] ", ln)}
    assert answers and not [a for a in answers if a in outside]


@pytest.mark.parametrize("aid", AIDS)
def test_probes_are_many_json_and_seeded(aid: str) -> None:
    for part_id, part in load_parts(GRADING, aid).items():
        probes = part.draw()
        assert len(probes) >= 20, part_id
        assert part.draw() == probes and part.draw(seed=part.seed + 1) != probes, part_id
        for seed in OTHER_SEEDS:
            assert part.draw(seed) == part.draw(seed) != probes, (part_id, seed)


def test_backprop_worked_examples_reproduce_the_seeds() -> None:
    ns = solution_namespace("02-backprop")
    f, dx, dy, dz, dw = ns["circuit_backward"](3.0, -4.0, 2.0, -1.0)
    assert (f, dx, dy, dz, dw) == (-30.0, -12.0, 9.0, 3.0, 0.0)
    y, dw_, dx_, db_ = ns["exp_affine_backward"](2.0, 3.0, -4.0)
    assert (round(y, 2), round(dx_, 2), round(dw_, 2), round(db_, 2)) == (7.39, 14.78, 22.17, 7.39)
    assert ns["ratio_backward"](-1.0, 2.0) == (-1.0, 2.0, 1.0)
    y, d1, d2 = ns["log_example_backward"](2.0, 5.0)
    assert (round(y, 3), d1, round(d2, 3)) == (11.652, 5.5, 1.716)
    assert ns["add_mul_backward"](-2.0, 5.0, -4.0) == (-12.0, -4.0, -4.0, 3.0)


def test_tensor_gradients_worked_examples_reproduce_the_seeds() -> None:
    """The batched product (5, 10, 20) @ (20, 30) sums B's gradient over the batch; y^T x,
    ||x||^2 as a split and a dot, and W x with e = ones give y, 2x and (e x^T, W^T e)."""
    ns = solution_namespace("04-tensor-gradients")
    tensor, rng = ns["Tensor"], np.random.default_rng(7)
    a, b, g = rng.normal(size=(5, 10, 20)), rng.normal(size=(20, 30)), rng.normal(size=(5, 10, 30))
    op = ns["BatchedMatMul"]()
    node = op(tensor(a, requires_grad=True), tensor(b, requires_grad=True))
    grad_a, grad_b = (t.data for t in op.gradient(tensor(g), node))
    assert grad_a.shape == (5, 10, 20) and grad_b.shape == (20, 30)
    assert np.allclose(grad_b, sum(a[i].T @ g[i] for i in range(5)))
    assert np.allclose(grad_a, np.stack([g[i] @ b.T for i in range(5)]))
    x, y = np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0, -1.0])
    assert [v.tolist() for v in ns["dot_backward"](x, y, 1.0)] == [y.tolist(), x.tolist()]
    assert ns["square_norm_backward"](x, 1.0).tolist() == [2.0, -4.0, 6.0]
    w = np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 1.0]])
    grad_w, grad_x = ns["matvec_backward"](w, x, np.ones(2))
    assert grad_w.tolist() == [x.tolist(), x.tolist()] and grad_x.tolist() == [0.0, 3.0, 3.0]
    p = np.exp([1.0, 2.0, 3.0]) / np.sum(np.exp([1.0, 2.0, 3.0]))
    jac = ns["softmax_jacobian"](np.array([1.0, 2.0, 3.0]))
    assert np.allclose(jac, [[p[i] * ((i == j) - p[j]) for j in range(3)] for i in range(3)])


def test_networks_worked_examples_reproduce_the_seeds() -> None:
    """The lecture's ln(1 + e^-x) table, to -2000; logits of +-1000 with (P - T)/m; the
    logistic-regression, skip-connection and adjoint examples small enough to do by hand."""
    ns = solution_namespace("05-networks")
    table = np.array([-1.0, -2.0, -5.0, -10.0, -20.0, -50.0, -100.0, -200.0, -500.0])
    lecture = [1.3133, 2.1269, 5.0067, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
    assert np.round(ns["log1p_exp_neg"](table), 4).tolist() == lecture
    assert ns["log1p_exp_neg"](np.array([-1000.0, -2000.0])).tolist() == [1000.0, 2000.0]
    loss, grad = ns["softmax_cross_entropy"](
        np.array([[1000.0, -1000.0], [-1000.0, 1000.0]]), np.array([[1.0, 0.0], [1.0, 0.0]])
    )
    assert loss == 1000.0 and grad.tolist() == [[0.0, 0.0], [-0.5, 0.5]]  # (P - T) / m
    dw, db, dx = ns["logreg_gradients"](np.array([1.0, 2.0]), 0, np.zeros((2, 2)), np.zeros(2))
    assert dw.tolist() == [[-0.5, -1.0], [0.5, 1.0]] and db.tolist() == [-0.5, 0.5]
    assert dx.tolist() == [0.0, 0.0]
    dx = ns["skip_backward"](np.array([1.0, -1.0]), np.eye(2), 2 * np.eye(2), np.ones(2))
    assert dx.tolist() == [3.0, 1.0]  # 1 through the skip, 2 through the unit that is on
    adjoints = ns["sigmoid_net_adjoints"](np.zeros((1, 2)), np.zeros((2, 2)), np.zeros((2, 2)), 1)
    assert abs(adjoints["loss"] - np.log(2)) < 1e-15 and adjoints["v7"].tolist() == [[0.5, -0.5]]


def test_beyond_backprop_worked_examples_reproduce_the_seeds() -> None:
    """ln x1 + x1 x2 - sin x2 at (2, 5): 5.5 and 1.716; (x + y) z at (-2, 5, -4): z, z, x + y;
    the Rosenbrock Hessian at (1, 1) is [[802, -400], [-400, 200]]; Newton solves a quadratic
    in one step; the mode costs tie at n = m; c/t is a Robbins-Monro schedule, 1 and 1/t^2
    are not."""
    ns = solution_namespace("06-beyond-backprop")
    log, sin = ns["log"], ns["sin"]

    def seed_function(x1, x2):
        return log(x1) + x1 * x2 - sin(x2)

    value, d1 = ns["forward_sweep"](seed_function, [2.0, 5.0], 0)
    _, d2 = ns["forward_sweep"](seed_function, [2.0, 5.0], 1)
    assert (round(value, 3), d1, round(d2, 3)) == (11.652, 5.5, 1.716)
    sweeps = [
        ns["forward_sweep"](lambda x, y, z: (x + y) * z, [-2.0, 5.0, -4.0], i) for i in (0, 1, 2)
    ]
    assert sweeps == [(-12.0, -4.0), (-12.0, -4.0), (-12.0, 3.0)]
    hessian = ns["rosenbrock_hessian"](1.0, 1.0)
    assert np.array_equal(hessian, [[802.0, -400.0], [-400.0, 200.0]])

    def rosenbrock(t):
        return (1.0 - t[0]) ** 2 + 100.0 * (t[1] - t[0] ** 2) ** 2

    for v in ([1.0, 0.0], [0.3, -2.0]):
        hv = ns["hvp"](rosenbrock, np.array([1.0, 1.0]), np.array(v))
        assert np.allclose(hv, np.array([[802.0, -400.0], [-400.0, 200.0]]) @ v, rtol=1e-13)
    a, b = np.array([[4.0, 1.0], [1.0, 3.0]]), np.array([1.0, 2.0])
    step = ns["newton_step"](np.array([5.0, -5.0]), lambda x: a @ x - b, lambda x: a)
    assert np.allclose(step, [1 / 11, 7 / 11], rtol=1e-14)  # 4x + y = 1, x + 3y = 2
    assert ns["cheaper_mode"]([5, 20, 5]) == "either" and ns["cost_ratio"]([5, 20, 5]) == 1.0
    assert ns["jacobian_cost"]([1000, 100, 10, 1], "forward") == 1000 * (100_000 + 1000 + 10)
    assert [ns["satisfies_robbins_monro"](p) for p in (1.0, 0.0, 2.0)] == [True, False, False]
