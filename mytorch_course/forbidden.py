"""Names a part done by hand must not use, found in the source of its solution cell.

A clear message for an honest mistake ("this exercise is done without mytorch"), not a
security boundary: code can always be written so that no reading of its text sees what it
calls. What stops a student from running the answers is the student edition of ``mytorch``
(it holds none) and the sandbox.

The source is read with :mod:`ast`, so a forbidden name in a comment or a string is fine.
A use is an attribute (``x.backward()``), an import (``import mytorch``, ``from mytorch
import grad``), a free name (one the cell does not bind itself: a local called ``grad`` is
fine), ``getattr(x, "backward")``, and every way of reaching code by a computed name
(``__import__``, ``importlib``, ``eval``, ``getattr(x, name)``, ...), since it hides what
it calls.
"""

from __future__ import annotations

import ast

# Reaching code by a computed name, or through the interpreter itself.
DYNAMIC = frozenset(
    {
        "__import__",
        "__builtins__",
        "builtins",
        "compile",
        "eval",
        "exec",
        "get_ipython",
        "globals",
        "importlib",
        "locals",
        "sys",
        "vars",
    }
)
ATTRIBUTE_BY_NAME = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def python_source(source: str) -> str:
    """The cell as Python: IPython's own rewriting of ``%magic`` and ``!shell`` lines."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython cannot read it either: parse it as it is
        return source


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the cell binds itself (assignments, parameters, defs, loop targets)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
    return bound


def _uses(node: ast.AST, names: frozenset[str], bound: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [f"`{a.name.split('.')[0]}`" for a in node.names if _imported(a.name, names)]
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if _imported(module, names):
            return [f"`{module.split('.')[0]}`"]
        return [f"`{a.name}`" for a in node.names if a.name in names | DYNAMIC]
    if isinstance(node, ast.Attribute) and node.attr in names:
        return [f"`{node.attr}`"]
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound:
        return [f"`{node.id}`"] if node.id in names | DYNAMIC else []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in ATTRIBUTE_BY_NAME and len(node.args) >= 2:
            attribute = node.args[1]
            if not isinstance(attribute, ast.Constant):
                return [f"`{node.func.id}` with a computed name"]
            if attribute.value in names:
                return [f"`{attribute.value}`"]
    return []


def _imported(module: str, names: frozenset[str]) -> bool:
    return bool(module) and module.split(".")[0] in names | DYNAMIC


def forbidden_uses(source: str, names: tuple[str, ...] | frozenset[str]) -> list[str]:
    """Where ``source`` uses one of ``names`` (or a computed name): ``"`x` (line n)"`` each."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []  # the cell cannot run: its results say so
    forbidden, bound = frozenset(names), _bound_names(tree)
    found = {
        (getattr(node, "lineno", 0), use)
        for node in ast.walk(tree)
        for use in _uses(node, forbidden, bound)
    }
    return [f"{use} (line {line})" for line, use in sorted(found)]
