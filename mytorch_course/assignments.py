"""The one loader of the instructor's grading files.

Each assignment has a folder ``grading/a<id>/`` (``01-derivatives`` -> ``a01_derivatives``,
an importable name) with ``parts.py`` (``PARTS: dict[str, Part]``, keyed by the grade_id of
each graded test cell), ``drivers.py`` (the functions that run in the student's kernel,
shipped there as source) and ``variants.py`` (``VARIANTS: dict[part, dict[name, Patch]]``,
known-wrong variants as small patches against the part's solution cell, and optionally
``REASONS: dict[name, str]``, what the verdict on a variant of that name must say).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from types import ModuleType

from .runner import Part

# A patch maps text of the solution cell (found exactly once) to its replacement.
Patch = dict[str, str]


def folder_name(assignment_id: str) -> str:
    """The importable folder name of an assignment: ``01-derivatives`` -> ``a01_derivatives``."""
    return "a" + re.sub(r"\W", "_", assignment_id)


def _module(
    grading_dir: str | os.PathLike[str], assignment_id: str, name: str
) -> ModuleType | None:
    folder = Path(grading_dir).resolve()
    if not (folder / folder_name(assignment_id) / f"{name}.py").is_file():
        return None
    # One package per grading folder: the course's and a test fixture's never collide.
    package = "_grading_" + hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    if package not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            package, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        sys.modules[package] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[package])
    return importlib.import_module(f"{package}.{folder_name(assignment_id)}.{name}")


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


def driver_source(part: Part) -> str:
    """The source of the module that holds ``part.driver`` (what the kernel executes)."""
    return inspect.getsource(sys.modules[part.driver.__module__])


def apply_patch(source: str, patch: Patch) -> str:
    """``source`` with each key of ``patch`` (found exactly once) replaced by its value."""
    for old, new in patch.items():
        if source.count(old) != 1:
            raise ValueError(f"patch text found {source.count(old)} times, not once: {old!r}")
        source = source.replace(old, new)
    return source
