"""nbgrader preprocessors that make grading trustworthy; wired up in ``nbgrader_config.py``.

Autograde pipeline (``c.Autograde.autograde_preprocessors``)::

    InjectProbes -> RobustExecute -> VerifyProbes -> (nbgrader's usual ones)

* :class:`InjectProbes` swaps each graded test cell's source for generated code that only
  *emits* the student's results on grader-chosen probes, as one line
  ``MYTORCH-PROBE <nonce> <json>``.
* :class:`RobustExecute` is nbgrader's ``Execute`` that survives a kernel death: the cell that
  killed the kernel is neutralised and the notebook re-run, so only that cell is lost.
* :class:`VerifyProbes` parses the line in the grading process (out of the student's reach),
  runs the part's ``check`` and rewrites the cell's outputs: an ``error`` on failure (nbgrader
  gives 0), a plain OK stream on success, a float ``execute_result`` for partial credit. It
  restores the cell's source, so the autograded notebook never shows probes or drivers.

Sanitize pipeline: :class:`RepairMetadata` restores or drops broken nbgrader cell metadata
before nbgrader's own checks (which would otherwise fail the whole submission);
:class:`OverwriteReleasedCells` warns about a test cell only when the student changed it.

Release pipeline (``c.GenerateAssignment.preprocessors``): :class:`BookLinks` points the
links to book chapters at the built book (``c.BookLinks.book_url``).

Feedback pipeline: :class:`DescribeParts` gives the feedback template each part's name
and how it is scored; :class:`ShortenErrors` reduces tracebacks to one line;
:class:`EscapeStudentHTML` shows student HTML, SVG, scripts and widgets as text.
:class:`CapOutputs` (autograde and feedback) bounds each cell's and notebook's output.
"""

from .book_links import BookLinks
from .cap_outputs import CapOutputs
from .describe_parts import DescribeParts
from .escape_student_html import EscapeStudentHTML
from .inject_probes import InjectProbes
from .repair_metadata import OverwriteReleasedCells, RepairMetadata
from .robust_execute import RobustExecute
from .shorten_errors import ShortenErrors
from .verify_probes import VerifyProbes

__all__ = [
    "BookLinks",
    "CapOutputs",
    "DescribeParts",
    "EscapeStudentHTML",
    "InjectProbes",
    "OverwriteReleasedCells",
    "RepairMetadata",
    "RobustExecute",
    "ShortenErrors",
    "VerifyProbes",
]
