"""Zonal targets (ZonalTrafficMirrorTargetIds) end to end: a group spread over two zones, each
zone's interfaces mirrored to its own zone's target, the cross-zone count, moves in place when
the targets change (by an Update, and by the sweep), and the validation of zones.

Interface targets, Network Load Balancer zones (elbv2 DescribeLoadBalancers) and Gateway Load
Balancer endpoint subnets are what moto answers for real; the answers moto lacks (an interface's
AvailabilityZoneId) are played in tests/unit/test_zones.py with botocore's Stubber."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.fleets import (
    ELBV2_ENDPOINT_ENV,
    GROUP,
    Zone,
    create_zonal_group,
    enable_zones,
    load_balancers,
    resize_zonal,
    scheduled_event,
    target_in,
    zones,
)
from local.harness.lambda_loader import LambdaContext, load_handler

FLEET_HANDLER = load_handler(function="FleetFunction")
RECONCILER = load_handler(function="ReconcilerFunction")
MODIFY = "ModifyTrafficMirrorSession"
#: The zone reads of a pass over a fleet of interface targets, whatever its size.
ZONE_READS = ("DescribeTrafficMirrorTargets", "DescribeAvailabilityZones")


@pytest.fixture
def spread(ec2: EmbeddedEc2, fx: Fixtures, monkeypatch: pytest.MonkeyPatch) -> list[Zone]:
    """us-east-1a and us-east-1b, a subnet and an interface target in each; the provider's
    Elastic Load Balancing client pointed at the embedded endpoint."""
    monkeypatch.setenv(ELBV2_ENDPOINT_ENV, ec2.endpoint)
    return zones(ec2, fx.vpc_id)


def props(fx: Fixtures, zonal: list[str], fallback: str | None = None) -> dict[str, Any]:
    given = {
        "AutoScalingGroupName": GROUP,
        "ZonalTrafficMirrorTargetIds": zonal,
        "TrafficMirrorFilterId": fx.filter_ids[0],
        "TrafficMirrorTargetId": fallback,
    }
    return {k: v for k, v in given.items() if v is not None}


def targets(ec2: EmbeddedEc2) -> dict[str, str]:
    """Each mirrored interface's target, as EC2 holds it."""
    return {s["NetworkInterfaceId"]: s["TrafficMirrorTargetId"] for s in ec2.sessions()}


def session_ids(ec2: EmbeddedEc2) -> dict[str, str]:
    return {s["NetworkInterfaceId"]: s["TrafficMirrorSessionId"] for s in ec2.sessions()}


def counts(answer: dict[str, Any]) -> tuple[str, str, str]:
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    data = answer["Data"]
    return data["InterfacesMirrored"], data["InterfacesSkipped"], data["InterfacesCrossZone"]


def sweep(timeout_s: int = 60) -> dict[str, Any]:
    summary: dict[str, Any] = RECONCILER(scheduled_event(), LambdaContext(timeout_s=timeout_s))
    return summary


def modified(ec2: EmbeddedEc2, since: int) -> dict[str, dict[str, str]]:
    """The Modify calls since ``calls[since]``, by session ID: their parameters."""
    calls = ec2.requests_since(since)
    return {
        c["TrafficMirrorSessionId"]: {k: v for k, v in c.items() if not k.startswith("@")}
        for c in calls
        if c.get("Action") == MODIFY
    }


def test_each_zone_is_mirrored_to_its_own_target_then_a_fallback_shows_the_cross_zone_count(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    a, b = spread
    by_zone = create_zonal_group(ec2, spread, 2)
    assert list(by_zone) == [a.name, b.name] and all(len(v) == 2 for v in by_zone.values())
    answer = fleet.create(props(fx, [a.target_id, b.target_id]))
    assert counts(answer) == ("4", "0", "0")
    held = targets(ec2)
    assert {eni: held[eni] for eni in by_zone[a.name]} == dict.fromkeys(
        by_zone[a.name], a.target_id
    )
    assert {eni: held[eni] for eni in by_zone[b.name]} == dict.fromkeys(
        by_zone[b.name], b.target_id
    )

    # Zone b's target leaves the list; a central collector in zone a becomes the fallback.
    central = target_in(ec2, a.subnet_id, "central collector")
    before, mark = session_ids(ec2), len(ec2.calls)
    answer = fleet.update(props(fx, [a.target_id], fallback=central))
    assert counts(answer) == ("4", "0", "2")  # zone b's two, sent to zone a
    assert ec2.writes(mark) == [MODIFY] * 2  # moved in place, nothing re-created
    moves = modified(ec2, mark)
    assert set(moves) == {before[eni] for eni in by_zone[b.name]}
    assert all(
        set(m) == {"Action", "Version", "TrafficMirrorSessionId", "TrafficMirrorTargetId"}
        for m in moves.values()
    )
    assert session_ids(ec2) == before
    held = targets(ec2)
    assert {held[eni] for eni in by_zone[b.name]} == {central}
    assert {held[eni] for eni in by_zone[a.name]} == {a.target_id}


def test_the_fallback_in_the_interfaces_own_zone_is_not_counted_as_cross_zone(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    a, b = spread
    by_zone = create_zonal_group(ec2, spread, 1)
    answer = fleet.create(props(fx, [a.target_id], fallback=b.target_id))
    assert counts(answer) == ("2", "0", "0")  # zone b's interface reaches b's target anyway
    assert targets(ec2) == {by_zone[a.name][0]: a.target_id, by_zone[b.name][0]: b.target_id}


def test_an_update_adding_a_target_for_a_zone_moves_only_that_zones_sessions(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    a, b = spread
    by_zone = create_zonal_group(ec2, spread, 2)
    assert counts(fleet.create(props(fx, [a.target_id], fallback=a.target_id))) == ("4", "0", "2")
    before, mark = session_ids(ec2), len(ec2.calls)
    answer = fleet.update(props(fx, [a.target_id, b.target_id], fallback=a.target_id))
    assert counts(answer) == ("4", "0", "0")
    assert ec2.writes(mark) == [MODIFY] * 2
    assert set(modified(ec2, mark)) == {before[eni] for eni in by_zone[b.name]}
    assert session_ids(ec2) == before  # nothing re-created, nothing lost
    assert {targets(ec2)[eni] for eni in by_zone[b.name]} == {b.target_id}


def test_a_target_added_to_the_list_by_an_update_cut_short_is_moved_to_by_the_sweep_alone(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    """The Update is stored, then stops before its first write (10 s left is inside the
    reserve); the sweep makes it true: one Modify per session of the zone, the other zone's
    sessions not written."""
    a, b = spread
    by_zone = create_zonal_group(ec2, spread, 2)
    assert counts(fleet.create(props(fx, [a.target_id], fallback=a.target_id)))[2] == "2"
    before, mark = session_ids(ec2), len(ec2.calls)
    fleet.timeout_s = 10
    answer = fleet.update(props(fx, [a.target_id, b.target_id], fallback=a.target_id))
    fleet.timeout_s = 30
    assert answer["Status"] == "SUCCESS" and ec2.writes(mark) == []
    mark = len(ec2.calls)
    summary = sweep()["fleets"][fleet.physical_id]
    assert (summary["mirrored"], summary["cross_zone"]) == (4, 0)
    assert ec2.writes(mark) == [MODIFY] * 2
    assert set(modified(ec2, mark)) == {before[eni] for eni in by_zone[b.name]}
    assert session_ids(ec2) == before
    assert targets(ec2) == {
        **dict.fromkeys(by_zone[a.name], a.target_id),
        **dict.fromkeys(by_zone[b.name], b.target_id),
    }
    ec2.wait_visible()  # under a read lag, once the Modifies show
    mark = len(ec2.calls)
    sweep()
    assert ec2.writes(mark) == []  # true now: the next sweep only reads


def test_a_load_balancer_enabled_in_another_zone_takes_that_zones_sessions_at_the_sweep(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    """An NLB target's zones are those the load balancer is enabled in (elbv2, read by the
    pass): enabled in zone b too, it serves b, and the sweep moves exactly zone b's sessions."""
    a, b = spread
    client = ec2.client()
    c_subnet = client.create_subnet(
        VpcId=fx.vpc_id, CidrBlock="10.0.110.0/24", AvailabilityZone="us-east-1c"
    )["Subnet"]["SubnetId"]
    nlb = load_balancers(ec2).create_load_balancer(
        Name="collectors", Subnets=[c_subnet], Type="network", Scheme="internal"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    nlb_target = client.create_traffic_mirror_target(NetworkLoadBalancerArn=nlb)[
        "TrafficMirrorTarget"
    ]["TrafficMirrorTargetId"]
    by_zone = create_zonal_group(ec2, spread, 2)
    answer = fleet.create(props(fx, [a.target_id, nlb_target], fallback=a.target_id))
    assert counts(answer) == ("4", "0", "2")  # the NLB serves only us-east-1c so far
    enable_zones(ec2, nlb, [c_subnet, b.subnet_id])
    before, mark = session_ids(ec2), len(ec2.calls)
    summary = sweep()["fleets"][fleet.physical_id]
    assert summary["cross_zone"] == 0
    assert ec2.writes(mark) == [MODIFY] * 2
    assert set(modified(ec2, mark)) == {before[eni] for eni in by_zone[b.name]}
    assert {targets(ec2)[eni] for eni in by_zone[b.name]} == {nlb_target}
    assert {targets(ec2)[eni] for eni in by_zone[a.name]} == {a.target_id}
    assert Counter(ec2.calls[mark:])["DescribeLoadBalancers"] == 1  # once per pass


def test_two_zonal_targets_serving_one_zone_fail_before_anything_is_written_naming_both(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    a, _ = spread
    create_zonal_group(ec2, spread, 1)
    second = target_in(ec2, a.subnet_id, "second collector in zone a")
    mark = len(ec2.calls)
    answer = fleet.create(props(fx, [a.target_id, second]))
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    assert a.target_id in reason and second in reason and a.zone_id in reason, reason
    assert ec2.writes(mark) == [] and ec2.sessions() == []
    assert not [t for t in ec2.json_calls[:] if t.endswith("PutParameter")]  # no store write


def test_an_interface_in_a_zone_no_target_serves_without_a_fallback_is_skipped_and_counted(
    ec2: EmbeddedEc2,
    fx: Fixtures,
    fleet: CustomResource,
    spread: list[Zone],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = spread
    by_zone = create_zonal_group(ec2, spread, 2)
    with caplog.at_level(logging.WARNING):
        answer = fleet.create(props(fx, [a.target_id]))
    assert counts(answer) == ("2", "2", "0")
    assert sorted(targets(ec2)) == by_zone[a.name]  # zone b's interfaces have no session
    skipped = {
        r.__dict__["interface"]: r.__dict__["reason"]
        for r in caplog.records
        if r.getMessage() == "interface skipped"
    }
    assert set(skipped) == set(by_zone[b.name])
    assert all(f"no zonal target serves its zone {b.zone_id}" in why for why in skipped.values())


def test_a_zone_whose_target_leaves_the_list_without_a_fallback_loses_its_sessions(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    """The template no longer mirrors zone b: its sessions are removed (so the old target is
    free to delete), counted as skipped; zone a's are not written."""
    a, b = spread
    by_zone = create_zonal_group(ec2, spread, 1)
    fleet.create(props(fx, [a.target_id, b.target_id]))
    mark = len(ec2.calls)
    assert counts(fleet.update(props(fx, [a.target_id]))) == ("1", "1", "0")
    assert ec2.writes(mark) == ["DeleteTrafficMirrorSession"]
    assert targets(ec2) == {by_zone[a.name][0]: a.target_id}


def test_a_gateway_load_balancer_endpoint_serves_the_zone_of_its_subnet(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    a, b = spread
    client = ec2.client()
    endpoint = client.create_vpc_endpoint(
        VpcId=fx.vpc_id,
        ServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
        VpcEndpointType="GatewayLoadBalancer",
        SubnetIds=[b.subnet_id],
    )["VpcEndpoint"]["VpcEndpointId"]
    gwlbe = client.create_traffic_mirror_target(GatewayLoadBalancerEndpointId=endpoint)[
        "TrafficMirrorTarget"
    ]["TrafficMirrorTargetId"]
    by_zone = create_zonal_group(ec2, spread, 2)
    mark = len(ec2.calls)
    assert counts(fleet.create(props(fx, [a.target_id, gwlbe]))) == ("4", "0", "0")
    assert {targets(ec2)[eni] for eni in by_zone[b.name]} == {gwlbe}
    assert {targets(ec2)[eni] for eni in by_zone[a.name]} == {a.target_id}
    reads = Counter(ec2.calls[mark:])
    assert (reads["DescribeVpcEndpoints"], reads["DescribeSubnets"]) == (1, 1)


def test_a_zonal_pass_reads_zones_a_fixed_number_of_times_whatever_the_fleets_size(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    """A sweep of a true zonal fleet: the same reads for 2 and for 8 interfaces (no zone read
    per interface), and no write."""
    a, b = spread
    create_zonal_group(ec2, spread, 1)
    fleet.create(props(fx, [a.target_id, b.target_id]))
    reads = []
    for size in (1, 4):
        if size > 1:
            resize_zonal(ec2, spread, size)
            sweep()  # the new instances mirrored
        mark = len(ec2.calls)
        summary = sweep()["fleets"][fleet.physical_id]
        assert (summary["mirrored"], summary["cross_zone"]) == (2 * size, 0)
        assert ec2.writes(mark) == []
        reads.append(Counter(c for c in ec2.calls[mark:] if c.startswith("Describe")))
    assert reads[0] == reads[1]
    for call in ZONE_READS:
        assert reads[0][call] == 1, reads[0]
    assert reads[0]["DescribeNetworkInterfaces"] == 1  # the interface targets' interfaces


def test_a_fleet_of_interface_ids_reads_their_zones_by_the_page(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, spread: list[Zone]
) -> None:
    a, b = spread
    client = ec2.client()
    enis = {
        zone.name: client.create_network_interface(SubnetId=zone.subnet_id)["NetworkInterface"][
            "NetworkInterfaceId"
        ]
        for zone in spread
    }
    given = props(fx, [a.target_id, b.target_id])
    del given["AutoScalingGroupName"]
    given["NetworkInterfaceIds"] = sorted(enis.values())
    assert counts(fleet.create(given)) == ("2", "0", "0")
    assert targets(ec2) == {enis[a.name]: a.target_id, enis[b.name]: b.target_id}
