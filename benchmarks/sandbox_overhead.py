"""What the kernel sandbox costs: the same grading work with and without it, in one run.

    python benchmarks/sandbox_overhead.py                   # real `mytorch-course autograde`
    python benchmarks/sandbox_overhead.py --rounds 3 --assignment 02-backprop
    python benchmarks/sandbox_overhead.py --notebooks 8     # just kernels: one small notebook

Autograde mode writes the demo's sample submissions of one assignment (solutions, release,
partly wrong, tampering) to a folder and times ``mytorch-course autograde`` on it, with the
sandbox and with ``--no-sandbox``, alternating (off, on, on, off, ...) so that load on a
shared machine hits both alike. It checks that both modes give the same grades, then prints
the median wall time of each mode and their ratio (target: at most 1.3x).

Notebook mode executes one small notebook (numpy + a mytorch forward and backward pass)
N times per mode, kernel start to shutdown, without nbgrader.

The sandbox needs root and bubblewrap; elsewhere the script says so and exits 1.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config

from mytorch_course.course_dir import find_course_root
from mytorch_course.notebook import write_notebook
from mytorch_course.samples import demo_samples
from mytorch_course.sandbox import SandboxKernelManager, sandbox_support

REPO = Path(__file__).resolve().parents[1]

CELLS = [
    "import numpy as np\nimport mytorch as mt",
    "rng = np.random.default_rng(0)\n"
    "w = mt.Tensor(rng.normal(size=(64, 32)), requires_grad=True)\n"
    "x = mt.Tensor(rng.normal(size=(16, 64)))",
    "loss = ((x @ w).relu() * (x @ w)).sum()\nloss.backward()\nprint(float(loss.numpy()))",
    "print(w.grad.shape)",
]


def run_notebook(folder: Path, edition: Path, sandboxed: bool) -> float:
    config = Config()
    config.SandboxKernelManager.use_sandbox = sandboxed
    config.SandboxKernelManager.student_edition = str(edition)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        kernel_manager_class=SandboxKernelManager,
        config=config,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if "(64, 32)" not in nb.cells[-1].outputs[0].text:
        raise RuntimeError(f"the notebook did not run: {nb.cells[-1].outputs}")
    return seconds


def run_autograde(submissions: Path, out: Path, sandboxed: bool, workers: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "mytorch_course.cli", "autograde", str(submissions)]
    cmd += ["--out", str(out), "--workers", str(workers)]
    cmd.append("--require-sandbox" if sandboxed else "--no-sandbox")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        raise RuntimeError(f"autograde failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return seconds


def totals(out: Path) -> list[tuple[str, str]]:
    with open(out / "totals.csv") as fh:
        return sorted((row["student"], row["score"]) for row in csv.DictReader(fh))


def alternate(rounds: int, once: Callable[[bool], float]) -> dict[bool, list[float]]:
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(rounds):
        for sandboxed in (False, True) if i % 2 == 0 else (True, False):
            times[sandboxed].append(once(sandboxed))
            print(
                f"  round {i + 1}, sandbox {'on ' if sandboxed else 'off'}: "
                f"{times[sandboxed][-1]:.1f}s",
                flush=True,
            )
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="01-derivatives")
    parser.add_argument("--rounds", type=int, default=2, help="autograde runs per mode")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--notebooks", type=int, default=0, help="notebook mode: runs per mode")
    args = parser.parse_args()
    ok, reason = sandbox_support()
    if not ok:
        print(f"the sandbox is unavailable here: {reason}")
        return 1
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        if args.notebooks:
            edition = Path(tmp) / "edition"
            shutil.copytree(REPO / "mytorch", edition / "mytorch")
            folder = Path(tmp) / "autograded" / "student" / "assignment"
            folder.mkdir(parents=True)
            run_notebook(folder, edition, False)  # warm the file cache for both modes
            run_notebook(folder, edition, True)
            what = f"{args.notebooks} notebooks per mode, kernel start to shutdown"
            times = alternate(args.notebooks, lambda on: run_notebook(folder, edition, on))
        else:
            submissions = Path(tmp) / "submissions"
            students, _ = demo_samples(find_course_root(REPO), args.assignment)
            for student, notebooks in students.items():
                for name, nb in notebooks.items():
                    write_notebook(nb, submissions / student / args.assignment / f"{name}.ipynb")
            outs = {False: Path(tmp) / "out-off", True: Path(tmp) / "out-on"}
            what = (
                f"`mytorch-course autograde` of {len(students)} submissions of "
                f"{args.assignment}, {args.workers} workers, {args.rounds} runs per mode"
            )
            times = alternate(
                args.rounds, lambda on: run_autograde(submissions, outs[on], on, args.workers)
            )
            if totals(outs[False]) != totals(outs[True]):
                print(f"different grades! off: {totals(outs[False])} on: {totals(outs[True])}")
                return 1
            print(f"same grades in both modes: {totals(outs[True])}")
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"{what} (median wall seconds)")
    print(f"  without sandbox: {off:.1f}s")
    print(f"  with sandbox:    {on:.1f}s")
    print(f"  ratio:           {on / off:.2f}x (target <= 1.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
