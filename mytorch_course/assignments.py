"""The one loader of the instructor's grading files.

Each assignment has a folder ``grading/a<id>/`` (``01-derivatives`` -> ``a01_derivatives``,
an importable name) with ``parts.py`` (``PARTS: dict[str, Part]``, keyed by the grade_id of
each graded test cell), ``drivers.py`` (the functions that run in the student's kernel,
shipped there as source) and ``variants.py`` (``VARIANTS: dict[part, dict[name, Patch]]``,
known-wrong variants as small patches against the part's solution cell, and optionally
``REASONS: dict[name, str]``, what the verdict on a variant of that name must say).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.abc
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .integrity import GradingFilesChanged, digest, expected_digest, grading_sources
from .runner import Part

# A patch maps text of the solution cell (found exactly once) to its replacement.
Patch = dict[str, str]


def folder_name(assignment_id: str) -> str:
    """The importable folder name of an assignment: ``01-derivatives`` -> ``a01_derivatives``."""
    return "a" + re.sub(r"\W", "_", assignment_id)


class _GradingFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports one grading folder's modules from the bytes read (and hashed) at first use, so
    a later change on disk is never executed, nor shipped to a kernel as a driver."""

    def __init__(self, package: str, folder: Path, files: dict[str, bytes]) -> None:
        self.package, self.folder = package, folder
        self.modules: dict[str, tuple[str, bool]] = {}  # module name -> (relative path, is pkg)
        for rel in files:
            parts = Path(rel).with_suffix("").parts
            is_pkg = parts[-1] == "__init__"
            dotted = ".".join((package, *(parts[:-1] if is_pkg else parts)))
            self.modules[dotted] = (rel, is_pkg)
        self.files = files

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.modules:
            return None
        rel, is_pkg = self.modules[fullname]
        spec = importlib.util.spec_from_loader(fullname, self, origin=str(self.folder / rel))
        assert spec is not None
        spec.has_location = True
        if is_pkg:
            spec.submodule_search_locations = [str(self.folder / Path(rel).parent)]
        return spec

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        rel, _ = self.modules[module.__name__]
        code = compile(self.files[rel], str(self.folder / rel), "exec", dont_inherit=True)
        exec(code, module.__dict__)

    def source(self, module_name: str) -> str | None:
        entry = self.modules.get(module_name)
        return self.files[entry[0]].decode() if entry else None


_finders: dict[str, _GradingFinder] = {}


def _module(
    grading_dir: str | os.PathLike[str], assignment_id: str, name: str
) -> ModuleType | None:
    folder = Path(grading_dir).resolve()
    # One package per grading folder: the course's and a test fixture's never collide.
    package = "_grading_" + hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    if package not in _finders:
        if not (folder / "__init__.py").is_file():
            return None
        files = grading_sources(folder)
        expected = expected_digest(folder)
        if expected is not None and digest(files) != expected:
            raise GradingFilesChanged(
                f"the grading files in {folder} changed after grading started; refusing to "
                "grade with them (the run restores and reports them)"
            )
        _finders[package] = _GradingFinder(package, folder, files)
        sys.meta_path.insert(0, _finders[package])
    finder = _finders[package]
    if f"{package}.{folder_name(assignment_id)}.{name}" not in finder.modules:
        return None
    return importlib.import_module(f"{package}.{folder_name(assignment_id)}.{name}")


def loaded_digest(grading_dir: str | os.PathLike[str]) -> str:
    """The digest of the grading files this process loaded ('' before any was loaded)."""
    folder = Path(grading_dir).resolve()
    finder = _finders.get("_grading_" + hashlib.sha1(str(folder).encode()).hexdigest()[:12])
    return digest(finder.files) if finder else ""


def load_parts(grading_dir: str | os.PathLike[str], assignment_id: str) -> dict[str, Part]:
    """``PARTS`` of an assignment ({} when it has no grading folder)."""
    module = _module(grading_dir, assignment_id, "parts")
    return dict(module.PARTS) if module else {}


def load_variants(
    grading_dir: str | os.PathLike[str], assignment_id: str
) -> dict[str, dict[str, Patch]]:
    """``VARIANTS`` of an assignment ({} when there are none)."""
    module = _module(grading_dir, assignment_id, "variants")
    return dict(module.VARIANTS) if module else {}


def variant_reasons(grading_dir: str | os.PathLike[str], assignment_id: str) -> dict[str, str]:
    """``REASONS`` of an assignment: variant name -> what its verdict must say ({} if none)."""
    module = _module(grading_dir, assignment_id, "variants")
    return dict(getattr(module, "REASONS", {})) if module else {}


def driver_sources(part: Part) -> list[str]:
    """The sources the kernel executes, in order, to define ``part.driver``: each grading
    module its drivers module imports relatively (the kernel has no grading package), then
    the drivers module itself with those imports blanked out (line numbers kept)."""
    name = part.driver.__module__
    source = _loaded_source(name)
    lines = source.splitlines(keepends=True)
    shipped = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            relative = "." * node.level + (node.module or "")
            package = name.rpartition(".")[0]
            shipped.append(_loaded_source(importlib.util.resolve_name(relative, package)))
            for i in range(node.lineno - 1, node.end_lineno or node.lineno):
                lines[i] = "\n"
    return [*shipped, "".join(lines)]


def _loaded_source(module_name: str) -> str:
    """A grading module's source: the bytes loaded, not what is on disk now."""
    for finder in _finders.values():
        if (source := finder.source(module_name)) is not None:
            return source
    return inspect.getsource(sys.modules[module_name])


def apply_patch(source: str, patch: Patch) -> str:
    """``source`` with each key of ``patch`` (found exactly once) replaced by its value."""
    for old, new in patch.items():
        if source.count(old) != 1:
            raise ValueError(f"patch text found {source.count(old)} times, not once: {old!r}")
        source = source.replace(old, new)
    return source
