"""traffic_mirror.fleets.gateway: the reads a fleet makes (instances by selector, its sessions by
their ownership tags) and the refusals that name what does not exist (Stubber: no EC2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.unit.aws_stubs import client, listed, stubbed
from traffic_mirror.errors import ProviderError
from traffic_mirror.fleets.gateway import LIVE_STATES, FleetGateway, selects
from traffic_mirror.fleets.schema import FLEET
from traffic_mirror.ownership import LOGICAL_KEY, MANAGED_BY_KEY, STACK_KEY, Owner
from traffic_mirror.sessions.schema import SessionSpec
from traffic_mirror.sessions.validation import parse

BASE = {"TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1"}
OWNER = Owner("arn:aws:cloudformation:us-east-1:1:stack/net/x", "Web")
STATE = {"Name": "instance-state-name", "Values": LIVE_STATES}


def fleet(**props: Any) -> SessionSpec:
    return parse({**BASE, **props}, schema=FLEET)


def instance(iid: str, *enis: str, zone: str = "use1-az1", **tags: str) -> dict[str, Any]:
    return {
        "InstanceId": iid,
        "InstanceType": "m5.large",
        "Placement": {"AvailabilityZoneId": zone, "AvailabilityZone": "us-east-1a"},
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        "NetworkInterfaces": [
            {"NetworkInterfaceId": eni, "Attachment": {"DeviceIndex": i}}
            for i, eni in reversed(list(enumerate(enis)))  # EC2 gives no order
        ],
    }


def reservations(*instances: dict[str, Any]) -> dict[str, Any]:
    return {"Reservations": [{"Instances": list(instances)}]}


@pytest.fixture
def stub() -> Iterator[Stubber]:
    with stubbed(client("ec2")) as stubber:
        yield stubber


@pytest.fixture
def ec2() -> FleetGateway:
    return FleetGateway(client("ec2"))


def test_a_group_is_read_by_its_tag_among_live_instances_primary_interfaces_only(
    ec2: FleetGateway, stub: Stubber
) -> None:
    stub.add_response(
        "describe_instances",
        reservations(instance("i-1", "eni-1a", "eni-1b")),
        {"Filters": [STATE, {"Name": "tag:aws:autoscaling:groupName", "Values": ["web"]}]},
    )
    assert ec2.interfaces(fleet(AutoScalingGroupName="web")) == ["eni-1a"]
    assert ec2.types == {"eni-1a": "m5.large"}
    assert ec2.placed == {"eni-1a": ("use1-az1", "us-east-1a")}


def test_all_interfaces_of_instances_carrying_every_tag_over_every_page(
    ec2: FleetGateway, stub: Stubber
) -> None:
    filters = [
        STATE,
        {"Name": "tag:role", "Values": ["web"]},
        {"Name": "tag:env", "Values": ["prod"]},
    ]
    stub.add_response(
        "describe_instances",
        {**reservations(instance("i-2", "eni-2a", "eni-2b")), "NextToken": "p2"},
        {"Filters": filters},
    )
    stub.add_response(
        "describe_instances",
        reservations(instance("i-1", "eni-1a")),
        {"Filters": filters, "NextToken": "p2"},
    )
    spec = fleet(
        InstanceTags=[{"Key": "role", "Value": "web"}, {"Key": "env", "Value": "prod"}],
        Interfaces="all",
    )
    assert ec2.interfaces(spec) == ["eni-1a", "eni-2a", "eni-2b"]


def test_instance_ids_are_asked_for_by_id_still_only_live_ones(
    ec2: FleetGateway, stub: Stubber
) -> None:
    stub.add_response(
        "describe_instances", reservations(), {"Filters": [STATE], "InstanceIds": ["i-1", "i-2"]}
    )
    assert ec2.interfaces(fleet(InstanceIds=["i-1", "i-2"])) == []


def test_interfaces_given_by_id_are_taken_as_given_without_a_read(
    ec2: FleetGateway, stub: Stubber
) -> None:
    assert ec2.interfaces(fleet(NetworkInterfaceIds=["eni-9", "eni-1"])) == ["eni-9", "eni-1"]


def test_instances_that_do_not_exist_are_named_with_where_the_fleet_looked(
    ec2: FleetGateway, stub: Stubber
) -> None:
    stub.add_client_error(
        "describe_instances",
        "InvalidInstanceID.NotFound",
        "The instance ID 'i-404' does not exist",
        400,
        expected_params={"InstanceIds": ["i-404"]},
    )
    with pytest.raises(ProviderError) as info:
        ec2.check_selector(fleet(InstanceIds=["i-404"]))
    assert info.value.code == "InvalidInstanceID.NotFound"
    assert info.value.reason.startswith(
        "InstanceIds: The instance ID 'i-404' does not exist (looked in this account, "
        "region us-east-1)."
    )


def test_a_refused_interface_check_is_explained_not_called_missing(
    ec2: FleetGateway, stub: Stubber
) -> None:
    stub.add_client_error(
        "describe_network_interfaces",
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
        403,
    )
    with pytest.raises(ProviderError) as info:
        ec2.check_selector(fleet(NetworkInterfaceIds=["eni-1"]))
    assert info.value.code == "UnauthorizedOperation"
    assert "was not found" not in info.value.reason


def test_a_missing_group_is_refused_suggesting_close_names(
    ec2: FleetGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    scaling = client("autoscaling")
    monkeypatch.setattr(ec2, "service", lambda name: scaling)
    with stubbed(scaling) as stub:
        stub.add_response(
            "describe_auto_scaling_groups",
            {"AutoScalingGroups": []},
            {"AutoScalingGroupNames": ["web-prod"]},
        )
        stub.add_response(
            "describe_auto_scaling_groups",
            {"AutoScalingGroups": [group("web-prd"), group("db")]},
            {},
        )
        with pytest.raises(ProviderError) as info:
            ec2.check_selector(fleet(AutoScalingGroupName="web-prod"))
    assert info.value.reason.startswith(
        "AutoScalingGroupName web-prod was not found in this account, region us-east-1. "
        "Did you mean web-prd?"
    )


def group(name: str) -> dict[str, Any]:
    return {
        "AutoScalingGroupName": name,
        "MinSize": 0,
        "MaxSize": 1,
        "DesiredCapacity": 0,
        "DefaultCooldown": 300,
        "AvailabilityZones": ["us-east-1a"],
        "HealthCheckType": "EC2",
        "CreatedTime": "2026-01-01T00:00:00Z",
    }


def test_a_target_ec2_does_not_show_is_refused_before_the_filter_is_read(
    ec2: FleetGateway, stub: Stubber
) -> None:
    stub.add_response(
        "describe_traffic_mirror_targets",
        {"TrafficMirrorTargets": []},
        {"TrafficMirrorTargetIds": ["tmt-1"]},
    )
    with pytest.raises(ProviderError) as info:
        ec2.check_target_and_filter(fleet(InstanceIds=["i-1"]))
    assert info.value.code == "InvalidTrafficMirrorTargetId.NotFound"
    assert "TrafficMirrorTargetId tmt-1 was not found in this account" in info.value.reason


def test_a_missing_filter_is_named_as_the_filter(ec2: FleetGateway, stub: Stubber) -> None:
    stub.add_response(
        "describe_traffic_mirror_targets",
        {"TrafficMirrorTargets": [{"TrafficMirrorTargetId": "tmt-1"}]},
    )
    stub.add_client_error(
        "describe_traffic_mirror_filters",
        "InvalidTrafficMirrorFilterId.NotFound",
        "The filter 'tmf-1' does not exist.",
        400,
        expected_params={"TrafficMirrorFilterIds": ["tmf-1"]},
    )
    with pytest.raises(ProviderError) as info:
        ec2.check_target_and_filter(fleet(InstanceIds=["i-1"]))
    assert info.value.code == "InvalidTrafficMirrorFilterId.NotFound"
    assert "TrafficMirrorFilterId tmf-1 was not found" in info.value.reason


def test_owned_sessions_are_found_by_tags_then_read_by_id_and_must_be_wholly_ours(
    ec2: FleetGateway, stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANAGED_BY", "tmp")
    ours = {MANAGED_BY_KEY: "tmp", STACK_KEY: OWNER.stack_id, LOGICAL_KEY: "Web"}
    stub.add_response(
        "describe_tags",
        {
            "Tags": [
                {"ResourceId": "tms-2", "Key": STACK_KEY, "Value": OWNER.stack_id},
                {"ResourceId": "tms-1", "Key": STACK_KEY, "Value": OWNER.stack_id},
            ]
        },
        {
            "Filters": [
                {"Name": "resource-type", "Values": ["traffic-mirror-session"]},
                {"Name": "key", "Values": [STACK_KEY]},
                {"Name": "value", "Values": [OWNER.stack_id]},
            ],
            "MaxResults": 1000,
        },
    )
    stub.add_response(
        "describe_traffic_mirror_sessions",
        listed(("tms-1", ours), ("tms-2", {**ours, LOGICAL_KEY: "Db"})),  # the stack's other one
        {"Filters": [{"Name": "traffic-mirror-session-id", "Values": ["tms-1", "tms-2"]}]},
    )
    assert [s["TrafficMirrorSessionId"] for s in ec2.owned(OWNER)] == ["tms-1"]


def test_an_owner_with_no_tagged_session_costs_no_session_read(
    ec2: FleetGateway, stub: Stubber
) -> None:
    stub.add_response("describe_tags", {"Tags": []})
    assert ec2.owned(OWNER) == []


def test_managed_keeps_only_this_providers_marker(
    ec2: FleetGateway, stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANAGED_BY", "tmp")
    stub.add_response(
        "describe_traffic_mirror_sessions",
        listed(("tms-1", {MANAGED_BY_KEY: "tmp"}), ("tms-2", {MANAGED_BY_KEY: "other"})),
        {"MaxResults": 1000},
    )
    assert [s["TrafficMirrorSessionId"] for s in ec2.managed()] == ["tms-1"]


def test_an_interface_selector_selects_an_instance_by_any_of_its_interfaces() -> None:
    spec = fleet(NetworkInterfaceIds=["eni-1b"])
    assert selects(spec, instance("i-1", "eni-1a", "eni-1b"))  # type: ignore[arg-type]
    assert not selects(spec, instance("i-2", "eni-2a"))  # type: ignore[arg-type]
