"""Autograde throughput: seconds per submission against the floor, and 1 -> 2 workers.

The floor is executing the same notebook once (``jupyter nbconvert --execute``), measured
in this run. Each configuration grades ``--copies`` copies of an assignment's solutions
with ``grade_notebooks`` (copy of the course, gradebook, grading, feedback: what an
instructor waits for) and reports wall seconds per submission and its ratio to the floor.

    python benchmarks/grading_throughput.py                      # 02-backprop, 8 copies
    python benchmarks/grading_throughput.py --copies 4 --schedulers threads
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mytorch_course import samples  # noqa: E402
from mytorch_course.autograde import grade_notebooks  # noqa: E402
from mytorch_course.course_dir import copy_course  # noqa: E402
from mytorch_course.nbgrader_process import nbgrader, nbgrader_env  # noqa: E402
from mytorch_course.notebook import write_notebook  # noqa: E402


def floor_seconds(aid: str, tmp: Path, repeats: int) -> float:
    """Median wall time of ``jupyter nbconvert --execute`` on one solved notebook."""
    work = copy_course(REPO, tmp / "floor")
    res = nbgrader(["generate_assignment", aid, "--force"], work)
    if res.returncode != 0:
        raise SystemExit(res.stdout)
    times = []
    for name, nb in samples.solved(work, aid).items():
        path = tmp / f"{name}.ipynb"
        write_notebook(nb, path)
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "notebook"]
                + ["--output", str(tmp / "executed.ipynb"), str(path)],
                env=nbgrader_env(),
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def grade_seconds(aid: str, copies: int, scheduler: str | None, workers: int, tmp: Path) -> float:
    """Wall seconds per submission of one graded batch (every copy must score full marks)."""
    solved = samples.solved(REPO, aid)
    subs = {(f"student-{i:03d}", aid): solved for i in range(copies)}
    work = tmp / f"work-{scheduler}-{workers}"
    start = time.perf_counter()
    results = grade_notebooks(
        REPO, subs, work, workers=workers, budget=300, batch=0, scheduler=scheduler
    )
    wall = time.perf_counter() - start
    wrong = [k for k, r in results.items() if r.score != r.max_score or r.max_score == 0]
    if wrong:
        raise SystemExit(f"not full marks: {wrong} ({results[wrong[0]]})")
    return wall / copies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="02-backprop")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--schedulers", default="threads,local", help="threads, local or both")
    parser.add_argument("--floor-repeats", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mytorch-bench-") as name:
        tmp = Path(name)
        floor = floor_seconds(args.assignment, tmp, args.floor_repeats)
        print(f"{args.assignment}: {args.copies} copies of the solutions, {os.cpu_count()} cores")
        print(f"load average before the run: {load:.2f} (the ratios assume idle cores)")
        print(f"floor (nbconvert --execute, one notebook): {floor:.2f} s")
        print(f"{'scheduler':10} {'workers':>7} {'s/submission':>13} {'x floor':>8} {'1->2':>6}")
        for scheduler in args.schedulers.split(","):
            per = {}
            for workers in (1, 2):
                engine = None if scheduler == "threads" else scheduler
                per[workers] = grade_seconds(args.assignment, args.copies, engine, workers, tmp)
                speedup = f"{per[1] / per[2]:.2f}x" if workers == 2 else ""
                print(
                    f"{scheduler:10} {workers:7d} {per[workers]:13.2f} "
                    f"{per[workers] / floor:7.2f}x {speedup:>6}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
