"""Point a released notebook's links to book chapters at the built book.

In ``solutions/`` a notebook links to a chapter's source, ``../../book/02-backprop.ipynb``
(or ``.md``), which opens from the repository. Students have no repository: in the release
the same link goes to the chapter's page in the built book, ``<book_url>/02-backprop.html``,
where ``book_url`` is set once for the course (``c.BookLinks.book_url`` in
``nbgrader_config.py``). Its default, ``../../book/_build/html``, is a local build of the book
(``make book``), relative to the notebook's folder; an instructor who publishes the book
sets its address instead.
"""

from __future__ import annotations

import re
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import TraitError, Unicode, validate

DEFAULT_BOOK_URL = "../../book/_build/html"

# A Markdown link target naming a chapter's source: ../../book/<page>.ipynb or .md, with an
# optional #anchor. Only the target changes; the link text stays as written.
_CHAPTER_SOURCE = re.compile(
    r"\]\((?:\.\./)+book/(?P<page>[A-Za-z0-9_-]+)\.(?:ipynb|md)(?P<anchor>#[^)\s]*)?\)"
)


def release_book_links(markdown: str, book_url: str) -> str:
    """``markdown`` with every link to a chapter's source pointed at its built page."""
    base = book_url.rstrip("/")
    return _CHAPTER_SOURCE.sub(lambda m: f"]({base}/{m['page']}.html{m['anchor'] or ''})", markdown)


class BookLinks(NbGraderPreprocessor):
    """Rewrite the links to book chapters in markdown cells (see the module docstring)."""

    book_url = Unicode(
        DEFAULT_BOOK_URL,
        help="Where the built book is: an http(s) address, or a path relative to the "
        "released notebook's folder (the default is a local build, `make book`).",
    ).tag(config=True)

    @validate("book_url")
    def _check_book_url(self, proposal: dict[str, Any]) -> str:
        url = str(proposal["value"]).strip()
        if not url or any(ch in url for ch in "() \n"):
            raise TraitError(
                f"BookLinks.book_url must be an address without spaces or parentheses, "
                f"like https://example.org/mytorch-book or {DEFAULT_BOOK_URL}; got {url!r}"
            )
        return url

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type == "markdown":
            cell.source = release_book_links(cell.source, self.book_url)
        return cell, resources
