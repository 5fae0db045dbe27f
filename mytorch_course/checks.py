"""Comparing a student's result with the expected one, in words a student understands.

The wording lives in :mod:`mytorch.visible`, which students have too: the visible checks in
their notebooks and the grader's verdicts share :func:`compare` (labels expected vs got,
names the worst element, and says the likely cause), :func:`describe` (a short rendering of
a value), :func:`likely_cause` (the generic hints) and :func:`close`. Here they run in the
grading process, from the instructor's copy of the library, where student code cannot reach.
Finite-difference witnesses come from :mod:`mytorch_course.numeric`.
"""

from __future__ import annotations

from mytorch.visible import Hint, as_array, close, compare, describe, is_error, likely_cause

__all__ = ["Hint", "as_array", "close", "compare", "describe", "is_error", "likely_cause"]
