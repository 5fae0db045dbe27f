"""Fast unit tests of the grading machinery (no nbgrader, no kernel)."""

from __future__ import annotations

import contextlib
import io
import json

import nbformat
import numpy as np
import pytest

from mytorch_course.checks import compare, likely_cause
from mytorch_course.preprocessors.inject_probes import _EMITTER, MARKER
from mytorch_course.preprocessors.verify_probes import parse_probe_output
from mytorch_course.runner import Part, Verdict, grade


def test_compare_accepts_equal_and_tolerates_rounding() -> None:
    assert compare("op", [1.0, 2.0], [1.0, 2.0 + 1e-12]) is None
    assert compare("op", 3.0, 3.0) is None


def test_compare_names_worst_element_and_labels() -> None:
    msg = compare("mul, input a", [[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 9.0]])
    assert msg is not None
    assert "mul, input a" in msg and "index (1, 1)" in msg
    assert "expected: 4" in msg and "got:      9" in msg


@pytest.mark.parametrize(
    ("expected", "got", "cause"),
    [
        ([0.5, -2.0, 3.0], [1.0, 1.0, 1.0], "all ones"),
        ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 3.0], [2.0, 4.0]], "transpose"),
        ([[1.0, 2.0], [3.0, 4.0]], [[-1.0, -2.0], [-3.0, -4.0]], "sign is flipped"),
        ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]], "sign"),
        ([1.0, 2.0, 4.0], [1.01, 2.02, 4.04], "same factor"),
        ([1.0, 2.0, 4.0], [1.0 + 3e-6, 2.0, 4.0 - 5e-6], "finite differences"),
    ],
)
def test_compare_gives_likely_cause(expected: list, got: list, cause: str) -> None:
    msg = compare("op", expected, got)
    assert msg is not None and cause in msg


def test_a_sign_flip_on_a_square_matrix_is_not_called_a_transpose() -> None:
    exp = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert "transpose" not in likely_cause(exp, -exp)
    assert "transpose" not in likely_cause(exp, exp + np.array([[0.0, 1.0], [0.0, 0.0]]))
    wide = np.arange(1.0, 7.0).reshape(2, 3)  # a 2x3 result: no exception, a real hint
    assert likely_cause(wide, 2 * wide).startswith("every entry is off by the same factor 2")


def test_compare_shape_mismatch_suggests_unbroadcast() -> None:
    msg = compare("add, input b", np.zeros(3), np.zeros((2, 3)))
    assert msg is not None and "shape" in msg and "broadcast" in msg


def test_compare_reports_student_errors_and_nan() -> None:
    assert "raised ValueError: bad" in compare("op", 1.0, {"error": "ValueError: bad"})
    assert "nan" in compare("op", [1.0, 2.0], [1.0, float("nan")]).lower()
    assert compare("op", float("nan"), float("nan")) is not None  # NaN never passes
    assert compare("op", [np.inf], [np.inf]) is not None


def _driver(probe: dict, student: dict) -> float:
    return student["f"](probe["x"])


def _part(**kw: object) -> Part:
    base = dict(
        points=10,
        probes=lambda rng: [{"x": float(x)} for x in rng.uniform(1, 2, 4)],
        driver=_driver,
        label=lambda p: f"double(x={p['x']:.3g})",
        expected=lambda p: 2 * p["x"],
        title="double",
    )
    return Part(**(base | kw))


def test_grade_all_or_nothing_partial_and_k_of_n() -> None:
    part = _part()
    probes = part.draw()
    right = [2 * p["x"] for p in probes]
    assert grade(part, probes, right).passed
    verdict = grade(part, probes, right[:3] + [0.0])
    assert verdict.score == 0.0 and "1 of 4 test cases failed" in verdict.message
    assert "double(x=" in verdict.message and "expected:" in verdict.message
    assert grade(_part(partial=True), probes, right[:3] + [0.0]).score == pytest.approx(0.75)
    assert grade(part, probes, right[:3]).score == 0.0  # a missing result is a failure
    assert grade(part, probes, [float("nan")] * 4).score == 0.0


def test_grade_reports_errors_fields_mistakes_witness_and_invariants() -> None:
    part = _part(
        expected=lambda p: {"y": 2 * p["x"]},
        witness=lambda p: {"y": 2 * p["x"] + 1e-9},
        mistakes={"you added instead of doubling": lambda p: {"y": p["x"] + 2}},
        invariants=(lambda p, got: None if got.get("calls") == 1 else "call f once",),
    )
    probes = part.draw()
    x = probes[0]["x"]
    msg = grade(part, probes[:1], [{"error": "ZeroDivisionError: boom"}]).message
    assert "your code raised ZeroDivisionError: boom" in msg
    assert "expected y" in grade(part, probes[:1], [2 * x]).message
    assert "no value for 'y'" in grade(part, probes[:1], [{"z": 1}]).message
    msg = grade(part, probes[:1], [{"y": x + 2, "calls": 1}]).message
    assert "Likely cause: you added instead of doubling" in msg and "finite differences give" in msg
    assert "call f once" in grade(part, probes[:1], [{"y": 2 * x, "calls": 3}]).message
    assert grade(part, probes[:1], [{"y": 2 * x, "calls": 1}]).passed


def test_part_probes_come_from_a_seed() -> None:
    part = _part(seed=3)
    assert part.draw() == part.draw() == part.draw(seed=3)
    assert part.draw(seed=4) != part.draw()


def test_verdict_and_part_validation() -> None:
    with pytest.raises(ValueError):
        Verdict(1.5, "too much")
    with pytest.raises(ValueError):
        _part(check=lambda p, got: None)  # expected= and check= together


def _emit(drivers: str, probes: list, namespace: dict, nonce: str = "abc") -> str:
    src = _EMITTER.format(
        grade_id="p",
        probes=json.dumps(probes),
        drivers=[drivers],  # the sources the probe cell runs, in order
        driver="run",
        budget=5.0,
        per_probe=1.0,
        marker=MARKER,
        nonce=nonce,
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(src, "<cell>", "exec"), namespace)
    return out.getvalue()


def _as_cell(text: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


def test_emitter_prints_one_line_and_catches_errors_and_timeouts() -> None:
    def student(x: float) -> float:
        print("noise that must not reach the output")
        if x < 0:
            raise ValueError("negative")
        if x > 100:
            while True:
                pass
        return np.float64(x) * 2

    # globals that shadow builtins must not break the probe cell
    ns = {"student": student, "np": np, "min": 3, "type": "relu", "dict": None, "print": None}
    driver = "def run(probe, student):\n    return student['student'](probe)\n"
    text = _emit(driver, [1.0, -1.0, 1000.0, 3.0], ns)
    assert text.count("\n") == 1 and text.startswith(MARKER + " abc ")
    results, reason = parse_probe_output(_as_cell(text), "abc", 4)
    assert reason == ""
    assert results[0] == 2.0 and results[3] == 6.0
    assert results[1] == {"error": "ValueError: negative"}
    assert "TimeoutError" in results[2]["error"]
    assert "run" not in ns  # the driver does not leak into the student's namespace


def test_parse_probe_output_rejects_missing_duplicate_forged_and_garbage() -> None:
    line = f"{MARKER} abc [1, 2]\n"
    assert parse_probe_output(_as_cell(""), "abc", 2)[0] is None
    assert parse_probe_output(_as_cell(line * 2), "abc", 2)[0] is None
    assert parse_probe_output(_as_cell(line), "xyz", 2)[0] is None
    assert parse_probe_output(_as_cell(f"{MARKER} abc [1, 2"), "abc", 2)[0] is None
    assert parse_probe_output(_as_cell(line), "abc", 3)[0] is None
    assert parse_probe_output(_as_cell("hello\n" + line), "abc", 2)[0] == [1, 2]


@pytest.mark.parametrize(("score", "points"), [(1.0, 10.0), (0.0, 0.0), (0.25, 2.5)])
def test_rewritten_outputs_give_nbgrader_the_score(score: float, points: float) -> None:
    from nbgrader.utils import determine_grade

    from mytorch_course.preprocessors import VerifyProbes

    cell = nbformat.v4.new_code_cell("x")
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "grade_id": "p",
        "points": 10,
        "schema_version": 3,
    }
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="noise")]
    part = _part()
    VerifyProbes._rewrite(cell, "p", part, Verdict(score, "message for the student"))
    assert determine_grade(cell) == (points, 10.0)
    assert "message for the student" in json.dumps(cell.outputs)
