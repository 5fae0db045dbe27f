"""The book builds from scratch, executing every cell, with no warning or error."""

from __future__ import annotations

import html
import re

import pytest

from .conftest import BOOK

pytestmark = [pytest.mark.slow]

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


def test_no_script_lives_in_a_static_folder():
    # Jupyter Book 1.x injects every .js file of book/_static into every page, so the
    # vendored scripts live in book/_vendor (served through html_static_path).
    assert not list(BOOK.glob("_static/**/*.js"))
    assert (BOOK / "_vendor" / "widgets" / "embed-amd.js").exists()
    assert (BOOK / "_vendor" / "mathjax" / "tex-mml-chtml.js").exists()


# Numbers from the seeds' worked examples, as printed by the chapters' code cells.
WORKED_EXAMPLES = {
    "01-derivatives": ["autodiff: -4.0 -4.0 3.0", "-6 -4 -9"],
    "02-backprop": [
        "y = 11.652",  # ln(x1) + x1 x2 - sin(x2) at (2, 5)
        "adjoint of v1 = x1 =  5.500",
        "adjoint of v2 = x2 =  1.716",
        "y = 7.39, dy/db = 7.39, dy/dx = 14.78, dy/dw = 22.17",  # e^(wx+b) at (2, 3, -4)
        "f = -30.0",  # 3(xy + max(z, w)) at (3, -4, 2, -1)
        "f = 0.731",  # the sigmoid neuron
    ],
    "06-beyond-backprop": ["11.6521 + 5.5000ε", "11.6521 + 1.7163ε"],
}


@pytest.mark.parametrize("chapter", sorted(WORKED_EXAMPLES))
def test_worked_examples_are_computed_in_the_built_page(built_book, chapter):
    text = (built_book["html"] / f"{chapter}.html").read_text(encoding="utf-8")
    outputs = "".join(re.findall(r'<div class="cell_output[^"]*">(.*?)</div>\s*</div>', text, re.S))
    missing = [n for n in WORKED_EXAMPLES[chapter] if html.escape(n, quote=False) not in outputs]
    assert not missing, f"{chapter}: not printed by any cell: {missing}"
