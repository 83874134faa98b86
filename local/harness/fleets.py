"""Auto Scaling groups in the embedded EC2, and the EventBridge events the fleet reconciler
receives, for the fleet's tests, ``make demo-fleet`` and ``make bench``.

moto's Auto Scaling launches real (moto) instances carrying interfaces and the
``aws:autoscaling:groupName`` tag; scaling in terminates instances but, unlike EC2, keeps their
interfaces and the sessions on them.

Zonal fleets: :func:`zones` makes a subnet in each of two Availability Zones with an interface
target in each; :func:`create_zonal_group` spreads a group over them (moto launches a group's
instances in its first subnet, so each zone's instances are launched with that zone's subnet
listed first).

Example::

    interfaces = create_group(ec2, fx.subnet_id, 3)      # primary interfaces, sorted
    a, b = zones(ec2, fx.vpc_id)                         # us-east-1a (use1-az6), us-east-1b
    by_zone = create_zonal_group(ec2, [a, b], 2)         # {'us-east-1a': [eni, eni], ...}
    resize(ec2, 4)
    reconciler(running_event(new_instance), LambdaContext(timeout_s=60))
    reconciler(scheduled_event(), LambdaContext(timeout_s=60))
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final

import boto3

from local.harness.ec2sim import EmbeddedEc2
from local.harness.events import ACCOUNT, REGION

__all__ = [
    "ELBV2_ENDPOINT_ENV",
    "GROUP",
    "ZONES",
    "Zone",
    "autoscaling",
    "bridge",
    "create_group",
    "create_zonal_group",
    "enable_zones",
    "group_instances",
    "interfaces_by_zone",
    "load_balancers",
    "primaries",
    "resize",
    "resize_zonal",
    "running_event",
    "scheduled_event",
    "target_in",
    "zones",
]

GROUP: Final = "web"
#: The two zones a zonal group spreads over (moto's IDs for them: use1-az6, use1-az1).
ZONES: Final = ("us-east-1a", "us-east-1b")
#: Where boto3 finds the Elastic Load Balancing v2 endpoint (the embedded one serves it too).
ELBV2_ENDPOINT_ENV: Final = "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2"
#: Instances in these states are the group's; terminated ones keep their tag in moto.
LIVE: Final = ["pending", "running"]


def autoscaling(ec2: EmbeddedEc2) -> Any:
    """An Auto Scaling client for the embedded endpoint."""
    return boto3.client("autoscaling", region_name=ec2.region, endpoint_url=ec2.endpoint)


def create_group(ec2: EmbeddedEc2, subnet_id: str, size: int, name: str = GROUP) -> list[str]:
    """An Auto Scaling group of ``size`` in the subnet; its instances' primary interfaces."""
    asg = autoscaling(ec2)
    asg.create_launch_configuration(
        LaunchConfigurationName=f"lc-{name}", ImageId="ami-12c6146b", InstanceType="m6i.large"
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=f"lc-{name}",
        MinSize=0,
        MaxSize=max(size, 10),
        DesiredCapacity=size,
        VPCZoneIdentifier=subnet_id,
    )
    return primaries(ec2, name)


def resize(ec2: EmbeddedEc2, size: int, name: str = GROUP) -> None:
    """Scale the group out or in (moto launches or terminates instances at once)."""
    autoscaling(ec2).set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=size)


def group_instances(ec2: EmbeddedEc2, name: str = GROUP) -> dict[str, str]:
    """The group's live instances: instance ID to its primary interface (device index 0)."""
    pages = (
        ec2.client()
        .get_paginator("describe_instances")
        .paginate(
            Filters=[
                {"Name": "tag:aws:autoscaling:groupName", "Values": [name]},
                {"Name": "instance-state-name", "Values": LIVE},
            ]
        )
    )
    return {
        str(i["InstanceId"]): str(n["NetworkInterfaceId"])
        for page in pages
        for r in page["Reservations"]
        for i in r["Instances"]
        for n in i["NetworkInterfaces"]
        if n["Attachment"]["DeviceIndex"] == 0
    }


def primaries(ec2: EmbeddedEc2, name: str = GROUP) -> list[str]:
    """The primary interfaces of the group's live instances, sorted."""
    return sorted(group_instances(ec2, name).values())


def bridge(
    detail_type: str, detail: dict[str, Any], source: str, at: str = "2025-06-01T12:00:00Z"
) -> dict[str, Any]:
    """An EventBridge event as Lambda receives it (``at``: its time)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": at,
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def running_event(instance_id: str, at: str = "2025-06-01T12:00:00Z") -> dict[str, Any]:
    """EC2's state-change notification: the instance reached ``running``."""
    return bridge(
        "EC2 Instance State-change Notification",
        {"instance-id": instance_id, "state": "running"},
        "aws.ec2",
        at,
    )


def scheduled_event(at: str | None = None) -> dict[str, Any]:
    """The sweep's schedule firing at ``at`` (by default a fresh time: the generation of what
    it makes)."""
    if at is None:
        second = uuid.uuid4().int % 86_400
        at = f"2025-06-01T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
    event = bridge("Scheduled Event", {}, "aws.events", at)
    event["resources"] = [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/provider-Sweep"]
    return event


@dataclass(frozen=True)
class Zone:
    """One Availability Zone of a zonal fleet: its subnet and an interface target in it."""

    name: str
    zone_id: str
    subnet_id: str
    target_id: str


def target_in(ec2: EmbeddedEc2, subnet_id: str, description: str = "collector") -> str:
    """An interface target whose interface is in the subnet (so in its zone)."""
    client = ec2.client()
    eni = client.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]
    return str(
        client.create_traffic_mirror_target(
            NetworkInterfaceId=eni["NetworkInterfaceId"], Description=description
        )["TrafficMirrorTarget"]["TrafficMirrorTargetId"]
    )


def zones(ec2: EmbeddedEc2, vpc_id: str, names: tuple[str, ...] = ZONES) -> list[Zone]:
    """A subnet in each zone of the VPC, each with an interface target (its collector)."""
    client = ec2.client()
    ids = {
        z["ZoneName"]: z["ZoneId"]
        for z in client.describe_availability_zones()["AvailabilityZones"]
    }
    made = []
    for n, name in enumerate(names):
        subnet = client.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.0.{100 + n}.0/24", AvailabilityZone=name
        )["Subnet"]["SubnetId"]
        made.append(Zone(name, ids[name], subnet, target_in(ec2, subnet, f"collector {name}")))
    return made


def create_zonal_group(
    ec2: EmbeddedEc2, spread: list[Zone], per_zone: int, name: str = GROUP
) -> dict[str, list[str]]:
    """An Auto Scaling group with ``per_zone`` instances in each zone; its primary interfaces
    by zone name."""
    create_group(ec2, spread[0].subnet_id, per_zone, name)
    return resize_zonal(ec2, spread, per_zone, name)


def resize_zonal(
    ec2: EmbeddedEc2, spread: list[Zone], per_zone: int, name: str = GROUP
) -> dict[str, list[str]]:
    """Scale the group out to ``per_zone`` instances in each zone. moto launches into the
    group's first subnet, so each zone short of instances is listed first while the group
    grows by what it lacks; the group then lists every subnet in order."""
    asg = autoscaling(ec2)
    have = interfaces_by_zone(ec2, name)
    total = sum(len(enis) for enis in have.values())
    for zone in spread:
        if (lacking := per_zone - len(have.get(zone.name, []))) <= 0:
            continue
        total += lacking
        others = [z.subnet_id for z in spread if z != zone]
        asg.update_auto_scaling_group(
            AutoScalingGroupName=name,
            VPCZoneIdentifier=",".join([zone.subnet_id, *others]),
            MaxSize=max(total, 10),
            DesiredCapacity=total,
        )
    asg.update_auto_scaling_group(
        AutoScalingGroupName=name, VPCZoneIdentifier=",".join(z.subnet_id for z in spread)
    )
    return interfaces_by_zone(ec2, name)


def interfaces_by_zone(ec2: EmbeddedEc2, name: str = GROUP) -> dict[str, list[str]]:
    """The primary interfaces of the group's live instances, by zone name, sorted."""
    pages = (
        ec2.client()
        .get_paginator("describe_instances")
        .paginate(
            Filters=[
                {"Name": "tag:aws:autoscaling:groupName", "Values": [name]},
                {"Name": "instance-state-name", "Values": LIVE},
            ]
        )
    )
    found: dict[str, list[str]] = {}
    for page in pages:
        for reservation in page["Reservations"]:
            for i in reservation["Instances"]:
                zone = str(i["Placement"]["AvailabilityZone"])
                found.setdefault(zone, []).extend(
                    str(n["NetworkInterfaceId"])
                    for n in i["NetworkInterfaces"]
                    if n["Attachment"]["DeviceIndex"] == 0
                )
    return {zone: sorted(enis) for zone, enis in sorted(found.items())}


def load_balancers(ec2: EmbeddedEc2) -> Any:
    """An Elastic Load Balancing v2 client for the embedded endpoint (the provider's own
    client finds it through :data:`ELBV2_ENDPOINT_ENV`)."""
    return boto3.client("elbv2", region_name=ec2.region, endpoint_url=ec2.endpoint)


def enable_zones(ec2: EmbeddedEc2, arn: str, subnets: list[str]) -> None:
    """Enable the load balancer in the zones of these subnets (SetSubnets)."""
    load_balancers(ec2).set_subnets(LoadBalancerArn=arn, Subnets=subnets)
