"""traffic_mirror.sessions.adoption: which sessions may be taken over, the refusals that say
why not (and write nothing), and the order of the writes when one may (a fake gateway)."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.cloudformation.request import Request
from traffic_mirror.errors import ProviderError
from traffic_mirror.ownership import MANAGED_BY_KEY, Owner, is_dry_run_id
from traffic_mirror.sessions.adoption import ADOPTABLE_KEY, adopt
from traffic_mirror.sessions.plan import Modify, TagWrite
from traffic_mirror.sessions.validation import parse

from .fakes import RecordingGateway, described

STACK = "arn:aws:cloudformation:us-east-1:111122223333:stack/net/x"
REQUEST = Request("Create", STACK, "r-1", "WebMirror")
OWNER = Owner.of(REQUEST)
PROPS: dict[str, Any] = {
    "NetworkInterfaceId": "eni-1",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
    "SessionNumber": "1",
    "AdoptSessionId": "tms-0123456789abcdef0",
}


def native(**tags: str) -> dict[str, Any]:
    """The session as AWS::EC2::TrafficMirrorSession left it, with the given tags."""
    return described("tms-0123456789abcdef0", VirtualNetworkId=5, tags=tags)


class Gateway(RecordingGateway):
    """The EC2 gateway's calls adoption makes, answered from lists and recorded."""

    def __init__(self, on_interface: list[Any], elsewhere: Any = None) -> None:
        super().__init__(on_interface)
        self.elsewhere = elsewhere

    def find(self, session_id: str) -> Any:
        self.calls.append(("find", session_id))
        return self.elsewhere

    def retag(self, session_id: str, writes: list[TagWrite]) -> None:
        self.calls.append(("retag", session_id, writes))

    def check_retag(self, session_id: str, writes: list[TagWrite]) -> None:
        self.calls.append(("check_retag", session_id, writes))

    def modify(self, session_id: str, change: Modify) -> Any:
        self.calls.append(("modify", session_id, change))
        return {**self.sessions[0], **change.changes}

    def check_modify(self, session_id: str, change: Modify) -> None:
        self.calls.append(("check_modify", session_id, change))

    def writes(self) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] not in ("describe", "find")]


@pytest.fixture(autouse=True)
def provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANAGED_BY", "tmp")


def refused(ec2: Gateway, **props: Any) -> str:
    with pytest.raises(ProviderError) as info:
        adopt(REQUEST, parse({**PROPS, **props}), ec2)
    assert ec2.writes() == [], "a refused adoption writes nothing"
    return info.value.reason


def test_an_adoptable_session_is_marked_first_then_changed_then_loses_its_opt_in() -> None:
    ec2 = Gateway([native(**{ADOPTABLE_KEY: "tmp"})])
    outcome = adopt(REQUEST, parse({**PROPS, "PacketLength": "128"}), ec2)
    assert outcome.physical_id == "tms-0123456789abcdef0"
    assert outcome.undo is None  # it existed before: never deleted to undo a late answer
    assert outcome.data["VirtualNetworkId"] == "5"  # the VXLAN ID stays what it was
    assert ec2.calls == [
        ("describe", "eni-1"),  # found on the interface: no lookup by ID
        ("retag", "tms-0123456789abcdef0", [TagWrite("put", OWNER.tags(allocated=False))]),
        ("modify", "tms-0123456789abcdef0", Modify({"PacketLength": 128})),
        # the template declares no such tag: it goes like any tag the stack does not declare
        ("retag", "tms-0123456789abcdef0", [TagWrite("drop", {ADOPTABLE_KEY: ""})]),
    ]


def test_a_session_already_this_resources_is_not_marked_again() -> None:
    ec2 = Gateway([native(**OWNER.tags(allocated=False))])
    adopt(REQUEST, parse(PROPS), ec2)
    assert ec2.writes() == []


def test_a_session_nowhere_is_refused_saying_where_it_was_looked_for() -> None:
    reason = refused(Gateway([]))
    assert reason.startswith(
        "adopt traffic mirror session (tms-0123456789abcdef0): not found in this account, "
        "region us-east-1. Check AdoptSessionId, and RoleArn or Region"
    )


def test_a_session_on_another_interface_is_refused_naming_both() -> None:
    ec2 = Gateway([], elsewhere={**native(**{ADOPTABLE_KEY: "tmp"}), "NetworkInterfaceId": "eni-2"})
    assert "NetworkInterfaceId is eni-2 there, not eni-1" in refused(ec2)


def test_a_session_of_another_provider_stack_is_refused() -> None:
    ec2 = Gateway([native(**{MANAGED_BY_KEY: "tmp-other", ADOPTABLE_KEY: "tmp"})])
    assert "it is managed by the provider stack tmp-other" in refused(ec2)


def test_a_session_of_another_resource_is_refused_naming_it() -> None:
    other = Owner(STACK, "DbMirror").tags(allocated=False)
    assert "it belongs to net/DbMirror" in refused(Gateway([native(**other)]))


def test_a_session_whose_owner_did_not_opt_in_is_refused_naming_the_tag() -> None:
    reason = refused(Gateway([native(**{ADOPTABLE_KEY: "someone-else"})]))
    assert f"it is not tagged {ADOPTABLE_KEY}=tmp" in reason


def test_a_dry_run_only_asks_ec2_and_answers_a_dry_run_id() -> None:
    ec2 = Gateway([native(**{ADOPTABLE_KEY: "tmp"})])
    outcome = adopt(REQUEST, parse({**PROPS, "PacketLength": "128", "DryRun": "true"}), ec2)
    assert is_dry_run_id(outcome.physical_id)
    assert outcome.data["DryRun"] == "true"
    assert [c[0] for c in ec2.writes()] == ["check_retag", "check_modify", "check_retag"]
