"""A live JupyterLab: open a course notebook, run every cell, and look at what rendered.

Which notebook: assignment 1's *solution* (solutions/01-derivatives/01-derivatives.ipynb)
when it exists, else the book's chapter 1 notebook. Not the released assignment: its
unsolved cells raise NotImplementedError by design, so "run all and assert no cell
raised" would fail on purpose-built stubs, and running only a prefix of it would not reach
the graph and the widget. The solution notebook runs top to bottom and draws the same
graph and widget the student sees once the exercises are done. Its folder is copied into
a temporary server root, so the repository is never modified.

Robustness (each point fixed a flake seen while developing):
* the kernel session is created through the REST API *before* the page opens, so no
  "Select Kernel" dialog can appear;
* we wait until the notebook panel's session is ready and its kernel is connected and
  idle before running anything;
* "run all cells" is started without awaiting the command's promise; completion is
  detected by every code cell having an execution count (or an error appearing);
* notebook windowing is turned off, so every cell's output stays in the DOM;
* every http(s) request that is not to this server is aborted.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

import pytest

from .conftest import ROOT, PageLog, block_network

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SOLUTION = ROOT / "solutions" / "01-derivatives" / "01-derivatives.ipynb"
CHAPTER = ROOT / "book" / "01-derivatives.ipynb"
TOKEN = "mytorch-browser-test"
SETTINGS_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension:sessionDialogs": {"autoStartDefaultKernel": True},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base: str, path: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a throwaway root, config and settings."""
    base_dir = tmp_path_factory.mktemp("jupyterlab")
    root = base_dir / "root"
    if SOLUTION.exists():
        shutil.copytree(SOLUTION.parent, root)
        notebook = SOLUTION.name
    else:
        root.mkdir()
        shutil.copy(CHAPTER, root / CHAPTER.name)
        shutil.copy(ROOT / "book" / "bookwidgets.py", root / "bookwidgets.py")
        notebook = CHAPTER.name
    settings = base_dir / "app-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(SETTINGS_OVERRIDES))
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_DATA_DIR", "data"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (base_dir / sub).mkdir()
        env[var] = str(base_dir / sub)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    port = free_port()
    log_file = open(base_dir / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.allow_root=True", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.app_settings_dir={settings}",
            f"--LabApp.user_settings_dir={base_dir / 'user-settings'}",
            f"--LabApp.workspaces_dir={base_dir / 'workspaces'}",
            "--ServerApp.open_browser=False",
        ],
        cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                api(base, "/api/status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log_file.flush()
                    raise RuntimeError(
                        "JupyterLab did not start:\n" + (base_dir / "server.log").read_text()
                    ) from None
                time.sleep(0.3)
        yield {"base": base, "root": root, "notebook": notebook, "port": port,
               "log": base_dir / "server.log"}  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log_file.close()


READY_JS = """(name) => {
  const app = window.jupyterapp;
  if (!app) return false;
  const panel = app.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.context) return false;
  if (panel.context.path !== name || !panel.context.isReady) return false;
  const ctx = panel.sessionContext;
  if (!ctx.isReady || !ctx.session || !ctx.session.kernel) return false;
  const kernel = ctx.session.kernel;
  return kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""

DONE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const errored = cells.some(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
  const kernel = panel.sessionContext.session.kernel;
  const ran = cells.every(c => c.model.executionCount !== null);
  return errored || (ran && kernel.status === 'idle');
}"""

ERRORS_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const out = [];
  panel.content.widgets.forEach((c, i) => {
    if (c.model.type !== 'code') return;
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') out.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      if (o.output_type === 'stream' && o.name === 'stderr' && /Traceback|Error/.test(o.text))
        out.push(`cell ${i} stderr: ${String(o.text).slice(0, 300)}`);
    }
  });
  return out;
}"""


def test_notebook_runs_in_jupyterlab_with_graph_and_widget(jupyterlab, playwright_browser):
    base, root = jupyterlab["base"], jupyterlab["root"]
    # A fresh copy per run: no state (checkpoints, widget state) carries over.
    name = f"run-{uuid.uuid4().hex[:8]}.ipynb"
    shutil.copy(root / jupyterlab["notebook"], root / name)
    session = api(base, "/api/sessions", "POST",
                  {"path": name, "name": name, "type": "notebook",
                   "kernel": {"name": "python3"}})  # fmt: skip
    context = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log = PageLog()
    block_network(page, log, allow_hosts=(f"127.0.0.1:{jupyterlab['port']}",))
    try:
        url = f"{base}/lab/tree/{urllib.parse.quote(name)}?token={TOKEN}"
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_function(READY_JS, arg=name, timeout=120_000, polling=250)
        # Start "run all" without awaiting its promise (awaiting it has hung).
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_function(DONE_JS, timeout=240_000, polling=500)

        errors = page.evaluate(ERRORS_JS)
        assert errors == [], f"cells raised: {errors}"
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        stderr_tracebacks = notebook.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
            has_text="Traceback",
        )
        assert stderr_tracebacks.count() == 0

        # The computational graph: JupyterLab renders SVG output as <img src="data:...">.
        graph = notebook.locator(
            "[data-mime-type='image/svg+xml'] img[src^='data:image/svg+xml']"
        ).first
        graph.wait_for(state="attached", timeout=60_000)
        graph.scroll_into_view_if_needed()
        assert graph.is_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=graph.element_handle(), timeout=30_000)  # fmt: skip
        src = graph.get_attribute("src")
        header, _, payload = src.partition(",")
        svg = (
            base64.b64decode(payload).decode()
            if header.endswith(";base64")
            else urllib.parse.unquote(payload)
        )
        assert "<svg" in svg
        labels = [t.strip() for t in re.findall(r">([^<>]+)</text>", svg) if t.strip()]
        assert labels, "the graph has no node labels"
        if not SOLUTION.exists():
            assert {"x", "y", "z"} <= set(labels), labels

        # The widget: a slider that shows its value.
        slider = notebook.locator(".jp-OutputArea-output .widget-hslider").first
        slider.wait_for(state="attached", timeout=60_000)
        slider.scroll_into_view_if_needed()
        assert slider.is_visible()
        readout = slider.locator(".widget-readout")
        assert readout.inner_text().strip() != ""

        assert log.blocked == [], f"requests left the machine: {log.blocked}"
        assert log.real_errors() == [], log.real_errors()
    finally:
        context.close()
        try:
            api(base, f"/api/sessions/{session['id']}", "DELETE")
        except OSError:
            pass
        (root / name).unlink(missing_ok=True)


def test_book_link_of_the_release_opens_its_chapter(jupyterlab, playwright_browser, built_book):
    """Clicking the release's book link opens the chapter of the built book in JupyterLab.

    The server root gets the course layout: the release of assignment 1 and, at the default
    c.BookLinks.book_url (../../book/_build/html from the notebook), a fresh build of the book.
    JupyterLab shows the page in its HTML viewer, which sandboxes it: the text is there, the
    book's styles and math are not (open book/_build/html/ in a browser for those).
    """
    assert built_book["returncode"] == 0, built_book["log"][-3000:]
    root = jupyterlab["root"]
    folder = root / "course" / "assignments" / "01-derivatives"
    shutil.copytree(ROOT / "assignments" / "01-derivatives", folder, dirs_exist_ok=True)
    shutil.copytree(built_book["html"], root / "course" / "book" / "_build" / "html",
                    dirs_exist_ok=True)  # fmt: skip
    name = "course/assignments/01-derivatives/01-derivatives.ipynb"
    context = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log = PageLog()
    block_network(page, log, allow_hosts=(f"127.0.0.1:{jupyterlab['port']}",))
    try:
        page.goto(f"{jupyterlab['base']}/lab/tree/{name}?token={TOKEN}", wait_until="load")
        link = page.locator(".jp-RenderedMarkdown a", has_text="1. Derivatives three ways")
        link.first.wait_for(timeout=120_000)
        link.first.click()
        page.wait_for_function(
            "() => { const w = window.jupyterapp.shell.currentWidget;"
            " return w && w.context && w.context.path.endsWith('.html'); }",
            timeout=60_000,
        )
        opened = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
        assert opened == "course/book/_build/html/01-derivatives.html"
        heading = page.frame_locator(".jp-HTMLViewer iframe").locator("h1").first
        heading.wait_for(timeout=60_000)
        assert heading.inner_text().strip().startswith("1. Derivatives three ways")
        assert log.blocked == [], f"requests left the machine: {log.blocked}"
    finally:
        context.close()
