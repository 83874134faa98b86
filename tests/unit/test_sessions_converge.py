"""traffic_mirror.sessions.converge: an existing session brought to the declared properties in
place: the order of the writes, a number check before any of them, nothing written when
nothing differs, and the attributes read off EC2's answer (a fake gateway records the calls).
tests/unit/test_as_held.py covers what counts as held when a field is left out."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.errors import ProviderError
from traffic_mirror.ownership import LOGICAL_KEY, STACK_KEY, Owner
from traffic_mirror.sessions.allocation import Interface
from traffic_mirror.sessions.converge import (
    attributes,
    converge,
    held_as_spec,
    preview,
    put_back,
)
from traffic_mirror.sessions.plan import Modify, TagWrite
from traffic_mirror.sessions.validation import parse

from .fakes import RecordingGateway, described

OWNER = Owner("arn:aws:cloudformation:us-east-1:1:stack/net/x", "Web")
DECLARED: dict[str, Any] = {
    "NetworkInterfaceId": "eni-1",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
    "SessionNumber": "1",
}


def session(
    sid: str = "tms-1", number: int = 1, tags: dict[str, str] | None = None, **f: Any
) -> Any:
    tags = OWNER.tags(allocated=False) if tags is None else tags
    return described(sid, number=number, tags=tags, **f)


class Gateway(RecordingGateway):
    def modify(self, session_id: str, change: Modify) -> Any:
        self.calls.append(("modify", change))
        return {**session(session_id), **change.changes}

    def retag(self, session_id: str, writes: list[TagWrite]) -> None:
        self.calls.append(("retag", writes))

    def check_modify(self, session_id: str, change: Modify) -> None:
        self.calls.append(("check_modify", change))

    def check_retag(self, session_id: str, writes: list[TagWrite]) -> None:
        self.calls.append(("check_retag", writes))


def test_a_declared_number_another_session_holds_fails_naming_it_before_any_write() -> None:
    ec2 = Gateway()
    held, rival = session(), session("tms-2", number=2)
    view = Interface("eni-1", [held, rival])
    new = parse({**DECLARED, "SessionNumber": "2", "Description": "x"})
    with pytest.raises(ProviderError, match="tms-2"):
        converge(ec2, view, held, base=held_as_spec(held, new), new=new, owner=OWNER)
    assert ec2.calls == []


def test_marks_go_first_then_the_fields_then_the_tags() -> None:
    ec2 = Gateway()
    held = session(tags={"team": "a"})
    new = parse({**DECLARED, "PacketLength": "100", "Tags": [{"Key": "team", "Value": "b"}]})
    marks = [TagWrite("put", OWNER.tags(allocated=False))]
    base = held_as_spec(held, new)
    converge(ec2, Interface("eni-1", [held]), held, base=base, new=new, owner=OWNER, marks=marks)
    assert ec2.calls == [
        ("retag", marks),  # the role may only change sessions carrying the marks
        ("modify", Modify({"PacketLength": 100})),
        ("retag", [TagWrite("put", {"team": "b"})]),
    ]


def test_a_session_lacking_ownership_tags_gets_them_with_the_changes() -> None:
    ec2 = Gateway()
    held = session(tags={})  # made by an older provider
    new = parse(DECLARED)
    converge(
        ec2, Interface("eni-1", [held]), held, base=held_as_spec(held, new), new=new, owner=OWNER
    )
    assert ec2.calls == [
        ("retag", [TagWrite("put", {STACK_KEY: OWNER.stack_id, LOGICAL_KEY: "Web"})])
    ]


def test_a_dry_run_only_asks_ec2() -> None:
    ec2 = Gateway()
    held = session()
    new = parse({**DECLARED, "Description": "x", "DryRun": "true"})
    converge(
        ec2,
        Interface("eni-1", [held]),
        held,
        base=held_as_spec(held, new),
        new=new,
        owner=OWNER,
        dry_run=True,
    )
    assert [c[0] for c in ec2.calls] == ["check_modify"]


def test_put_back_writes_nothing_for_a_session_as_declared() -> None:
    ec2 = Gateway()
    put_back(ec2, session(), parse(DECLARED), OWNER)
    assert ec2.calls == []


def test_put_back_reads_the_interface_before_restoring_a_number() -> None:
    ec2 = Gateway([session(number=3)])
    put_back(ec2, session(number=3), parse(DECLARED), OWNER)
    assert ec2.calls == [("describe", "eni-1"), ("modify", Modify({"SessionNumber": 1}))]


def test_held_as_spec_leaves_out_reserved_tags_and_values_ec2_assigned() -> None:
    spec = held_as_spec(session(tags={**OWNER.tags(allocated=True), "team": "a"}), parse(DECLARED))
    assert spec.tags == {"team": "a"}
    assert "VirtualNetworkId" not in spec.values  # not declared: EC2's to keep


def test_attributes_name_the_arn_in_the_sessions_partition_and_account() -> None:
    data = attributes(session(OwnerId="222233334444"), "cn-north-1", "aws-cn")
    assert data["Arn"] == "arn:aws-cn:ec2:cn-north-1:222233334444:traffic-mirror-session/tms-1"
    assert "PacketLength" not in data  # whole packets: EC2 reports none
    assert attributes(session(PacketLength=100), "r", "aws")["PacketLength"] == "100"


def test_a_dry_runs_attributes_leave_what_only_ec2_assigns_empty() -> None:
    data = preview({"NetworkInterfaceId": "eni-1", "SessionNumber": 2}, "dryrun-1")
    assert (data["Arn"], data["OwnerId"], data["VirtualNetworkId"], data["DryRun"]) == (
        "",
        "",
        "",
        "true",
    )
    assert data["SessionNumber"] == "2"
