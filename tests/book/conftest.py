"""Fixtures for the book tests: a freshly built book and a headless Chromium.

The browser is Debian's /usr/bin/chromium (installed by `make test` through
scripts/setup.sh --browser) driven by the Python `playwright` package; we never run
`playwright install`, which would download a browser of its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
CHROMIUM = os.environ.get("MYTORCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
# Known, harmless page error: sphinx-thebe declares this constant in two scripts.
HARMLESS_PAGE_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)


def jupyter_book_exe() -> str:
    exe = Path(sys.executable).with_name("jupyter-book")
    return str(exe) if exe.exists() else "jupyter-book"


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the book from scratch (every cell executed) into a temporary folder.

    Always a fresh build, never book/_build: a stale build could hide a broken chapter.
    The build is made once per test run and shared by all xdist workers (a file lock
    guards it), so the tests stay correct and cheap however the workers split them.
    Returns the HTML folder, the build log, the exit status and the wall time.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, common to every worker
    out = base / "book-build"
    result_file = base / "book-build.json"
    with open(base / "book-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result_file.exists():
            start = time.monotonic()
            proc = subprocess.run(
                [jupyter_book_exe(), "build", str(BOOK), "--path-output", str(out),
                 "--warningiserror", "--keep-going"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=900,
            )  # fmt: skip
            result = {
                "log": proc.stdout + proc.stderr,
                "returncode": proc.returncode,
                "seconds": time.monotonic() - start,
            }
            result_file.write_text(json.dumps(result))
        result = json.loads(result_file.read_text())
    return {**result, "html": out / "_build" / "html"}


@pytest.fixture(scope="session")
def playwright_browser():
    """One headless Chromium for the session (skipped where no Chromium is installed)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class PageLog:
    """What a page tried to fetch from the network, what failed, and its script errors."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []

    def real_errors(self) -> list[str]:
        return [e for e in self.errors if not any(h in e for h in HARMLESS_PAGE_ERRORS)]


def block_network(page, log: PageLog, allow_hosts: tuple[str, ...] = ()) -> None:
    """Abort every http(s) request except to ``allow_hosts`` (host:port strings)."""

    def route(route):
        url = route.request.url
        if url.startswith(("http://", "https://")):
            host = url.split("/")[2]
            if host not in allow_hosts:
                log.blocked.append(url)
                return route.abort()
        return route.continue_()

    page.route("**/*", route)
    page.on("requestfailed", lambda r: log.failed.append(r.url))
    page.on("pageerror", lambda e: log.errors.append(str(e)))
