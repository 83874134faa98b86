"""Zonal targets without EC2: the routing rules (traffic_mirror.fleets.zones),
"TrafficMirrorTargetId
is required unless ZonalTrafficMirrorTargetIds names a target", and the zone reads against
the answers EC2 and Elastic Load Balancing document, played with botocore's Stubber where moto
lacks them (an interface's AvailabilityZoneId; a load balancer of another account)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from traffic_mirror.errors import ProviderError
from traffic_mirror.fleets.schema import FLEET, ZONAL
from traffic_mirror.fleets.zones import Route, Zonal, ZoneReads, plan_routes
from traffic_mirror.sessions.validation import InvalidProperties, parse

NLB = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/collect/0123456789abcdef"
)
BASE = {"AutoScalingGroupName": "web", "TrafficMirrorFilterId": "tmf-1"}


# --- "required unless", declared in the schema table ---------------------------------------------


def test_zonal_targets_stand_in_for_the_target_a_fleet_otherwise_requires() -> None:
    spec = parse({**BASE, ZONAL: ["tmt-a", "tmt-b"]}, schema=FLEET)
    assert spec.lists[ZONAL] == ("tmt-a", "tmt-b") and "TrafficMirrorTargetId" not in spec.values
    assert FLEET.required_unless == {"TrafficMirrorTargetId": ZONAL}


@pytest.mark.parametrize("zonal", [None, []], ids=["absent", "empty"])
def test_a_fleet_without_a_target_or_a_zonal_one_is_refused_saying_either_will_do(
    zonal: list[str] | None,
) -> None:
    given: dict[str, Any] = dict(BASE) if zonal is None else {**BASE, ZONAL: zonal}
    with pytest.raises(InvalidProperties) as caught:
        parse(given, schema=FLEET)
    assert caught.value.problems == [
        f"TrafficMirrorTargetId is required (or {ZONAL}, naming at least one)"
    ]


def test_a_single_session_still_requires_its_target() -> None:
    with pytest.raises(InvalidProperties) as caught:
        parse({"NetworkInterfaceId": "eni-1", "TrafficMirrorFilterId": "tmf-1", ZONAL: ["x"]})
    assert "TrafficMirrorTargetId is required" in caught.value.problems
    assert any(p.startswith(f'unknown property "{ZONAL}"') for p in caught.value.problems)


# --- routing ----------------------------------------------------------------------------------


def test_two_zonal_targets_serving_one_zone_are_refused_naming_both_and_the_zone() -> None:
    zones = {"tmt-a": frozenset({"use1-az1"}), "tmt-nlb": frozenset({"use1-az2", "use1-az1"})}
    with pytest.raises(ProviderError) as caught:
        plan_routes(["tmt-a", "tmt-nlb"], None, zones)
    assert "tmt-a and tmt-nlb both serve zone use1-az1" in caught.value.reason


def test_a_zonal_target_whose_zone_cannot_be_read_is_refused() -> None:
    with pytest.raises(ProviderError, match="Availability Zone of target tmt-x could not be"):
        plan_routes(["tmt-a", "tmt-x"], None, {"tmt-a": frozenset({"use1-az1"})})


def test_each_zone_goes_to_its_target_else_the_fallback_counted_cross_zone_else_nowhere() -> None:
    zones = {"tmt-a": frozenset({"use1-az1"}), "tmt-f": frozenset({"use1-az3"})}
    zonal = plan_routes(["tmt-a"], "tmt-f", zones)
    assert zonal == Zonal({"use1-az1": "tmt-a"}, "tmt-f", frozenset({"use1-az3"}))
    assert zonal.route("use1-az1") == Route("tmt-a", cross_zone=False)
    assert zonal.route("use1-az2") == Route("tmt-f", cross_zone=True)
    assert zonal.route("use1-az3") == Route("tmt-f", cross_zone=False)  # the fallback's own
    assert zonal.route(None) == Route("tmt-f", cross_zone=True)  # not known to be the same
    alone = plan_routes(["tmt-a"], None, zones)
    assert alone.route("use1-az2") is None
    assert "no zonal target serves its zone use1-az2" in alone.why_not("use1-az2")


def test_a_fallback_whose_zone_is_unknown_counts_every_interface_it_takes_as_cross_zone() -> None:
    zonal = plan_routes(["tmt-a"], "tmt-shared", {"tmt-a": frozenset({"use1-az1"})})
    assert zonal.route("use1-az2") == Route("tmt-shared", cross_zone=True)


# --- the reads, against documented answers ----------------------------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[ZoneReads, Stubber, Stubber]]:
    ec2 = boto3.client(
        "ec2", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    elb = boto3.client(
        "elbv2", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    reads = ZoneReads(ec2)
    reads.service = lambda name: elb  # type: ignore[method-assign]
    with Stubber(ec2) as ec2_stub, Stubber(elb) as elb_stub:
        yield reads, ec2_stub, elb_stub
        ec2_stub.assert_no_pending_responses()
        elb_stub.assert_no_pending_responses()


def targets_answer(stub: Stubber, ids: list[str], held: list[dict[str, Any]]) -> None:
    stub.add_response(
        "describe_traffic_mirror_targets",
        {"TrafficMirrorTargets": held},
        {"TrafficMirrorTargetIds": ids},
    )


def test_each_kind_of_targets_zones_is_learnt_with_one_read_of_each_kind(
    stubbed: tuple[ZoneReads, Stubber, Stubber],
) -> None:
    """EC2 documents AvailabilityZoneId on an interface (moto omits it): no name mapping is
    then needed for it. The NLB's zones come by name (elbv2 gives no ID): mapped with one
    DescribeAvailabilityZones. The endpoint's zone is its subnet's."""
    reads, ec2, elb = stubbed
    ids = ["tmt-eni", "tmt-nlb", "tmt-gwlbe"]
    targets_answer(
        ec2,
        ids,
        [
            {"TrafficMirrorTargetId": "tmt-eni", "NetworkInterfaceId": "eni-t"},
            {"TrafficMirrorTargetId": "tmt-nlb", "NetworkLoadBalancerArn": NLB},
            {"TrafficMirrorTargetId": "tmt-gwlbe", "GatewayLoadBalancerEndpointId": "vpce-1"},
        ],
    )
    ec2.add_response(
        "describe_network_interfaces",
        {
            "NetworkInterfaces": [
                {
                    "NetworkInterfaceId": "eni-t",
                    "AvailabilityZone": "us-east-1a",
                    "AvailabilityZoneId": "use1-az6",
                }
            ]
        },
        {"Filters": [{"Name": "network-interface-id", "Values": ["eni-t"]}]},
    )
    elb.add_response(
        "describe_load_balancers",
        {
            "LoadBalancers": [
                {
                    "LoadBalancerArn": NLB,
                    "AvailabilityZones": [
                        {"ZoneName": "us-east-1b", "SubnetId": "subnet-b"},
                        {"ZoneName": "us-east-1c", "SubnetId": "subnet-c"},
                    ],
                }
            ]
        },
        {"LoadBalancerArns": [NLB]},
    )
    ec2.add_response(
        "describe_vpc_endpoints",
        {"VpcEndpoints": [{"VpcEndpointId": "vpce-1", "SubnetIds": ["subnet-d"]}]},
        {"VpcEndpointIds": ["vpce-1"]},
    )
    ec2.add_response(
        "describe_subnets",
        {
            "Subnets": [
                {
                    "SubnetId": "subnet-d",
                    "AvailabilityZone": "us-east-1d",
                    "AvailabilityZoneId": "use1-az4",
                }
            ]
        },
        {"SubnetIds": ["subnet-d"]},
    )
    ec2.add_response(  # once, for the names without IDs
        "describe_availability_zones",
        {
            "AvailabilityZones": [
                {"ZoneName": "us-east-1a", "ZoneId": "use1-az6"},
                {"ZoneName": "us-east-1b", "ZoneId": "use1-az1"},
                {"ZoneName": "us-east-1c", "ZoneId": "use1-az2"},
            ]
        },
        {"AllAvailabilityZones": True},
    )
    spec = parse({**BASE, ZONAL: ids}, schema=FLEET)
    zonal = reads.zonal(spec)
    assert zonal == Zonal(
        {
            "use1-az6": "tmt-eni",
            "use1-az1": "tmt-nlb",
            "use1-az2": "tmt-nlb",
            "use1-az4": "tmt-gwlbe",
        }
    )
    assert reads.zonal(spec) is zonal  # read once per pass: no response left for a second
    reads.placed["eni-src"] = (None, "us-east-1c")  # an instance read without the zone's ID
    assert reads.zone_of("eni-src") == "use1-az2"  # mapped with the answer already read


def test_a_load_balancer_another_account_owns_leaves_its_target_unserved_and_refused(
    stubbed: tuple[ZoneReads, Stubber, Stubber],
) -> None:
    """A target shared through RAM whose load balancer this account cannot read: its zones
    are unknown, so a zonal fleet naming it fails rather than guessing."""
    reads, ec2, elb = stubbed
    targets_answer(
        ec2, ["tmt-nlb"], [{"TrafficMirrorTargetId": "tmt-nlb", "NetworkLoadBalancerArn": NLB}]
    )
    elb.add_client_error(
        "describe_load_balancers",
        "LoadBalancerNotFound",
        "One or more load balancers not found",
        400,
        expected_params={"LoadBalancerArns": [NLB]},
    )
    with pytest.raises(ProviderError, match="Availability Zone of target tmt-nlb could not"):
        reads.zonal(parse({**BASE, ZONAL: ["tmt-nlb"]}, schema=FLEET))


def test_a_zonal_target_that_does_not_exist_fails_naming_it(
    stubbed: tuple[ZoneReads, Stubber, Stubber],
) -> None:
    reads, ec2, _ = stubbed
    targets_answer(ec2, ["tmt-a", "tmt-gone"], [{"TrafficMirrorTargetId": "tmt-a"}])
    with pytest.raises(ProviderError, match="target tmt-gone was not found"):
        reads.zonal(parse({**BASE, ZONAL: ["tmt-a", "tmt-gone"]}, schema=FLEET))


def test_a_fleet_without_zonal_targets_reads_no_zone(
    stubbed: tuple[ZoneReads, Stubber, Stubber],
) -> None:
    reads, _, _ = stubbed  # no response queued: any call would fail the stub
    assert reads.zonal(parse({**BASE, "TrafficMirrorTargetId": "tmt-1"}, schema=FLEET)) is None
