"""Running the plain ``nbgrader`` CLI as a subprocess: its environment, time limit and kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

BLOCKERS = Path(__file__).resolve().parent / "import_blockers"


def block_slow_imports() -> None:
    """Make the modules stood in for by ``import_blockers/`` fail to import in this process
    too (the coordinator opens the gradebook with nbgrader's API): seconds per run saved."""
    for stand_in in BLOCKERS.glob("*.py"):
        sys.modules.setdefault(stand_in.stem, None)  # None in sys.modules: ImportError


def nbgrader_env() -> dict[str, str]:
    """Environment for nbgrader subprocesses.

    nbgrader shells out to ``alembic`` (needs the venv's bin on PATH), and the kernel plus the
    grading process must import ``mytorch`` and ``mytorch_course`` even when they are not
    installed; ``import_blockers/`` makes slow, unused imports fail fast.
    """
    env = dict(os.environ)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    repo = str(Path(__file__).resolve().parents[1])
    paths = (str(BLOCKERS), repo, env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silence a debugpy warning
    env["PYTHONWARNINGS"] = "ignore"
    return env


def nbgrader(
    args: list[str], cwd: Path, timeout: float | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` in ``cwd`` (``env``: extra variables); on timeout kill its whole
    process group (kernel too)."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=nbgrader_env() | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a group of its own, so a timeout can kill the kernel too
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return subprocess.CompletedProcess(cmd, -9, out + "\n[timed out]", None)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, None)
