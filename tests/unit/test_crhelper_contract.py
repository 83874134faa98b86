"""The crhelper internals that traffic_mirror.cloudformation.crhelper_adapter relies on, checked
one by one.

The adapter overrides private methods and reads private attributes of crhelper's CfnResource
(its docstring lists them and why). A crhelper upgrade that renames, removes or re-signs one
of them would break the adapter quietly; these tests fail first, naming the member.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from pathlib import Path

import pytest
from crhelper import CfnResource

from local.harness.lambda_loader import ROOT

#: Methods the adapter overrides or calls, with the parameters it relies on (after self).
METHODS: dict[str, list[str]] = {
    "__init__": [
        "json_logging",
        "log_level",
        "boto_level",
        "polling_interval",
        "sleep_on_delete",
        "ssl_verify",
    ],
    "__call__": ["event", "context"],
    "_set_timeout": [],
    "_timeout": [],
    "_cfn_response": ["event"],
    "_send": ["status", "reason", "send_response"],
    "generate_physical_id": ["event"],
    "create": ["func"],
    "update": ["func"],
    "delete": ["func"],
}
#: Attributes the adapter reads or sets, as CfnResource.__init__ leaves them.
ATTRIBUTES = (
    "Status",
    "Reason",
    "PhysicalResourceId",
    "StackId",
    "RequestId",
    "LogicalResourceId",
    "Data",
    "_context",
    "_response_url",
    "_timer",
    "_event",
    "_sam_local",
)


def pinned_version() -> str:
    line = next(
        line
        for line in (ROOT / "provider" / "requirements.txt").read_text().splitlines()
        if line.startswith("crhelper==")
    )
    return line.split("==", 1)[1]


def test_crhelper_is_the_pinned_version() -> None:
    installed = importlib.metadata.version("crhelper")
    assert installed == pinned_version(), (
        f"crhelper {installed} is installed, the adapter was written against "
        f"{pinned_version()}: re-check every member listed in crhelper_adapter's docstring"
    )


@pytest.mark.parametrize("name", sorted(METHODS))
def test_crhelper_still_has_each_method_the_adapter_relies_on(name: str) -> None:
    member = getattr(CfnResource, name, None)
    assert callable(member), f"crhelper's CfnResource.{name} is gone"
    params = [p for p in inspect.signature(member).parameters if p != "self"]
    assert params == METHODS[name], f"CfnResource.{name} now takes {params}"


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_crhelper_still_sets_each_attribute_the_adapter_reads(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")  # no polling clients
    resource = CfnResource(sleep_on_delete=0)
    assert hasattr(resource, name), f"CfnResource() no longer sets {name}"


def test_crhelper_still_reads_the_response_url_and_request_type_per_event() -> None:
    """The adapter forgets the previous event's URL; crhelper must set it from each event."""
    init = getattr(CfnResource, "_crhelper_init", None)
    assert callable(init), "crhelper's CfnResource._crhelper_init is gone"
    source = inspect.getsource(init).replace('"', "'")
    for needle in ("self._response_url = event['ResponseURL']", "self.RequestType ="):
        assert needle in source, f"CfnResource._crhelper_init no longer does: {needle}"


def test_the_adapter_is_the_only_module_that_imports_crhelper() -> None:
    provider = ROOT / "provider"
    importers = sorted(
        str(path.relative_to(provider))
        for path in Path(provider).rglob("*.py")
        if any(
            line.startswith(("from crhelper", "import crhelper"))
            for line in path.read_text().splitlines()
        )
    )
    assert importers == ["traffic_mirror/cloudformation/crhelper_adapter.py"]
