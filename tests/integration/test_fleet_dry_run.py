"""DryRun on Custom::TrafficMirrorFleet, end to end: the selector resolved, and every write the
pass would make asked of EC2 with DryRun, as a single session's dry run does; nothing written
to EC2 or to the fleet store.

Real events through FleetFunction's handler (as Lambda imports it from template.yaml), answers
caught by the HTTPS receiver, EC2, Auto Scaling and SSM answered by the embedded moto; EC2's
refusals injected at the HTTP layer with their exact codes.
"""

from __future__ import annotations

import io
import json
from typing import Any

import boto3

from local.harness.by_hand import session_by_hand
from local.harness.ec2sim import WRITE_ACTIONS, EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.receiver import ResponseReceiver
from tests.conftest import by_hand, iam_refusal
from tests.integration.test_fleet import FLEET_HANDLER, by_interface, fleet_props, group, records


def unchecked_writes(ec2: EmbeddedEc2) -> list[str]:
    """Every write EC2 received without DryRun (a dry run must make none)."""
    return [
        f"{action} {params.get('TrafficMirrorSessionId', params.get('NetworkInterfaceId'))}"
        for action in sorted(WRITE_ACTIONS)
        for params in ec2.requests(action)
        if params.get("DryRun") != "true"
    ]


def stored(ec2: EmbeddedEc2, fleet_id: str) -> tuple[int, str]:
    """The fleet's record in the store: (its version, its value)."""
    ssm = boto3.client("ssm", region_name=ec2.region, endpoint_url=ec2.endpoint)
    name = f"/traffic-mirror-provider/traffic-mirror-provider/fleets/{fleet_id}"
    parameter = ssm.get_parameter(Name=name)["Parameter"]
    return parameter["Version"], parameter["Value"]


def logged(buffer: io.StringIO, message: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return [line for line in lines if line.get("message") == message]


def test_a_dry_run_fleet_checks_each_create_with_ec2_and_writes_nothing(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    enis = group(ec2, fx, 3)
    answer = fleet.create(fleet_props(fx, DryRun="true"))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"].startswith("dryrun-")
    data = answer["Data"]
    assert data["DryRun"] == "true" and data["Id"] == answer["PhysicalResourceId"]
    assert (data["InterfacesMirrored"], data["InterfacesSkipped"]) == ("3", "0")
    checked = ec2.requests("CreateTrafficMirrorSession")
    assert sorted(c["NetworkInterfaceId"] for c in checked) == enis
    assert {c["DryRun"] for c in checked} == {"true"}
    assert {c["SessionNumber"] for c in checked} == {"1"}  # as the real pass would number them
    assert unchecked_writes(ec2) == []
    assert ec2.sessions() == [] and records(ec2) == []

    before = len(ec2.calls)
    deleted = fleet.delete()  # nothing was made: no EC2 call
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert ec2.calls[before:] == []


def test_a_dry_run_update_checks_each_modify_and_keeps_the_real_fleet_as_it_is(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 3)
    created = fleet.create(fleet_props(fx))
    held = by_interface(ec2)
    record = stored(ec2, created["PhysicalResourceId"])
    modifies = len(ec2.requests("ModifyTrafficMirrorSession"))
    written = unchecked_writes(ec2)

    checked = fleet.update(fleet_props(fx, DryRun="true", TrafficMirrorFilterId=fx.filter_ids[1]))
    assert checked["Status"] == "SUCCESS", checked["Reason"]
    # Same physical ID: a new one would make CloudFormation's cleanup delete the real fleet.
    assert checked["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert checked["Data"]["DryRun"] == "true"
    assert checked["Data"]["InterfacesMirrored"] == "3"
    assert checked["Data"]["VirtualNetworkId"] == created["Data"]["VirtualNetworkId"]
    asked = ec2.requests("ModifyTrafficMirrorSession")[modifies:]
    assert sorted(m["TrafficMirrorSessionId"] for m in asked) == sorted(
        s["TrafficMirrorSessionId"] for s in held.values()
    )
    assert {(m["DryRun"], m["TrafficMirrorFilterId"]) for m in asked} == {
        ("true", fx.filter_ids[1])
    }
    assert unchecked_writes(ec2) == written  # still only the real Create's
    assert by_interface(ec2) == held
    assert stored(ec2, created["PhysicalResourceId"]) == record  # not even rewritten

    # The real deploy of the same properties then applies them (the diff is against EC2).
    real = fleet.update(fleet_props(fx, TrafficMirrorFilterId=fx.filter_ids[1]))
    assert real["Status"] == "SUCCESS", real["Reason"]
    assert real["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert {s["TrafficMirrorFilterId"] for s in ec2.sessions()} == {fx.filter_ids[1]}


def test_a_dry_run_refused_by_iam_fails_naming_the_action_and_resource(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    enis = group(ec2, fx, 2)
    target = f"arn:aws:ec2:us-east-1:123456789012:traffic-mirror-target/{fx.target_id}"
    message = iam_refusal("ec2:CreateTrafficMirrorSession", target)
    ec2.inject("CreateTrafficMirrorSession", "UnauthorizedOperation", status=403, message=message)
    answer = fleet.create(fleet_props(fx, DryRun="true"))
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        f"dry-run create traffic mirror session ({enis[0]} #1): UnauthorizedOperation: "
        f"refused ec2:CreateTrafficMirrorSession on {target}. Check the role's policy"
    )
    assert ec2.requests("CreateTrafficMirrorSession")[0]["DryRun"] == "true"
    assert ec2.sessions() == [] and records(ec2) == []


def test_a_dry_run_whose_filter_ec2_does_not_find_fails_naming_it(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 2)
    ec2.inject(
        "CreateTrafficMirrorSession",
        "InvalidTrafficMirrorFilterId.NotFound",
        message=f"The traffic mirror filter '{fx.filter_ids[0]}' does not exist.",
    )
    answer = fleet.create(fleet_props(fx, DryRun="true"))
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        "dry-run create traffic mirror session: InvalidTrafficMirrorFilterId.NotFound: "
        f"TrafficMirrorFilterId {fx.filter_ids[0]} was not found"
    )
    assert ec2.sessions() == [] and records(ec2) == []


def test_a_dry_run_counts_and_logs_the_interfaces_the_pass_would_skip(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, no_secrets_in_logs: io.StringIO
) -> None:
    """One interface already sources 3 sessions (skipped before any call, as the real pass
    would), one EC2 refuses as a source (NetworkInterfaceNotSupported on its DryRun Create),
    one would be mirrored."""
    full, unsupported, fine = fx.sources
    with by_hand(ec2) as client:
        for _ in range(3):
            session_by_hand(
                client,
                interface=full,
                target=fx.target_id,
                mirror_filter=fx.filter_ids[1],
                number=10 + len(ec2.sessions()),
            )
    ec2.inject("CreateTrafficMirrorSession", "NetworkInterfaceNotSupported")
    answer = fleet.create(
        fleet_props(fx, AutoScalingGroupName=None, NetworkInterfaceIds=fx.sources, DryRun="true")
    )
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert (answer["Data"]["InterfacesMirrored"], answer["Data"]["InterfacesSkipped"]) == (
        "1",
        "2",
    )
    asked = [c["NetworkInterfaceId"] for c in ec2.requests("CreateTrafficMirrorSession")[3:]]
    assert asked == [unsupported, fine]  # the full interface needed no call to know
    skipped = {
        line["interface"]: line["reason"]
        for line in logged(no_secrets_in_logs, "interface skipped")
    }
    assert set(skipped) == {full, unsupported}
    assert "already sources 3 sessions, the EC2 maximum" in skipped[full]
    assert "NetworkInterfaceNotSupported" in skipped[unsupported]
    (summary,) = logged(no_secrets_in_logs, "fleet pass")
    assert summary["dry_run"] is True and (summary["mirrored"], summary["skipped"]) == (1, 2)
    assert (
        len(ec2.sessions()) == 3
        and unchecked_writes(ec2) == [f"CreateTrafficMirrorSession {full}"] * 3
    )  # the fixture's own sessions, nothing of the fleet's


def test_a_dry_run_with_too_little_time_left_checks_no_further_and_logs_it(
    ec2: EmbeddedEc2,
    fx: Fixtures,
    receiver: ResponseReceiver,
    no_secrets_in_logs: io.StringIO,
) -> None:
    """The time budget holds for a dry run too: below RESERVE_S (15 s) left, no check is
    started; the answer counts what was checked, the log says the pass was unfinished."""
    group(ec2, fx, 2)
    short = CustomResource(
        FLEET_HANDLER,
        receiver,
        logical_id="WebFleet",
        resource_type="Custom::TrafficMirrorFleet",
        timeout_s=15.5,
    )
    ec2.inject("DescribeInstances", delay_s=1.0)  # the selector's read leaves < 15 s
    answer = short.create(fleet_props(fx, DryRun="true"))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["InterfacesMirrored"] == "0"
    assert ec2.requests("CreateTrafficMirrorSession") == []
    (summary,) = logged(no_secrets_in_logs, "fleet pass")
    assert summary["unfinished"] is True and summary["dry_run"] is True


def test_the_rollback_to_a_fleet_dry_run_succeeds_when_its_filter_is_gone_since(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    """A fleet's dry run checks the names it gives; a filter deleted since must not strand
    the rollback to it. Outside a rollback the same dry run fails, naming the filter."""
    group(ec2, fx, 2)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    dry = fleet_props(fx, DryRun="true", TrafficMirrorFilterId=fx.filter_ids[1])
    assert fleet.update(dry)["Status"] == "SUCCESS"
    bad = fleet_props(fx, TrafficMirrorFilterId="tmf-0000000000000000")
    assert fleet.update(bad)["Status"] == "FAILED"
    gone = "InvalidTrafficMirrorFilterId.NotFound"  # as EC2 answers for a deleted filter
    ec2.inject("DescribeTrafficMirrorFilters", gone, times=1)
    mark = len(ec2.calls)
    rollback = fleet.rollback(bad)
    assert rollback["Status"] == "SUCCESS", rollback["Reason"]
    assert rollback["PhysicalResourceId"] == fleet.physical_id
    assert rollback["Data"]["DryRun"] == "true"
    assert ec2.writes(mark) == [] and "DescribeStacks" in ec2.calls[mark:]
    ec2.inject("DescribeTrafficMirrorFilters", gone, times=1)
    again = fleet.send(fleet.make("Update", dry, physical_id=fleet.physical_id, old_props=bad))
    assert again["Status"] == "FAILED" and fx.filter_ids[1] in again["Reason"], again["Reason"]
