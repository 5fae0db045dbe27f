"""The gradebook on a real PostgreSQL server (Debian's ``postgresql``), started by the test in
a temporary folder as an unprivileged user, on a free port: a batch graded through real Dask
workers (a `dask scheduler` and two `dask worker` processes, test_dask_cluster.py's fixture)
keeps every row exactly once, a regrade on the default path (here, from a thread pool)
changes no row, the integrity check puts a tampered definition back, and the LMS exports
read it."""

from __future__ import annotations

import contextlib
import csv
import datetime
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_dask_cluster import scheduler  # noqa: F401  (a fixture: the cluster for this module)

from mytorch_course import gradebook, integrity, samples
from mytorch_course.autograde import grade_notebooks
from mytorch_course.cli import main as cli_main
from mytorch_course.reports import graded_cells

pytestmark = [pytest.mark.slow]

AID = "00-toy"
PG_USER = "mytorch-pgtest"  # the server never runs as root (initdb refuses to)
WRONG_SQUARE = "def square_grad(x, out_grad):\n    return np.zeros_like(np.asarray(x, dtype=float))"
DIES = "def square_grad(x, out_grad):\n    import os\n    os._exit(1)"


def server_program(name: str) -> str | None:
    """``initdb``/``pg_ctl`` on PATH, else Debian's versioned folder (not on PATH there)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return versions[-1] if versions else None


def _unprivileged() -> list[str]:
    """The command prefix that runs the server as an unprivileged user (none unless root)."""
    if os.geteuid() != 0:
        return []
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"]
            + ["--shell", "/usr/sbin/nologin", PG_USER],
            check=False,  # a parallel run may have created it: look again
        )
        entry = pwd.getpwnam(PG_USER)
    return [
        "setpriv",
        f"--reuid={entry.pw_uid}",
        f"--regid={entry.pw_gid}",
        "--clear-groups",
    ]


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server with a database ``mytorch``; yields its URL."""
    initdb, pg_ctl = server_program("initdb"), server_program("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server programs not found (Debian: apt-get install postgresql)")
    run_as = _unprivileged()
    folder = Path(tempfile.mkdtemp(prefix="mytorch-pg-"))
    if run_as:
        entry = pwd.getpwnam(PG_USER)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data, port = folder / "data", _free_port()
    env = {"PATH": os.environ["PATH"], "LC_ALL": "C", "LANG": "C"}

    def server(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*run_as, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120
        )

    init = server(
        initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"
    )
    assert init.returncode == 0, init.stdout + init.stderr
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = server(pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w", "start")
    try:
        assert start.returncode == 0, start.stdout + start.stderr + _read(folder / "log")
        import psycopg

        server_url = f"postgresql://postgres@127.0.0.1:{port}"
        with psycopg.connect(server_url + "/postgres", autocommit=True) as db:
            db.execute("CREATE DATABASE mytorch")
        yield gradebook.normalize_db_url(server_url + "/mytorch")
    finally:
        server(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def sql_sqlite(path: Path, query: str) -> list[tuple]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchall()


def sql(url: str, query: str) -> list[tuple]:
    """Rows of ``query``, read with psycopg directly (not through nbgrader)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as db:
        cursor = db.execute(query)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []


# student -> its notebooks; expected part scores written out by hand from the toy course
# (square-grad 10 points, sum-rows-grad 15).
def _batch(root: Path) -> tuple[dict, dict[str, dict[str, float]]]:
    solved = samples.solved(root, AID)
    batch = {f"full-{i}": solved for i in range(3)}
    expected = {f"full-{i}": {"square-grad": 10.0, "sum-rows-grad": 15.0} for i in range(3)}
    batch["empty"] = samples.release_notebooks(root, AID)
    expected["empty"] = {"square-grad": 0.0, "sum-rows-grad": 0.0}
    batch["wrong"] = samples.solved(root, AID, {"square-grad-solution": WRONG_SQUARE})
    expected["wrong"] = {"square-grad": 0.0, "sum-rows-grad": 15.0}
    batch["killer"] = samples.solved(root, AID, {"square-grad-solution": DIES})
    expected["killer"] = {"square-grad": 0.0, "sum-rows-grad": 15.0}
    return batch, expected


TABLES = {
    "student": "SELECT id, first_name, last_name, email FROM student ORDER BY id",
    "submitted_assignment": (
        "SELECT s.id, a.name, s.student_id, s.timestamp FROM submitted_assignment s "
        "JOIN assignment a ON a.id = s.assignment_id ORDER BY s.student_id"
    ),
    "submitted_notebook": (
        "SELECT id, assignment_id, notebook_id FROM submitted_notebook ORDER BY id"
    ),
    "grade": (
        "SELECT g.id, sa.student_id, c.name, g.auto_score, g.manual_score, g.extra_credit "
        "FROM grade g JOIN base_cell c ON c.id = g.cell_id "
        "JOIN submitted_notebook sn ON sn.id = g.notebook_id "
        "JOIN submitted_assignment sa ON sa.id = sn.assignment_id ORDER BY g.id"
    ),
    "definition": (
        "SELECT c.name, g.max_score FROM grade_cells g JOIN base_cell c ON c.id = g.id "
        "ORDER BY c.name"
    ),
    "course": "SELECT id FROM course ORDER BY id",
}


def everything(url: str) -> dict[str, list[tuple]]:
    return {name: sql(url, query) for name, query in TABLES.items()}


@pytest.fixture(scope="module")
def graded(
    postgres: str,
    scheduler: str,  # noqa: F811
    toy_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
):
    batch, expected = _batch(toy_root)
    work = tmp_path_factory.mktemp("pg-work")
    subs = {(s, AID): nbs for s, nbs in batch.items()}
    results = grade_notebooks(
        toy_root, subs, work, workers=2, batch=3, db_url=postgres, scheduler=scheduler
    )
    return work, subs, expected, results, everything(postgres)


def test_every_row_once_with_the_verdicts_scores(postgres: str, graded) -> None:
    work, subs, expected, results, rows = graded
    students = sorted(expected)
    cells = graded_cells(work, AID)  # from the release notebooks: (notebook, grade_id, points)
    assert {r.student: {p.part: p.score for p in r.parts} for r in results.values()} == expected
    assert [r[0] for r in rows["student"]] == students
    assert sorted(r[2] for r in rows["submitted_assignment"]) == students  # one each
    assert {r[1] for r in rows["submitted_assignment"]} == {AID}
    # the time in each submission's timestamp.txt (place_submission writes this one)
    assert {r[3] for r in rows["submitted_assignment"]} == {datetime.datetime(2000, 1, 1)}
    assert len(rows["submitted_notebook"]) == len(students) * len({c[0] for c in cells})
    grades = {(student, part): score for _, student, part, score, *_ in rows["grade"]}
    assert len(rows["grade"]) == len(grades) == len(students) * len(cells)  # no duplicates
    assert grades == {
        (s, part): score for s, parts in expected.items() for part, score in parts.items()
    }
    assert all(manual is None and extra is None for *_, manual, extra in rows["grade"])
    assert rows["definition"] == [("square-grad", 10.0), ("sum-rows-grad", 15.0)]
    # the work folder's SQLite gradebook (the workers' copy of the definitions) got no grades
    local = sql_sqlite(work / "gradebook.db", "SELECT count(*) FROM submitted_assignment")
    assert local == [(0,)]


def test_a_regrade_changes_no_row(postgres: str, toy_root: Path, graded, tmp_path: Path) -> None:
    _, subs, expected, _, before = graded  # graded on Dask; regraded on the default path
    again = grade_notebooks(toy_root, subs, tmp_path / "again", workers=2, batch=3, db_url=postgres)
    assert {r.student: {p.part: p.score for p in r.parts} for r in again.values()} == expected
    after = everything(postgres)
    assert after == before, {t: (before[t], after[t]) for t in after if after[t] != before[t]}


def test_a_tampered_definition_is_put_back(postgres: str, graded) -> None:
    definition = integrity.GradebookDefinition(postgres)
    assert definition.restore() == []
    square = "(SELECT id FROM base_cell WHERE name = 'square-grad')"
    sql(postgres, f"UPDATE grade_cells SET max_score = 1000 WHERE id = {square}")
    sql(postgres, "DELETE FROM source_cell WHERE name = (SELECT min(name) FROM source_cell)")
    sql(postgres, "INSERT INTO course (id) VALUES ('planted')")
    sql(postgres, "UPDATE student SET email = 'left@alone.org' WHERE id = 'empty'")
    assert sorted(definition.restore()) == [
        "gradebook: course",
        "gradebook: grade_cells",
        "gradebook: source_cell",
    ]
    assert ("planted",) not in sql(postgres, "SELECT id FROM course")
    assert everything(postgres)["definition"] == [("square-grad", 10.0), ("sum-rows-grad", 15.0)]
    assert definition.restore() == []
    assert sql(postgres, "SELECT email FROM student WHERE id = 'empty'") == [("left@alone.org",)]


def test_canvas_export_from_postgres(postgres: str, graded, tmp_path: Path) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(postgres, gradebook.COURSE_ID) as gb:
        gb.update_or_create_student("wrong", first_name='Eve "E"', last_name="O'Brien, Jr.")
    out = tmp_path / "canvas.csv"
    assert cli_main(["export", "--format", "canvas", "--db", postgres, "--to", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", AID]
    assert rows[1] == ["Points Possible", "", "", "", "", "25"]
    body = {r[3]: r for r in rows[2:]}
    assert len(rows) == 2 + len(body) == 2 + 6
    assert body["wrong"] == ['O\'Brien, Jr., Eve "E"', "", "", "wrong", "", "15"]
    assert body["empty"][5] == "0" and body["full-0"][5] == "25" and body["killer"][5] == "15"
