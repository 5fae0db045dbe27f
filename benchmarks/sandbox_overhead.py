"""What the kernel sandbox costs: one small notebook executed N times with and without it.

    python benchmarks/sandbox_overhead.py [--runs 8]

Each run starts a kernel, executes the notebook (numpy + mytorch: a forward and a backward
pass) and shuts the kernel down, as grading one submission does. The two modes alternate
(off, on, on, off, ...) so that load on a shared machine hits both alike. Prints the median
seconds per notebook of each mode and their ratio (target: at most 1.3). The sandbox needs
root and bubblewrap; elsewhere the script says so and exits 1.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # mytorch_course lives at the repository root

from mytorch_course.sandbox import SandboxKernelManager, sandbox_support  # noqa: E402

CELLS = [
    "import numpy as np\nimport mytorch as mt",
    "rng = np.random.default_rng(0)\n"
    "w = mt.Tensor(rng.normal(size=(64, 32)), requires_grad=True)\n"
    "x = mt.Tensor(rng.normal(size=(16, 64)))",
    "loss = ((x @ w).relu() * (x @ w)).sum()\nloss.backward()\nprint(float(loss.numpy()))",
    "print(w.grad.shape)",
]


def run_once(folder: Path, edition: Path, sandboxed: bool) -> float:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="notebooks per mode")
    args = parser.parse_args()
    ok, reason = sandbox_support()
    if not ok:
        print(f"the sandbox is unavailable here: {reason}")
        return 1
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        edition = Path(tmp) / "edition"
        shutil.copytree(
            REPO / "mytorch", edition / "mytorch", ignore=shutil.ignore_patterns("course")
        )
        folder = Path(tmp) / "autograded" / "student" / "assignment"
        folder.mkdir(parents=True)
        run_once(folder, edition, False)  # warm the file cache for both modes
        run_once(folder, edition, True)
        times: dict[bool, list[float]] = {False: [], True: []}
        for i in range(args.runs):
            for sandboxed in (False, True) if i % 2 == 0 else (True, False):
                times[sandboxed].append(run_once(folder, edition, sandboxed))
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"{args.runs} notebooks per mode (median seconds per notebook, start to shutdown)")
    print(f"  without sandbox: {off:.2f}s")
    print(f"  with sandbox:    {on:.2f}s")
    print(f"  ratio:           {on / off:.2f}x (target <= 1.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
