"""Comparisons: ``== != < <= > >=`` give bool tensors, never recorded (no gradient).

A bool tensor works as a mask: ``x * (x > 0)`` keeps x's dtype and its gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor


def _values(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def eq(a: Any, b: Any) -> Tensor:
    return Tensor._wrap(np.asarray(_values(a) == _values(b)))


def ne(a: Any, b: Any) -> Tensor:
    return Tensor._wrap(np.asarray(_values(a) != _values(b)))


def lt(a: Any, b: Any) -> Tensor:
    return Tensor._wrap(np.asarray(_values(a) < _values(b)))


def le(a: Any, b: Any) -> Tensor:
    return Tensor._wrap(np.asarray(_values(a) <= _values(b)))


def gt(a: Any, b: Any) -> Tensor:
    return Tensor._wrap(np.asarray(_values(a) > _values(b)))


def ge(a: Any, b: Any) -> Tensor:
    return Tensor._wrap(np.asarray(_values(a) >= _values(b)))
