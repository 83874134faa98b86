"""Custom::TrafficMirrorFleet end to end: real events through FleetFunction's handler (as
Lambda imports it from template.yaml), answers caught by the HTTPS receiver, EC2 (with Auto
Scaling and SSM) answered by the embedded moto; the reconciler through ReconcilerFunction's
handler with real EventBridge events."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import ACCOUNT, CustomResource
from local.harness.fleets import (
    GROUP,
    create_group,
    primaries,
    resize,
    running_event,
    scheduled_event,
)
from local.harness.lambda_loader import Handler, LambdaContext, load_handler
from local.harness.receiver import ResponseReceiver

FLEET_HANDLER = load_handler(function="FleetFunction")
RECONCILER = load_handler(function="ReconcilerFunction")


@pytest.fixture
def fleet(receiver: ResponseReceiver, ec2: EmbeddedEc2) -> CustomResource:
    return CustomResource(
        FLEET_HANDLER, receiver, logical_id="WebFleet", resource_type="Custom::TrafficMirrorFleet"
    )


def group(ec2: EmbeddedEc2, fx: Fixtures, size: int) -> list[str]:
    """An Auto Scaling group of ``size``; its instances' primary interfaces, sorted."""
    return create_group(ec2, fx.subnet_id, size)


def fleet_props(fx: Fixtures, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "AutoScalingGroupName": GROUP,
        "TrafficMirrorTargetId": fx.target_id,
        "TrafficMirrorFilterId": fx.filter_ids[0],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def by_interface(ec2: EmbeddedEc2) -> dict[str, dict[str, Any]]:
    return {s["NetworkInterfaceId"]: s for s in ec2.sessions()}


def records(ec2: EmbeddedEc2) -> list[str]:
    ssm = boto3.client("ssm", region_name=ec2.region, endpoint_url=ec2.endpoint)
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/traffic-mirror-provider/traffic-mirror-provider/fleets"
    )
    return [p["Name"] for page in pages for p in page["Parameters"]]


def sweep() -> Any:
    return RECONCILER(scheduled_event(), LambdaContext(timeout_s=60))


def test_a_fleet_mirrors_every_instance_of_the_group_with_one_shared_vni(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    enis = group(ec2, fx, 3)
    answer = fleet.create(fleet_props(fx))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    data = answer["Data"]
    assert answer["PhysicalResourceId"].startswith("fleet-") and data["Id"] == fleet.physical_id
    assert (data["InterfacesMirrored"], data["InterfacesSkipped"]) == ("3", "0")
    held = by_interface(ec2)
    assert sorted(held) == enis
    assert {str(s["VirtualNetworkId"]) for s in held.values()} == {data["VirtualNetworkId"]}
    assert [s["SessionNumber"] for s in held.values()] == [1, 1, 1]  # the lowest free on each
    assert records(ec2) == [
        f"/traffic-mirror-provider/traffic-mirror-provider/fleets/{fleet.physical_id}"
    ]


def test_a_redelivered_create_answers_the_same_fleet_without_a_second_session(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 2)
    event = fleet.make("Create", fleet_props(fx))
    first, again = fleet.send(event), fleet.send(dict(event))
    assert first["PhysicalResourceId"] == again["PhysicalResourceId"]
    assert again["Data"]["InterfacesMirrored"] == "2"
    assert len(ec2.sessions()) == 2


def test_a_changed_filter_reaches_every_session_with_one_modify_each(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 3)
    fleet.create(fleet_props(fx))
    before = {s["TrafficMirrorSessionId"] for s in ec2.sessions()}
    mark = len(ec2.calls)
    answer = fleet.update(fleet_props(fx, TrafficMirrorFilterId=fx.filter_ids[1]))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert ec2.writes(mark) == ["ModifyTrafficMirrorSession"] * 3
    modifies = ec2.requests("ModifyTrafficMirrorSession")
    assert all(
        set(m) - {"@account", "@region"}
        == {"Action", "Version", "TrafficMirrorSessionId", "TrafficMirrorFilterId"}
        for m in modifies
    )
    assert {s["TrafficMirrorSessionId"] for s in ec2.sessions()} == before
    assert {s["TrafficMirrorFilterId"] for s in ec2.sessions()} == {fx.filter_ids[1]}


def test_a_changed_selector_adds_and_removes_sessions(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    enis = group(ec2, fx, 3)
    fleet.create(fleet_props(fx))
    answer = fleet.update(
        fleet_props(fx, AutoScalingGroupName=None, NetworkInterfaceIds=[enis[0], fx.sources[0]])
    )
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert sorted(by_interface(ec2)) == sorted([enis[0], fx.sources[0]])
    assert answer["Data"]["InterfacesMirrored"] == "2"


def test_delete_removes_every_session_of_the_fleet_and_its_record(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 3)
    fleet.create(fleet_props(fx))
    ec2.client().delete_traffic_mirror_session(
        TrafficMirrorSessionId=ec2.sessions()[0]["TrafficMirrorSessionId"]
    )  # vanished with its instance, say: counts as deleted
    answer = fleet.delete()
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert ec2.sessions() == [] and records(ec2) == []


def test_an_interface_ec2_will_not_mirror_is_skipped_and_counted_not_failed(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 3)
    ec2.inject("CreateTrafficMirrorSession", "NetworkInterfaceNotSupported")
    answer = fleet.create(fleet_props(fx))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert (answer["Data"]["InterfacesMirrored"], answer["Data"]["InterfacesSkipped"]) == (
        "2",
        "1",
    )
    assert len(ec2.sessions()) == 2


def test_an_empty_group_is_a_fleet_of_none(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 0)
    answer = fleet.create(fleet_props(fx))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["InterfacesMirrored"] == "0" and ec2.sessions() == []


def test_a_filter_that_does_not_exist_fails_the_fleet(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 2)
    answer = fleet.create(fleet_props(fx, TrafficMirrorFilterId="tmf-0123456789abcdef0"))
    assert answer["Status"] == "FAILED"
    assert "TrafficMirrorFilterId tmf-0123456789abcdef0 was not found" in answer["Reason"]


def test_exactly_one_selector_is_required(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    answer = fleet.create(fleet_props(fx, InstanceIds=["i-0123456789abcdef0"]))
    assert answer["Status"] == "FAILED"
    assert "exactly one of AutoScalingGroupName, InstanceIds" in answer["Reason"]


def test_a_launched_instance_is_mirrored_on_its_running_event(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    enis = group(ec2, fx, 2)
    fleet.create(fleet_props(fx))
    resize(ec2, 3)
    (new,) = set(primaries(ec2)) - set(enis)
    instance = ec2.client().describe_network_interfaces(NetworkInterfaceIds=[new])[
        "NetworkInterfaces"
    ][0]["Attachment"]["InstanceId"]
    mark = len(ec2.calls)
    summary = RECONCILER(running_event(instance), LambdaContext(timeout_s=60))
    assert summary["fleets"][fleet.physical_id]["mirrored"] == 1
    assert ec2.writes(mark) == ["CreateTrafficMirrorSession"]
    held = by_interface(ec2)
    assert sorted(held) == sorted([*enis, new])
    assert len({s["VirtualNetworkId"] for s in held.values()}) == 1  # the fleet's VNI


def test_the_sweep_heals_a_session_deleted_and_one_changed_out_of_band(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 3)
    fleet.create(fleet_props(fx, PacketLength="128"))
    first, second, _ = ec2.sessions()
    client = ec2.client()
    client.delete_traffic_mirror_session(TrafficMirrorSessionId=first["TrafficMirrorSessionId"])
    client.modify_traffic_mirror_session(
        TrafficMirrorSessionId=second["TrafficMirrorSessionId"],
        TrafficMirrorFilterId=fx.filter_ids[1],
        PacketLength=64,
    )
    summary = sweep()
    assert summary["fleets"][fleet.physical_id]["mirrored"] == 3
    held = by_interface(ec2)
    assert first["NetworkInterfaceId"] in held
    assert (
        held[first["NetworkInterfaceId"]]["TrafficMirrorSessionId"]
        != first["TrafficMirrorSessionId"]
    )
    assert {(s["TrafficMirrorFilterId"], s["PacketLength"]) for s in held.values()} == {
        (fx.filter_ids[0], 128)
    }
    mark = len(ec2.calls)
    sweep()
    assert ec2.writes(mark) == []  # a true fleet: the sweep only reads


def test_the_sweep_removes_sessions_of_interfaces_no_longer_selected(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 3)
    assert fleet.create(fleet_props(fx))["Data"]["InterfacesMirrored"] == "3"
    resize(ec2, 2)
    remaining = primaries(ec2)
    assert len(ec2.sessions()) == 3  # the instance left the group; its session is still there
    deletes = len(ec2.requests("DeleteTrafficMirrorSession"))
    sweep()
    assert sorted(by_interface(ec2)) == remaining
    assert len(ec2.requests("DeleteTrafficMirrorSession")) - deletes == 1  # the sweep did it


def test_a_single_session_on_a_fleet_interface_takes_another_number(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, stack: CustomResource
) -> None:
    enis = group(ec2, fx, 1)
    fleet.create(fleet_props(fx))
    answer = stack.create(
        {
            "NetworkInterfaceId": enis[0],
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[1],
        }
    )
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert sorted(s["SessionNumber"] for s in ec2.sessions()) == [1, 2]


def test_a_fleet_handler_is_what_the_template_names(handler: Handler) -> None:
    assert FLEET_HANDLER.__module__ == "fleet_app" and RECONCILER.__module__ == "reconciler_app"
    assert handler is not FLEET_HANDLER


def test_the_cleanup_of_a_replaced_fleet_never_deletes_its_successors_sessions(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """RoleArn changed to another role of the same account and region: a replacement whose
    sessions are the same ones (same owner, same place). CloudFormation's cleanup Delete of
    the old fleet must not delete them."""
    interfaces = group(ec2, fx, 2)
    old = fleet_props(fx)
    first = fleet.create(old)
    role = f"arn:aws:iam::{ACCOUNT}:role/AnotherMirrorRole"
    moved = fleet.update(fleet_props(fx, RoleArn=role))
    assert moved["Status"] == "SUCCESS", moved["Reason"]
    assert moved["PhysicalResourceId"] != first["PhysicalResourceId"]
    held = {s["TrafficMirrorSessionId"] for s in ec2.sessions()}
    assert set(by_interface(ec2)) == set(interfaces)
    cleanup = fleet.send(fleet.make("Delete", old, physical_id=first["PhysicalResourceId"]))
    assert cleanup["Status"] == "SUCCESS", cleanup["Reason"]
    assert {s["TrafficMirrorSessionId"] for s in ec2.sessions()} == held
    assert len(records(ec2)) == 1  # only the successor's definition is left


def test_a_fleet_whose_create_fails_leaves_nothing_for_the_sweep_to_revive(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """Refused part-way (one session made, the next Create not permitted): FAILED, the
    sessions made go, the record goes, and CloudFormation's rollback Delete and the next
    sweep find nothing to do."""
    group(ec2, fx, 3)
    ec2.inject("CreateTrafficMirrorSession", "UnauthorizedOperation", status=403, skip=1)
    answer = fleet.create(fleet_props(fx))
    assert answer["Status"] == "FAILED" and "UnauthorizedOperation" in answer["Reason"]
    assert len(ec2.requests("CreateTrafficMirrorSession")) == 2  # one made, one refused
    assert ec2.sessions() == [] and records(ec2) == []
    rollback = fleet.send(
        fleet.make("Delete", fleet_props(fx), physical_id=answer["PhysicalResourceId"])
    )
    assert rollback["Status"] == "SUCCESS"
    sweep()
    assert ec2.sessions() == [] and records(ec2) == []


def test_the_rollback_delete_of_a_cut_short_create_removes_what_it_left(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """A Create that never got to clean up (the function died after its first sessions): the
    rollback Delete of its placeholder ID removes the sessions and the record."""
    interfaces = group(ec2, fx, 2)
    first = fleet.create(fleet_props(fx))  # stands in for the pass that was cut short
    assert first["Status"] == "SUCCESS" and len(ec2.sessions()) == len(interfaces)
    rollback = fleet.send(
        fleet.make("Delete", fleet_props(fx), physical_id="create-failed-0123456789abcdef")
    )
    assert rollback["Status"] == "SUCCESS"
    assert ec2.sessions() == [] and records(ec2) == []


def test_a_sweep_of_an_nlb_fleet_whose_target_reports_a_packet_length_writes_nothing(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """PacketLength omitted means whole packets; with an NLB target EC2 reports its default
    (8500). That is no drift: a sweep of a true fleet only reads."""
    group(ec2, fx, 2)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    for session in ec2.sessions():  # as EC2 reports it for an NLB target
        ec2.client().modify_traffic_mirror_session(
            TrafficMirrorSessionId=session["TrafficMirrorSessionId"], PacketLength=8500
        )
    before = len(ec2.calls)
    sweep()
    assert ec2.writes(before) == []
