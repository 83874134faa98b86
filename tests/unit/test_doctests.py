"""The examples in the provider's docstrings run, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import traffic_mirror

#: Every module, in the subpackages too (iter_modules would find only the top level).
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(traffic_mirror.__path__, "traffic_mirror.") if not m.ispkg
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_examples_exist() -> None:
    """Guard against a module list that silently found nothing to run."""
    attempted = sum(
        doctest.testmod(importlib.import_module(n), optionflags=doctest.ELLIPSIS).attempted
        for n in MODULES
    )
    assert {"traffic_mirror.sessions.allocation", "traffic_mirror.fleets.zones"} <= set(MODULES)
    assert attempted >= 30
