"""The pure plan: old/new properties to the exact EC2 writes."""

from __future__ import annotations

from typing import Any

from traffic_mirror.sessions.plan import (
    Modify,
    TagChanges,
    UpdatePlan,
    create_params,
    free_numbers,
    plan_update,
)
from traffic_mirror.sessions.validation import parse, parse_previous

BASE: dict[str, Any] = {
    "NetworkInterfaceId": "eni-1",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
    "SessionNumber": "1",
}


def plan(old: dict[str, Any], new: dict[str, Any]) -> Any:
    return plan_update(parse_previous(old), parse(new))


def test_no_change_means_no_write() -> None:
    p = plan(
        {**BASE, "Tags": [{"Key": "a", "Value": "1"}]},
        {**BASE, "Tags": [{"Key": "a", "Value": "1"}]},
    )
    assert p == UpdatePlan()


def test_number_given_as_int_or_string_is_the_same() -> None:
    assert plan({**BASE, "SessionNumber": 1}, BASE) == UpdatePlan()


def test_only_changed_fields_are_sent() -> None:
    p = plan(BASE, {**BASE, "Description": "new", "TrafficMirrorFilterId": "tmf-2"})
    assert p.modify == Modify({"TrafficMirrorFilterId": "tmf-2", "Description": "new"}, ())
    assert p.tags is None and not p.elsewhere_because


def test_removed_optional_fields_go_to_remove_fields() -> None:
    old = {**BASE, "PacketLength": "100", "VirtualNetworkId": "7", "Description": "d"}
    p = plan(old, BASE)
    assert p.modify == Modify({}, ("packet-length", "virtual-network-id", "description"))


def test_a_new_interface_places_the_session_elsewhere_with_no_in_place_write() -> None:
    p = plan(BASE, {**BASE, "NetworkInterfaceId": "eni-2", "Description": "x"})
    assert p.elsewhere_because == ("NetworkInterfaceId",) and p.modify is None


def test_tag_changes_name_exactly_the_changed_keys() -> None:
    old = {
        **BASE,
        "Tags": [
            {"Key": "keep", "Value": "1"},
            {"Key": "change", "Value": "1"},
            {"Key": "drop", "Value": "1"},
        ],
    }
    new = {
        **BASE,
        "Tags": [
            {"Key": "keep", "Value": "1"},
            {"Key": "change", "Value": "2"},
            {"Key": "add", "Value": "3"},
        ],
    }
    p = plan(old, new)
    assert p.tags == TagChanges({"change": "2", "add": "3"}, ("drop",))
    assert p.modify is None


def test_unreadable_old_value_is_sent_again() -> None:
    # A rolled-back Update sends the failed (invalid) properties as "old".
    p = plan({**BASE, "SessionNumber": "0", "Description": "x"}, {**BASE, "Description": "x"})
    assert p.modify == Modify({"SessionNumber": 1}, ())


def test_an_unreadable_old_interface_does_not_place_the_session_elsewhere() -> None:
    p = plan({**BASE, "NetworkInterfaceId": "bad id!"}, BASE)
    assert not p.elsewhere_because


def test_unreadable_old_tags_put_every_new_tag() -> None:
    p = plan({**BASE, "Tags": "garbage"}, {**BASE, "Tags": [{"Key": "a", "Value": "1"}]})
    assert p.tags == TagChanges({"a": "1"}, ())


def test_create_params_are_the_typed_values() -> None:
    assert create_params(parse({**BASE, "PacketLength": "9"})) == {
        "NetworkInterfaceId": "eni-1",
        "TrafficMirrorTargetId": "tmt-1",
        "TrafficMirrorFilterId": "tmf-1",
        "SessionNumber": 1,
        "PacketLength": 9,
    }


def test_controls_are_never_ec2_parameters() -> None:
    spec = parse(
        {
            **BASE,
            "DryRun": "true",
            "RoleArn": "arn:aws:iam::111111111111:role/TrafficMirrorSessions",
            "ExternalId": "ops",
            "Region": "eu-west-1",
        }
    )
    assert create_params(spec) == {**BASE, "SessionNumber": 1}


def test_another_role_or_region_places_the_session_elsewhere() -> None:
    role = "arn:aws:iam::111111111111:role/TrafficMirrorSessions"
    assert plan(BASE, {**BASE, "RoleArn": role}).elsewhere_because == ("RoleArn",)
    assert plan(BASE, {**BASE, "Region": "eu-west-1"}).elsewhere_because == ("Region",)
    both = plan({**BASE, "RoleArn": role}, {**BASE, "Region": "eu-west-1"})
    assert both.elsewhere_because == ("RoleArn", "Region")


def test_external_id_dry_run_and_an_omitted_number_write_nothing() -> None:
    role = "arn:aws:iam::111111111111:role/TrafficMirrorSessions"
    old = {**BASE, "RoleArn": role, "ExternalId": "one"}
    assert plan(old, {**old, "ExternalId": "two"}) == UpdatePlan()
    assert plan(BASE, {**BASE, "DryRun": "true"}) == UpdatePlan()
    omitted = {k: v for k, v in BASE.items() if k != "SessionNumber"}
    assert plan(omitted, omitted) == UpdatePlan()
    assert plan(BASE, omitted) == UpdatePlan()  # omitting a number later keeps it


def test_free_numbers_are_the_lowest_unheld_from_1_and_none_when_all_are_held() -> None:
    assert free_numbers([], 1) == [1]
    assert free_numbers([1, 2, 4], 2) == [3, 5]
    assert free_numbers(range(1, 32767)) == []
