"""docs/development.md's table of which tests test which module, kept true: every provider
module (tests.unit.test_layout.LAYERS) appears once, and every unit test module it names
exists and imports (or loads) the module it is listed for."""

from __future__ import annotations

import ast
import re

import pytest

from local.harness.lambda_loader import ROOT
from tests.unit.test_layout import LAYERS

DOC = ROOT / "docs" / "development.md"
HEADING = "## Which tests test which module"
UNIT = ROOT / "tests" / "unit"


def rows(text: str) -> list[tuple[str, list[str], list[str]]]:
    """(module, unit test files, suites) per row of the first table after the heading."""
    section = text.split(HEADING, 1)[1]
    found: list[tuple[str, list[str], list[str]]] = []
    for line in section.splitlines():
        if found and not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or cells[0] in ("Module", "---"):
            continue
        names = [re.findall(r"`([^`]+)`", c) for c in cells]
        assert len(names[0]) == 1, f"one module per row: {line}"
        found.append((names[0][0], names[1], names[2]))
    return found


TABLE = rows(DOC.read_text())


def uses(source: str, module: str) -> bool:
    """Whether test source imports traffic_mirror.<module> (any form), or loads it by its
    dotted name or its file's path."""
    dotted = f"traffic_mirror.{module}"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == dotted:
                return True
            if any(f"{node.module}.{a.name}" == dotted for a in node.names):
                return True
        elif isinstance(node, ast.Import) and any(a.name == dotted for a in node.names):
            return True
    path = "traffic_mirror/" + module.replace(".", "/") + ".py"
    return f'"{dotted}"' in source or path in source


def test_every_module_appears_exactly_once() -> None:
    listed = [module for module, _, _ in TABLE]
    assert sorted(listed) == sorted(LAYERS), set(listed) ^ set(LAYERS)
    assert len(listed) == len(set(listed))


def test_every_module_has_a_unit_test_module() -> None:
    assert [module for module, unit, _ in TABLE if not unit] == []


@pytest.mark.parametrize(("module", "unit", "suites"), TABLE, ids=[r[0] for r in TABLE])
def test_each_unit_test_module_named_exists_and_uses_its_module(
    module: str, unit: list[str], suites: list[str]
) -> None:
    for suite in suites:
        assert (ROOT / "tests" / suite).is_file(), f"{module}: tests/{suite} does not exist"
    for name in unit:
        path = UNIT / name
        assert path.is_file(), f"{module}: tests/unit/{name} does not exist"
        assert uses(path.read_text(), module), f"tests/unit/{name} never imports {module}"


def test_a_unit_module_that_does_not_use_its_module_is_caught() -> None:
    assert uses("from traffic_mirror.aws import store\n", "aws.store")
    assert uses("from traffic_mirror.aws.store import Store\n", "aws.store")
    assert not uses("from traffic_mirror.aws.store_x import Store\n", "aws.store")
    assert not uses("from traffic_mirror.aws import ec2\n", "aws.store")


def test_the_table_is_read_to_its_end() -> None:
    text = (
        f"{HEADING}\n\n| Module | Unit tests | Suites |\n|---|---|---|\n| `a` | `t.py` | |\n\nX\n"
    )
    assert rows(text) == [("a", ["t.py"], [])]
