"""End to end on the toy course: real `nbgrader autograde`, real kernels, many 'students'
graded in one parallel batch (robustness cases included, so a broken submission must never
change anyone else's grade)."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from mytorch_course import samples
from mytorch_course.autograde import grade_notebooks
from mytorch_course.reports import SubmissionResult


def scores(result: SubmissionResult) -> dict[str, float]:
    return {p.part: p.score for p in result.parts}


def full(result: SubmissionResult) -> dict[str, float]:
    return {p.part: p.max_score for p in result.parts}


pytestmark = [pytest.mark.slow]

AID = "00-toy"
MUTANT_ZEROS = "def square_grad(x, out_grad):\n    return np.zeros_like(np.asarray(x, dtype=float))"
CORRECT_SQUARE = (
    "def square_grad(x, out_grad):\n    return 2 * np.asarray(x) * np.asarray(out_grad)"
)


def _edit(nbs: dict, fn) -> dict:
    nbs = copy.deepcopy(nbs)
    fn(nbs[AID])
    return nbs


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _cases(root: Path) -> dict[str, dict]:
    solved = samples.solved(root, AID)
    sq = "square-grad-solution"
    cases: dict[str, dict] = {
        "solutions": solved,
        "release": samples.release_notebooks(root, AID),
        "tamper-transformer": samples.tampering(root, AID),
        # wrong answer + patched numpy: the in-kernel visible asserts would pass
        "tamper-numpy": samples.solved(
            root,
            AID,
            {sq: "np.allclose = lambda *a, **k: True\n" + MUTANT_ZEROS},
        ),
        # wrong answer + redefined grading helpers inside the kernel
        "tamper-helpers": samples.solved(
            root,
            AID,
            {
                sq: "import mytorch_course.checks as c, mytorch_course.runner as g\n"
                "c.compare = lambda *a, **k: None\n"
                "g.grade = lambda *a, **k: g.Verdict.ok(1)\n"
                "print('MYTORCH' + '-PROBE 0000 []')\n" + MUTANT_ZEROS
            },
        ),
        "stderr": samples.solved(
            root,
            AID,
            {
                sq: "import sys, warnings\nprint('noise', file=sys.stderr)\n"
                "def square_grad(x, out_grad):\n"
                "    warnings.warn('a warning from a correct answer')\n"
                "    print('debug output', file=sys.stderr)\n"
                "    return 2 * np.asarray(x) * np.asarray(out_grad)"
            },
        ),
        "loop-in-function": samples.solved(
            root, AID, {sq: "def square_grad(x, out_grad):\n    while True:\n        pass"}
        ),
        # reads the instructor's solution notebook from the grading copy and runs it
        "reads-solutions": samples.solved(
            root,
            AID,
            {
                sq: "import glob, json\n"
                "for path in glob.glob('../../../solutions/00-toy/*.ipynb'):\n"
                "    for c in json.load(open(path))['cells']:\n"
                "        if 'square_grad' in ''.join(c['source']) and c['cell_type'] == 'code':\n"
                "            exec(''.join(c['source']))\n"
            },
        ),
        "loop-top-level": samples.solved(root, AID, {sq: "while True:\n    pass"}),
        "flood": samples.solved(
            root,
            AID,
            {
                sq: "for i in range(100_000):\n    print('line', i)\n"
                "def square_grad(x, out_grad):\n"
                "    for i in range(10_000):\n        print('inner', i)\n"
                "    return 2 * np.asarray(x) * np.asarray(out_grad)"
            },
        ),
        "exit-in-cell": samples.solved(
            root, AID, {sq: CORRECT_SQUARE + "\nimport os\nos._exit(1)"}
        ),
        "exit-in-function": samples.solved(
            root, AID, {sq: "def square_grad(x, out_grad):\n    import os\n    os._exit(1)"}
        ),
        "renamed-id": _edit(
            solved, lambda nb: _cell(nb, "square-grad").metadata.nbgrader.update(grade_id="mine")
        ),
        "deleted-test-cell": _edit(solved, lambda nb: nb.cells.remove(_cell(nb, "sum-rows-grad"))),
        "broken-metadata": _edit(
            solved,
            lambda nb: _cell(nb, "sum-rows-grad").metadata.update(nbgrader="garbage"),
        ),
        "not-a-notebook": {AID: Path(__file__)},  # a .py file renamed .ipynb
    }
    for part, variant in samples.variant_sources(root, AID):
        cases[f"mutant--{part}--{variant}"] = samples.with_variant(root, AID, part, variant)
    return cases


@pytest.fixture(scope="module")
def graded(toy_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("toy-work")
    cases = _cases(toy_root)
    results = grade_notebooks(
        toy_root, {(s, AID): nbs for s, nbs in cases.items()}, work, workers=2, budget=240, batch=3
    )
    return work, {s: results[(s, AID)] for s in cases}


def test_students_were_graded_in_batches(graded) -> None:
    work, res = graded  # batch=3: several students per nbgrader process
    batches = list((work / "logs").glob(f"{AID}--batch-*.log"))
    assert len(batches) >= len(res) // 3 - 2, batches
    assert all("autograde" in log.read_text().lower() for log in batches)


def test_solutions_score_full_marks(graded) -> None:
    _, res = graded
    assert (
        scores(res["solutions"])
        == full(res["solutions"])
        == {
            "square-grad": 10.0,
            "sum-rows-grad": 15.0,
        }
    )


def test_release_runs_and_scores_zero(graded) -> None:
    _, res = graded
    r = res["release"]
    assert r.score == 0 and not r.notes  # nbgrader ran it top to bottom without a retry
    assert all("NotImplementedError" in p.reason for p in r.parts)


@pytest.mark.parametrize("student", ["tamper-transformer"])
def test_input_transformer_scores_zero(graded, student: str) -> None:
    _, res = graded
    assert res[student].score == 0


@pytest.mark.parametrize("student", ["tamper-numpy", "tamper-helpers", "reads-solutions"])
def test_patched_numpy_or_helpers_lose_the_part(graded, student: str) -> None:
    _, res = graded
    assert scores(res[student]) == {"square-grad": 0.0, "sum-rows-grad": 15.0}


def test_stderr_from_correct_answer_keeps_full_marks(graded) -> None:
    _, res = graded
    assert res["stderr"].score == 25


def test_flooded_output_from_correct_answer_keeps_full_marks(graded) -> None:
    _, res = graded
    assert res["flood"].score == 25


@pytest.mark.parametrize(
    "student", ["loop-in-function", "loop-top-level", "exit-in-cell", "exit-in-function"]
)
def test_loops_and_killed_kernels_cost_only_their_part(graded, student: str) -> None:
    _, res = graded
    s = scores(res[student])
    assert s == {"square-grad": 0.0, "sum-rows-grad": 15.0}
    reason = next(p.reason for p in res[student].parts if p.part == "square-grad")
    assert reason


@pytest.mark.parametrize("student", ["renamed-id", "deleted-test-cell", "broken-metadata"])
def test_broken_structure_is_repaired(graded, student: str) -> None:
    _, res = graded
    # the graded cell comes back from the gradebook / release, so nothing is lost
    assert res[student].score == 25, res[student]


def test_unreadable_notebook_scores_zero_with_reason(graded) -> None:
    _, res = graded
    r = res["not-a-notebook"]
    assert r.score == 0 and any("release" in n or "unreadable" in n for n in r.notes)


def test_each_mutant_loses_exactly_its_part(graded) -> None:
    _, res = graded
    mutants = [s for s in res if s.startswith("mutant--")]
    assert len(mutants) >= 6
    for student in mutants:
        part = student.split("--")[1]
        got = scores(res[student])
        want = {p: (0.0 if p == part else m) for p, m in full(res[student]).items()}
        assert got == want, (student, got, [p.reason for p in res[student].parts])


def test_feedback_and_autograded_notebooks_hide_tests(graded) -> None:
    work, res = graded
    files = list((work / "feedback").rglob("*.html"))
    assert len(files) >= len(res) - 1
    secrets = [
        "BEGIN HIDDEN TESTS",
        "graded outside your kernel",
        "MYTORCH-PROBE",
        "def run(",
        "Traceback (most recent call last)",
    ]
    for html in files:
        text = html.read_text()
        for s in secrets:
            if s == "MYTORCH-PROBE" and "tamper-helpers" in html.parts:
                continue  # that student printed a forged marker line in their own cell
            assert s not in text, (html, s)
    for nb_path in (work / "autograded").rglob("*.ipynb"):
        text = nb_path.read_text()
        assert "<grader driver>" not in text and "_mytorch_probe_cell" not in text, nb_path
