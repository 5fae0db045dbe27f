"""Every link in the course notebooks and in the built book leads somewhere.

Followed without a network or a browser, the way the reader's tool would follow them:

* the notebooks, source (``solutions/``) and release (``assignments/``): every link and
  image in every markdown cell (rendered as Markdown, raw HTML included), resolved against
  the notebook's folder as JupyterLab resolves it. A link into the built book (the release's
  ``c.BookLinks.book_url``, by default the local build ``../../book/_build/html``) is looked
  up in a fresh build of the book (the ``built_book`` fixture);
* the built book: every ``href`` and ``src`` of every page.

A target must exist, and a ``#fragment`` of an HTML page must name an element of that page.
http(s) and mailto links are not followed (they are counted).
"""

from __future__ import annotations

import html.parser
import re
import urllib.parse
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt
from traitlets.config.loader import PyFileConfigLoader

from mytorch_course.preprocessors import BookLinks

from .conftest import BOOK, ROOT

# Chapters whose assignment is written in another branch; empty this once they are merged.
# Book chapter -> its assignment.
CHAPTER_ASSIGNMENTS = {
    "01-derivatives": "01-derivatives",
    "02-backprop": "02-backprop",
    "03-engine": "03-engine",
    "04-tensor-gradients": "04-tensor-gradients",
    "05-neural-networks": "05-networks",
    "06-beyond-backprop": "06-beyond-backprop",
}
NOT_FOLLOWED = ("http://", "https://", "mailto:", "data:", "javascript:")
BUILT_BOOK_IN_REPO = BOOK / "_build" / "html"


@dataclass(frozen=True)
class Link:
    where: str  # the notebook and cell, or the page, holding the link
    target: str  # as written
    text: str  # the link text ("" for images, scripts, styles)


class _LinkCollector(html.parser.HTMLParser):
    """The links of an HTML fragment (href and src), with their text, and its element ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, list[str]]] = []
        self.ids: set[str] = set()
        self._open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name"):
            if values.get(key):
                self.ids.add(str(values[key]))
        for key in ("href", "src"):
            if values.get(key) is not None and tag in ("a", "img", "link", "script", "iframe"):
                text: list[str] = []
                self.links.append((str(values[key]), text))
                if tag == "a":
                    self._open.append(text)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for text in self._open:
            text.append(data)


def parse_html(text: str) -> _LinkCollector:
    collector = _LinkCollector()
    collector.feed(text)
    return collector


_MARKDOWN = MarkdownIt("commonmark", {"html": True})


def notebook_links(path: Path) -> list[Link]:
    links = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        where = f"{path.relative_to(ROOT)} (cell {cell.get('id', '?')})"
        for target, text in parse_html(_MARKDOWN.render(cell.source)).links:
            links.append(Link(where, target, " ".join("".join(text).split())))
    return links


@cache
def element_ids(page: Path) -> frozenset[str]:
    return frozenset(parse_html(page.read_text(encoding="utf-8")).ids)


def follow(link: Link, here: Path, book_html: Path | None) -> str | None:
    """Why ``link``, found in the file ``here``, is dead, or None when it resolves."""
    url = urllib.parse.urlsplit(link.target)
    if link.target.startswith(NOT_FOLLOWED):
        return None
    if url.scheme or url.netloc:
        return f"{link.where}: {link.target!r} uses a scheme nothing here can open"
    path = (here.parent / urllib.parse.unquote(url.path)).resolve() if url.path else here
    if book_html is not None and path.is_relative_to(BUILT_BOOK_IN_REPO):
        path = book_html / path.relative_to(BUILT_BOOK_IN_REPO)  # the fresh build
    if not path.exists():
        return f"{link.where}: {link.target!r} -> no such file"
    # Fragments are checked in HTML pages; a notebook's heading ids are made by JupyterLab.
    if url.fragment and path.suffix == ".html":
        if urllib.parse.unquote(url.fragment) not in element_ids(path):
            return f"{link.where}: {link.target!r} -> no element #{url.fragment} in the page"
    return None


def notebooks(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*/*.ipynb"))


def configured_book_url() -> str:
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    return str(config.BookLinks.book_url)


def book_links(links: list[Link]) -> list[Link]:
    """The links to chapters of the book (source or built), not to other files."""
    return [
        link
        for link in links
        if re.search(r"(^|/)(\d\d-[a-z-]+)\.(ipynb|md|html)(#|$)", link.target)
        and ("book/" in link.target or link.target.startswith(("http", "../../book")))
    ]


def chapter_title(page: str) -> str:
    """The first heading of the chapter's source (``# 2. Backpropagation by hand``)."""
    source = next(BOOK.glob(f"{page}.*"))
    if source.suffix == ".ipynb":
        text = "\n".join(c.source for c in nbformat.read(source, as_version=4).cells)
    else:
        text = source.read_text(encoding="utf-8")
    return re.search(r"^# (.+)$", text, re.M).group(1).strip()


# ---- fast: no book build ------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["solutions", "assignments"])
def test_each_notebook_links_to_its_chapter_by_its_title(folder):
    assert notebooks(folder), f"no notebooks in {folder}/"
    for path in notebooks(folder):
        links = book_links(notebook_links(path))
        assert links, f"{path.relative_to(ROOT)}: no link to its book chapter"
        for link in links:
            page = re.search(r"(\d\d-[a-z-]+)\.(ipynb|md|html)", link.target).group(1)
            assert link.text == chapter_title(page), (
                f"{link.where}: the link text {link.text!r} should be the chapter's title "
                f"{chapter_title(page)!r}"
            )


def test_source_notebooks_link_to_the_chapter_sources():
    for path in notebooks("solutions"):
        for link in notebook_links(path):
            assert follow(link, path, None) is None, follow(link, path, None)


def test_the_release_links_to_the_configured_book():
    url = configured_book_url()
    for path in notebooks("assignments"):
        for link in book_links(notebook_links(path)):
            assert link.target.startswith(f"{url}/") and ".html" in link.target, (
                f"{link.where}: {link.target!r} does not point into the book at {url} "
                f"(c.BookLinks.book_url): run `mytorch-course release`"
            )


def test_book_links_follow_the_book_url_set_for_the_course():
    book = BookLinks(book_url="https://books.example.org/mytorch/")
    for path in notebooks("solutions"):
        nb = nbformat.read(path, as_version=4)
        before = book_links(notebook_links(path))
        released, _ = book.preprocess(nb, {})
        after = [c.source for c in released.cells if c.cell_type == "markdown"]
        for link in before:
            page = re.search(r"(\d\d-[a-z-]+)\.(ipynb|md)", link.target).group(1)
            expected = f"[{link.text}](https://books.example.org/mytorch/{page}.html)"
            assert any(expected in source for source in after), (path.name, expected)
        assert not any("../book/" in source for source in after)


def test_a_bad_book_url_is_refused_with_an_example():
    with pytest.raises(Exception, match="https://example.org"):
        BookLinks(book_url="my book (draft)")


@pytest.mark.parametrize("chapter", sorted(CHAPTER_ASSIGNMENTS))
def test_each_chapter_links_to_its_assignment(chapter):
    source = next(BOOK.glob(f"{chapter}.*"))
    aid = CHAPTER_ASSIGNMENTS[chapter]
    text = source.read_text(encoding="utf-8")
    assert f'href=\\"../assignments/{aid}/{aid}.ipynb\\"' in text or (
        f'href="../assignments/{aid}/{aid}.ipynb"' in text
    ), f"{source.name}: no link to assignments/{aid}/{aid}.ipynb"


# ---- slow: follow every link into and inside a fresh build of the book ----------------------


@pytest.mark.slow
def test_every_link_in_the_notebooks_resolves(built_book):
    assert built_book["returncode"] == 0, built_book["log"][-3000:]
    dead, checked, paths = [], 0, notebooks("solutions") + notebooks("assignments")
    for path in paths:
        for link in notebook_links(path):
            checked += 1
            if (why := follow(link, path, built_book["html"])) is not None:
                dead.append(why)
    print(f"followed {checked} links in {len(paths)} notebooks")
    assert checked > 0
    assert dead == [], "\n".join(dead)


@pytest.mark.slow
def test_every_link_in_the_built_book_resolves(built_book):
    assert built_book["returncode"] == 0, built_book["log"][-3000:]
    site = built_book["html"]
    pages = sorted(p for p in site.rglob("*.html") if not p.relative_to(site).parts[0][0] == "_")
    dead, checked, external = [], 0, 0
    for page in pages:
        for target, text in parse_html(page.read_text(encoding="utf-8")).links:
            link = Link(str(page.relative_to(site)), target, "".join(text))
            checked += 1
            external += target.startswith(NOT_FOLLOWED)
            if (why := follow(link, page, None)) is not None:
                dead.append(why)
    print(f"followed {checked - external} links in {len(pages)} pages ({external} external)")
    assert len(pages) >= len(CHAPTER_ASSIGNMENTS)
    assert dead == [], "\n".join(dead)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", sorted(CHAPTER_ASSIGNMENTS))
def test_each_built_chapter_links_to_its_assignment_on_the_site(built_book, chapter):
    aid = CHAPTER_ASSIGNMENTS[chapter]
    page = built_book["html"] / f"{chapter}.html"
    targets = [t for t, _ in parse_html(page.read_text(encoding="utf-8")).links]
    assert f"assignments/{aid}/{aid}.ipynb" in targets, f"{chapter}.html: no assignment link"
    assert (built_book["html"] / "assignments" / aid / f"{aid}.ipynb").is_file()
