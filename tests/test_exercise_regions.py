"""The exercise regions in the engine's source are well formed, and leaving them out
(as a student edition does) still gives a package that imports."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mytorch"
BEGIN = re.compile(r"^(\s*)# BEGIN EXERCISE (.*)$")
ASSIGNMENT_ID = re.compile(r"\b\d\d-[A-Za-z][\w.-]*")  # a region may name several
END = re.compile(r"^\s*# END EXERCISE")

# The regions assignments ask students to write: (file, assignment, text inside the region)
EXPECTED = [
    ("recording.py", "03-engine", "def add_operation"),
    ("autograd.py", "03-engine", "self.spots[slot] + grad"),
    ("autograd.py", "03-engine", "record.op.gradient(out_grad, node)"),
    ("ops/elementwise.py", "04-tensor-gradients", "unbroadcast(out_grad * b, a.shape)"),
    ("ops/elementwise.py", "02-backprop", "unbroadcast(out_grad * b, a.shape)"),  # Multiply
    ("ops/elementwise.py", "02-backprop", "-out_grad * node / b"),  # Divide
    ("ops/elementwise.py", "02-backprop", "out_grad * (1.0 - to_a)"),  # Maximum
    ("ops/elementwise.py", "02-backprop", "out_grad * node * (1.0 - node)"),  # Sigmoid
    ("check.py", "01-derivatives", "f_plus - f_minus"),  # numerical_gradient
    ("optim.py", "01-derivatives", "p.data -= self.lr * g"),  # gradient_descent
    ("ops/linalg.py", "04-tensor-gradients", "out_grad @ b.T"),
    ("ops/elementwise.py", "06-beyond-backprop", "da * b + a * db"),
    ("optim.py", "05-networks", "self.momentum * v + g"),  # SGD's momentum and decay
    ("nn/__init__.py", "05-networks", "rng.uniform(-bound, bound, (in_features, out_features))"),
    ("nn/__init__.py", "05-networks", "out = x @ self.weight"),  # Linear.forward
]


def engine_sources() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "course" not in p.relative_to(PACKAGE).parts]


def regions(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(assignments, body) of each region; raises on nesting or a missing END."""
    found, current, body = [], None, []
    for line in text.splitlines():
        if BEGIN.match(line):
            assert current is None, "nested BEGIN EXERCISE"
            current, body = tuple(ASSIGNMENT_ID.findall(BEGIN.match(line)[2])), []
            assert current, f"a BEGIN EXERCISE names no assignment: {line!r}"
        elif END.match(line):
            assert current is not None, "END EXERCISE without BEGIN"
            found.append((current, "\n".join(body)))
            current = None
        elif current is not None:
            body.append(line)
    assert current is None, "BEGIN EXERCISE without END"
    return found


def test_regions_are_balanced_and_cover_the_exercises():
    by_file = {str(p.relative_to(PACKAGE)): regions(p.read_text()) for p in engine_sources()}
    for file, assignment, text in EXPECTED:
        bodies = [b for a, b in by_file[file] if assignment in a]
        # "def add_operation" is the line above its region: look at the whole file then
        assert any(text in b for b in bodies) or (
            text.startswith("def ") and bodies and text in (PACKAGE / file).read_text()
        ), f"{file}: no {assignment} region holds {text!r}"


def test_every_op_gradient_and_tangent_is_a_region():
    ops = importlib.import_module("mytorch.ops")
    counted = {"04-tensor-gradients": 0, "06-beyond-backprop": 0}
    for path in (PACKAGE / "ops").glob("*.py"):
        for assignments, _ in regions(path.read_text()):
            for assignment in assignments:
                counted[assignment] = counted.get(assignment, 0) + 1
    marked_ops = [
        c
        for c in vars(ops).values()
        if isinstance(c, type) and issubclass(c, ops.Op) and "gradient" in vars(c)
    ]
    unmarked = {ops.Op, ops.Cast}  # the base class; a dtype change is no exercise
    # ... and unbroadcast, which every broadcasting gradient uses (assignment 4 asks for it)
    assert counted["04-tensor-gradients"] == len(set(marked_ops) - unmarked) + 1
    assert counted["06-beyond-backprop"] == len(set(marked_ops) - unmarked)
    assert counted["02-backprop"] == 4  # Multiply, Divide, Maximum, Sigmoid: assignment 2's ops


def _strip(text: str, assignment: str) -> str:
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        begin = BEGIN.match(line)
        if begin:
            inside = max(ASSIGNMENT_ID.findall(begin[2])) >= assignment
            if inside:
                out.append(f"{begin[1]}raise NotImplementedError('exercise')\n")
            continue
        if END.match(line):
            inside = False
            continue
        if not inside:
            out.append(line)
    return "".join(out)


@pytest.mark.parametrize("assignment", ["03-engine", "04-tensor-gradients", "06-beyond-backprop"])
def test_package_without_the_regions_still_imports(tmp_path, assignment):
    copy = tmp_path / "mytorch"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("course", "__pycache__"))
    for path in copy.rglob("*.py"):
        path.write_text(_strip(path.read_text(), assignment))
    code = (
        "import mytorch as mt\n"
        "x = mt.Tensor([1.0, 2.0], requires_grad=True)\n"
        "print((x * x).sum().item())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    if assignment == "03-engine":  # recording itself is the exercise: the forward fails
        assert "NotImplementedError" in result.stderr, result.stderr
    else:
        assert result.returncode == 0 and "5.0" in result.stdout, result.stderr
