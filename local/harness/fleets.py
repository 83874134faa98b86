"""Auto Scaling groups in the embedded EC2, and the EventBridge events the fleet reconciler
receives, for the fleet's tests, ``make demo-fleet`` and ``make bench``.

moto's Auto Scaling launches real (moto) instances carrying interfaces and the
``aws:autoscaling:groupName`` tag; scaling in terminates instances but, unlike EC2, keeps their
interfaces and the sessions on them.

Example::

    interfaces = create_group(ec2, fx.subnet_id, 3)      # primary interfaces, sorted
    resize(ec2, 4)
    reconciler(running_event(new_instance), LambdaContext(timeout_s=60))
    reconciler(scheduled_event(), LambdaContext(timeout_s=60))
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import boto3

from local.harness.ec2sim import EmbeddedEc2
from local.harness.events import ACCOUNT, REGION

__all__ = [
    "GROUP",
    "autoscaling",
    "bridge",
    "create_group",
    "group_instances",
    "primaries",
    "resize",
    "running_event",
    "scheduled_event",
]

GROUP: Final = "web"
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
