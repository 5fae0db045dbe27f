"""Run every grading kernel in a sandbox: its own unprivileged user, bubblewrap, rlimits.

:class:`SandboxKernelManager` is a jupyter_client kernel manager (so nbclient and nbgrader's
``Execute`` can use it) that, when the grader has the rights (root, with ``bwrap``,
``prlimit``, ``setpriv`` and ``useradd`` installed), starts the kernel like this::

    bwrap (namespaces, file-system view) -> prlimit (limits) -> setpriv (user) -> ipykernel

* **User.** One system user per worker slot, ``mytorch-grader-<N>`` (no home, no login
  shell), created on first use with ``useradd --system``. A slot is a lock file in
  ``state_dir``, held while the kernel lives, so two kernels never share a user and the
  per-user process limit means something. ``setpriv`` switches to that user after the
  sandbox is built (all capabilities gone, no new privileges), so the kernel is not root,
  not even inside a user namespace.
* **File system.** A fresh root holding only ``/usr`` and the interpreter (read-only: the
  base prefix and the venv, each at its own path), the student edition's ``mytorch``
  package at ``/sandbox/lib/mytorch`` (read-only), a private writable copy of the
  notebook's folder at ``/submission`` (the kernel's working directory), a small ``/tmp``
  and the folder holding the connection file and sockets. No course folder, no
  repository, no other submission, no gradebook. The grader never reads the copy back:
  the executed notebook comes back over Jupyter's protocol, and the copy is deleted.
* **Network.** None: the kernel has its own network namespace, and the grader talks to it
  over Jupyter's ``ipc`` transport (Unix sockets in the bound runtime folder). Once the
  kernel has created its sockets, that folder is handed back to root (read-only to the
  kernel), so student code cannot swap a socket for a link the grader would follow.
* **Environment.** Cleared; ``PATH``, ``HOME=/tmp``, ``PYTHONPATH=/sandbox/lib`` and one
  thread for OpenBLAS/OpenMP/MKL.
* **Limits** (``prlimit``): CPU seconds, address space (numpy reserves a few GB of virtual
  memory at import), processes (per user, threads included), file size, open files.
* **Cleanup.** The kernel is the first process of its own PID namespace under bubblewrap's
  ``--die-with-parent``: when the kernel exits or is killed, every process it started
  (double-forked, ``setsid``, anything) is killed with it.

Without the rights (a laptop), kernels run as usual and a warning says the sandbox is off;
``require_sandbox`` (``mytorch-course autograde --require-sandbox``) refuses instead. Either
way the kernel imports the student edition's ``mytorch`` (first on its ``PYTHONPATH`` when
not sandboxed), so a submission is graded against the library its student had.

Wiring: nbgrader's ``RobustExecute`` uses this kernel manager, so both ``mytorch-course
autograde`` and the plain ``nbgrader autograde`` sandbox their kernels. Options are traitlets
(``--SandboxKernelManager.require_sandbox=True``); the environment variable
``MYTORCH_SANDBOX`` (``require`` or ``off``) sets the defaults of ``require_sandbox`` and
``use_sandbox``, which is how ``mytorch-course`` passes its flags to nbgrader processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, Type, Unicode, default

from .integrity import GRADING_ENV_KEYS
from .kernel_client import GradingKernelClient

TOOLS = ("bwrap", "prlimit", "setpriv", "useradd")
INSTALL_HINT = "on Debian/Ubuntu: apt-get install bubblewrap (util-linux and passwd are standard)"
LIB_DIR = "/sandbox/lib"  # the student edition's mytorch is bound at LIB_DIR/mytorch
WORK_DIR = "/submission"  # the kernel's working directory: a copy of the notebook's folder
MiB = 2**20

ENV_MODE = "MYTORCH_SANDBOX"  # "require", "off", or unset (sandbox when possible)

_warned_off = False


class SandboxUnavailable(RuntimeError):
    """The sandbox is required (``require_sandbox``) but cannot be used here."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel (rlimits; they also bound what it can start)."""

    cpu_seconds: int = 300
    address_space: int = 4096 * MiB  # ipykernel + numpy + matplotlib: ~0.9 GB (1 BLAS thread)
    processes: int = 64  # per user, threads included (an idle kernel has ~11)
    file_size: int = 256 * MiB
    open_files: int = 512
    tmp_size: int = 256 * MiB  # /tmp is in memory: bounded separately

    def prlimit_args(self) -> list[str]:
        return [
            f"--cpu={self.cpu_seconds}",
            f"--as={self.address_space}",
            f"--nproc={self.processes}",
            f"--fsize={self.file_size}",
            f"--nofile={self.open_files}",
            "--core=0",
        ]


# --------------------------------------------------------------------------- can we?


def _detect_support() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"the sandbox needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return False, "the grader is not running as root (needed to run kernels as other users)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return False, f"{', '.join(missing)} not found ({INSTALL_HINT})"
    probe = [shutil.which("bwrap") or "bwrap", *_NAMESPACES, "--ro-bind", "/", "/", "true"]
    try:
        res = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap does not run here: {exc}"
    if res.returncode != 0:
        why = res.stderr.strip()[:300]
        return False, f"bubblewrap cannot create namespaces here (a container?): {why}"
    return True, "bubblewrap sandbox available"


@functools.cache
def sandbox_support() -> tuple[bool, str]:
    """(available, reason): whether kernels can be sandboxed in this process."""
    return _detect_support()


def check_sandbox(require: bool, log: Any = None) -> bool:
    """True when kernels will be sandboxed; else warn once, or raise when ``require``."""
    global _warned_off
    ok, reason = sandbox_support()
    if ok:
        return True
    if require:
        raise SandboxUnavailable(
            f"refusing to grade: the sandbox is required (--require-sandbox) but unavailable: "
            f"{reason}. Grade as root on a Linux machine with bubblewrap installed "
            f"({INSTALL_HINT}), or drop --require-sandbox to grade without it."
        )
    if not _warned_off:
        _warned_off = True
        message = (
            f"SANDBOX OFF: student code runs with your rights and sees your files ({reason}). "
            "Grade as root with bubblewrap installed to sandbox every kernel, or pass "
            "--require-sandbox to refuse grading without it."
        )
        if log is not None:
            log.warning(message)
        print(f"warning: {message}", file=sys.stderr)
    return False


def select_mode(*, require: bool, off: bool) -> bool:
    """Set the sandbox mode of this process and its nbgrader children (``MYTORCH_SANDBOX``).

    Returns whether kernels will be sandboxed; warns when they will not, and raises
    :class:`SandboxUnavailable` when ``require`` cannot be met.
    """
    if require and off:
        raise SandboxUnavailable("--require-sandbox and --no-sandbox contradict each other")
    if off:
        os.environ[ENV_MODE] = "off"
    elif require:
        os.environ[ENV_MODE] = "require"
    mode = os.environ.get(ENV_MODE, "")
    if mode == "off":
        print(
            f"warning: SANDBOX OFF ({ENV_MODE}=off or --no-sandbox): student code runs with "
            "your rights.",
            file=sys.stderr,
        )
        return False
    return check_sandbox(mode == "require")


# --------------------------------------------------------------------------- student editions

_editions: dict[str, Path] = {}
_editions_dir: tempfile.TemporaryDirectory[str] | None = None


def built_edition(assignment: str) -> Path:
    """A student edition for ``assignment``, built once per process in a temporary folder."""
    global _editions_dir
    if assignment not in _editions:
        from .student_edition import build_student_edition

        if _editions_dir is None:
            _editions_dir = tempfile.TemporaryDirectory(prefix="mytorch-editions-")
        folder = Path(_editions_dir.name) / assignment
        build_student_edition(folder, assignment)
        for path in [folder, *folder.rglob("*")]:  # readable by the sandbox users
            path.chmod(0o755 if path.is_dir() else 0o644)
        Path(_editions_dir.name).chmod(0o755)
        _editions[assignment] = folder
    return _editions[assignment]


# --------------------------------------------------------------------------- users and slots


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_user(name: str, state_dir: Path) -> tuple[int, int]:
    """(uid, gid) of system user ``name``, created (no home, no login) if it does not exist."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        with _locked(state_dir / "users.lock"):  # useradd fails when run concurrently
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"]
                    + ["--shell", "/usr/sbin/nologin", "--user-group", name],
                    check=True,
                    capture_output=True,
                )
                entry = pwd.getpwnam(name)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise SandboxUnavailable(f"user {name} has uid or gid 0; it cannot run student code")
    return entry.pw_uid, entry.pw_gid


class Slot:
    """One worker slot, held through an exclusive lock on ``state_dir/slot-<N>.lock``."""

    def __init__(self, state_dir: Path, count: int, timeout: float = 600.0) -> None:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        while True:
            for index in range(count):
                fh = open(state_dir / f"slot-{index}.lock", "a")
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    fh.close()
                    continue
                self.index, self._fh = index, fh
                return
            if time.monotonic() > deadline:
                raise SandboxUnavailable(f"all {count} sandbox slots stayed busy for {timeout}s")
            time.sleep(0.1)

    def release(self) -> None:
        self._fh.close()  # closing drops the lock


# --------------------------------------------------------------------------- the sandbox

# Everything but the user namespace: the kernel gets a real unprivileged uid (setpriv), not
# a mapped one that is still root outside.
_NAMESPACES = [
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-uts",
    "--unshare-cgroup-try",
]


def student_package(edition: Path) -> Path:
    """The ``mytorch`` package folder inside a student edition (or the folder itself)."""
    for candidate in (edition / "mytorch", edition):
        if candidate.name == "mytorch" and (candidate / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(
        f"no mytorch package in the student edition {edition} (expected {edition}/mytorch/"
        "__init__.py; build one with `mytorch-course student-edition ASSIGNMENT OUT`)"
    )


def _interpreter_paths() -> list[str]:
    """Folders the interpreter needs (venv and base prefix), outermost first, deduplicated."""
    paths = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    paths |= {os.path.realpath(p) for p in list(paths)}
    paths.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    kept: list[str] = []
    for path in sorted(paths, key=len):
        if not any(path == k or path.startswith(k + "/") for k in ["/usr", *kept]):
            kept.append(path)
    return kept


class _Binds:
    """bwrap arguments: mount points get their parent folders created world-readable.

    (bwrap creates missing parents with mode 0700, which the unprivileged kernel could not
    cross, e.g. /root for a pyenv interpreter.)
    """

    def __init__(self) -> None:
        self.args: list[str] = []
        self._dirs: set[str] = {"/", "/tmp"}

    def _parents(self, dest: str) -> None:
        parts = Path(dest).parts
        for i in range(2, len(parts)):
            folder = str(Path(*parts[:i]))
            if folder not in self._dirs:
                self._dirs.add(folder)
                self.args += ["--perms", "0755", "--dir", folder]

    def add(self, option: str, src: str, dest: str) -> None:
        self._parents(dest)
        self.args += [option, src, dest]
        self._dirs.add(dest)


def bwrap_arguments(
    *, runtime_dir: Path, work_dir: Path, package: Path, limits: Limits
) -> list[str]:
    """bwrap's options (before ``--``) for one kernel."""
    binds = _Binds()
    binds.args += [*_NAMESPACES, "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    # Mounts apply in order: /tmp first, so that a venv, course or edition under /tmp, bound
    # below, is not hidden by the empty /tmp.
    binds.args += ["--proc", "/proc", "--dev", "/dev"]
    binds.args += ["--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/tmp"]
    binds.add("--ro-bind", "/usr", "/usr")
    if Path("/etc/fonts").is_dir():  # matplotlib's font lookup; public configuration
        binds.add("--ro-bind", "/etc/fonts", "/etc/fonts")
    for name in ("bin", "sbin", "lib", "lib32", "lib64"):  # merged-/usr links, or real folders
        path = Path("/") / name
        if path.is_symlink():
            binds.args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            binds.add("--ro-bind", str(path), str(path))
    for path in _interpreter_paths():
        binds.add("--ro-bind", path, path)
    binds.add("--bind", str(runtime_dir), str(runtime_dir))  # ipc paths are the same inside
    binds.add("--bind", str(work_dir), WORK_DIR)
    binds.add("--ro-bind", str(package), f"{LIB_DIR}/mytorch")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONPATH": LIB_DIR,
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
        # Its parent is the namespace's init; 1 also stops ipykernel's console banner.
        "JPY_PARENT_PID": "1",
    }
    binds.args.append("--clearenv")
    for key, value in env.items():
        binds.args += ["--setenv", key, value]
    binds.args += ["--chdir", WORK_DIR]
    return binds.args


class Sandbox:
    """The host side of one sandboxed kernel: slot, user, folders; ``wrap`` builds the command.

    Host layout (root-only ``base``): ``base/rt`` holds the connection file and sockets,
    ``base/work`` the kernel's copy of its notebook folder. ``close`` removes both.
    """

    def __init__(
        self,
        *,
        notebook_dir: Path | None,
        package: Path,
        limits: Limits,
        state_dir: Path,
        slots: int,
        user_prefix: str,
    ) -> None:
        self.limits, self.package = limits, package
        self.slot = Slot(state_dir, slots)
        try:
            self.user = f"{user_prefix}{self.slot.index}"
            self.uid, self.gid = ensure_user(self.user, state_dir)
            self.base = Path(os.path.realpath(tempfile.mkdtemp(prefix="mytorch-sb-")))
            self.runtime_dir = self.base / "rt"
            self.work_dir = self.base / "work"
            self.runtime_dir.mkdir(mode=0o700)
            if notebook_dir is not None and notebook_dir.is_dir():
                shutil.copytree(notebook_dir, self.work_dir, symlinks=True)
            else:
                self.work_dir.mkdir()
            for path in [self.runtime_dir, self.work_dir, *self.work_dir.rglob("*")]:
                os.lchown(path, self.uid, self.gid)
            self.work_dir.chmod(0o700)
        except BaseException:
            self.close()
            raise

    @property
    def connection_file(self) -> str:
        return str(self.runtime_dir / "kernel.json")

    @property
    def ipc_prefix(self) -> str:
        return str(self.runtime_dir / "k")

    def wrap(self, kernel_cmd: list[str]) -> list[str]:
        args = bwrap_arguments(
            runtime_dir=self.runtime_dir,
            work_dir=self.work_dir,
            package=self.package,
            limits=self.limits,
        )
        user = [f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
        drop = ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        return [
            shutil.which("bwrap") or "bwrap",
            *args,
            "--",
            shutil.which("prlimit") or "prlimit",
            *self.limits.prlimit_args(),
            "--",
            shutil.which("setpriv") or "setpriv",
            *user,
            *drop,
            "--",
            *kernel_cmd,
        ]

    def lock_runtime(self) -> None:
        """Make the socket folder root's: the kernel can use its sockets but not replace them."""
        os.chown(self.runtime_dir, 0, 0)
        self.runtime_dir.chmod(0o755)

    def close(self) -> None:
        base = getattr(self, "base", None)
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)  # does not follow the kernel's symlinks
        self.slot.release()


# --------------------------------------------------------------------------- kernel manager


class SandboxKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels run sandboxed when the grader has the rights."""

    # nbclient's client comes from client_factory (client_class only feeds its default)
    client_factory = Type(GradingKernelClient, klass=AsyncKernelClient).tag(config=True)

    use_sandbox = Bool(
        help="Sandbox kernels when possible (False: the grader's rights; benchmarks)"
    ).tag(config=True)
    require_sandbox = Bool(help="Refuse to start a kernel when the sandbox is unavailable").tag(
        config=True
    )
    student_edition = Unicode(
        "",
        help="Folder holding the student edition's mytorch package; '{assignment}' is replaced "
        "by the name of the notebook's folder (nbgrader: autograded/<student>/<assignment>). "
        "Empty: build the edition of that assignment (mytorch_course.student_edition).",
    ).tag(config=True)
    state_dir = Unicode("/run/mytorch-sandbox", help="Root-only folder for slot locks").tag(
        config=True
    )
    slots = Integer(64, help="Worker slots, i.e. sandbox users mytorch-grader-0..N-1").tag(
        config=True
    )
    user_prefix = Unicode("mytorch-grader-", help="Sandbox users are <prefix><slot>").tag(
        config=True
    )
    cpu_seconds = Integer(Limits.cpu_seconds, help="CPU seconds per kernel").tag(config=True)
    address_space_mb = Integer(Limits.address_space // MiB, help="Virtual memory, MiB").tag(
        config=True
    )
    max_processes = Integer(Limits.processes, help="Processes and threads of the user").tag(
        config=True
    )
    file_size_mb = Integer(Limits.file_size // MiB, help="Largest file it may write, MiB").tag(
        config=True
    )
    open_files = Integer(Limits.open_files, help="Open file descriptors").tag(config=True)
    tmp_size_mb = Integer(Limits.tmp_size // MiB, help="Size of its in-memory /tmp, MiB").tag(
        config=True
    )

    _sandbox: Sandbox | None = None

    @default("use_sandbox")
    def _use_sandbox_default(self) -> bool:
        return os.environ.get(ENV_MODE, "") != "off"

    @default("require_sandbox")
    def _require_sandbox_default(self) -> bool:
        return os.environ.get(ENV_MODE, "") == "require"

    def _limits(self) -> Limits:
        return Limits(
            cpu_seconds=self.cpu_seconds,
            address_space=self.address_space_mb * MiB,
            processes=self.max_processes,
            file_size=self.file_size_mb * MiB,
            open_files=self.open_files,
            tmp_size=self.tmp_size_mb * MiB,
        )

    def _package(self, notebook_dir: Path | None) -> Path:
        assignment = notebook_dir.name if notebook_dir else ""
        if not self.student_edition:
            return student_package(built_edition(assignment))
        return student_package(Path(self.student_edition.format(assignment=assignment)))

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        self._close_sandbox()
        notebook_dir = Path(kw["cwd"]) if kw.get("cwd") else None
        if not self.use_sandbox:
            if self.require_sandbox:
                raise SandboxUnavailable("refusing to grade: require_sandbox set, use_sandbox off")
            return await self._start_with_edition(notebook_dir, **kw)
        if not check_sandbox(self.require_sandbox, self.log):
            return await self._start_with_edition(notebook_dir, **kw)
        box = Sandbox(
            notebook_dir=notebook_dir,
            package=self._package(notebook_dir),
            limits=self._limits(),
            state_dir=Path(self.state_dir),
            slots=self.slots,
            user_prefix=self.user_prefix,
        )
        self._sandbox = box
        try:
            self.transport = "ipc"
            self.cache_ports = False
            self.ip = box.ipc_prefix
            self.connection_file = box.connection_file
            if self.kernel_spec is not None:
                # A signal would reach bubblewrap, not the kernel: interrupt by message.
                self.kernel_spec.interrupt_mode = "message"
            cmd, kw = await super()._async_pre_start_kernel(**kw)
            os.chown(self.connection_file, box.uid, box.gid)
        except BaseException:
            self._close_sandbox()
            raise
        kw["cwd"] = str(box.base)
        self.log.info("sandbox: kernel runs as %s (%s)", box.user, box.base)
        return box.wrap(cmd), kw

    async def _start_with_edition(
        self, notebook_dir: Path | None, **kw: Any
    ) -> tuple[list[str], dict[str, Any]]:
        """No sandbox: the kernel still imports the student edition's mytorch, first on its path."""
        edition = str(self._package(notebook_dir).parent)
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        # Best effort without the sandbox: at least do not hand the kernel where verdicts go.
        env = {k: v for k, v in (kw.get("env") or os.environ).items() if k not in GRADING_ENV_KEYS}
        env["PYTHONPATH"] = os.pathsep.join([edition, *filter(None, [env.get("PYTHONPATH")])])
        kw["env"] = env
        self.log.info("no sandbox: the kernel imports mytorch from %s", edition)
        return cmd, kw

    def _socket_paths(self) -> list[Path]:
        ports = [self.shell_port, self.iopub_port, self.stdin_port, self.control_port]
        return [Path(f"{self.ip}-{port}") for port in [*ports, self.hb_port]]

    async def _async_post_start_kernel(self, **kw: Any) -> None:
        await super()._async_post_start_kernel(**kw)
        box = self._sandbox
        if box is None:
            return
        # No student code runs before the kernel is ready, which needs these sockets.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.has_kernel:
            if all(p.exists() for p in self._socket_paths()):
                break
            if self.provisioner is not None and await self.provisioner.poll() is not None:
                break
            await asyncio.sleep(0.01)
        box.lock_runtime()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        self._close_sandbox()

    # AsyncKernelManager binds its public names to the base class's functions: rebind them,
    # or nbclient's cleanup of a dead kernel would skip ours.
    pre_start_kernel = _async_pre_start_kernel
    post_start_kernel = _async_post_start_kernel
    cleanup_resources = _async_cleanup_resources

    def _close_sandbox(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
