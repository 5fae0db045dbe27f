"""The instructor's course tooling around nbgrader (never in what students install).

One job per module: ``cli`` (the ``mytorch-course`` command), ``notebook`` (cell metadata
and notebook I/O), ``nbgrader_process`` (running nbgrader), ``course_dir`` (the course
folder), ``release`` and ``student_edition`` (what students get), ``collect`` (submissions),
``autograde`` (batch grading), ``reports`` (scores, CSV, tables), ``runner`` (the part
runner) and ``preprocessors/`` (one nbgrader preprocessor per file). The answers live in
``grading/`` at the repository root, never in this package; the engine ``mytorch`` never
imports it.
"""

from .nbgrader_process import block_slow_imports

block_slow_imports()
