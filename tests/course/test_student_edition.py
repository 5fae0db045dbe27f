"""The student edition holds no answer to an open exercise, and still works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mytorch_course.student_edition import (
    ExerciseMarkerError,
    build_student_edition,
    course_assignments,
    strip_exercises,
)

SOURCE = """def f(x):
    # BEGIN EXERCISE 02-backprop
    return 2 * x
    # END EXERCISE


def g(x):
    # BEGIN EXERCISE 01-derivatives
    return 3 * x
    # END EXERCISE
"""


def test_open_exercises_are_replaced_and_closed_ones_kept():
    text, count = strip_exercises(SOURCE, "02-backprop")
    assert count == 1
    assert "2 * x" not in text and "3 * x" in text
    assert "exercise of assignment 02-backprop" in text
    text, count = strip_exercises(SOURCE, "01-derivatives")
    assert count == 2 and "2 * x" not in text and "3 * x" not in text
    namespace: dict = {}
    exec(compile(text, "edition", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="01-derivatives"):
        namespace["g"](1.0)


def test_unbalanced_markers_are_reported():
    with pytest.raises(ExerciseMarkerError, match="never ends"):
        strip_exercises("# BEGIN EXERCISE 01-x\nx = 1\n", "01-x")
    with pytest.raises(ExerciseMarkerError, match="without BEGIN"):
        strip_exercises("x = 1\n# END EXERCISE\n", "01-x")


def run_in(edition: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=edition,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(edition), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_assignment_1_edition_has_no_finite_differences_and_no_grader(tmp_path):
    stripped = build_student_edition(tmp_path, "01-derivatives")
    assert any("check.py" in s for s in stripped)
    package = tmp_path / "mytorch"
    assert not (package / "course").exists()  # the grader's helpers stay with the instructor
    check_source = (package / "check.py").read_text()
    assert "f_plus - f_minus" not in check_source
    assert "BEGIN EXERCISE" not in check_source
    result = run_in(
        tmp_path,
        "import mytorch as mt\n"
        "x = mt.Tensor([1.0, 2.0], requires_grad=True)\n"
        "(x * x).sum().backward(); print(x.grad.data.tolist())\n"
        "try:\n"
        "    mt.numerical_gradient(lambda v: v.sum(), [1.0])\n"
        "except NotImplementedError as e:\n"
        "    print('stripped:', e)\n"
        "from mytorch.data import load_digits; print(load_digits()[0][0].shape)\n",
    )
    assert result.returncode == 0, result.stderr
    assert "[2.0, 4.0]" in result.stdout
    assert "stripped: This is an exercise of assignment 01-derivatives" in result.stdout
    assert "(1437, 64)" in result.stdout


def test_later_edition_keeps_closed_exercises(tmp_path):
    build_student_edition(tmp_path, "02-backprop")
    assert "f_plus - f_minus" in (tmp_path / "mytorch" / "check.py").read_text()
    result = run_in(tmp_path, "import mytorch as mt; print(bool(mt.gradcheck(mt.tanh, [0.3])))")
    assert result.returncode == 0 and "True" in result.stdout, result.stderr


def test_cli_writes_an_installable_edition(tmp_path):
    from mytorch_course.cli import main

    assert main(["student-edition", "01-derivatives", str(tmp_path / "edition")]) == 0
    assert (tmp_path / "edition" / "pyproject.toml").exists()
    assert (tmp_path / "edition" / "mytorch" / "data" / "digits.npz").exists()


def test_exercises_of_assignments_not_shipped_yet_stay_in():
    text, count = strip_exercises(SOURCE, "01-derivatives", shipped={"01-derivatives"})
    assert count == 1 and "3 * x" not in text and "2 * x" in text


def test_every_marked_engine_region_can_leave_and_the_edition_still_imports(tmp_path):
    """With every future assignment shipped, the engine's exercise regions all go."""
    everything = {
        "01-derivatives",
        "02-backprop",
        "03-engine",
        "04-tensor-gradients",
        "05-networks",
        "06-beyond-backprop",
    }
    stripped = build_student_edition(tmp_path, "01-derivatives", shipped=everything)
    assert any(s.startswith("recording.py") for s in stripped), stripped
    assert any(s.startswith("autograd.py") for s in stripped), stripped
    result = run_in(
        tmp_path,
        "import mytorch as mt\n"
        "x = mt.Tensor([1.0, 2.0], requires_grad=True)\n"
        "try:\n"
        "    (x * x).sum().backward()\n"
        "except NotImplementedError as e:\n"
        "    print('stripped:', e)\n",
    )
    assert result.returncode == 0, result.stderr
    assert "stripped: This is an exercise of assignment 03-engine" in result.stdout


def test_a_grading_copy_without_solution_notebooks_still_strips_the_open_exercise(tmp_path):
    """The grader builds editions in a copy of the course whose solution notebooks are gone."""
    course = tmp_path / "course"
    (course / "solutions" / "01-derivatives").mkdir(parents=True)
    (course / "assignments" / "01-derivatives").mkdir(parents=True)
    (course / "assignments" / "01-derivatives" / "01-derivatives.ipynb").write_text("{}")
    assert course_assignments(course) == {"01-derivatives"}
    build_student_edition(tmp_path / "edition", "01-derivatives", course_assignments(course))
    check_source = (tmp_path / "edition" / "mytorch" / "check.py").read_text()
    assert "exercise of assignment 01-derivatives" in check_source
