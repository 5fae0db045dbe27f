"""The built book in a real browser, offline: math typeset, graphs drawn, widgets live.

Pages are opened from disk (file://) with every http(s) request aborted, so anything
the book still fetched from a CDN would show up as a failure here.
"""

from __future__ import annotations

import re

import pytest

from .conftest import PageLog, block_network
from .test_book_build import CHAPTERS

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def open_page(built_book, playwright_browser):
    assert built_book["returncode"] == 0, built_book["log"][-3000:]
    contexts = []

    def _open(chapter: str):
        context = playwright_browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        log = PageLog()
        block_network(page, log)
        page.goto((built_book["html"] / f"{chapter}.html").as_uri(), wait_until="load")
        return page, log

    yield _open
    for context in contexts:
        context.close()


def svg_texts(svg: str) -> set[str]:
    return {t.strip() for t in re.findall(r">([^<>]+)</text>", svg)}


def wait_for_math(page) -> int:
    """Wait until MathJax has typeset every math element; return how many there are."""
    page.wait_for_function(
        "() => document.querySelectorAll('.math').length > 0 && Array.from("
        "document.querySelectorAll('.math')).every(m => m.querySelector('mjx-container'))",
        timeout=30_000,
    )
    return page.locator("mjx-container").count()


def test_backprop_chapter_offline(open_page, built_book):
    page, log = open_page("02-backprop")

    # 1. Math is typeset by the vendored MathJax 3 (CommonHTML output).
    assert wait_for_math(page) >= 10
    first_math = page.locator("article mjx-container mjx-math").first
    first_math.scroll_into_view_if_needed()
    assert first_math.is_visible()

    # 2. A computational graph drawn by mytorch.draw is displayed as an SVG image.
    graphs = page.locator(".cell_output img[src$='.svg']")
    assert graphs.count() >= 2, "expected the graph before and after backward"
    first = graphs.first
    first.scroll_into_view_if_needed()
    assert first.is_visible()
    assert first.evaluate("img => img.complete && img.naturalWidth > 0")
    src = first.get_attribute("src")
    svg = (built_book["html"] / src).read_text(encoding="utf-8")
    labels = svg_texts(svg)
    assert {"x", "y", "z"} <= labels, f"node labels missing from the graph: {labels}"
    assert "+" in labels, "the add gate is not labelled"
    # After backward, the graph shows gradients.
    after = (built_book["html"] / graphs.nth(1).get_attribute("src")).read_text("utf-8")
    assert any(t.startswith("grad") for t in svg_texts(after))

    # 3. A widget slider is rendered and shows its value; moving it (keyboard) switches the
    #    picture next to it, with no kernel: the slider is jslinked to a widget Stack.
    box = page.locator(".widget-vbox:has(.widget-hslider)").first
    box.scroll_into_view_if_needed()
    slider = box.locator(".widget-hslider").first
    assert slider.is_visible()
    readout = slider.locator(".widget-readout")
    before = readout.inner_text().strip()
    assert before, "the slider shows no value"
    picture = box.locator("img.widget-image")
    picture_before = picture.get_attribute("src")
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, v]) => el.innerText.trim() !== v", arg=[readout.element_handle(), before]
    )
    page.wait_for_function(
        "([box, v]) => { const i = box.querySelector('img.widget-image');"
        " return i && i.src !== v && i.complete && i.naturalWidth > 0; }",
        arg=[box.element_handle(), picture_before],
    )

    assert log.blocked == [], f"the page tried to reach the network: {log.blocked}"
    assert log.failed == [], f"files missing from the built site: {log.failed}"
    assert log.real_errors() == [], log.real_errors()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_page_renders_offline(open_page, chapter):
    page, log = open_page(chapter)
    if page.locator(".math").count():
        wait_for_math(page)
    views = page.locator("script[type='application/vnd.jupyter.widget-view+json']").count()
    if views:
        page.wait_for_function(
            "n => Array.from(document.querySelectorAll('.widget-subarea'))"
            ".filter(d => d.children.length > 0).length >= n",
            arg=views,
            timeout=30_000,
        )
    broken = page.evaluate(
        "() => Array.from(document.querySelectorAll('img')).filter("
        "i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert broken == [], f"images that did not load: {broken}"
    assert log.blocked == [], f"the page tried to reach the network: {log.blocked}"
    assert log.failed == [], f"files missing from the built site: {log.failed}"
    assert log.real_errors() == [], log.real_errors()
