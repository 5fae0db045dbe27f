"""The engine's modules form layers: each imports only those below it, never in a circle.

Imports are read from the source with ``ast`` (module level only: a call-time import is
how ``Tensor`` reaches the ops, documented in ``mytorch/tensor.py``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mytorch"

# Bottom to top. A module may import only modules listed before it.
LAYERS = [
    "mytorch.data.digits",
    "mytorch.data.loader",
    "mytorch.data.synthetic",
    "mytorch.data",
    "mytorch.tensor",
    "mytorch.recording",
    "mytorch.ops.base",
    "mytorch.ops.comparison",
    "mytorch.ops.elementwise",
    "mytorch.ops.reduction",
    "mytorch.ops.shape",
    "mytorch.ops.linalg",
    "mytorch.ops",
    "mytorch.autograd",
    "mytorch.func",
    "mytorch.check",
    "mytorch.visible",
    "mytorch.draw",
    "mytorch.nn.functional",
    "mytorch.nn",
    "mytorch.optim",
    "mytorch",
    "mytorch.__main__",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def engine_modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for p in PACKAGE.rglob("*.py")
        if "course" not in p.relative_to(PACKAGE).parts
    }


def top_level_imports(name: str, path: Path) -> set[str]:
    """The mytorch modules that ``name`` imports when it loads (not inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` imports never run
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from . import ops` imports the module mytorch.ops
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in engine_modules() else base)
    return {m for m in found if m == "mytorch" or m.startswith("mytorch.")}


def test_every_engine_module_has_a_layer():
    assert sorted(engine_modules()) == sorted(LAYERS)


@pytest.mark.parametrize("name", LAYERS)
def test_module_imports_only_lower_layers(name):
    path = engine_modules()[name]
    position = LAYERS.index(name)
    for imported in top_level_imports(name, path):
        assert imported in LAYERS, f"{name} imports {imported}, which has no layer"
        assert (
            LAYERS.index(imported) < position
        ), f"{name} imports {imported}, which is not below it: layers must import downwards"


def test_no_module_imports_one_that_imports_it_back():
    graph = {name: top_level_imports(name, path) for name, path in engine_modules().items()}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    circles = [name for name in graph if reaches(name, name, {name})]
    assert circles == []


@pytest.mark.parametrize("name", LAYERS)
def test_each_module_imports_in_a_fresh_interpreter(name):
    result = subprocess.run(
        [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_import_mytorch_exposes_nn_optim_data():
    code = (
        "import mytorch\n"
        "print(mytorch.nn.Linear, mytorch.optim.SGD, mytorch.data.load_digits, mytorch.ops.Mul)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_tensor_methods_are_written_in_the_class_body():
    """Nothing outside tensor.py attaches attributes to Tensor (no monkey-patching)."""
    pattern = re.compile(r"^\s*Tensor\.\w+\s*=", re.MULTILINE)
    offenders = [str(p) for p in engine_modules().values() if pattern.search(p.read_text())]
    assert offenders == []
    from mytorch.tensor import Tensor

    for name in ["__add__", "__matmul__", "__eq__", "sum", "reshape", "permute", "sqrt", "T"]:
        assert name in vars(Tensor), name


def test_every_op_is_named_once_its_symbol_on_the_class():
    import importlib

    from mytorch import ops

    draw = importlib.import_module("mytorch.draw")  # the module, not the function mt.draw
    assert not hasattr(draw, "_SYMBOLS")
    for name in ["Add", "Mul", "MatMul", "Sum", "Exp", "ReLU"]:
        op_class = getattr(ops, name)
        assert op_class.symbol and draw._op_label(op_class()) == op_class.symbol
