"""traffic_mirror.fleets.schema: a fleet's properties, one selector, and zonal targets."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.fleets.schema import FLEET, SELECTORS, ZONAL
from traffic_mirror.sessions.validation import InvalidProperties, parse

BASE: dict[str, Any] = {"TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1"}


def problems(props: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidProperties) as info:
        parse(props, schema=FLEET)
    return info.value.problems


def test_no_selector_is_refused_naming_all_four() -> None:
    assert problems(BASE) == [f"exactly one of {', '.join(SELECTORS)} is required, got none"]


def test_two_selectors_are_refused_naming_those_given() -> None:
    got = problems({**BASE, "AutoScalingGroupName": "web", "InstanceIds": ["i-1"]})
    assert got == [
        f"exactly one of {', '.join(SELECTORS)} is required, "
        "got ['AutoScalingGroupName', 'InstanceIds']"
    ]


def test_a_fleet_names_no_single_interface() -> None:
    got = problems({**BASE, "AutoScalingGroupName": "web", "NetworkInterfaceId": "eni-1"})
    assert got[0].startswith('unknown property "NetworkInterfaceId"')


def test_zonal_targets_stand_in_for_the_target() -> None:
    spec = parse(
        {"TrafficMirrorFilterId": "tmf-1", "InstanceIds": ["i-1"], ZONAL: ["tmt-a", "tmt-b"]},
        schema=FLEET,
    )
    assert spec.lists == {"InstanceIds": ("i-1",), ZONAL: ("tmt-a", "tmt-b")}
    assert "TrafficMirrorTargetId" not in spec.values


def test_without_zonal_targets_the_target_is_required_and_the_message_says_so() -> None:
    got = problems({"TrafficMirrorFilterId": "tmf-1", "InstanceIds": ["i-1"]})
    assert got == [f"TrafficMirrorTargetId is required (or {ZONAL}, naming at least one)"]


def test_interfaces_is_primary_or_all() -> None:
    got = problems({**BASE, "InstanceIds": ["i-1"], "Interfaces": "secondary"})
    assert got == ['Interfaces must be "primary" or "all", got "secondary"']
    assert parse({**BASE, "InstanceIds": ["i-1"], "Interfaces": "all"}, schema=FLEET)


def test_instance_tags_become_a_map() -> None:
    spec = parse({**BASE, "InstanceTags": [{"Key": "role", "Value": "web"}]}, schema=FLEET)
    assert spec.pairs == {"InstanceTags": {"role": "web"}}


def test_selectors_are_never_sent_to_ec2() -> None:
    sent = {f.name for f in FLEET.fields if f.sent_to_ec2}
    assert not sent & {*SELECTORS, ZONAL, "Interfaces"}
