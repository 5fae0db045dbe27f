"""The student edition holds no answer to an open exercise, and still works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mytorch_course.student_edition import (
    ExerciseMarkerError,
    build_student_edition,
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


def test_a_region_of_several_assignments_leaves_until_the_last_of_them_is_open():
    source = (
        "def f(x):\n"
        "    # BEGIN EXERCISE 02-backprop 04-tensor-gradients\n"
        "    return x\n"
        "    # END EXERCISE\n"
    )
    for edition, named in [
        ("01-derivatives", "02-backprop"),
        ("02-backprop", "02-backprop"),
        ("03-engine", "04-tensor-gradients"),
        ("04-tensor-gradients", "04-tensor-gradients"),
    ]:
        text, count = strip_exercises(source, edition)
        assert count == 1 and "return x" not in text, edition
        assert f"exercise of assignment {named}" in text, (edition, text)
        assert ("a later one" in text) == (named != edition), text
    text, count = strip_exercises(source, "05-networks")
    assert count == 0 and "return x" in text


def test_exercises_of_assignments_not_shipped_yet_leave_too():
    """No interim rule: an edition never holds a later assignment's answer, shipped or not."""
    text, count = strip_exercises(SOURCE, "01-derivatives")
    assert count == 2 and "2 * x" not in text


def test_unbalanced_markers_are_reported():
    with pytest.raises(ExerciseMarkerError, match="never ends"):
        strip_exercises("# BEGIN EXERCISE 01-x\nx = 1\n", "01-x")
    with pytest.raises(ExerciseMarkerError, match="without BEGIN"):
        strip_exercises("x = 1\n# END EXERCISE\n", "01-x")
    with pytest.raises(ExerciseMarkerError, match="names no assignment"):
        strip_exercises("# BEGIN EXERCISE soon\nx = 1\n# END EXERCISE\n", "01-x")


def run_in(edition: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=edition,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(edition), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_assignment_1_edition_has_no_finite_differences_no_engine_and_no_grader(tmp_path):
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
        "print((mt.Tensor([1.0, 2.0]) * 3.0).data.tolist())\n"  # the forward pass works
        "for name, call in [\n"
        "    ('numerical_gradient', lambda: mt.numerical_gradient(lambda v: v.sum(), [1.0])),\n"
        "    ('recording', lambda: mt.Tensor([1.0], requires_grad=True) * 2.0),\n"
        "    ('sgd', lambda: mt.optim.SGD([mt.Tensor([1.0])], lr=0.1).step()),\n"
        "]:\n"
        "    try:\n"
        "        call()\n"
        "        print(name, 'works')\n"
        "    except NotImplementedError as e:\n"
        "        print(name, 'stripped:', e)\n"
        "from mytorch.data import load_digits; print(load_digits()[0][0].shape)\n",
    )
    assert result.returncode == 0, result.stderr
    assert "[3.0, 6.0]" in result.stdout
    message = "stripped: This is an exercise of assignment"
    assert f"numerical_gradient {message} 01-derivatives" in result.stdout
    assert f"recording {message} 03-engine" in result.stdout
    assert "sgd works" in result.stdout  # no parameter has a gradient: nothing to update
    assert "(1437, 64)" in result.stdout


def test_later_edition_keeps_closed_exercises(tmp_path):
    build_student_edition(tmp_path, "02-backprop")
    assert "f_plus - f_minus" in (tmp_path / "mytorch" / "check.py").read_text()
    result = run_in(
        tmp_path,
        "import numpy as np, mytorch as mt\n"
        "class Square(mt.ops.Op):\n"
        "    def compute(self, a):\n"
        "        return a * a\n"
        "    def gradient(self, out_grad, node):\n"
        "        return (2.0 * out_grad * node.inputs[0],)\n"
        "print(bool(mt.gradcheck_op(Square(), [0.3, -1.2])))\n"
        "p = mt.Tensor([1.0]); p.grad = mt.Tensor([2.0]); mt.optim.SGD([p], lr=0.5).step()\n"
        "print(p.data.tolist())\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "[0.0]"], result.stdout


def test_the_demo_says_which_assignment_it_waits_for_in_an_early_edition(tmp_path):
    build_student_edition(tmp_path, "02-backprop")
    result = run_in(tmp_path, "from mytorch.__main__ import main; main(['--epochs', '1'])")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert "pieces you write in the course's assignments" in result.stderr
    assert "This is an exercise of assignment 05-networks" in result.stderr  # nn.Linear


def test_cli_writes_an_installable_edition(tmp_path):
    from mytorch_course.cli import main

    edition = tmp_path / "edition"
    assert main(["student-edition", "01-derivatives", str(edition), "--source-only"]) == 0
    assert (edition / "pyproject.toml").exists()
    assert (edition / "mytorch" / "data" / "digits.npz").exists()
    # the checker's manifests: this assignment's, none of a later one
    assert sorted(p.name for p in (edition / "mytorch" / "releases").iterdir()) == [
        "01-derivatives.json"
    ]
    assert not (edition / "dist").exists()
