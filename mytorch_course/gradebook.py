"""Where the gradebook lives: ``gradebook.db`` (SQLite) in the course folder by default, or a
PostgreSQL database (psycopg 3) for a large course with several graders.

nbgrader reaches it through ``CourseDirectory.db_url``; every nbgrader process of a run gets
the same URL on its command line (:func:`db_args`). nbgrader creates its tables the first
time a process opens an empty database, which races when several processes start at once:
:func:`create_schema` runs once, before any grading process starts.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

COURSE_ID = "mytorch"  # CourseDirectory.course_id in nbgrader_config.py
SQLITE_NAME = "gradebook.db"


class GradebookUnavailable(RuntimeError):
    """The gradebook URL is not one we can use, or its server cannot be reached."""


def sqlite_url(folder: Path) -> str:
    """The default: ``gradebook.db`` in ``folder`` (a course folder or a work copy of it)."""
    return "sqlite:///" + str(Path(folder).resolve() / SQLITE_NAME)


def normalize_db_url(url: str) -> str:
    """``url`` with the driver SQLAlchemy must use: psycopg 3 for PostgreSQL.

    A plain ``postgresql://user@host:5432/db`` (libpq's form) gets ``+psycopg``; SQLite URLs
    stay as they are; anything else is refused with the forms we accept.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise GradebookUnavailable(
            f"not a database URL: {url!r} (use sqlite:///path/gradebook.db or "
            "postgresql://user@host:5432/dbname)"
        )
    scheme = scheme.lower()
    if scheme == "sqlite":
        return url
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return "postgresql+psycopg://" + rest
    raise GradebookUnavailable(
        f"unsupported gradebook database {scheme!r}: use sqlite:///path/gradebook.db or "
        "postgresql://user@host:5432/dbname (driver: psycopg 3)"
    )


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def is_sqlite(url: str) -> bool:
    return url.lower().startswith("sqlite:")


def label(url: str) -> str:
    """How messages name the gradebook: its file name, or 'gradebook' for a server."""
    return SQLITE_NAME if is_sqlite(url) else "gradebook"


def db_args(url: str) -> list[str]:
    """nbgrader command-line options that point a process at the gradebook ``url``.

    The command line beats ``nbgrader_config.py``'s SQLite default. A password in the URL
    would be visible in the process list: keep it in ``~/.pgpass`` or ``PGPASSWORD``.
    """
    return [f"--CourseDirectory.db_url={url}"]


def create_schema(url: str) -> None:
    """Create nbgrader's tables (and the course row) unless they exist; call once, before
    any nbgrader process of the run starts. Raises :class:`GradebookUnavailable` with the
    reason when the database cannot be reached."""
    import nbgrader.api
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    # A new database is stamped with nbgrader's newest migration; nbgrader asks the `alembic`
    # program for it (a subprocess costing seconds, and a PATH lookup): ask alembic's API.
    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    try:
        with (
            mock.patch.object(nbgrader.api, "get_alembic_version", return_value=head),
            nbgrader.api.Gradebook(url, COURSE_ID),
        ):
            pass
    except Exception as exc:  # connection refused, authentication, missing driver, ...
        reason = " ".join(str(exc).split())[:300]
        raise GradebookUnavailable(f"cannot open the gradebook {redact(url)}: {reason}") from exc
