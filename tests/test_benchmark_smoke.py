"""Smoke test of benchmarks/train_step.py: it runs, checks itself, prints its table.

No timing is asserted (machines differ and CI is noisy); only that the script works
and that its MyTorch-vs-numpy correctness cross-check passes and can fail.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "train_step.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("train_step_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_quick_run_prints_table_and_passes_cross_check():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--no-torch"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "cross-check: OK" in out
    assert re.search(r"size\s+dtype\s+numpy ms\s+mytorch ms\s+torch ms\s+mytorch/np", out)
    number = r"\d+\.\d+"
    for size in ("64-32-10 b32", "784-256-256-10 b128", "784-1024-1024-10 b512"):
        for dtype in ("float64", "float32"):
            row = rf"{re.escape(size)}\s+{dtype}\s+{number}\s+{number}\s+-\s+{number}\s+-"
            assert re.search(row, out), f"no table row for {size} {dtype}:\n{out}"


@pytest.fixture(scope="module")
def bench():
    return _load_script()


def test_cross_check_agrees_on_the_real_implementations(bench):
    p = bench.make_problem((8, 6, 3), 5, np.float64)
    bench.cross_check(p, {"numpy": bench.NumpyMLP, "mytorch": bench.MyTorchMLP})


def test_cross_check_catches_a_different_update(bench):
    class WrongLR(bench.MyTorchMLP):  # same network, different learning rate
        def __init__(self, p):
            super().__init__(p, lr=bench.LR * 1.01)

    p = bench.make_problem((8, 6, 3), 5, np.float64)
    with pytest.raises(AssertionError):
        bench.cross_check(p, {"numpy": bench.NumpyMLP, "mytorch": WrongLR})


def test_cross_check_catches_a_different_forward(bench):
    class NoBiasUpdate(bench.NumpyMLP):  # a reference that forgets the bias update
        def step(self, X, y):
            saved = [b.copy() for b in self.bs]
            loss = super().step(X, y)
            for b, s in zip(self.bs, saved, strict=True):
                b[...] = s
            return loss

    p = bench.make_problem((8, 6, 3), 5, np.float32)
    with pytest.raises(AssertionError):
        bench.cross_check(p, {"numpy": bench.NumpyMLP, "mytorch": NoBiasUpdate})
