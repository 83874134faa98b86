"""A fleet's view of EC2: the interfaces its selector names now, and the sessions it owns.

The fleet's sessions are found by their ownership tags (never by a list kept elsewhere);
the interfaces by DescribeInstances (read only), per selector:

- ``AutoScalingGroupName``: instances tagged ``aws:autoscaling:groupName`` with the name;
- ``InstanceIds``: those instances; ``InstanceTags``: instances carrying every tag;
- ``NetworkInterfaceIds``: those interfaces, as given.

Instances shutting down or terminated are left out. ``Interfaces``: ``primary`` (device
index 0, the default) or ``all``.

Example::

    ec2 = FleetGateway.of(connect(placement))
    wanted = ec2.interfaces(spec)          # ['eni-1', 'eni-2']
    held = ec2.owned(owner)                # the fleet's sessions, all pages
    every = ec2.managed()                  # every session this provider marked (the sweep)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from mirror_session.ec2 import Ec2Gateway, TrafficMirrorSessionTypeDef
from mirror_session.identity import (
    LOGICAL_KEY,
    MANAGED_BY_KEY,
    STACK_KEY,
    Owner,
    managed_by,
    tags_of,
)
from mirror_session.schema import SessionSpec

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import FilterTypeDef, InstanceTypeDef
else:
    FilterTypeDef = InstanceTypeDef = dict

__all__ = ["GROUP_TAG", "FleetGateway", "interfaces_of", "selects"]

GROUP_TAG: Final = "aws:autoscaling:groupName"
#: Instances in these states have (or will have) interfaces worth mirroring.
LIVE_STATES: Final = ["pending", "running", "stopping", "stopped"]


def interfaces_of(instance: InstanceTypeDef, which: str) -> list[str]:
    """The instance's interfaces: the primary one (device index 0), or all of them."""
    found = sorted(
        (int(n.get("Attachment", {}).get("DeviceIndex", 0)), str(n.get("NetworkInterfaceId")))
        for n in instance.get("NetworkInterfaces", [])
    )
    return [eni for index, eni in found if which == "all" or index == 0]


def _tags(instance: InstanceTypeDef) -> dict[str, str]:
    return {str(t.get("Key")): str(t.get("Value", "")) for t in instance.get("Tags", [])}


def selects(spec: SessionSpec, instance: InstanceTypeDef) -> bool:
    """True when the fleet's selector names this instance (or one of its interfaces)."""
    tags = _tags(instance)
    if (group := spec.text("AutoScalingGroupName")) is not None:
        return tags.get(GROUP_TAG) == group
    if "InstanceIds" in spec.lists:
        return instance.get("InstanceId") in spec.lists["InstanceIds"]
    if "InstanceTags" in spec.pairs:
        return all(tags.get(k) == v for k, v in spec.pairs["InstanceTags"].items())
    enis = set(spec.lists.get("NetworkInterfaceIds", ()))
    return bool(enis & set(interfaces_of(instance, "all")))


class FleetGateway(Ec2Gateway):
    """The EC2 gateway, plus the two reads a fleet needs."""

    @classmethod
    def of(cls, gateway: Ec2Gateway) -> FleetGateway:
        """The same client and account, with the fleet's reads."""
        return cls(gateway.client, gateway.account)

    def instances(self, spec: SessionSpec, instance_ids: list[str] | None = None) -> list[Any]:
        """The live instances the selector names (or, given ``instance_ids``, those)."""
        filters: list[FilterTypeDef] = [{"Name": "instance-state-name", "Values": LIVE_STATES}]
        args: dict[str, Any] = {}
        if instance_ids is not None or "InstanceIds" in spec.lists:
            args["InstanceIds"] = instance_ids or list(spec.lists["InstanceIds"])
        elif (group := spec.text("AutoScalingGroupName")) is not None:
            filters.append({"Name": f"tag:{GROUP_TAG}", "Values": [group]})
        else:
            tags: Mapping[str, str] = spec.pairs.get("InstanceTags", {})
            filters += [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
        pages = self.client.get_paginator("describe_instances")
        return self._call(
            "describe",
            "instances",
            lambda: [
                instance
                for page in pages.paginate(Filters=filters, **args)
                for reservation in page["Reservations"]
                for instance in reservation["Instances"]
            ],
        )

    def interfaces(self, spec: SessionSpec) -> list[str]:
        """Every interface the fleet mirrors now, in a stable order."""
        if "NetworkInterfaceIds" in spec.lists:
            return list(spec.lists["NetworkInterfaceIds"])
        which = spec.text("Interfaces") or "primary"
        found = (eni for i in self.instances(spec) for eni in interfaces_of(i, which))
        return sorted(set(found))

    def owned(self, owner: Owner) -> list[TrafficMirrorSessionTypeDef]:
        """Every session carrying the owner's stack-id and logical-id tags (all pages)."""
        pages = self.client.get_paginator("describe_traffic_mirror_sessions")
        filters: list[FilterTypeDef] = [
            {"Name": f"tag:{STACK_KEY}", "Values": [owner.stack_id]},
            {"Name": f"tag:{LOGICAL_KEY}", "Values": [owner.logical_id]},
        ]
        return self._call(
            "describe",
            f"of {owner.describe()}",
            lambda: [
                session
                for page in pages.paginate(Filters=filters)
                for session in page["TrafficMirrorSessions"]
                if owner.owns(session)
            ],
        )

    def managed(self) -> list[TrafficMirrorSessionTypeDef]:
        """Every session carrying this provider's managed-by marker (all pages, 1,000 each)."""
        pages = self.client.get_paginator("describe_traffic_mirror_sessions")
        filters: list[FilterTypeDef] = [{"Name": f"tag:{MANAGED_BY_KEY}", "Values": [managed_by()]}]
        return self._call(
            "describe",
            f"managed by {managed_by()}",
            lambda: [
                session
                for page in pages.paginate(Filters=filters, PaginationConfig={"PageSize": 1000})
                for session in page["TrafficMirrorSessions"]
                if tags_of(session).get(MANAGED_BY_KEY) == managed_by()
            ],
        )
