"""Bounded, escaped output: CapOutputs and EscapeStudentHTML on crafted notebooks, and one
real ``nbgrader autograde`` + ``generate_feedback`` run proving the feedback HTML is safe."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
    new_raw_cell,
)

from mytorch_course import samples
from mytorch_course.collect import place_submission
from mytorch_course.course_dir import copy_course
from mytorch_course.nbgrader_process import nbgrader_env
from mytorch_course.preprocessors import CapOutputs, EscapeStudentHTML

SCRIPT = "<script>window.pwned=1</script>"
SHOWN = re.compile(r"&lt;script(&gt;|>)window\.pwned=1&lt;/script(&gt;|>)")


class Markup(HTMLParser):
    """What a browser would act on: event handlers, script URLs, and scripts, SVG or frames
    that carry a student's payload (the page's own MathJax scripts are fine)."""

    def __init__(self) -> None:
        super().__init__()
        self.dangers: list[str] = []
        self.tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tag = tag
        for name, value in attrs:
            url = re.sub(r"\s", "", value or "").lower()
            if name.startswith("on") or url.startswith(("javascript:", "vbscript:")):
                self.dangers.append(f"<{tag} {name}={value}>")
        if tag in ("svg", "iframe", "object", "embed"):
            self.dangers.append(f"<{tag}>")

    def handle_data(self, data: str) -> None:
        if self.tag == "script" and ("pwned" in data or "alert" in data):
            self.dangers.append(f"<script>{data[:40]}")


def dangers(html: str) -> list[str]:
    parser = Markup()
    parser.feed(html)
    return parser.dangers


def stream(text: str) -> nbformat.NotebookNode:
    return new_output("stream", name="stdout", text=text)


def cap(nb: nbformat.NotebookNode, **knobs: int) -> nbformat.NotebookNode:
    nb, _ = CapOutputs(**knobs).preprocess(nb, {})
    return nb


def test_a_20_mb_line_keeps_its_head_and_tail_and_says_how_much_was_cut() -> None:
    line = "HEAD" + "x" * 20_000_000 + "TAIL"
    nb = new_notebook(cells=[new_code_cell("print(...)", outputs=[stream(line)])])
    text = cap(nb).cells[0].outputs[0].text
    assert len(text) < 20_100  # the default cell budget is 20 000 characters
    assert text.startswith("HEAD") and text.endswith("TAIL")
    cut = int(re.search(r"\[\.\.\. ([\d,]+) characters cut", text)[1].replace(",", ""))
    kept = len(text) - len(re.search(r"\n\[\.\.\..*\.\.\.\]\n", text)[0])
    assert cut + kept == len(line)


def test_many_outputs_are_capped_per_cell_and_per_notebook() -> None:
    chatty = new_code_cell("", outputs=[stream("y" * 100) for _ in range(2_000)])
    cells = [chatty] + [new_code_cell("", outputs=[stream("z" * 5_000)]) for _ in range(50)]
    nb = cap(new_notebook(cells=cells), max_cell_chars=1_000, max_notebook_chars=20_000)
    first = nb.cells[0].outputs
    assert sum(len(o.text) for o in first) < 1_200
    assert "cell's output limit" in first[-1].text
    total = sum(len(o.get("text", "")) for c in nb.cells for o in c.outputs)
    assert total < 20_000 + 50 * 80  # the budget, plus one short note per later cell
    assert "notebook's output limit" in nb.cells[-1].outputs[0].text


def test_a_huge_image_becomes_a_note_and_a_small_one_stays() -> None:
    small = new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "fig"})
    huge = new_output("display_data", data={"image/png": "A" * 3_000_000})
    nb = new_notebook(cells=[new_code_cell("", outputs=[small, huge])])
    small_out, huge_out = cap(nb).cells[0].outputs
    assert small_out.data["image/png"] == "iVBORw0KGgo="
    assert "image/png" not in huge_out.data
    assert "3,000,000 characters removed" in huge_out.data["text/plain"]


def hostile_notebook() -> nbformat.NotebookNode:
    outputs = [
        new_output("display_data", data={"text/html": SCRIPT + "<b>bold</b>"}),
        new_output("display_data", data={"application/javascript": "window.pwned=2"}),
        new_output("display_data", data={"image/svg+xml": '<svg onload="window.pwned=3"/>'}),
        new_output("display_data", data={"text/markdown": "<img src=x onerror=alert(4)>"}),
        new_output(
            "display_data",
            data={"application/vnd.jupyter.widget-view+json": {"model_id": "m1"}},
        ),
        new_output("display_data", data={"image/png": '"><script>window.pwned=5</script>'}),
        new_output(
            "execute_result",
            data={"text/plain": "42", "text/html": "<iframe src=javascript:alert(6)>"},
            metadata={"text/html": {"isolated": True}},
            execution_count=1,
        ),
        new_output("stream", name='stdout" onload="x', text=SCRIPT),
    ]
    code = new_code_cell("1", outputs=outputs)
    code.metadata["tags"] = ['" onload="alert(7)']
    markdown = new_markdown_cell(f"Hello {SCRIPT}\n\n<img src=x onerror=alert(8)> `a < b`")
    markdown.attachments = {"x.svg": {"image/svg+xml": '<svg onload="alert(13)"/>'}}
    raw = new_raw_cell(SCRIPT)
    bad_meta = new_code_cell("2")
    bad_meta.metadata["nbgrader"] = {"solution": True, "grade_id": "<script>alert(14)</script>"}
    links = [
        new_markdown_cell(link)
        for link in (
            "[a](javascript:alert(9))",
            "[b](&amp;#106;avascript:alert(10))",
            "[c](JaVaScRiPt\\:alert(11))",
            "<javascript:alert(12)>",
            "[d](java%09script:alert(13)) ```",
        )
    ]
    nb = new_notebook(cells=[code, markdown, raw, bad_meta, *links])
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {"m1": {"note": "</script><script>window.pwned=15</script>"}},
            "version_major": 2,
            "version_minor": 0,
        }
    }
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return nb


def test_student_html_scripts_and_widgets_become_text() -> None:
    nb, _ = EscapeStudentHTML().preprocess(hostile_notebook(), {})
    code, markdown, raw, bad_meta, *links = nb.cells
    mimes = {m for out in code.outputs for m in out.get("data", {})}
    assert mimes == {"text/plain"}
    html_out = code.outputs[0].data["text/plain"]
    assert SCRIPT in html_out  # the student's HTML is still there, as text
    assert code.outputs[-1].name == "stdout" and code.outputs[-1].text == SCRIPT
    assert code.outputs[6].metadata == {} and code.outputs[6].data["text/plain"] == "42"
    assert code.metadata == {} and "widgets" not in nb.metadata
    assert "<script" not in markdown.source and "&lt;script>" in markdown.source
    assert "attachments" not in markdown
    assert raw.cell_type == "markdown" and raw.source == f"```text\n{SCRIPT}\n```"
    assert links[-1].source.startswith("````text\n")  # longer than the fence inside it
    assert "nbgrader" not in bad_meta.metadata

    html, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    assert dangers(html) == []
    assert len(SHOWN.findall(html)) == 4  # HTML output, stream, markdown, raw: shown as text


def test_without_the_preprocessor_the_same_notebook_is_dangerous() -> None:
    # The check above can fail: nbconvert alone renders the payloads as markup.
    html, _ = HTMLExporter(template_name="classic").from_notebook_node(hostile_notebook())
    found = dangers(html)
    assert any("pwned" in d for d in found) and any("javascript:" in d for d in found)
    assert any("onerror" in d for d in found)


@pytest.mark.slow
def test_real_feedback_escapes_scripts_and_caps_a_20_mb_line(
    toy_root: Path, tmp_path: Path
) -> None:
    aid = "00-toy"
    work = copy_course(toy_root, tmp_path / "course")
    env = nbgrader_env()

    def nbg(*args: str) -> None:
        res = subprocess.run(["nbgrader", *args], cwd=work, env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr

    nbg("generate_assignment", aid, "--force")
    nb = samples.solved(work, aid)[aid]
    nb.cells.append(
        new_code_cell(
            "from IPython.display import HTML, display\n"
            f"display(HTML({SCRIPT!r}))\n"
            "print('HEAD' + 'x' * 20_000_000 + 'TAIL')"
        )
    )
    nb.cells.append(new_markdown_cell(f"My notes {SCRIPT} <img src=x onerror=alert(1)>"))
    place_submission(work, "mallory", aid, {aid: nb})
    nbg("autograde", aid)
    nbg("generate_feedback", aid)

    autograded = work / "autograded" / "mallory" / aid / f"{aid}.ipynb"
    assert autograded.stat().st_size < 2_000_000  # the gradebook side is capped too
    html = (work / "feedback" / "mallory" / aid / f"{aid}.html").read_text()
    assert dangers(html) == []
    assert len(SHOWN.findall(html)) == 2  # the HTML output and the markdown, as text
    assert "HEAD" in html and "TAIL" in html and "characters cut by the grader" in html
    assert max(len(run) for run in re.findall(r"x+", html)) < 25_000
    assert len(html) < 3_000_000
    assert "OK: part passed" in html  # grading itself still worked
