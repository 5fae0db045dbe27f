"""``mytorch-course``: the instructor's command (release, autograde, validate, demo)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from . import gradebook, samples, sandbox
from .autograde import autograde, prepare_course
from .collect import (
    Collected,
    CollectError,
    add_collection_notes,
    collect_submissions,
    place_submission,
)
from .course_dir import (
    COURSE_FOLDERS,
    assignment_ids,
    copy_course,
    find_course_root,
    release_notebooks,
)
from .distributed import summary
from .integrity import Snapshot
from .nbgrader_process import nbgrader
from .release import release
from .reports import SubmissionResult, format_table, write_reports

THREADS = "threads"  # --scheduler: grade in this process's course copy (no Dask)
DEFAULT_SCHEDULER = THREADS


def cmd_release(args: argparse.Namespace) -> int:
    root = find_course_root(args.root)
    dest = Path(args.dest) if args.dest else None
    try:
        changes = release(root, dest, args.assignment or None)
    except ValueError as err:  # the points disagree: nothing was written
        print(f"release refused: {err}", file=sys.stderr)
        return 1
    for change in changes:
        if change.what != "unchanged":
            print(f"{change.what:9} {change.path}")
    same = sum(c.what == "unchanged" for c in changes)
    print(f"{len(changes) - same} file(s) changed, {same} unchanged")
    return 0


def _grade_and_report(
    work: Path,
    jobs: list[tuple[str, str]],
    args: argparse.Namespace,
    out: Path | None,
    prepare: bool = True,
    collected: Collected | None = None,
) -> list[SubmissionResult]:
    start = time.monotonic()
    results = autograde(
        work,
        jobs,
        workers=args.workers,
        budget=args.budget,
        prepare=prepare,
        batch=args.batch,
        scheduler=None if args.scheduler == THREADS else args.scheduler,
        cache=Path(args.cache).resolve() if args.cache else None,
        db_url=args.db and gradebook.normalize_db_url(args.db),
    )
    if collected is not None:  # conflicts and refused files, recorded per student
        results = add_collection_notes(work, results, collected)
    wall = time.monotonic() - start
    print()
    print(format_table(results))
    if out is not None:
        write_reports(work, results, out)
        print(
            f"grades: {out / 'grades.csv'}  totals: {out / 'totals.csv'}  "
            f"feedback: {out / 'feedback'}"
        )
    per = sum(r.seconds for r in results) / max(1, len(results))
    print(
        f"{len(results)} submissions in {wall:.1f}s with {args.workers} workers "
        f"({args.scheduler}), batch {args.batch or 'auto'} "
        f"({per:.1f}s per submission, {wall / max(1, len(results)):.1f}s wall per submission)"
    )
    print(summary(results, wall))
    return results


def cmd_autograde(args: argparse.Namespace) -> int:
    root = find_course_root(args.root)
    out = Path(args.out).resolve()
    with tempfile.TemporaryDirectory(prefix="mytorch-grade-") as tmp:
        work = Path(args.work).resolve() if args.work else Path(tmp)
        copy_course(root, work)
        try:
            collected = collect_submissions(Path(args.submissions).resolve(), root, work)
        except CollectError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if not collected.jobs and not collected.notes:
            print("no submissions found", file=sys.stderr)
            return 1
        course = Snapshot(root, folders=COURSE_FOLDERS)  # the instructor's own files
        _grade_and_report(work, collected.jobs, args, out, collected=collected)
        if changed := course.changes():
            print(
                f"warning: files of your course folder {root} changed while grading (by you, "
                "or by student code without the sandbox): " + ", ".join(changed[:20]),
                file=sys.stderr,
            )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    root = find_course_root(args.root)
    path = Path(args.notebook).resolve()
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        print(f"{path} is not a readable notebook: {exc}")
        return 1
    # Friendly structural checks first: missing graded cells would cost points.
    problems = []
    for aid in assignment_ids(root):
        for name, rel in release_notebooks(root, aid).items():
            if name not in path.stem:
                continue
            have = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
            for cell in rel.cells:
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                if gid and gid not in have:
                    problems.append(f"cell {gid!r} is missing or its metadata was changed")
    for p in problems:
        print(f"warning: {p}")
    res = nbgrader(["validate", str(path)], root, timeout=args.timeout)
    text = "\n".join(
        ln for ln in res.stdout.splitlines() if not ln.startswith(("[ValidateApp", "[NbGrader"))
    )
    print(text.strip() or "(no output)")
    return 0 if res.returncode == 0 and "VALIDATION FAILED" not in res.stdout else 1


def cmd_demo(args: argparse.Namespace) -> int:
    root = find_course_root(args.root)
    aids = args.assignment or assignment_ids(root)
    if not aids:
        print("no assignments in solutions/ yet", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="mytorch-demo-") as tmp:
        work = copy_course(root, Path(tmp))
        db_url = args.db and gradebook.normalize_db_url(args.db)
        if db_url:
            gradebook.create_schema(db_url)
        prepare_course(work, aids, db_url)  # the release the samples start from, the gradebook
        jobs = []
        wrong = {}
        for aid in aids:
            students, wrong[aid] = samples.demo_samples(work, aid)
            for student, notebooks in students.items():
                place_submission(work, student, aid, notebooks)
                jobs.append((student, aid))
        print(f"Demo: grading {len(jobs)} sample submissions in a temporary copy of the course")
        for student, what in samples.DEMO_STUDENTS.items():
            print(f"  {student:13s} {what}")
        for aid, label in wrong.items():
            print(f"  (partly-wrong, {aid}: part {label})")
        out = Path(args.out).resolve() if args.out else None
        _grade_and_report(work, jobs, args, out, prepare=False)
        if args.keep:
            keep = Path(args.keep).resolve()
            shutil.copytree(work, keep, dirs_exist_ok=True)
            print(f"kept the work folder in {keep}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from nbgrader.api import Gradebook, MissingEntry

    from .exports import EXPORTERS

    root = find_course_root(args.root)
    url = gradebook.normalize_db_url(args.db) if args.db else gradebook.sqlite_url(root)
    if gradebook.is_sqlite(url) and not Path(url.split(":///", 1)[1]).is_file():
        print(
            f"error: no gradebook at {gradebook.redact(url)}: grade first (nbgrader autograde, "
            "or mytorch-course autograde --work DIR or --db URL), then pass --db",
            file=sys.stderr,
        )
        return 1
    from traitlets.config.loader import PyFileConfigLoader

    # c.CanvasExporter.canvas_ids and the like, as `nbgrader export` would read them
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    exporter = EXPORTERS[args.format](
        config=config,
        to=args.to or "",
        assignment=args.assignment or [],
        student=args.student or [],
        per_part=args.per_part,
    )
    gradebook.create_schema(url)  # a clear error when the server cannot be reached
    try:
        with Gradebook(url, gradebook.COURSE_ID) as gb:
            exporter.export(gb)
    except (MissingEntry, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.format}: {exporter.to or exporter.default_name}")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    from .figures import FIGURES, render_figures

    root = find_course_root()
    for aid in args.assignment or sorted(FIGURES):
        for path in render_figures(aid, root / "solutions" / aid / "figures"):
            print(path.relative_to(root))
    return 0


def cmd_student_edition(args: argparse.Namespace) -> int:
    from .student_edition import build_student_edition

    out = Path(args.out).resolve()
    stripped = build_student_edition(out, args.assignment, find_course_root(args.root))
    print(f"student edition for {args.assignment} written to {out}")
    print("exercises left out: " + (", ".join(stripped) if stripped else "none"))
    if not args.source_only:
        from .student_edition import build_wheel

        wheel = build_wheel(out)
        print(f'students install it with: pip install "{wheel.name}[lab]" ({wheel})')
        print(f"and check a notebook with: mytorch-check {args.assignment}.ipynb")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mytorch-course", description=__doc__)
    parser.add_argument("--root", help="course folder (default: found from the cwd)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate assignments/ from solutions/")
    p.add_argument("assignment", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--dest", help="write here instead of assignments/")
    p.set_defaults(func=cmd_release)

    def grading_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 2,
            help="parallel nbgrader processes here, or Dask workers of --scheduler local "
            "(default: one per core)",
        )
        p.add_argument(
            "--budget", type=float, default=300.0, help="wall-clock seconds per submission"
        )
        p.add_argument(
            "--batch",
            type=int,
            default=0,
            help="students per nbgrader process (1: one process per student, most isolated; "
            "default: several when the sandbox is on, else 1)",
        )
        p.add_argument(
            "--scheduler",
            default=DEFAULT_SCHEDULER,
            help=f"{THREADS!r}: grade here from a thread pool; 'local': a Dask cluster on "
            "this machine; tcp://host:8786 or tls://...: a running Dask scheduler "
            f"(default: {DEFAULT_SCHEDULER})",
        )
        p.add_argument(
            "--cache",
            help="keep each submission's result here: a regrade of the same bytes with the "
            "same grading files is not graded again (Dask schedulers only)",
        )
        p.add_argument(
            "--require-sandbox",
            action="store_true",
            help="refuse to grade unless every kernel is sandboxed (needs root and bubblewrap)",
        )
        p.add_argument(
            "--no-sandbox",
            action="store_true",
            help="run kernels with your rights even where the sandbox works (benchmarks only)",
        )
        p.add_argument(
            "--db",
            help="gradebook database URL, e.g. postgresql://grader@dbhost/mytorch (default: "
            "gradebook.db in the work folder); keep the password in ~/.pgpass",
        )

    p = sub.add_parser("autograde", help="grade a folder or LMS zip of submissions")
    p.add_argument("submissions", help="folder (<student>/<assignment>/<nb>.ipynb, ...) or zip")
    p.add_argument("--out", default="exports", help="where grades and feedback go")
    p.add_argument("--work", help="keep the nbgrader work folder here (default: temporary)")
    grading_options(p)
    p.set_defaults(func=cmd_autograde)

    p = sub.add_parser("validate", help="check a notebook before submitting it")
    p.add_argument("notebook")
    p.add_argument("--timeout", type=float, default=300.0)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("demo", help="grade the bundled sample submissions and print the table")
    p.add_argument("assignment", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--out", help="also write grades and feedback here")
    p.add_argument("--keep", help="copy the work folder here afterwards")
    grading_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("export", help="grades from the gradebook as Canvas, Gradescope or CSV")
    p.add_argument("--format", choices=["canvas", "gradescope", "csv"], default="csv")
    p.add_argument("--to", help="file to write (default: canvas.csv, gradescope.csv, grades.csv)")
    p.add_argument(
        "--db", help="gradebook database URL (default: gradebook.db in the course folder)"
    )
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument(
        "--per-part",
        action="store_true",
        help="a column per graded part (Gradescope: one assignment's layout, needs --assignment)",
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "student-edition", help="write the mytorch copy students install for an assignment"
    )
    p.add_argument("assignment", help="assignment id, e.g. 01-derivatives")
    p.add_argument("out", help="folder to write (a pip-installable project; the wheel in dist/)")
    p.add_argument(
        "--source-only", action="store_true", help="write the project but build no wheel"
    )
    p.set_defaults(func=cmd_student_edition)

    p = sub.add_parser(
        "figures",
        help="draw the engine's figures for the notebooks before the engine "
        "(solutions/<assignment>/figures/)",
    )
    p.add_argument("assignment", nargs="*", help="assignment ids (default: all)")
    p.set_defaults(func=cmd_figures)
    return parser


def _scheduler_problem(args: argparse.Namespace) -> str:
    """Why --scheduler/--cache cannot work as given ('' when they can)."""
    scheduler = getattr(args, "scheduler", THREADS)
    if scheduler not in (THREADS, "local") and "://" not in scheduler:
        return (
            f"--scheduler {scheduler!r}: give {THREADS!r}, 'local', or a Dask scheduler's "
            "address such as tcp://host:8786"
        )
    if getattr(args, "cache", None) and scheduler == THREADS:
        return "--cache keeps Dask task results: add --scheduler local (or an address)"
    return ""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if problem := _scheduler_problem(args):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        if "require_sandbox" in args:  # the grading commands: before any work
            sandbox.select_mode(require=args.require_sandbox, off=args.no_sandbox)
        return int(args.func(args) or 0)
    except (sandbox.SandboxUnavailable, gradebook.GradebookUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
