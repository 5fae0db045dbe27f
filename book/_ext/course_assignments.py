"""Ship the released assignments with the built book, so that a chapter's link to its
assignment works on the site as it does in the repository.

A chapter links to its assignment where the repository keeps it, relative to ``book/``:
``<a href="../assignments/03-engine/03-engine.ipynb">``, which opens from a checkout (in
JupyterLab, say). A built site has no repository around it, so this extension copies each
released assignment folder (``assignments/<id>/``: the notebook and its figures) into the
site's own ``assignments/`` folder and points those links there.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

IN_THE_REPOSITORY = 'href="../assignments/'
ON_THE_SITE = 'href="assignments/'


def point_links_at_the_site(app, pagename: str, templatename: str, context: dict, doctree):
    if "body" in context:
        context["body"] = context["body"].replace(IN_THE_REPOSITORY, ON_THE_SITE)


def copy_the_release(app, exception: Exception | None) -> None:
    release = Path(app.srcdir).parent / "assignments"
    if exception is not None or app.builder.format != "html" or not release.is_dir():
        return
    for folder in sorted(p for p in release.iterdir() if p.is_dir()):
        shutil.copytree(
            folder,
            Path(app.outdir) / "assignments" / folder.name,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
            dirs_exist_ok=True,
        )


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", point_links_at_the_site)
    app.connect("build-finished", copy_the_release)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
