"""How `pytest -n 2 --dist loadscope` splits the suite between its workers.

A test module is one unit of work: many modules build a module-scoped fixture that costs
minutes (an nbgrader batch per assignment), and a module split across workers builds it on
each. The book's modules form one unit: they share one build and one browser. Modules with
slow tests are handed out first, so the fast unit tests fill the end of the run instead of
one worker waiting alone on a long module.
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadScopeScheduling

BOOK_TESTS = "tests/book/"


class ModuleScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with one scope per module and one for the whole book."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return BOOK_TESTS if module.startswith(BOOK_TESTS) else module


def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadScopeScheduling | None:
    if config.getoption("dist") != "loadscope":
        return None  # xdist's own scheduler for the other modes
    config.option.loadscopereorder = False  # keep the slow-first order set below
    return ModuleScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_modules)  # stable: modules stay whole
