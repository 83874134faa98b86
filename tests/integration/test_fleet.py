"""Custom::TrafficMirrorFleet end to end: real events through FleetFunction's handler (as
Lambda imports it from template.yaml), answers caught by the HTTPS receiver, EC2 (with Auto
Scaling and SSM) answered by the embedded moto; the reconciler through ReconcilerFunction's
handler with real EventBridge events."""

from __future__ import annotations

import logging
import sys
import threading
import time
import uuid
from typing import Any

import boto3
import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import ACCOUNT, REGION, CustomResource
from local.harness.fleets import (
    GROUP,
    autoscaling,
    bridge,
    create_group,
    primaries,
    resize,
    running_event,
    scheduled_event,
)
from local.harness.lambda_loader import Handler, LambdaContext, load_handler
from local.harness.receiver import ResponseReceiver
from tests.conftest import by_hand
from traffic_mirror.aws.store import REMOVED

FLEET_HANDLER = load_handler(function="FleetFunction")
RECONCILER = load_handler(function="ReconcilerFunction")


def group(ec2: EmbeddedEc2, fx: Fixtures, size: int, name: str = GROUP) -> list[str]:
    """An Auto Scaling group of ``size``; its instances' primary interfaces, sorted."""
    return create_group(ec2, fx.subnet_id, size, name)


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
    return [p["Name"] for page in pages for p in page["Parameters"] if p["Value"] != REMOVED]


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
    with by_hand(ec2) as client:  # vanished with its instance, say: counts as deleted
        client.delete_traffic_mirror_session(
            TrafficMirrorSessionId=ec2.sessions()[0]["TrafficMirrorSessionId"]
        )
    answer = fleet.delete()
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert ec2.sessions() == [] and records(ec2) == []


def test_an_interface_ec2_will_not_mirror_is_skipped_and_counted_not_failed(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, caplog: pytest.LogCaptureFixture
) -> None:
    group(ec2, fx, 3)
    ec2.inject("CreateTrafficMirrorSession", "NetworkInterfaceNotSupported")
    with caplog.at_level(logging.WARNING):
        answer = fleet.create(fleet_props(fx))
    (skipped,) = [r for r in caplog.records if r.getMessage() == "interface skipped"]
    reservations = ec2.client().describe_instances()["Reservations"]
    kinds = {i["InstanceType"] for r in reservations for i in r["Instances"]}
    kind = getattr(skipped, "instance_type", None)
    assert kind in kinds  # the type EC2 refused, named
    assert str(getattr(skipped, "reason", "")).startswith(f"{kind} ")
    assert "M6i" in str(getattr(skipped, "reason", ""))  # the documented list, not "Nitro"
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


@pytest.mark.parametrize(
    ("account", "region"), [("111111111111", None), (None, "eu-west-1")], ids=["account", "region"]
)
def test_a_launch_event_from_another_account_or_region_is_not_matched_against_this_fleet(
    ec2: EmbeddedEc2,
    fx: Fixtures,
    fleet: CustomResource,
    account: str | None,
    region: str | None,
) -> None:
    """EC2 and Auto Scaling events come from where the instance is: a fleet placed elsewhere
    never looks the instance up (it used to log InvalidInstanceID.NotFound on every launch)."""
    enis = group(ec2, fx, 2)
    fleet.create(fleet_props(fx))
    resize(ec2, 3)
    (new,) = set(primaries(ec2)) - set(enis)
    instance = ec2.client().describe_network_interfaces(NetworkInterfaceIds=[new])[
        "NetworkInterfaces"
    ][0]["Attachment"]["InstanceId"]
    event = running_event(instance)
    event.update({k: v for k, v in (("account", account), ("region", region)) if v})
    mark = len(ec2.calls)
    summary = RECONCILER(event, LambdaContext(timeout_s=60))
    assert summary["fleets"] == {}  # no fleet is placed there
    assert ec2.calls[mark:] == []  # not even a DescribeInstances
    home = RECONCILER(running_event(instance), LambdaContext(timeout_s=60))
    assert home["fleets"][fleet.physical_id]["mirrored"] == 1  # the same event from home does


def test_the_sweep_heals_a_session_deleted_and_one_changed_out_of_band(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 3)
    fleet.create(fleet_props(fx, PacketLength="128"))
    first, second, _ = ec2.sessions()
    with by_hand(ec2) as client:
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
    ec2.wait_visible()  # the next sweep, minutes later on its schedule: the heal shows
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
    assert FLEET_HANDLER is sys.modules["fleet_app"].handler
    assert RECONCILER is sys.modules["reconciler_app"].handler
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


def test_an_update_right_after_a_session_was_deleted_out_of_band_mirrors_its_interface_anew(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """Deleted by hand (or with its instance) the moment before the Update: a read may still
    show it (reads lag writes), and the Modify then finds it gone."""
    group(ec2, fx, 2)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    gone = ec2.sessions()[0]
    ec2.client().delete_traffic_mirror_session(  # no wait: its timing is the point
        TrafficMirrorSessionId=gone["TrafficMirrorSessionId"]
    )
    answer = fleet.update(fleet_props(fx, TrafficMirrorFilterId=fx.filter_ids[1]))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["InterfacesMirrored"] == "2"
    held = by_interface(ec2)
    assert gone["NetworkInterfaceId"] in held
    assert gone["TrafficMirrorSessionId"] not in {
        s["TrafficMirrorSessionId"] for s in held.values()
    }
    assert {s["TrafficMirrorFilterId"] for s in held.values()} == {fx.filter_ids[1]}


def test_a_sweep_of_an_nlb_fleet_whose_target_reports_a_packet_length_writes_nothing(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """PacketLength omitted means whole packets; with an NLB target EC2 reports its default
    (8500). That is no drift: a sweep of a true fleet only reads."""
    group(ec2, fx, 2)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    with by_hand(ec2) as client:
        for session in ec2.sessions():  # as EC2 reports it for an NLB target
            client.modify_traffic_mirror_session(
                TrafficMirrorSessionId=session["TrafficMirrorSessionId"], PacketLength=8500
            )
    before = len(ec2.calls)
    sweep()
    assert ec2.writes(before) == []


def scale_out(ec2: EmbeddedEc2, size: int) -> tuple[str, str]:
    """Grow the group to ``size`` by one; (the new instance, its primary interface)."""
    before = set(primaries(ec2))
    autoscaling(ec2).set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=size)
    (eni,) = set(primaries(ec2)) - before
    found = ec2.client().describe_network_interfaces(NetworkInterfaceIds=[eni])
    return found["NetworkInterfaces"][0]["Attachment"]["InstanceId"], eni


def running(instance: str, at: str) -> dict[str, Any]:
    """EC2's state change to ``running``, as EventBridge delivers it."""
    event = bridge(
        "EC2 Instance State-change Notification",
        {"instance-id": instance, "state": "running"},
        "aws.ec2",
    )
    event["time"] = at
    event["resources"] = [f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance}"]
    return event


def launch_successful(instance: str, at: str, name: str = GROUP) -> dict[str, Any]:
    """Auto Scaling's ``EC2 Instance Launch Successful``, in the shape of the Amazon EC2 Auto
    Scaling event reference (docs.aws.amazon.com/autoscaling/ec2/userguide/
    ec2-auto-scaling-event-reference.html, successful scale-out event)."""
    event = bridge(
        "EC2 Instance Launch Successful",
        {
            "StatusCode": "InProgress",
            "Description": f"Launching a new EC2 instance: {instance}",
            "AutoScalingGroupName": name,
            "ActivityId": str(uuid.uuid4()),
            "Details": {"Availability Zone": f"{REGION}a", "Subnet ID": "subnet-0123456789abcdef0"},
            "RequestId": str(uuid.uuid4()),
            "StatusMessage": "",
            "EndTime": at,
            "EC2InstanceId": instance,
            "StartTime": "2025-06-01T12:00:02.000Z",
            "Cause": (
                "At 2025-06-01T12:00:01Z a user request update of AutoScalingGroup constraints "
                "changed the desired capacity, increasing the capacity from 2 to 3."
            ),
            "Origin": "EC2",
            "Destination": "AutoScalingGroup",
        },
        "aws.autoscaling",
    )
    event["time"] = at
    event["resources"] = [
        f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:{uuid.uuid4()}:"
        f"autoScalingGroupName/{name}",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance}",
    ]
    return event


def longest_lag(ec2: EmbeddedEc2) -> float:
    """The longest a write takes to show in a read now (0 without read lag)."""
    lag = ec2.read_lag
    return max(lag) if isinstance(lag, tuple) else lag


def reconcile_at_once(*events: dict[str, Any], stagger: Any = None) -> list[Any]:
    """Each event through ReconcilerFunction's handler in its own thread (as EventBridge may
    invoke two environments at once); ``stagger`` runs between starting one and the next."""
    results: list[Any] = [None] * len(events)

    def invoke(i: int) -> None:
        results[i] = RECONCILER(events[i], LambdaContext(timeout_s=60))

    threads = [threading.Thread(target=invoke, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
        if stagger is not None:
            stagger()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_an_auto_scaling_launch_event_mirrors_the_new_instance(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    enis = group(ec2, fx, 2)
    fleet.create(fleet_props(fx))
    instance, new = scale_out(ec2, 3)
    mark = len(ec2.calls)
    summary = RECONCILER(
        launch_successful(instance, "2025-06-01T12:00:41Z"), LambdaContext(timeout_s=60)
    )
    assert (summary["launched"], summary["group"]) == (instance, GROUP)
    assert summary["fleets"][fleet.physical_id]["mirrored"] == 1
    assert ec2.writes(mark) == ["CreateTrafficMirrorSession"]
    held = by_interface(ec2)
    assert sorted(held) == sorted([*enis, new])
    assert len({s["VirtualNetworkId"] for s in held.values()}) == 1  # the fleet's VNI

    # EC2's running event for the same launch, handled later: it finds the session, only reads.
    mark = len(ec2.calls)
    again = RECONCILER(running(instance, "2025-06-01T12:00:30Z"), LambdaContext(timeout_s=60))
    assert again["fleets"][fleet.physical_id]["mirrored"] == 1
    assert ec2.writes(mark) == []


def test_an_auto_scaling_launch_no_fleet_selects_changes_nothing(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 1)
    fleet.create(fleet_props(fx))
    (other,) = group(ec2, fx, 1, name="batch")
    found = ec2.client().describe_network_interfaces(NetworkInterfaceIds=[other])
    instance = found["NetworkInterfaces"][0]["Attachment"]["InstanceId"]
    mark = len(ec2.calls)
    summary = RECONCILER(
        launch_successful(instance, "2025-06-01T12:00:41Z", name="batch"),
        LambdaContext(timeout_s=60),
    )
    assert summary["fleets"] == {} and summary["group"] == "batch"
    assert ec2.writes(mark) == []
    assert other not in by_interface(ec2)


def test_both_launch_events_of_one_instance_handled_at_once_make_one_session(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """EC2's running and Auto Scaling's Launch Successful, at different times, handled at the
    same moment: both read the interface before either Create lands (each Create is held a
    second), so both create. They send the same ClientToken (the generation is the launch,
    not the event), and EC2 answers both with one session."""
    group(ec2, fx, 2)
    fleet.create(fleet_props(fx))
    instance, new = scale_out(ec2, 3)
    creates = len(ec2.requests("CreateTrafficMirrorSession"))
    ec2.inject("CreateTrafficMirrorSession", delay_s=1.0, times=2)
    results = reconcile_at_once(
        running(instance, "2025-06-01T12:00:30Z"),
        launch_successful(instance, "2025-06-01T12:00:41Z"),
    )
    assert [r["fleets"][fleet.physical_id]["mirrored"] for r in results] == [1, 1]
    both = ec2.requests("CreateTrafficMirrorSession")[creates:]
    assert [c["NetworkInterfaceId"] for c in both] == [new, new]  # both did create
    assert both[0]["ClientToken"] == both[1]["ClientToken"]
    assert [s["NetworkInterfaceId"] for s in ec2.sessions()].count(new) == 1


def test_a_launch_pass_that_finds_the_interface_mirrored_meanwhile_makes_no_second_session(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """The second event's pass reads the fleet's sessions while the first pass's Create is
    still under way (held a second), then reads the interface after it landed and shows (held
    1.5 s, and the read lag): it counts the interface as mirrored instead of creating a second
    session with the next number (and so another token)."""
    group(ec2, fx, 2)
    fleet.create(fleet_props(fx))
    instance, new = scale_out(ec2, 3)
    creates = len(ec2.requests("CreateTrafficMirrorSession"))
    ec2.inject("CreateTrafficMirrorSession", delay_s=1.0)

    def after_the_first_create_is_sent() -> None:
        deadline = time.monotonic() + 10
        while len(ec2.requests("CreateTrafficMirrorSession")) == creates:
            assert time.monotonic() < deadline, "the first pass never created"
            time.sleep(0.01)
        # The next pass: its read of the fleet's sessions goes through, its read of the
        # interface is held until the first Create has landed and a read shows it.
        ec2.inject("DescribeTrafficMirrorSessions", delay_s=1.5 + longest_lag(ec2), skip=1)

    results = reconcile_at_once(
        running(instance, "2025-06-01T12:00:30Z"),
        launch_successful(instance, "2025-06-01T12:00:41Z"),
        stagger=after_the_first_create_is_sent,
    )
    assert [r["fleets"][fleet.physical_id]["mirrored"] for r in results] == [1, 1]
    assert len(ec2.requests("CreateTrafficMirrorSession")) == creates + 1
    assert [s["NetworkInterfaceId"] for s in ec2.sessions()].count(new) == 1


def test_a_pass_stops_creating_while_it_still_has_time_to_settle_what_it_made(
    ec2: EmbeddedEc2, fx: Fixtures, receiver: ResponseReceiver
) -> None:
    """Every read and every Create takes 1 s here; with 19.5 s of Lambda time (17.5 s left
    once the fleet's sessions and the page of interfaces are read), the pass may start a Create
    only while 15 s (RESERVE_S) plus the page read its settle needs remain: it places 2, not
    the 3 that would leave the settle read eating into the reserve."""
    group(ec2, fx, 5)
    short = CustomResource(
        FLEET_HANDLER,
        receiver,
        logical_id="WebFleet",
        resource_type="Custom::TrafficMirrorFleet",
        timeout_s=19.5,
    )
    ec2.inject("DescribeTrafficMirrorSessions", delay_s=1.0, times=20)
    ec2.inject("DescribeTags", delay_s=1.0, times=20)  # the fleet's own sessions, by tag
    ec2.inject("CreateTrafficMirrorSession", delay_s=1.0, times=20)
    answer = short.create(fleet_props(fx))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["InterfacesMirrored"] == "2"
    assert len(ec2.sessions()) == 2
    ec2.clear_faults()
    sweep()  # the reconciler finishes the fleet
    assert len(ec2.sessions()) == 5


def test_a_fleet_too_large_for_the_store_fails_saying_how_to_select_instead(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    ids = [f"eni-{n:017x}" for n in range(300)]  # ~7 KB of JSON: over the standard tier's 4 KB
    answer = fleet.create(fleet_props(fx, AutoScalingGroupName=None, NetworkInterfaceIds=ids))
    assert answer["Status"] == "FAILED"
    assert "the store keeps at most 4096" in answer["Reason"]
    assert "Select by AutoScalingGroupName or InstanceTags" in answer["Reason"]
    assert ec2.writes() == [] and records(ec2) == []


def test_an_update_that_omits_a_packet_length_of_8500_removes_it_from_every_session(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """``PacketLength: 8500`` cuts jumbo frames (up to 9001 bytes) on an interface target;
    omitted mirrors whole packets. So an Update from one to the other is one Modify per
    session (RemoveFields), though a read of 8500 alone is no drift (an NLB reports it)."""
    group(ec2, fx, 2)
    made = fleet.create(fleet_props(fx, PacketLength=8500))
    assert made["Status"] == "SUCCESS", made["Reason"]
    mark = len(ec2.calls)
    answer = fleet.update(fleet_props(fx))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert ec2.writes(mark) == ["ModifyTrafficMirrorSession"] * 2
    removed = [m.get("RemoveField.1") for m in ec2.requests("ModifyTrafficMirrorSession")]
    assert removed == ["packet-length"] * 2
    assert all("PacketLength" not in s for s in ec2.sessions())
