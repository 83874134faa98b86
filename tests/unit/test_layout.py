"""The provider's structure, enforced: imports flow one way, modules stay small, and nothing
below the parser reads the raw event."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from local.harness.lambda_loader import ROOT

PACKAGE = ROOT / "provider" / "traffic_mirror"
#: The one statement of the layers (every other is checked against this one). Lower layers
#: never import higher ones: the entries' wiring -> the crhelper adapter -> the sweep (audit)
#: -> the reconciler -> the lifecycles (a session's, a fleet's) -> adoption, the fleet pass
#: and drift -> converge, the fleet's EC2 reads and stack claims -> allocation, connection,
#: records, zones, the stack's status -> the EC2 gateway -> plan and validation -> ownership,
#: the response, the fleet schema -> the property table, errors, the event's types,
#: consistency, the wiring's logger. Modules are named by dotted path under traffic_mirror.
LAYERS: dict[str, int] = {
    "errors": 0,
    "wiring": 0,
    "aws.consistency": 0,
    "cloudformation.request": 0,
    "sessions.schema": 0,
    "ownership": 1,
    "cloudformation.response": 1,
    "fleets.schema": 1,
    "sessions.validation": 2,
    "sessions.plan": 2,
    "aws.ec2": 3,
    "aws.connect": 4,
    "aws.store": 4,
    "sessions.allocation": 4,
    "fleets.zones": 4,
    "cloudformation.stack": 4,
    "sessions.converge": 5,
    "watch.stack_claims": 5,
    "fleets.gateway": 5,
    "sessions.adoption": 6,
    "fleets.fleet": 6,
    "watch.drift": 6,
    "sessions.resource": 7,
    "fleets.resource": 7,
    "fleets.reconcile": 8,
    "watch.audit": 9,
    "cloudformation.crhelper_adapter": 10,
    "cloudformation.entry": 11,
}
#: Packages by concern, and those each may never import: sessions know nothing of fleets or
#: the sweep, fleets nothing of the sweep, and no package knows the custom resource wiring.
NEVER_IMPORTS: dict[str, set[str]] = {
    "aws": {"sessions.resource", "fleets", "watch", "cloudformation.entry"},
    "sessions": {"fleets", "watch", "cloudformation.entry", "cloudformation.crhelper_adapter"},
    "fleets": {"watch", "cloudformation.entry", "cloudformation.crhelper_adapter"},
    "watch": {"cloudformation.entry", "cloudformation.crhelper_adapter"},
}
#: Modules that may read the raw event dict: the adapter hands it to crhelper and answers a
#: malformed one; the entry rejects one without an https ResponseURL; request.py parses it.
RAW_EVENT_READERS = {
    "cloudformation.crhelper_adapter",
    "cloudformation.entry",
    "cloudformation.request",
}
MAX_LINES = 400  # a module holds one role whole rather than splinters of it
#: The three Lambda entries (template.yaml's Handlers), outside the package.
ENTRIES = ("app", "fleet_app", "reconciler_app")


def name_of(path: Path) -> str:
    """A module's dotted name under traffic_mirror."""
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.stem != "__init__")


def imported(path: Path) -> set[str]:
    """The traffic_mirror modules a module imports (dotted under traffic_mirror)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("traffic_mirror."):
            found.add(str(node.module).split(".", 1)[1])
        elif isinstance(node, ast.Import):
            found |= {
                a.name.split(".", 1)[1] for a in node.names if a.name.startswith("traffic_mirror.")
            }
    return found


def test_every_module_has_a_layer() -> None:
    assert {name_of(p) for p in modules()} == set(LAYERS)


@pytest.mark.parametrize("path", modules(), ids=name_of)
def test_imports_flow_one_way(path: Path) -> None:
    me = name_of(path)
    upward = {m for m in imported(path) if LAYERS[m] >= LAYERS[me]}
    assert not upward, f"{me} (layer {LAYERS[me]}) imports {upward}"


@pytest.mark.parametrize("path", [p for p in modules() if "." in name_of(p)], ids=name_of)
def test_packages_keep_to_their_concern(path: Path) -> None:
    me = name_of(path)
    banned = NEVER_IMPORTS.get(me.split(".")[0], set())
    wrong = {m for m in imported(path) if any(m == b or m.startswith(b + ".") for b in banned)}
    assert not wrong, f"{me} imports {wrong}"


@pytest.mark.parametrize("path", modules(), ids=name_of)
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{name_of(path)} has {lines} lines; split it by role"


def test_the_package_docstring_names_every_module_in_layer_order() -> None:
    """The package's own map (its docstring) is checked against LAYERS, never restated."""
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text())) or ""
    named = re.findall(r":mod:`~?traffic_mirror\.([a-z0-9_.]+)`", doc)
    assert sorted(named) == sorted(LAYERS), set(named) ^ set(LAYERS)
    assert [LAYERS[m] for m in named] == sorted(LAYERS[m] for m in named), named


def test_no_entry_imports_another() -> None:
    for entry in ENTRIES:
        tree = ast.parse((PACKAGE.parent / f"{entry}.py").read_text())
        names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        }
        assert not names & set(ENTRIES), f"{entry} imports {names & set(ENTRIES)}"


def test_the_reconciler_loads_no_crhelper() -> None:
    """Its cold start pays only for what it runs (python -X importtime shows the rest)."""
    probe = (
        f"import sys; sys.path.insert(0, {str(PACKAGE.parent)!r}); import reconciler_app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('crhelper', 'app', "
        "'fleet_app') or m == 'traffic_mirror.cloudformation.crhelper_adapter'))"
    )
    env = {**os.environ, "AWS_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "path", [p for p in modules() if name_of(p) not in RAW_EVENT_READERS], ids=name_of
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
