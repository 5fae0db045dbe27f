"""The feedback page a student opens, in a real browser at a phone's width: the explanation of
a failed part wraps (nothing to scroll sideways to), the summary names the parts and how they
are scored, and the page loads nothing, not even an image a student's markdown links to."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from mytorch_course import samples
from mytorch_course.autograde import grade_notebooks
from mytorch_course.release import release

from .conftest import PageLog, block_network

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "tests" / "course" / "fixtures" / "toy"
AID = "00-toy"
TRACKER = "http://127.0.0.1:9/pixel.png"  # a student's markdown image: must never load
LIKELY_CAUSE = "multiply by out_grad (the chain rule)"  # the toy's hint for this mistake


@pytest.fixture(scope="module")
def feedback_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The feedback of a toy submission whose part 1 ignores out_grad."""
    root = tmp_path_factory.mktemp("feedback-course")
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(TOY, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    release(root)
    notebooks = samples.with_variant(root, AID, "square-grad", "ignores-out-grad")
    notebooks[AID].cells.append(nbformat.v4.new_markdown_cell(f"My plot: ![plot]({TRACKER})"))
    work = root / "work"
    result = grade_notebooks(root, {("bob", AID): notebooks}, work, workers=1)[("bob", AID)]
    assert result.score == 15.0, result  # part 1 (10 points) lost, part 2 passed
    page = work / "feedback" / "bob" / AID / f"{AID}.html"
    assert page.is_file(), sorted(p.name for p in (work / "feedback").rglob("*"))
    return page


def test_feedback_page_is_self_contained(feedback_html: Path) -> None:
    html = feedback_html.read_text()
    assert "<script" not in html  # no MathJax, require.js or widget manager
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "Test cell" not in html and "Part 1: square_grad</a>" in html
    assert html.count("All or nothing") >= 2  # in the summary and at each part


def test_feedback_wraps_at_a_phone_width_and_loads_nothing(
    feedback_html: Path, playwright_browser, tmp_path: Path
) -> None:
    context = playwright_browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    log = PageLog()
    block_network(page, log)
    requested: list[str] = []
    blocked_by_csp: list[str] = []  # the page's own Content-Security-Policy stopped it
    page.on("request", lambda r: requested.append(r.url))
    page.on("requestfailed", lambda r: r.failure == "csp" and blocked_by_csp.append(r.url))
    try:
        page.goto(feedback_html.as_uri(), wait_until="load")
        page.wait_for_timeout(300)  # let any late load (an image) start
        page.screenshot(path=str(tmp_path / "feedback-360.png"), full_page=True)
        width = page.evaluate("() => window.innerWidth")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width

        summary = page.locator("#summary li").first
        assert "Part 1: square_grad" in summary.inner_text()
        assert "All or nothing" in summary.inner_text() and summary.is_visible()

        explanation = page.locator(".output_area pre", has_text=LIKELY_CAUSE).first
        explanation.scroll_into_view_if_needed()
        box = explanation.evaluate(
            "e => ({right: e.getBoundingClientRect().right, left: e.getBoundingClientRect().left,"
            " scroll: e.scrollWidth, client: e.clientWidth})"
        )
        assert 0 <= box["left"] and box["right"] <= width, box  # inside the screen
        assert box["scroll"] <= box["client"], box  # no sideways scrolling inside the box
        cause = page.get_by_text(LIKELY_CAUSE, exact=False).first
        cause_box = cause.bounding_box()
        assert cause_box is not None and cause_box["x"] + cause_box["width"] <= width + 1
    finally:
        context.close()
    assert (tmp_path / "feedback-360.png").stat().st_size > 10_000
    # Nothing was fetched but the page itself: the student's image never left the browser.
    loaded = [u for u in requested if u not in blocked_by_csp]
    assert loaded == [feedback_html.as_uri()], loaded
    assert TRACKER in blocked_by_csp and log.blocked == [] and log.errors == []
