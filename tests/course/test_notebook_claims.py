"""What a notebook promises students is what its grader does.

The claim is read from the notebook's text and checked against the grader's behaviour, so
changing either one alone fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from mytorch_course.assignments import load_parts

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["solutions", "assignments"])
def test_numerical_gradient_call_budget_is_the_graders(folder):
    path = ROOT / folder / "01-derivatives" / "01-derivatives.ipynb"
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    claims = re.findall(r"at most \$2p \+ (\d+)\$", text)
    assert len(claims) == 1, f"{path.name}: expected one 'at most $2p + K$' claim, got {claims}"
    extra = int(claims[0])
    assert "exactly $2p$" not in text

    part = load_parts(ROOT / "grading", "01-derivatives")["numerical_gradient"]
    x = np.zeros((2, 3)).tolist()  # p = 6

    def verdicts(calls: int) -> list[str]:
        got = {"x": x, "calls": calls, "grad": np.zeros((2, 3)).tolist()}
        return [m for check in part.invariants if (m := check({"x": x}, got)) is not None]

    assert verdicts(2 * 6) == []
    assert verdicts(2 * 6 + extra) == [], f"the notebook allows 2p + {extra}, the grader not"
    refused = verdicts(2 * 6 + extra + 1)
    assert len(refused) == 1 and f"called {2 * 6 + extra + 1} times" in refused[0], refused
