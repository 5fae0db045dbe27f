"""Fast unit tests of the grading machinery (no nbgrader, no kernel)."""

from __future__ import annotations

import contextlib
import io
import json

import nbformat
import numpy as np
import pytest

from mytorch_course.preprocessors.inject_probes import _EMITTER, MARKER
from mytorch_course.preprocessors.verify_probes import parse_probe_output
from mytorch_course.runner import Part, Verdict, central_difference, compare, per_probe


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
        ([1.0, 2.0, 4.0], [1.01, 2.02, 4.04], "same factor"),
        ([1.0, 2.0, 4.0], [1.0 + 3e-6, 2.0, 4.0 - 5e-6], "finite differences"),
    ],
)
def test_compare_gives_likely_cause(expected: list, got: list, cause: str) -> None:
    msg = compare("op", expected, got)
    assert msg is not None and cause in msg


def test_compare_shape_mismatch_suggests_unbroadcast() -> None:
    msg = compare("add, input b", np.zeros(3), np.zeros((2, 3)))
    assert msg is not None and "shape" in msg and "broadcast" in msg


def test_compare_reports_student_errors_and_nan() -> None:
    assert "raised ValueError: bad" in compare("op", 1.0, {"error": "ValueError: bad"})
    assert "nan" in compare("op", [1.0, 2.0], [1.0, float("nan")]).lower()


def test_central_difference_float64() -> None:
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    np.testing.assert_allclose(central_difference(lambda v: np.sum(v**3), x), 3 * x**2, rtol=1e-8)


def test_per_probe_all_or_nothing_and_partial() -> None:
    probes = [1.0, 2.0, 3.0, 4.0]
    check = per_probe(lambda p: 2 * p, "double")
    assert check(probes, [2.0, 4.0, 6.0, 8.0]).score == 1.0
    bad = check(probes, [2.0, 4.0, 6.0, 9.0])
    assert bad.score == 0.0 and "double on 4" in bad.message
    partial = per_probe(lambda p: 2 * p, "double", partial=True)(probes, [2.0, 4.0, 6.0, 9.0])
    assert partial.score == pytest.approx(0.75)
    assert check(probes, [2.0]).score == 0.0  # a missing result is a failure


def test_verdict_and_part_validation() -> None:
    with pytest.raises(ValueError):
        Verdict(1.5, "too much")
    with pytest.raises(SyntaxError):
        Part(points=10, probes=[], driver="def run(:", check=lambda p, r: Verdict.ok(0))


def _emit(driver: str, probes: list, namespace: dict, nonce: str = "abc") -> str:
    src = _EMITTER.format(
        grade_id="p",
        probes=json.dumps(probes),
        driver=driver,
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
    driver = "def run(probe):\n    return student(probe)\n"
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
    part = Part(points=10, probes=[1], driver="def run(p):\n    return p\n", check=None)
    VerifyProbes._rewrite(cell, "p", part, Verdict(score, "message for the student"))
    assert determine_grade(cell) == (points, 10.0)
    assert "message for the student" in json.dumps(cell.outputs)
