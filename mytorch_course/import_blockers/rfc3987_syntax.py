"""Stand-in that makes ``import rfc3987_syntax`` fail fast in nbgrader subprocesses.

jsonschema imports the real package only to check the "iri" string format (which notebook
schemas never use), and that import builds a parser grammar costing seconds per nbgrader
process. ``mytorch_course.nbgrader_process.nbgrader_env`` puts this folder first on PYTHONPATH.
"""

raise ImportError("rfc3987_syntax is disabled in mytorch-course's nbgrader subprocesses")
