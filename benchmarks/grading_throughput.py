"""Autograde throughput: seconds per submission against the floor, and 1 -> 2 workers.

The floor is executing the same notebook once (``jupyter nbconvert --execute``), measured
in this run. Each configuration grades n and then 2n copies of an assignment's solutions
with ``grade_notebooks`` (copy of the course, gradebook, grading, feedback: what an
instructor waits for). It reports the run of n per submission (a run's fixed costs
included) and the marginal cost of a submission, (time of 2n - time of n) / n: what each
further student of a large class costs. Both are given as ratios to the floor, and the
marginal cost's speed-up from 1 to 2 workers.

    python benchmarks/grading_throughput.py                      # 02-backprop, 8 and 16 copies
    python benchmarks/grading_throughput.py --copies 4 --schedulers threads
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    """Wall seconds of one graded batch of ``copies`` (every copy must score full marks)."""
    solved = samples.solved(REPO, aid)
    subs = {(f"student-{i:03d}", aid): solved for i in range(copies)}
    work = tmp / f"work-{scheduler}-{workers}-{copies}"
    start = time.perf_counter()
    results = grade_notebooks(
        REPO, subs, work, workers=workers, budget=300, batch=0, scheduler=scheduler
    )
    wall = time.perf_counter() - start
    wrong = [k for k, r in results.items() if r.score != r.max_score or r.max_score == 0]
    if wrong:
        raise SystemExit(f"not full marks: {wrong} ({results[wrong[0]]})")
    shutil.rmtree(work)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="02-backprop")
    parser.add_argument("--copies", type=int, default=8, help="n: runs grade n and 2n copies")
    parser.add_argument("--schedulers", default="threads,local", help="threads, local or both")
    parser.add_argument("--floor-repeats", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    n = args.copies
    import nbgrader.api  # noqa: F401  the coordinator's one-off import, not a run's cost

    with tempfile.TemporaryDirectory(prefix="mytorch-bench-") as name:
        tmp = Path(name)
        floor = floor_seconds(args.assignment, tmp, args.floor_repeats)
        print(f"{args.assignment}: runs of {n} and {2 * n} copies of the solutions")
        print(f"{os.cpu_count()} cores, load average before the run: {load:.2f}")
        print(f"floor (nbconvert --execute, one notebook): {floor:.2f} s")
        print(
            f"{'scheduler':9} {'workers':>7} {f'run of {n}':>10} {'s/sub':>6} {'x floor':>7}"
            f" {f'run of {2 * n}':>10} {'marginal':>8} {'x floor':>7} {'1->2':>6}"
        )
        for scheduler in args.schedulers.split(","):
            marginal = {}
            for workers in (1, 2):
                engine = None if scheduler == "threads" else scheduler
                small = grade_seconds(args.assignment, n, engine, workers, tmp)
                large = grade_seconds(args.assignment, 2 * n, engine, workers, tmp)
                marginal[workers] = (large - small) / n
                speedup = f"{marginal[1] / marginal[2]:.2f}x" if workers == 2 else ""
                print(
                    f"{scheduler:9} {workers:7d} {small:9.1f}s {small / n:6.2f} "
                    f"{small / n / floor:6.2f}x {large:9.1f}s {marginal[workers]:8.2f} "
                    f"{marginal[workers] / floor:6.2f}x {speedup:>6}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
