"""Autograde through a real Dask cluster: a `dask scheduler` and two `dask worker` processes
on localhost, started and stopped here. A mixed batch (correct, partly wrong, a kernel
killer, an infinite loop) must get the same grades as the local path; a regrade of the same
bytes changes nothing in the gradebook."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mytorch_course import samples
from mytorch_course.autograde import grade_notebooks
from mytorch_course.reports import SubmissionResult

pytestmark = [pytest.mark.slow]

AID = "00-toy"
SQ = "square-grad-solution"
WRONG_SQUARE = "def square_grad(x, out_grad):\n    return np.zeros_like(np.asarray(x, dtype=float))"
KILLER = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
LOOP = "while True:\n    pass"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")
    with open(log, "w") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group: the teardown stops everything it started
        )


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a running scheduler with two single-threaded workers."""
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask-logs")
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    procs = [
        _start(
            ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", port]
            + ["--dashboard-address", ":0"],
            logs / "scheduler.log",
        )
    ]
    try:
        for i in range(2):
            procs.append(
                _start(
                    ["distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1"]
                    + ["--memory-limit", "0", "--dashboard-address", ":0", "--name", f"w{i}"],
                    logs / f"worker-{i}.log",
                )
            )
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        _stop(procs)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _batch(root: Path) -> dict[tuple[str, str], dict]:
    return {
        ("correct", AID): samples.solved(root, AID),
        ("partly-wrong", AID): samples.solved(root, AID, {SQ: WRONG_SQUARE}),
        ("killer", AID): samples.solved(root, AID, {SQ: KILLER}),
        ("loop", AID): samples.solved(root, AID, {SQ: LOOP}),
    }


def _grades(results: dict[tuple[str, str], SubmissionResult]) -> dict[str, dict[str, float]]:
    return {s: {p.part: p.score for p in r.parts} for (s, _), r in results.items()}


def _gradebook(work: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        rows = {
            f"{sub.student_id}/{grade.name}": grade.score
            for sub in gb.assignment_submissions(AID)
            for nb in sub.notebooks
            for grade in nb.grades
        }
        assert len(gb.students) == len({s.student_id for s in gb.assignment_submissions(AID)})
        return rows


def _grade_everything(scheduler: str, toy_root: Path, base: Path) -> dict:
    subs = _batch(toy_root)
    local = grade_notebooks(toy_root, subs, base / "local", workers=2, budget=120, batch=0)
    dask = grade_notebooks(
        toy_root, subs, base / "dask", budget=120, scheduler=scheduler, cache=base / "cache"
    )
    rows = _gradebook(base / "dask")
    again = grade_notebooks(
        toy_root, subs, base / "dask", budget=120, scheduler=scheduler, cache=base / "cache"
    )
    return {
        "local": local,
        "dask": dask,
        "again": again,
        "rows": rows,
        "rows_again": _gradebook(base / "dask"),
        "work": base / "dask",
        "cache": base / "cache",
    }


def _the_cluster_gives_the_local_grades(graded: dict) -> None:
    dask, local = _grades(graded["dask"]), _grades(graded["local"])
    assert dask == local
    # and those grades are the right ones, not merely equal (worked out by hand)
    assert dask["correct"] == {"square-grad": 10.0, "sum-rows-grad": 15.0}
    assert dask["partly-wrong"] == {"square-grad": 0.0, "sum-rows-grad": 15.0}
    assert dask["killer"] == {"square-grad": 0.0, "sum-rows-grad": 15.0}
    assert dask["loop"] == {"square-grad": 0.0, "sum-rows-grad": 15.0}


def _failed_parts_say_why_on_the_cluster(graded: dict) -> None:
    for student in ("partly-wrong", "killer", "loop"):
        result = graded["dask"][(student, AID)]
        reason = next(p.reason for p in result.parts if p.part == "square-grad")
        assert reason, (student, result)


def _the_coordinator_wrote_the_gradebook_and_the_files(graded: dict) -> None:
    rows, work = graded["rows"], graded["work"]
    want = {f"{s}/{p.part}": p.score for (s, _), r in graded["dask"].items() for p in r.parts}
    assert rows == want and len(rows) == 4 * 2
    for student in ("correct", "partly-wrong", "killer", "loop"):
        assert (work / "autograded" / student / AID / f"{AID}.ipynb").is_file()
        html = (work / "feedback" / student / AID / f"{AID}.html").read_text()
        assert student != "correct" or "25.0 / 25.0" in html or "25 / 25" in html


def _a_regrade_of_the_same_bytes_changes_nothing(graded: dict) -> None:
    assert _grades(graded["again"]) == _grades(graded["dask"])
    assert graded["rows_again"] == graded["rows"]  # nothing lost, nothing duplicated
    assert len(list(graded["cache"].glob("*.json"))) == 4
    # from the cache, not graded again: the very same measured times come back
    assert all(r.seconds == graded["dask"][k].seconds > 0 for k, r in graded["again"].items())


def test_a_mixed_batch_on_a_real_cluster(scheduler: str, toy_root: Path, tmp_path: Path) -> None:
    """One test (one grading of the batch, however xdist spreads the tests)."""
    graded = _grade_everything(scheduler, toy_root, tmp_path)
    _the_cluster_gives_the_local_grades(graded)
    _failed_parts_say_why_on_the_cluster(graded)
    _the_coordinator_wrote_the_gradebook_and_the_files(graded)
    _a_regrade_of_the_same_bytes_changes_nothing(graded)


def grade_chunk_or_kill_the_worker(bundle, tasks, budget, sandbox_mode=""):  # type: ignore[no-untyped-def]
    """What a Dask worker runs in the next test: a chunk holding the student "poison" kills
    the worker process (as a grader bug or the machine's OOM killer would); others are
    graded as usual. Module level, so that the workers import it by name."""
    from mytorch_course import distributed

    if any(task.student == "poison" for task in tasks):
        os._exit(1)
    return distributed.grade_chunk(bundle, tasks, budget, sandbox_mode)


def test_a_local_cluster_survives_a_chunk_that_kills_its_worker(
    toy_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--scheduler local` (a LocalCluster started for the run): the chunk [correct, poison]
    kills a worker twice (the retry limit), is split into one task per student, and only
    "poison" fails; the classmate in the same chunk is graded as usual."""
    from mytorch_course import distributed

    monkeypatch.setattr(distributed, "grade_chunk", grade_chunk_or_kill_the_worker)
    subs = {
        ("correct", AID): samples.solved(toy_root, AID),
        ("poison", AID): samples.solved(toy_root, AID),
    }
    results = grade_notebooks(
        toy_root, subs, tmp_path / "work", workers=2, budget=120, batch=2, scheduler="local"
    )
    assert _grades(results)["correct"] == {"square-grad": 10.0, "sum-rows-grad": 15.0}
    poison = results[("poison", AID)]
    assert poison.score == 0
    assert any(n.startswith("not graded: its worker failed") for n in poison.notes), poison
    assert not any(n.startswith("not graded") for n in results[("correct", AID)].notes)


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=mytorch-grading", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_a_tls_cluster_grades_and_a_client_without_the_certificate_is_refused(
    toy_root: Path, tmp_path: Path
) -> None:
    """`--scheduler tls://...`, as the README tells instructors to run across machines: the
    scheduler and a worker use a certificate, the coordinator finds its own in Dask's
    configuration (DASK_DISTRIBUTED__COMM__TLS__* variables or ~/.config/dask)."""
    import dask
    from distributed import Client

    cert, key = _self_signed_certificate(tmp_path)
    tls = ["--tls-ca-file", str(cert), "--tls-cert", str(cert), "--tls-key", str(key)]
    port = _free_port()
    address = f"tls://127.0.0.1:{port}"
    procs = [
        _start(
            ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port)]
            + ["--protocol", "tls", "--dashboard-address", ":0", *tls],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        procs.append(
            _start(
                ["distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1"]
                + ["--memory-limit", "0", "--dashboard-address", ":0", *tls],
                tmp_path / "worker.log",
            )
        )
        client_tls = {
            "distributed.comm.tls.ca-file": str(cert),
            "distributed.comm.tls.client.cert": str(cert),
            "distributed.comm.tls.client.key": str(key),
        }
        with dask.config.set(client_tls):
            with Client(address, timeout="60s") as client:
                client.wait_for_workers(1, timeout=120)
            subs = {
                ("correct", AID): samples.solved(toy_root, AID),
                ("partly-wrong", AID): samples.solved(toy_root, AID, {SQ: WRONG_SQUARE}),
            }
            results = grade_notebooks(
                toy_root, subs, tmp_path / "work", budget=120, scheduler=address
            )
        assert _grades(results) == {
            "correct": {"square-grad": 10.0, "sum-rows-grad": 15.0},
            "partly-wrong": {"square-grad": 0.0, "sum-rows-grad": 15.0},
        }
        with pytest.raises(TypeError, match="TLS expects"):  # no certificate: no connection
            Client(address, timeout="5s")
    finally:
        _stop(procs)
