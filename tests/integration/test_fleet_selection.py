"""A selector that names nothing fails (issue 22, part 4): a group, instances or interfaces
that do not exist are FAILED, naming them and where the provider looked, before anything is
written; an existing group with no instances is a fleet of none, said in InterfacesSelected;
a fleet of none still learns that its target or filter is missing."""

from __future__ import annotations

import logging

import boto3
import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from tests.integration.test_fleet import fleet_props, group, records


def test_a_typo_in_the_group_name_fails_naming_it_where_it_looked_and_the_close_names(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 2, name="web-frontend")
    before = len(ec2.calls)
    answer = fleet.create(fleet_props(fx, AutoScalingGroupName="web-frontnd"))
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    assert reason.startswith("AutoScalingGroupName web-frontnd was not found in this account,")
    assert "region us-east-1" in reason and "Did you mean web-frontend?" in reason
    assert ec2.writes(before) == [] and ec2.sessions() == [] and records(ec2) == []


@pytest.mark.parametrize(
    ("prop", "value"),
    [("InstanceIds", ["i-0123456789abcdef0"]), ("NetworkInterfaceIds", ["eni-0123456789abcdef0"])],
)
def test_instance_or_interface_ids_that_do_not_exist_fail_naming_them(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, prop: str, value: list[str]
) -> None:
    before = len(ec2.calls)
    answer = fleet.create(fleet_props(fx, AutoScalingGroupName=None, **{prop: value}))
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(f"{prop}: ")
    assert (
        value[0] in answer["Reason"]
        and "looked in this account, region us-east-1" in answer["Reason"]
    )
    assert ec2.writes(before) == [] and records(ec2) == []


def test_an_existing_empty_group_selects_nothing_says_so_and_succeeds(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, caplog: pytest.LogCaptureFixture
) -> None:
    group(ec2, fx, 0)
    with caplog.at_level(logging.WARNING):
        answer = fleet.create(fleet_props(fx))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["InterfacesSelected"] == "0"
    assert answer["Data"]["InterfacesMirrored"] == "0"
    assert "the selector selects no interface" in [r.getMessage() for r in caplog.records]


def test_tags_that_match_nothing_are_valid_and_select_nothing(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    props = fleet_props(
        fx, AutoScalingGroupName=None, InstanceTags=[{"Key": "tier", "Value": "none"}]
    )
    answer = fleet.create(props)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["InterfacesSelected"] == "0"


@pytest.mark.parametrize("prop", ["TrafficMirrorTargetId", "TrafficMirrorFilterId"])
def test_a_fleet_that_selects_nothing_still_fails_on_a_missing_target_or_filter(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, prop: str
) -> None:
    group(ec2, fx, 0)
    missing = (
        "tmt-0123456789abcdef0" if prop == "TrafficMirrorTargetId" else "tmf-0123456789abcdef0"
    )
    answer = fleet.create(fleet_props(fx, **{prop: missing}))
    assert answer["Status"] == "FAILED"
    assert f"{prop} {missing} was not found in this account, region us-east-1" in answer["Reason"]
    assert records(ec2) == []


def test_the_group_is_looked_for_with_auto_scaling_not_guessed_from_instance_tags(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """An empty group (no instance carries its tag) exists; only Auto Scaling can tell."""
    group(ec2, fx, 0, name="batch")
    scaling = boto3.client("autoscaling", region_name=ec2.region, endpoint_url=ec2.endpoint)
    assert scaling.describe_auto_scaling_groups(AutoScalingGroupNames=["batch"])[
        "AutoScalingGroups"
    ]
    answer = fleet.create(fleet_props(fx, AutoScalingGroupName="batch"))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert ec2.requests("DescribeAutoScalingGroups")[-1]["AutoScalingGroupNames.member.1"] == (
        "batch"
    )
