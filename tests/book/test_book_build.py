"""The book builds from scratch, executing every cell, with no warning or error."""

from __future__ import annotations

import pytest

from .conftest import BOOK

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

CHAPTERS = [
    "intro",
    "01-derivatives",
    "02-backprop",
    "03-engine",
    "04-tensor-gradients",
    "05-neural-networks",
    "06-beyond-backprop",
    "engine-reference",
]
ASSIGNMENT_CHAPTERS = [c for c in CHAPTERS if c[:2].isdigit()]


def test_book_builds_with_every_cell_executed(built_book):
    log = built_book["log"]
    assert built_book["returncode"] == 0, log[-4000:]
    # --warningiserror turns Sphinx warnings into a failure; also catch a cell that raised
    # or wrote to stderr, which myst-nb reports as a warning.
    assert "Executing notebook failed" not in log
    assert "WARNING:" not in log, log[-4000:]
    print(f"book build took {built_book['seconds']:.1f} s")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_is_built(built_book, chapter):
    page = built_book["html"] / f"{chapter}.html"
    assert page.exists(), f"{chapter}.html missing: is it in book/_toc.yml?"
    text = page.read_text(encoding="utf-8")
    # Executed: the page carries cell outputs (not just source).
    if chapter != "intro":
        assert "cell_output" in text, f"{chapter}: no executed cell output in the page"


@pytest.mark.parametrize("chapter", ASSIGNMENT_CHAPTERS)
def test_each_chapter_links_to_its_assignment(chapter):
    sources = list(BOOK.glob(f"{chapter}.*"))
    assert sources, f"no source file for chapter {chapter}"
    text = sources[0].read_text(encoding="utf-8")
    assert f"assignments/{chapter}/{chapter}.ipynb" in text, f"{chapter}: no assignment link"


def test_no_script_lives_in_a_static_folder():
    # Jupyter Book 1.x injects every .js file of book/_static into every page, so the
    # vendored scripts live in book/_vendor (served through html_static_path).
    assert not list(BOOK.glob("_static/**/*.js"))
    assert (BOOK / "_vendor" / "widgets" / "embed-amd.js").exists()
    assert (BOOK / "_vendor" / "mathjax" / "tex-mml-chtml.js").exists()
