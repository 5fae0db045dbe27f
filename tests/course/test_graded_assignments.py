"""The real assignments through real nbgrader: every assignment in solutions/ that has a
grading folder. One parallel batch per assignment: the solutions, the untouched release, a
tampering notebook and known-wrong variants from grading/a<id>/variants.py: the first of
each part and, once per assignment, each variant name whose verdict must give a declared
reason (those depend on the student edition and the kernel). Every variant is graded
in-process by test_assignments.py, with the same runner and probes; running all of them
through nbgrader too cost minutes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mytorch_course import samples
from mytorch_course.assignments import load_parts, variant_reasons
from mytorch_course.autograde import grade_notebooks
from mytorch_course.course_dir import assignment_ids, copy_course
from mytorch_course.release import release
from mytorch_course.reports import SubmissionResult

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENTS = [
    aid
    for aid in (assignment_ids(REPO) if (REPO / "solutions").is_dir() else [])
    if load_parts(REPO / "grading", aid)
]


def scores(result: SubmissionResult) -> dict[str, float]:
    return {p.part: p.score for p in result.parts}


def full(result: SubmissionResult) -> dict[str, float]:
    return {p.part: p.max_score for p in result.parts}


@pytest.fixture(scope="module", params=ASSIGNMENTS or [pytest.param(None, marks=pytest.mark.skip)])
def graded(request, tmp_path_factory: pytest.TempPathFactory):
    aid = request.param
    root = tmp_path_factory.mktemp(f"course-{aid}")
    copy_course(REPO, root)
    release(root, ids=[aid])  # grade against the release of the current solutions
    cases = {
        "solutions": samples.solved(root, aid),
        "release": samples.release_notebooks(root, aid),
        "tampering": samples.tampering(root, aid),
    }
    reasons, parts_seen, reasons_seen = variant_reasons(REPO / "grading", aid), set(), set()
    for part, variant in samples.variant_sources(root, aid):
        if part in parts_seen and (variant not in reasons or variant in reasons_seen):
            continue
        parts_seen.add(part)
        if variant in reasons:
            reasons_seen.add(variant)
        cases[f"mutant--{part}--{variant}"] = samples.with_variant(root, aid, part, variant)
    work = tmp_path_factory.mktemp(f"work-{aid}")
    results = grade_notebooks(
        root, {(s, aid): nbs for s, nbs in cases.items()}, work, workers=2, budget=300, batch=6
    )
    return aid, work, {s: results[(s, aid)] for s in cases}


def test_solutions_score_full_marks(graded) -> None:
    aid, _, res = graded
    r = res["solutions"]
    assert scores(r) == full(r), [(p.part, p.reason) for p in r.parts]
    assert r.max_score > 0


def test_release_runs_top_to_bottom_and_scores_zero(graded) -> None:
    _, _, res = graded
    r = res["release"]
    assert r.score == 0 and not r.notes, r.notes


def test_tampering_scores_zero(graded) -> None:
    _, _, res = graded
    assert res["tampering"].score == 0


def test_every_part_has_known_wrong_variants_that_lose_exactly_it(graded) -> None:
    aid, _, res = graded
    parts = set(full(res["solutions"]))
    mutated = {s.split("--")[1] for s in res if s.startswith("mutant--")}
    assert mutated == parts, f"parts without mutants: {sorted(parts - mutated)}"
    wrong = []
    for student, r in res.items():
        if not student.startswith("mutant--"):
            continue
        _, part, variant = student.split("--")
        want = {p: (0.0 if p == part else m) for p, m in full(r).items()}
        reason = variant_reasons(REPO / "grading", aid).get(variant, "")
        said = " ".join(x.reason for x in r.parts if x.part == part)
        if scores(r) != want or reason not in said:
            wrong.append((student, scores(r), [x.reason[:200] for x in r.parts if x.reason]))
    assert not wrong, wrong


def test_feedback_has_no_hidden_tests(graded) -> None:
    _, work, res = graded
    files = list((work / "feedback").rglob("*.html"))
    assert len(files) >= len(res)
    for html in files:
        text = html.read_text()
        for secret in (
            "BEGIN HIDDEN TESTS",
            "graded outside your kernel",
            "MYTORCH-PROBE",
            "def run(",
        ):
            assert secret not in text, (html, secret)
