"""The README's Python examples run as written (```python); sketches for other machines,
such as a Slurm cluster (```py), at least compile."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_examples():
    assert python_blocks(), "the README lost its ```python examples"


def test_readme_python_blocks_run():
    namespace: dict = {}
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    # the first block's comment promises x.grad == [2, 4, 6]
    assert namespace["x"].grad.data.tolist() == [2.0, 4.0, 6.0]


def test_readme_sketches_compile():
    sketches = re.findall(r"```py\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert sketches, "the README lost its ```py sketches (the Slurm cluster)"
    for sketch in sketches:
        compile(sketch, "README.md", "exec")
