"""The provider's structure, enforced: imports flow one way, modules stay small, and nothing
below the parser reads the raw event."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from local.harness.lambda_loader import ROOT

PACKAGE = ROOT / "provider" / "mirror_session"
#: Lower layers never import higher ones: entry -> adapter -> lifecycles (session, fleet,
#: reconciler, audit) -> adoption, the fleet pass and drift -> converge, preflight (dry-run
#: Creates), desired and inventory -> placement, allocation, held, zones (the fleet's zone
#: reads, which inventory's gateway extends), store and claims -> EC2
#: gateway -> plan and validation -> fleet schema, identity and response -> schema, errors
#: and request types.
LAYERS: dict[str, int] = {
    "schema": 0,
    "errors": 0,
    "consistency": 0,
    "request": 0,
    "fleet_schema": 1,
    "identity": 1,
    "response": 1,
    "validation": 2,
    "plan": 2,
    "ec2": 3,
    "claims": 4,
    "held": 4,
    "allocation": 4,
    "placement": 4,
    "zones": 4,
    "inventory": 5,
    "store": 4,
    "converge": 5,
    "desired": 5,
    "preflight": 5,
    "adoption": 6,
    "fleet": 6,
    "drift": 6,
    "resource": 7,
    "fleet_removal": 7,
    "fleet_resource": 8,
    "reconcile": 8,
    "audit": 7,
    "crhelper_adapter": 9,
}
#: Modules that may read the raw event dict: the adapter hands it to crhelper and answers a
#: malformed one; request.py parses it. (app.py, the entry, is outside the package.)
RAW_EVENT_READERS = {"crhelper_adapter", "request"}
MAX_LINES = 400  # a module holds one role whole rather than splinters of it


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def imported(path: Path) -> set[str]:
    """The mirror_session modules a module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mirror_session."):
            found.add(str(node.module).split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {
                a.name.split(".")[1] for a in node.names if a.name.startswith("mirror_session.")
            }
    return found


def test_every_module_has_a_layer() -> None:
    assert {p.stem for p in modules()} == set(LAYERS)


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.stem)
def test_imports_flow_one_way(path: Path) -> None:
    upward = {m for m in imported(path) if LAYERS[m] >= LAYERS[path.stem]}
    assert not upward, f"{path.stem} (layer {LAYERS[path.stem]}) imports {upward}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.stem)
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.stem} has {lines} lines; split it by role"


@pytest.mark.parametrize(
    "path", [p for p in modules() if p.stem not in RAW_EVENT_READERS], ids=lambda p: p.stem
)
def test_no_raw_event_access_below_the_parser(path: Path) -> None:
    """No name ``event`` is subscripted or asked for a key: the Request carries what is needed."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            assert node.value.id != "event", f"{path.stem}:{node.lineno} reads event[...]"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "event"
        ):
            raise AssertionError(f"{path.stem}:{node.lineno} calls event.{node.func.attr}(...)")


def test_the_raw_event_check_catches_a_reader(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f(event):\n    return event.get('StackId')\n")
    with pytest.raises(AssertionError, match=r"calls event\.get"):
        test_no_raw_event_access_below_the_parser(sneaky)
