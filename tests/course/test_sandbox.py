"""The kernel sandbox, with real kernels: what student code can no longer see or do.

The sandbox needs root and bubblewrap (as in CI); elsewhere those tests skip and only the
"sandbox off" path runs.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbgrader.api import Gradebook
from traitlets.config import Config

from mytorch_course import cli, samples, sandbox
from mytorch_course.collect import place_submission
from mytorch_course.course_dir import copy_course
from mytorch_course.nbgrader_process import nbgrader
from mytorch_course.sandbox import SandboxKernelManager, SandboxUnavailable

REPO = Path(__file__).resolve().parents[2]


SUPPORTED, WHY = sandbox.sandbox_support()
needs_sandbox = pytest.mark.skipif(not SUPPORTED, reason=f"sandbox unavailable: {WHY}")

GiB = 2**30


@pytest.fixture
def course(tmp_path: Path) -> dict[str, Path]:
    """A grading layout: two students' folders, a gradebook and a student edition."""
    paths = {
        "alice": tmp_path / "autograded" / "alice" / "02-backprop",
        "bob": tmp_path / "autograded" / "bob" / "02-backprop",
        "gradebook": tmp_path / "gradebook.db",
        "edition": tmp_path / "editions" / "02-backprop",
    }
    paths["alice"].mkdir(parents=True)
    paths["bob"].mkdir(parents=True)
    (paths["alice"] / "data.txt").write_text("alice's own data")
    (paths["bob"] / "02-backprop.ipynb").write_text("bob's secret answers")
    paths["gradebook"].write_text("grades")
    shutil.copytree(
        REPO / "mytorch", paths["edition"] / "mytorch", ignore=shutil.ignore_patterns("course")
    )
    return paths


def make_client(
    cells: list[str], folder: Path, edition: Path, **options: Any
) -> tuple[NotebookClient, nbformat.NotebookNode]:
    config = Config()
    config.SandboxKernelManager.student_edition = str(edition.parent / "{assignment}")
    for key, value in options.items():
        setattr(config.SandboxKernelManager, key, value)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        kernel_manager_class=SandboxKernelManager,
        config=config,
        allow_errors=True,
    )
    return client, nb


def outputs(cell: nbformat.NotebookNode) -> str:
    """A cell's stdout and errors as text (``Name: message`` for an error)."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}\n")
    return "".join(parts)


def run(cells: list[str], folder: Path, edition: Path, **options: Any) -> list[str]:
    client, nb = make_client(cells, folder, edition, **options)
    client.execute()
    return [outputs(cell) for cell in nb.cells]


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry.name))
    return found


# A cell that tries something and prints what happened, never raising.
ATTEMPT = """\
def attempt(what, action):
    try:
        result = action()
    except BaseException as exc:
        print(what, "BLOCKED", type(exc).__name__)
    else:
        print(what, "ALLOWED", repr(result)[:60])
"""


@needs_sandbox
def test_sandboxed_kernel_runs_numpy_and_mytorch_as_its_own_user(course: dict[str, Path]) -> None:
    cells = [
        "import os, numpy as np, mytorch\n"
        "x = mytorch.Tensor(np.array([1.0, 2.0, 3.0]))\n"
        "print('SUM', float((x * x).sum().numpy()))\n"
        "print('UID', os.getuid(), os.geteuid(), os.getgid())\n"
        "print('MYTORCH', mytorch.__file__)\n"
        "print('DATA', open('data.txt').read())\n"
        "print('THREADS', os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])",
    ]
    (out,) = run(cells, course["alice"], course["edition"])
    assert "SUM 14.0" in out, out
    uid = int(out.split("UID ")[1].split()[0])
    assert uid != 0 and f"UID {uid} {uid} " in out
    assert pwd.getpwuid(uid).pw_name.startswith("mytorch-grader-")
    # the student edition, not the repository's (or the venv's editable) mytorch
    assert "MYTORCH /sandbox/lib/mytorch/__init__.py" in out
    assert "DATA alice's own data" in out  # its own folder's files are there
    assert "THREADS 1 1" in out


@needs_sandbox
def test_sandbox_hides_other_files_and_allows_writes_only_in_its_folder(
    course: dict[str, Path],
) -> None:
    repo_file = REPO / "pyproject.toml"
    edition_file = course["edition"] / "mytorch" / "__init__.py"
    escape = course["bob"] / "planted.txt"
    reads = {
        "repo": repo_file,
        "sibling": course["bob"] / "02-backprop.ipynb",
        "gradebook": course["gradebook"],
        "passwd": Path("/etc/passwd"),
    }
    writes = {
        "w-sibling": escape,
        "w-repo": REPO / "planted.txt",
        "w-edition": edition_file,
        "w-venv": Path(sys.prefix) / "planted.txt",
        "w-usr": Path("/usr/planted.txt"),
    }
    cells = [ATTEMPT]
    cells += [f"attempt({k!r}, lambda: open({str(p)!r}).read())" for k, p in reads.items()]
    cells += [
        f"attempt({k!r}, lambda: open({str(p)!r}, 'a').write('x'))" for k, p in writes.items()
    ]
    cells.append("attempt('w-own', lambda: open('mine.txt', 'w').write('ok'))")
    # Its socket folder: a socket swapped for a link would be followed by the (root) grader.
    cells.append(
        "import json, os\nfrom ipykernel import get_connection_file\n"
        "info = json.load(open(get_connection_file()))\n"
        "socket_path = f\"{info['ip']}-{info['shell_port']}\"\n"
        "attempt('rt-unlink', lambda: os.unlink(socket_path))\n"
        "attempt('rt-create', lambda: os.symlink('/etc/shadow', socket_path + '.x'))\n"
        "attempt('rt-chmod', lambda: os.chmod(os.path.dirname(socket_path), 0o777))"
    )
    edition_before = edition_file.read_text()
    out = "".join(run(cells, course["alice"], course["edition"]))
    for name in [*reads, *writes, "rt-unlink", "rt-create", "rt-chmod"]:
        assert f"{name} BLOCKED" in out, out
    assert "w-own ALLOWED" in out, out  # its folder is writable...
    assert not escape.exists() and not (REPO / "planted.txt").exists()
    assert edition_file.read_text() == edition_before
    assert not (course["alice"] / "mine.txt").exists()  # ...but a private copy


@needs_sandbox
def test_sandbox_has_no_network(course: dict[str, Path]) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        cells = [
            ATTEMPT,
            "import socket\n"
            f"attempt('tcp', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=3))",
        ]
        out = "".join(run(cells, course["alice"], course["edition"]))
        assert "tcp BLOCKED ConnectionRefusedError" in out, out
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing came through


@needs_sandbox
def test_nothing_a_kernel_started_outlives_it(course: dict[str, Path]) -> None:
    marker = f"{1000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"  # sleep seconds
    cells = [
        "import os, subprocess, time\n"
        f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        "if os.fork() == 0:  # double fork: the grandchild is adopted, in its own session\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execvp('sleep', ['sleep', '{marker}'])\n"
        "    os._exit(0)\n"
        "time.sleep(1)\n"
        "print('STARTED')",
    ]
    client, nb = make_client(cells, course["alice"], course["edition"])
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        assert "STARTED" in outputs(nb.cells[0])
        assert len(processes_with(f"sleep {marker}")) == 2  # both running while it lives
    deadline = time.monotonic() + 10
    while processes_with(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(f"sleep {marker}") == []


@needs_sandbox
def test_limits_stop_memory_hog_fork_bomb_and_huge_file(course: dict[str, Path]) -> None:
    cells = [
        ATTEMPT,
        f"attempt('memory', lambda: bytearray({8 * GiB}))",
        "import numpy as np\nattempt('numpy-memory', lambda: np.ones((1 << 31,)))",
        "import os, time\n"
        "children = []\n"
        "def bomb():\n"
        "    while len(children) < 10000:\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            time.sleep(1000)\n"
        "            os._exit(0)\n"
        "        children.append(pid)\n"
        "attempt('fork-bomb', bomb)\n"
        "print('FORKED', len(children))",
        "def write_2gb():\n"
        "    chunk = b'x' * (64 << 20)\n"
        "    with open('big.bin', 'wb') as fh:\n"
        "        for _ in range(32):\n"
        "            fh.write(chunk)\n"
        "            fh.flush()\n"
        "attempt('file', write_2gb)\n"
        "print('SIZE', os.path.getsize('big.bin'))",
        "print('STILL', sum(range(10)))",
    ]
    out = "".join(run(cells, course["alice"], course["edition"], max_processes=40))
    assert "memory BLOCKED MemoryError" in out, out
    assert "numpy-memory BLOCKED" in out, out  # numpy raises its own MemoryError subclass
    assert "fork-bomb BLOCKED BlockingIOError" in out, out
    forked = int(out.split("FORKED ")[1].split()[0])
    assert forked < 40  # the kernel's own threads count too
    assert "file BLOCKED OSError" in out, out
    assert int(out.split("SIZE ")[1].split()[0]) <= 256 * 2**20
    assert "STILL 45" in out  # the kernel survived all of it
    # The leftover children died with the kernel, so the next kernel (same users) starts.
    (after,) = run(["print('NEXT', 6 * 7)"], course["alice"], course["edition"])
    assert "NEXT 42" in after


@needs_sandbox
def test_a_cell_timeout_interrupts_the_sandboxed_kernel(course: dict[str, Path]) -> None:
    # nbgrader interrupts a cell that runs too long; a signal would hit bubblewrap instead.
    client, nb = make_client(
        ["x = 1\nwhile True:\n    pass", "print('AFTER', x + 1)"],
        course["alice"],
        course["edition"],
    )
    client.timeout, client.interrupt_on_timeout = 3, True
    client.execute()
    assert "KeyboardInterrupt" in outputs(nb.cells[0])
    assert "AFTER 2" in outputs(nb.cells[1])  # same kernel, state kept


class RecordingKernelManager(SandboxKernelManager):
    """Remembers the host folder of each sandbox it started."""

    folders: list[Path] = []

    async def _async_post_start_kernel(self, **kw: Any) -> None:
        await super()._async_post_start_kernel(**kw)
        assert self._sandbox is not None
        RecordingKernelManager.folders.append(self._sandbox.base)


@needs_sandbox
def test_cpu_limit_kills_the_kernel_and_its_sandbox_is_removed(course: dict[str, Path]) -> None:
    client, _ = make_client(
        ["while True:\n    pass"], course["alice"], course["edition"], cpu_seconds=2
    )
    client.kernel_manager_class = RecordingKernelManager
    RecordingKernelManager.folders.clear()
    start = time.monotonic()
    with pytest.raises(DeadKernelError):
        client.execute()
    assert time.monotonic() - start < 30  # killed by the CPU limit, not the 60 s cell timeout
    (folder,) = RecordingKernelManager.folders
    assert not folder.exists()  # its copy and sockets are gone, its slot is free again


@needs_sandbox
@pytest.mark.slow
def test_plain_nbgrader_autograde_runs_kernels_in_the_sandbox(
    toy_root: Path, tmp_path: Path
) -> None:
    aid = "00-toy"
    work = copy_course(toy_root, tmp_path / "course")
    assert nbgrader(["generate_assignment", aid, "--force"], work).returncode == 0
    spy = nbformat.v4.new_code_cell(
        ATTEMPT + "import os\nprint('UID', os.getuid())\n"
        f"attempt('gradebook', lambda: open({str(work / 'gradebook.db')!r}, 'rb').read())\n"
        f"attempt('config', lambda: open({str(work / 'nbgrader_config.py')!r}).read())\n"
        f"attempt('solutions', lambda: os.listdir({str(work / 'solutions')!r}))\n"
        f"attempt('bob', lambda: os.listdir({str(work / 'submitted' / 'bob')!r}))"
    )
    for student in ("alice", "bob"):
        notebooks = samples.solved(work, aid)
        notebooks[aid].cells.append(spy)
        place_submission(work, student, aid, notebooks)
    res = nbgrader(["autograde", aid], work)
    assert res.returncode == 0, res.stdout
    assert "sandbox: kernel runs as mytorch-grader-" in res.stdout
    graded = nbformat.read(work / "autograded" / "alice" / aid / f"{aid}.ipynb", as_version=4)
    out = outputs(graded.cells[-1])
    assert "UID 0" not in out and "UID " in out, out
    for name in ("gradebook", "config", "solutions", "bob"):
        assert f"{name} BLOCKED" in out, out
    # ...and the sandboxed kernel still earns the solutions' full marks
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        assert gb.find_submission(aid, "alice").score == gb.find_assignment(aid).max_score


def test_cli_require_sandbox_refuses_before_grading(
    tmp_path: Path, no_rights: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exports"
    code = cli.main(["autograde", str(tmp_path), "--out", str(out), "--require-sandbox"])
    assert code == 2
    err = capsys.readouterr().err
    assert "refusing to grade" in err and "forced off by a test" in err
    assert not out.exists()


# --------------------------------------------------------------------------- sandbox off


@pytest.fixture
def no_rights(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the grader lacks the rights (as on a laptop)."""
    monkeypatch.setattr(sandbox, "sandbox_support", lambda: (False, "forced off by a test"))
    monkeypatch.setattr(sandbox, "_warned_off", False)
    monkeypatch.setenv(sandbox.ENV_MODE, "")  # restored afterwards (the CLI sets it)


def test_without_rights_grading_runs_with_a_clear_warning(
    course: dict[str, Path], no_rights: None, caplog: pytest.LogCaptureFixture, capfd: Any
) -> None:
    with caplog.at_level(logging.WARNING):
        (out,) = run(
            ["import os\nprint('UID', os.getuid(), os.getcwd())"],
            course["alice"],
            course["edition"],
        )
    assert f"UID {os.getuid()} {course['alice']}" in out  # an ordinary kernel
    err = capfd.readouterr().err
    assert "SANDBOX OFF" in err and "forced off by a test" in err
    assert "--require-sandbox" in err


def test_require_sandbox_refuses_without_rights(course: dict[str, Path], no_rights: None) -> None:
    client, _ = make_client(
        ["print('ran')"], course["alice"], course["edition"], require_sandbox=True
    )
    with pytest.raises(SandboxUnavailable, match="refusing to grade.*forced off by a test"):
        client.execute()


def test_support_detection_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    ok, reason = sandbox._detect_support()
    assert not ok and "not running as root" in reason


def test_student_edition_must_hold_mytorch(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no mytorch package"):
        sandbox.student_package(tmp_path)
    (tmp_path / "mytorch").mkdir()
    (tmp_path / "mytorch" / "__init__.py").write_text("")
    assert sandbox.student_package(tmp_path) == tmp_path / "mytorch"
    assert sandbox.student_package(tmp_path / "mytorch") == tmp_path / "mytorch"


def test_tmp_is_mounted_before_anything_bound_under_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A venv, course or edition under /tmp must stay visible: bwrap mounts in order."""
    monkeypatch.setattr(sandbox, "_interpreter_paths", lambda: ["/tmp/clone/.venv"])
    args = sandbox.bwrap_arguments(
        runtime_dir=Path("/tmp/x/rt"),
        work_dir=Path("/tmp/x/work"),
        package=Path("/tmp/edition/mytorch"),
        limits=sandbox.Limits(),
    )
    tmpfs = args.index("--tmpfs")
    destinations = {"--bind": 2, "--ro-bind": 2, "--dir": 1}  # offset of the mount point
    under_tmp = [
        i
        for i, option in enumerate(args)
        if option in destinations and args[i + destinations[option]].startswith("/tmp/")
    ]
    assert under_tmp and all(i > tmpfs for i in under_tmp), args
