"""nbgrader configuration: the repository root is the course directory.

The project's protections live here, so the plain CLI uses them too:
``nbgrader generate_assignment NAME``, ``nbgrader autograde NAME``,
``nbgrader generate_feedback NAME`` and ``nbgrader export`` (run from this folder, with the
venv's ``bin`` on PATH: nbgrader shells out to ``alembic``). See grading/README.md.
"""

import os
import sys

import nbgrader

HERE = os.path.dirname(os.path.abspath(__file__))

try:  # the nbgrader script's sys.path does not hold the course folder
    import mytorch_course.preprocessors  # noqa: F401
except ImportError:
    sys.path.insert(0, HERE)

from nbconvert.preprocessors import (  # noqa: E402
    ClearMetadataPreprocessor,
    CSSHTMLHeaderPreprocessor,
)
from nbgrader.converters import GenerateAssignment  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteKernelspec,
    SaveAutoGrades,
)

import mytorch_course  # noqa: E402
from mytorch_course.preprocessors import (  # noqa: E402
    BookLinks,
    CapOutputs,
    DescribeParts,
    EscapeStudentHTML,
    InjectProbes,
    OverwriteReleasedCells,
    RepairMetadata,
    RobustExecute,
    ShortenErrors,
    VerifyProbes,
)

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "mytorch"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
# A PostgreSQL gradebook: `--db postgresql://grader@dbhost/mytorch` on each command (or
# `mytorch-course autograde --db ...`), with the password in ~/.pgpass (README).
# Never copy editor or build debris from solutions/ into the release.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    ".*",
    "*.gv",
    "*.gv.svg",
]

# The release is committed and generate_assignment is deterministic (it rewrites the same
# bytes), so the plain `nbgrader generate_assignment NAME` regenerates it instead of skipping
# it, and so fills the gradebook that `nbgrader autograde` needs on a fresh clone.
c.GenerateAssignment.force = True

# The book each notebook links to: the release's links to chapters go to
# <book_url>/<chapter>.html. The default is a local build of the book (`make book`), relative
# to the released notebook's folder; set the address where you publish the book instead,
# e.g. "https://example.org/mytorch-book", then run `mytorch-course release`.
c.BookLinks.book_url = "../../book/_build/html"
# BookLinks first, then nbgrader's own release steps (its default list).
c.GenerateAssignment.preprocessors = [
    BookLinks,
    *GenerateAssignment.class_traits()["preprocessors"].make_dynamic_default(),
]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Small per-cell timeout: a student's infinite loop costs at most this per cell.
c.Execute.timeout = 30
c.RobustExecute.timeout = 30
# RobustExecute runs every kernel in the sandbox of mytorch_course/sandbox.py when nbgrader
# runs as root with bubblewrap; add --SandboxKernelManager.require_sandbox=True to refuse
# grading without it. Limits: c.SandboxKernelManager.cpu_seconds, address_space_mb, ...
c.InjectProbes.grading_dir = os.path.join(HERE, "grading")
c.InjectProbes.max_cell_budget = 20.0
c.VerifyProbes.grading_dir = os.path.join(HERE, "grading")
c.RepairMetadata.release_dir = os.path.join(HERE, "assignments")
c.OverwriteReleasedCells.release_dir = os.path.join(HERE, "assignments")

# A deleted test cell comes back (and is graded) instead of silently scoring nothing.
c.OverwriteCells.add_missing_cells = True

c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    RepairMetadata,  # before nbgrader's checks, which reject the whole notebook
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteReleasedCells,  # warns only about test cells the student really changed
    CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    InjectProbes,  # graded test cells only emit results on grader-chosen probes
    RobustExecute,  # a dead kernel costs only the cell that killed it
    VerifyProbes,  # verdicts computed here, in the grading process
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    CapOutputs,  # characters, not lines: one 20 MB line never reaches gradebook or feedback
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# `nbgrader export` writes properly quoted CSV (nbgrader's own exporter does not quote: a
# name with a comma shifts every column); LMS formats: mytorch_course/exports.py.
c.ExportApp.plugin_class = "mytorch_course.exports.CsvExporter"

# Feedback: no hidden test code and no tracebacks (nbgrader shows both by default); the part
# names and how each part is scored; a page of our own template that loads nothing from the
# network (nbgrader's loads MathJax and require.js from CDNs) and wraps long explanations.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    ClearHiddenTests,
    ShortenErrors,
    CapOutputs,
    EscapeStudentHTML,  # student HTML, SVG, scripts and widgets shown as text, never run
    DescribeParts,
    CSSHTMLHeaderPreprocessor,
]
c.DescribeParts.grading_dir = os.path.join(HERE, "grading")
# Our templates/feedback/feedback.html.j2 extends nbgrader's feedback/index.html.j2; found
# first under the same template name, it also serves the formgrader's feedback button.
c.HTMLExporter.template_name = "feedback"
c.HTMLExporter.template_file = "feedback.html.j2"
NBGRADER_TEMPLATES = os.path.join("server_extensions", "formgrader", "templates")
c.HTMLExporter.extra_template_basedirs = [
    os.path.join(os.path.dirname(mytorch_course.__file__), "templates"),
    os.path.join(os.path.dirname(nbgrader.__file__), NBGRADER_TEMPLATES),
]
