"""``mytorch-check NOTEBOOK``: check an assignment notebook before you submit it.

The checker runs a copy of the notebook top to bottom in a fresh kernel, in the notebook's
folder, as the grader will, and reports in sentences, part by part, whether the visible
checks pass, and every problem the grader would meet: a test cell deleted or edited, a
cell id changed, a cell that raises at top level, a function or class that the notebook no
longer defines. Your file is only read, never written.

What the checker knows about an assignment is its release: the cell ids, the text of the
test and setup cells, and the names each part defines (:func:`manifest`). The student
edition of ``mytorch`` ships that manifest in ``mytorch/releases/``; nothing of the grader's
and no answer is in it. Exit status: 0 when every part passes and nothing is wrong, 1
otherwise, 2 when the notebook cannot be read.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

RELEASES = "releases"  # the package folder of the manifests, one per released assignment
NOT_ENOUGH = (
    "Passing the visible checks is necessary, not sufficient: the grade comes from many "
    "more cases, checked outside your notebook."
)


# --- what the release looks like --------------------------------------------------------------


def nbgrader_meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def source_of(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def fingerprint(source: str) -> str:
    """A hash of a cell's text that ignores trailing spaces and blank lines at the ends."""
    lines = [line.rstrip() for line in source.strip().splitlines()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def defined_names(source: str) -> list[str] | None:
    """The functions and classes a cell defines at top level (None: it is not valid Python)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return None
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [node.name for node in tree.body if isinstance(node, kinds)]


def manifest(release: dict, assignment: str) -> dict:
    """The structure of a released notebook that the checker compares a submission with.

    ``release`` is the notebook as JSON. Parts are the graded cells, in order (Part 1, ...);
    each names its test cell, its answer cells (those since the previous test cell) and the
    functions and classes they define.
    """
    cells, parts, answers = [], [], []
    for cell in release["cells"]:
        meta = nbgrader_meta(cell)
        kind = "test" if meta.get("grade") else "answer" if meta.get("solution") else None
        kind = kind or ("locked" if meta.get("locked") else "other")
        entry = {"id": cell.get("id"), "kind": kind, "grade_id": meta.get("grade_id")}
        if kind in ("test", "locked"):
            entry["fingerprint"] = fingerprint(source_of(cell))
        if kind != "other":
            cells.append(entry)
        if kind == "answer":
            answers.append(cell)
        if kind == "test":
            names = [n for a in answers for n in (defined_names(source_of(a)) or [])]
            parts.append(
                {
                    "number": len(parts) + 1,
                    "grade_id": meta.get("grade_id"),
                    "points": meta.get("points", 0),
                    "test_cell": cell.get("id"),
                    "answer_cells": [a.get("id") for a in answers],
                    "names": names,
                }
            )
            answers = []
    return {"assignment": assignment, "cells": cells, "parts": parts}


def shipped_manifests() -> dict[str, dict]:
    """The manifests this copy of mytorch ships, by assignment id."""
    folder = resources.files("mytorch").joinpath(RELEASES)
    if not folder.is_dir():
        return {}
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            found[data["assignment"]] = data
    return found


def find_manifest(path: Path, notebook: dict, known: dict[str, dict]) -> dict | None:
    """The manifest of ``notebook``: by file name, else the one whose test cells it mostly
    has (same cell id and grade id: ids such as ``code-04`` recur across assignments)."""
    if path.stem in known:
        return known[path.stem]
    cells = notebook.get("cells", [])
    pairs = {(c.get("id"), nbgrader_meta(c).get("grade_id")) for c in cells}
    best, overlap = None, 0
    for candidate in known.values():
        tests = {(c["id"], c["grade_id"]) for c in candidate["cells"] if c["kind"] == "test"}
        shared = len(tests & pairs)
        if 2 * shared > len(tests) and shared > overlap:
            best, overlap = candidate, shared
    return best


# --- structure: what can be seen without running -------------------------------------------


def part_name(part: dict) -> str:
    what = ", ".join(part["names"]) or part["grade_id"]
    return f"Part {part['number']} ({what}; {part['points']:g} points)"


def structural_problems(notebook: dict, expected: dict) -> list[str]:
    """Sentences about cells deleted, edited or renamed, and names no longer defined."""
    cells = notebook.get("cells", [])
    by_id = {c.get("id"): c for c in cells}
    parts_of = {p["test_cell"]: p for p in expected["parts"]}
    for part in expected["parts"]:
        for answer in part["answer_cells"]:
            parts_of[answer] = part
    problems = []
    for entry in expected["cells"]:
        if entry["kind"] not in ("test", "locked", "answer"):
            continue
        part = parts_of.get(entry["id"])
        what = {
            "test": f"the test cell of {part_name(part)}" if part else "a test cell",
            "answer": f"your answer cell for {part_name(part)}" if part else "an answer cell",
            "locked": f"the read-only cell {entry['id']!r}",
        }[entry["kind"]]
        cell = by_id.get(entry["id"])
        if cell is None:
            where = locate(cells, entry)
            if where is not None:
                now = cells[where].get("id")
                problems.append(
                    f"The id of {what} was changed from {entry['id']!r} to {now!r}. "
                    "The grader finds cells by their id: change it back (in JupyterLab, the "
                    "cell's metadata in the right sidebar), or copy your answers into a fresh "
                    "copy of the notebook."
                )
            else:
                problems.append(
                    f"{what[0].upper()}{what[1:]} (cell id {entry['id']!r}) was deleted. The "
                    "grader needs it: copy it back from a fresh copy of the notebook, at the "
                    "same place."
                )
            continue
        if entry.get("fingerprint") and fingerprint(source_of(cell)) != entry["fingerprint"]:
            problems.append(
                f"{what[0].upper()}{what[1:]} (cell id {entry['id']!r}) was edited. The "
                "grader runs it as released, not as you changed it: undo your edits, or copy "
                "the cell from a fresh copy of the notebook."
            )
    defined: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") == "code":
            defined.update(defined_names(source_of(cell)) or [])
    for part in expected["parts"]:
        missing = [name for name in part["names"] if name not in defined]
        if missing:
            names = ", ".join(missing)
            problems.append(
                f"{part_name(part)}: the notebook no longer defines {names}. The grader calls "
                "it by that name: keep the names and signatures the notebook gives."
            )
    return problems


def locate(cells: list[dict], entry: dict) -> int | None:
    """Where the released cell ``entry`` is now: by id, else by nbgrader's grade_id, else by
    its text (a cell whose id was changed still runs, and counts for its part)."""
    for match in (
        lambda c: c.get("id") == entry["id"],
        lambda c: entry["grade_id"] and nbgrader_meta(c).get("grade_id") == entry["grade_id"],
        lambda c: entry.get("fingerprint") == fingerprint(source_of(c)),
    ):
        found = [i for i, cell in enumerate(cells) if match(cell)]
        if found:
            return found[0]
    return None


# --- running: what the cells do ---------------------------------------------------------------


@dataclass
class Run:
    """What running the notebook showed: the error of each cell that raised, by index."""

    errors: dict[int, str] = field(default_factory=dict)
    timed_out: int | None = None
    seconds: float = 0.0


def run_notebook(notebook: dict, folder: Path, timeout: int) -> Run:
    """Execute a copy of ``notebook`` top to bottom in a fresh kernel, in ``folder``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    node = nbformat.reads(json.dumps(notebook), as_version=4)
    client = NotebookClient(
        node,
        timeout=timeout,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    run = Run()
    start = time.perf_counter()
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own log is not for students
    except CellTimeoutError:
        run.timed_out = next(
            (i for i, c in enumerate(node.cells) if c.get("execution_count") is None),
            len(node.cells) - 1,
        )
    except DeadKernelError:
        run.timed_out = -1
    run.seconds = time.perf_counter() - start
    for index, cell in enumerate(node.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                run.errors[index] = f"{output.get('ename')}: {output.get('evalue')}".strip()
                break
    return run


def indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


def describe_error(error: str) -> str:
    if error.startswith("NotImplementedError"):
        return "it is not written yet (the code still raises NotImplementedError)."
    if error.startswith(("CheckFailed", "AssertionError")):
        message = error.split(":", 1)[1].strip() or "(an assert without a message)"
        return f"a visible check fails:\n{indent(message)}"
    return f"the test cell raises {error.splitlines()[0]}"


@dataclass
class Report:
    """The checker's findings; ``str()`` is what a student reads."""

    lines: list[str]
    ok: bool

    def __str__(self) -> str:
        return "\n".join(self.lines)


def check_notebook(path: Path, timeout: int = 300, manifests: dict | None = None) -> Report:
    """Check the notebook at ``path``: structure first, then a run in a fresh kernel."""
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = notebook["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return Report([f"Cannot read {path} as a notebook: {err}."], ok=False)
    known = shipped_manifests() if manifests is None else manifests
    expected = find_manifest(path, notebook, known)
    lines = []
    if expected is None:
        shipped = ", ".join(sorted(known)) or "none"
        lines.append(
            f"This copy of mytorch knows no assignment with the cells of {path.name} (it knows: "
            f"{shipped}), so only the run is checked. Install the student package of this "
            "assignment to check its structure and parts too."
        )
        problems: list[str] = []
    else:
        problems = structural_problems(notebook, expected)
    run = run_notebook(notebook, path.parent.resolve(), timeout)
    test_index = {
        part["number"]: locate(cells, entry)
        for part in (expected or {"parts": []})["parts"]
        for entry in expected["cells"]
        if entry["id"] == part["test_cell"]
    }
    for index, error in sorted(run.errors.items()):
        cell = cells[index]
        if index in test_index.values():
            continue  # reported with its part
        role = "your answer cell" if nbgrader_meta(cell).get("solution") else "a cell"
        problems.append(
            f"Cell {index + 1} ({role}, id {cell.get('id')!r}) raises at top level: "
            f"{error.splitlines()[0]}. The grader runs the notebook top to bottom, so this "
            "runs there too: fix it, or move trial code into a function you do not call."
        )
    if run.timed_out is not None:
        where = "The kernel died" if run.timed_out < 0 else f"Cell {run.timed_out + 1} ran"
        problems.append(
            f"{where} {'' if run.timed_out < 0 else f'for more than {timeout} seconds '}"
            "before the notebook finished, so the cells after it did not run: the grader "
            "would stop there too."
        )
    title = f" ({expected['assignment']})" if expected else ""
    lines.insert(
        0,
        f"Checked {path.name}{title}: ran a copy top to bottom in a fresh kernel "
        f"({run.seconds:.0f} s).",
    )
    if problems:
        lines.append("")
        lines.append("Problems the grader would meet:")
        lines += [f"  - {problem}" for problem in problems]
    passed = 0
    if expected:
        lines.append("")
        lines.append("Visible checks, part by part:")
        for part in expected["parts"]:
            index = test_index.get(part["number"])
            if index is None:
                verdict = "its test cell is missing, so its checks did not run."
            elif index in run.errors:
                verdict = describe_error(run.errors[index])
            elif cells[index].get("cell_type") != "code" or (
                run.timed_out is not None and (run.timed_out < 0 or index >= run.timed_out)
            ):
                verdict = "its checks did not run."
            else:
                verdict = "the visible checks pass."
                passed += 1
            lines.append(f"  - {part_name(part)}: {verdict}")
        total = len(expected["parts"])
        lines.append("")
        lines.append(f"{passed} of {total} parts pass their visible checks. {NOT_ENOUGH}")
    ok = bool(expected) and not problems and passed == len(expected["parts"])
    return Report(lines, ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mytorch-check",
        description="Run an assignment notebook top to bottom in a fresh kernel and report, "
        "part by part, its visible checks and anything the grader would stumble on.",
    )
    parser.add_argument("notebook", type=Path, help="the .ipynb file you will submit")
    parser.add_argument(
        "--timeout", type=int, default=300, help="seconds one cell may run (default 300)"
    )
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"mytorch-check: no such file: {args.notebook}", file=sys.stderr)
        return 2
    try:
        import nbclient  # noqa: F401
    except ImportError:
        print(
            "mytorch-check needs nbclient and ipykernel: install the student package of your "
            "assignment (it brings them), or `pip install nbclient ipykernel`.",
            file=sys.stderr,
        )
        return 2
    report = check_notebook(args.notebook, timeout=args.timeout)
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
