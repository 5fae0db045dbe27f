"""The one loader of an assignment's grading files (parts and known-wrong variants)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .runner import Part

_parts_cache: dict[tuple[str, float], dict[str, Part]] = {}


def load_parts(grading_dir: str | os.PathLike[str], assignment_id: str) -> dict[str, Part]:
    """Load ``PARTS`` from ``<grading_dir>/<assignment_id>.py`` ({} when there is none)."""
    path = Path(grading_dir) / f"{assignment_id}.py"
    if not path.is_file():
        return {}
    key = (str(path.resolve()), path.stat().st_mtime)
    if key not in _parts_cache:
        # A file path, not an import: assignment ids ("01-derivatives") are not module names.
        name = "_mytorch_grading_" + hashlib.sha1(key[0].encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses need the module registered
        spec.loader.exec_module(module)
        parts = getattr(module, "PARTS", None)
        if not isinstance(parts, dict):
            raise RuntimeError(f"{path} must define PARTS: dict[str, Part]")
        _parts_cache[key] = parts
    return _parts_cache[key]


def load_mutants(root: Path, aid: str) -> dict[str, dict[str, str]]:
    """``MUTANTS`` from ``grading/mutants/<aid>.py`` ({} when absent)."""
    path = root / "grading" / "mutants" / f"{aid}.py"
    if not path.is_file():
        return {}
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": f"_mutants_{aid}"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return dict(namespace.get("MUTANTS", {}))
