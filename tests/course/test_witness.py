"""Gradients that must be gradients, parts done by hand, and probes drawn per submission.

Fast and in-process (no nbgrader): the runner's second-order check, the forbidden-name
check of a solution cell's source, and InjectProbes' per-submission draw.
"""

from __future__ import annotations

import logging
from pathlib import Path

import nbformat
import numpy as np
import pytest

import mytorch
from mytorch_course.assignments import apply_patch, driver_sources, load_parts, load_variants
from mytorch_course.forbidden import forbidden_uses
from mytorch_course.notebook import strip_solution_markers
from mytorch_course.preprocessors.inject_probes import (
    RESOURCE_KEY,
    InjectProbes,
    submission_seed,
)
from mytorch_course.runner import Part, check_one, grade

TOY = Path(__file__).resolve().parent / "fixtures" / "toy"


# --- the second-order witness ---------------------------------------------------------------


def _second_order_part() -> Part:
    """cube_grad(x, g) = 3 x^2 g; its own derivative d/dx <v, 3 x^2 g> = 6 x g v."""
    return Part(
        points=10,
        probes=lambda rng: [
            {"x": float(x), "g": float(g), "v": float(v)}
            for x, g, v in rng.uniform(0.5, 2.0, (4, 3))
        ],
        driver=lambda probe, student: None,
        label=lambda p: f"cube_grad(x={p['x']:.3g})",
        expected=lambda p: {"gradient": 3 * p["x"] ** 2 * p["g"]},
        second_order=lambda p: {"d/dx": 6 * p["x"] * p["g"] * p["v"] * (1 + 1e-9)},
        title="cube",
    )


def test_a_gradient_whose_own_derivative_is_right_passes() -> None:
    part = _second_order_part()
    probes = part.draw()
    results = [
        {"gradient": 3 * p["x"] ** 2 * p["g"], "d/dx": 6 * p["x"] * p["g"] * p["v"]} for p in probes
    ]
    assert grade(part, probes, results).passed


def test_a_constant_gradient_fails_and_says_why() -> None:
    """Right to rounding on first order (complex step), but the engine sees a constant."""
    part = _second_order_part()
    probes = part.draw()
    results = [{"gradient": 3 * p["x"] ** 2 * p["g"], "d/dx": 0.0} for p in probes]
    verdict = grade(part, probes, results)
    assert verdict.score == 0.0
    assert "4 of 4 test cases failed" in verdict.message
    assert "your gradient is not built from Tensor operations" in verdict.message
    assert "its own derivative d/dx" in verdict.message and "finite differences" in verdict.message


def test_a_wrong_first_order_gradient_is_reported_as_wrong_not_as_unbuilt() -> None:
    part = _second_order_part()
    probes = part.draw()
    results = [{"gradient": -3 * p["x"] ** 2 * p["g"], "d/dx": 0.0} for p in probes]
    message = grade(part, probes, results).message
    assert "expected:" in message and "not built from Tensor operations" not in message


def test_a_missing_second_order_result_fails() -> None:
    part = _second_order_part()
    probes = part.draw()
    results = [{"gradient": 3 * p["x"] ** 2 * p["g"]} for p in probes]
    assert "no value for 'd/dx'" in grade(part, probes, results).message


# --- forbidden names -------------------------------------------------------------------------

ENGINE = ("mytorch", "Tensor", "backward", "grad", "gradcheck")


@pytest.mark.parametrize(
    "source",
    [
        "def f(x):\n    # no mytorch here, x.backward() is only a comment\n    return 2 * x\n",
        'def f(x):\n    """Unlike mytorch.grad, by hand."""\n    return "backward" and 2 * x\n',
        "def f(x):\n    grad = 2 * x  # a local named like a forbidden name\n    return grad\n",
        "def f(grad):\n    return [g for g in grad]\n",
        "import math\nfrom numpy import exp\n\ndef f(x):\n    return math.exp(x) + exp(x)\n",
        "def f(x):\n    return getattr(x, 'shape')\n",
        "",  # an empty cell
    ],
)
def test_honest_code_uses_nothing_forbidden(source: str) -> None:
    assert forbidden_uses(source, ENGINE) == []


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("def f(t):\n    t.backward()\n    return t.grad\n", "backward"),
        ("import mytorch\n", "mytorch"),
        ("import mytorch.autograd as ag\n", "mytorch"),
        ("from mytorch import grad as g\n", "mytorch"),
        ("from mytorch.autograd import backward\n", "mytorch"),
        ("def f(x):\n    return mytorch.numerical_gradient(lambda v: v, x)\n", "mytorch"),
        ("def f(x):\n    return Tensor(x)\n", "Tensor"),
        ("def f(x):\n    return grad(x, [x])\n", "grad"),
        ("def f(t):\n    getattr(t, 'backward')()\n", "backward"),
        ("def f(t):\n    getattr(t, name)()\n", "getattr"),
        ("m = __import__('mytorch')\n", "__import__"),
        ("import importlib\nm = importlib.import_module('numpy')\n", "importlib"),
        ("def f(x):\n    return eval('x')\n", "eval"),
        ("def f(x):\n    return globals()['mytorch']\n", "globals"),
        ("import sys\nm = sys.modules['mytorch']\n", "sys"),
        ("%time x = 1\n", "get_ipython"),  # IPython syntax is read as IPython runs it
        ("!echo hi\n", "get_ipython"),
    ],
)
def test_uses_of_forbidden_names_are_found(source: str, what: str) -> None:
    uses = forbidden_uses(source, ENGINE)
    assert uses and any(f"`{what}`" in u for u in uses), uses


def test_a_part_with_forbidden_names_fails_with_the_reason() -> None:
    part = Part(
        points=10,
        probes=lambda rng: [{"x": 1.0}],
        driver=lambda probe, student: None,
        label=lambda p: "f",
        expected=lambda p: 2.0,
        forbidden=ENGINE,
        title="by hand",
    )
    probes = part.draw()
    assert grade(part, probes, [2.0], source="def f(x):\n    return 2 * x\n").passed
    verdict = grade(part, probes, [2.0], source="def f(t):\n    t.backward()\n")
    assert verdict.score == 0.0
    assert "by hand" in verdict.message and "`backward`" in verdict.message
    assert "line 2" in verdict.message


# --- probes drawn per submission -------------------------------------------------------------


def test_submission_seeds_depend_on_student_assignment_part_and_secret() -> None:
    seed = submission_seed("s3cret", "alice", "00-toy", "square_grad")
    assert seed == submission_seed("s3cret", "alice", "00-toy", "square_grad")  # regrades
    others = {
        submission_seed("s3cret", "bob", "00-toy", "square_grad"),
        submission_seed("s3cret", "alice", "01-other", "square_grad"),
        submission_seed("s3cret", "alice", "00-toy", "other_part"),
        submission_seed("another", "alice", "00-toy", "square_grad"),
        submission_seed("s3cret", "alic", "e00-toy", "square_grad"),  # fields are separated
    }
    assert seed not in others and len(others) == 5


def _toy_notebook() -> nbformat.NotebookNode:
    return nbformat.read(TOY / "solutions" / "00-toy" / "00-toy.ipynb", as_version=4)


def _inject(student: str, **config: str) -> dict:
    pre = InjectProbes(grading_dir=str(TOY / "grading"), **config)
    resources = {"nbgrader": {"student": student, "assignment": "00-toy", "notebook": "00-toy"}}
    _, resources = pre.preprocess(_toy_notebook(), resources)
    return resources[RESOURCE_KEY]


def _probes(state: dict) -> dict:
    return {k: v["probes"] for k, v in state["cells"].items()}


def test_inject_probes_draws_per_submission_and_keeps_the_resources_contract() -> None:
    alice = _inject("alice", course_secret="s3cret")
    assert alice["assignment"] == "00-toy" and alice["cells"]
    for cell in alice["cells"].values():
        assert set(cell) >= {"source", "probes", "seed"}
    solutions = {k: v["solution_source"] for k, v in alice["cells"].items()}
    assert solutions["square-grad"].startswith("def square_grad(")
    assert solutions["sum-rows-grad"].startswith("def sum_rows_grad(")
    assert _probes(alice) == _probes(_inject("alice", course_secret="s3cret"))
    bob = _inject("bob", course_secret="s3cret")
    assert all(_probes(alice)[k] != _probes(bob)[k] for k in _probes(alice))
    assert _probes(alice) != _probes(_inject("alice", course_secret="other"))


def test_the_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    from_file = _inject("alice", course_secret_file=str(secret))
    assert _probes(from_file) == _probes(_inject("alice", course_secret="s3cret"))


def test_a_missing_secret_warns_and_falls_back_deterministically(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("MYTORCH_COURSE_SECRET", raising=False)
    monkeypatch.delenv("MYTORCH_COURSE_SECRET_FILE", raising=False)
    with caplog.at_level(logging.WARNING):
        first = _inject("alice")
    assert "course secret" in caplog.text.lower()
    assert _probes(first) == _probes(_inject("alice"))
    assert _probes(first) != _probes(_inject("bob"))


def test_an_unreadable_secret_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret"):
        _inject("alice", course_secret_file=str(tmp_path / "missing"))


def test_the_secret_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYTORCH_COURSE_SECRET", "from-env")
    state = _inject("alice")
    assert _probes(state) == _probes(_inject("alice", course_secret="from-env"))


def test_probes_of_any_seed_are_plain_json() -> None:
    for seed in (0, 1, 2**63 - 1):
        probes = Part(
            points=1,
            probes=lambda rng: [{"x": float(rng.uniform())}],
            driver=lambda p, s: None,
            label=str,
            expected=lambda p: 0,
        ).draw(seed)
        assert isinstance(probes[0]["x"], float) and np.isfinite(probes[0]["x"])


# --- the second-order driver of assignment 2 needs no engine ---------------------------------

ROOT = Path(__file__).resolve().parents[2]
OP_PARTS = ("multiply_divide_ops", "maximum_op", "sigmoid_op")


def _no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an assignment's student edition may lack: every library op's gradient, the
    recording of operations and the reverse walk."""
    import mytorch
    from mytorch import autograd, recording

    def missing(*args: object, **kwargs: object) -> None:
        raise NotImplementedError("not in this edition")

    for name in dir(mytorch.ops):
        cls = getattr(mytorch.ops, name)
        if isinstance(cls, type) and issubclass(cls, mytorch.ops.Op):
            monkeypatch.setattr(cls, "gradient", missing)
    monkeypatch.setattr(autograd, "reverse_walk", missing)
    # the edition keeps add_operation's checks (constants, no_grad) and loses the recording
    monkeypatch.setattr(recording.tape, "append", missing)


def _op_namespace(patches: dict[str, dict[str, str]]) -> dict:
    """The notebook's set-up cell and op solution cells (``patches``: part -> variant)."""
    nb = nbformat.read(ROOT / "solutions" / "02-backprop" / "02-backprop.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    namespace: dict = {"__name__": "__main__"}
    exec(cells["setup"], namespace)
    for part_id in OP_PARTS:
        source = strip_solution_markers(cells[f"{part_id}-solution"])
        exec(apply_patch(source, patches.get(part_id, {})), namespace)
    return namespace


@pytest.mark.parametrize(
    ("part_id", "variant"),
    [(None, None)]
    + [
        (p, v)
        for p in OP_PARTS
        for v in ("complex_step", "numpy_then_wrapped", "unit_step_differences")
        if v
        in __import__("mytorch_course.assignments").assignments.load_variants(
            ROOT / "grading", "02-backprop"
        )[p]
    ],
)
def test_the_gradients_own_derivative_needs_no_engine(
    monkeypatch: pytest.MonkeyPatch, part_id: str | None, variant: str | None
) -> None:
    parts = load_parts(ROOT / "grading", "02-backprop")
    variants = load_variants(ROOT / "grading", "02-backprop")
    namespace = _op_namespace({part_id: variants[part_id][variant]} if part_id else {})
    drivers: dict = {"__name__": "grader_drivers"}
    for source in driver_sources(parts["sigmoid_op"]):
        exec(source, drivers)
    _no_engine(monkeypatch)
    x = mytorch.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(NotImplementedError):
        mytorch.ops.Mul()(x, x)  # recording is gone, and with it every backward()
    for other in OP_PARTS:
        part, flagged = parts[other], 0
        probes = part.draw(7)
        for probe in probes:
            got = drivers["gradient_derivative"](
                namespace[probe["cls"]], probe["inputs"], probe["g"], probe["direction"]
            )
            got = {k: np.asarray(v) for k, v in got.items()} | {
                k: np.asarray(v) for k, v in part.expected(probe).items()
            }
            message = check_one(part, probe, got)
            flagged += message is not None
            assert message is None or "not built from Tensor operations" in message
        if other == part_id:
            assert flagged >= len(probes) // 3, (variant, flagged)  # unit steps: Multiply only
        else:
            assert flagged == 0, (other, flagged)
