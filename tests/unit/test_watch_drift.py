"""traffic_mirror.watch.drift: findings from pure comparisons: what differs between a record and
EC2's session, whether a marked session is an orphan, and numbers shared on one interface."""

from __future__ import annotations

from typing import Any

from traffic_mirror.ownership import NUMBER_KEY, Owner
from traffic_mirror.sessions.validation import parse
from traffic_mirror.watch.drift import Difference, Finding, differences, orphaned, shared
from traffic_mirror.watch.stack_claims import GONE, UNSURE

from .fakes import described

OWNER = Owner("arn:aws:cloudformation:us-east-1:1:stack/net/x", "Web")
DECLARED: dict[str, Any] = {
    "NetworkInterfaceId": "eni-1",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
    "SessionNumber": "1",
    "VirtualNetworkId": "7",
}


def held(tags: dict[str, str] | None = None, **fields: Any) -> Any:
    return described(tags={**OWNER.tags(allocated=False), **(tags or {})}, **fields)


def test_a_session_as_declared_has_no_difference() -> None:
    assert differences(parse(DECLARED), held()) == []


def test_changed_fields_are_listed_with_declared_and_held_values() -> None:
    found = differences(parse(DECLARED), held(TrafficMirrorTargetId="tmt-2", SessionNumber=2))
    assert found == [
        Difference("field", "TrafficMirrorTargetId", "tmt-1", "tmt-2"),
        Difference("field", "SessionNumber", "1", "2"),
    ]


def test_fields_set_by_hand_where_the_stack_declared_none_are_drift_to_remove() -> None:
    found = differences(parse(DECLARED), held(PacketLength=100, Description="x"))
    assert found == [
        Difference("field", "PacketLength", None, "100"),
        Difference("field", "Description", None, "x"),
    ]


def test_user_tags_changed_or_added_are_drift_but_the_providers_own_tags_are_not() -> None:
    desired = parse({**DECLARED, "Tags": [{"Key": "team", "Value": "net"}]})
    found = differences(desired, held({"team": "ops", "extra": "1"}))
    assert found == [
        Difference("tag", "team", "net", "ops"),
        Difference("tag", "extra", None, "1"),
    ]


def test_a_session_is_an_orphan_only_when_cloudformation_says_so() -> None:
    session = held()
    assert orphaned(session, UNSURE) is None  # CloudFormation could not tell: never an orphan
    assert orphaned(session, "tms-1") is None
    assert orphaned(session, "fleet-9ce8adfec6fcd560a7ef") is None  # a fleet claims its own
    assert orphaned(session, GONE) == "its stack or resource no longer exists"
    assert orphaned(session, "tms-2") == "its resource now has physical ID tms-2"


def numbered(sid: str, eni: str, number: int, mode: str = "allocated") -> Any:
    return {
        "TrafficMirrorSessionId": sid,
        "NetworkInterfaceId": eni,
        "SessionNumber": number,
        "Tags": [{"Key": NUMBER_KEY, "Value": mode}],
    }


def test_only_numbers_shared_on_one_interface_are_grouped() -> None:
    sessions = [numbered("tms-1", "eni-1", 1), numbered("tms-2", "eni-2", 1)]
    assert shared(sessions) == []


def test_in_a_shared_number_a_declared_session_keeps_it_over_a_lower_id() -> None:
    sessions = [
        numbered("tms-a", "eni-1", 4),
        numbered("tms-c", "eni-1", 4, "declared"),
        numbered("tms-b", "eni-1", 4),
    ]
    (group,) = shared(sessions)
    assert [s["TrafficMirrorSessionId"] for s in group] == ["tms-c", "tms-a", "tms-b"]


def test_a_finding_line_leaves_empty_parts_null() -> None:
    line = Finding("deleted", "tms-1", OWNER.stack_id, "Web").line()
    assert line["field"] is None
    assert line["detail"] is None
    assert line["where"] is None
    assert line["action"] == "reported"
