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
    held = ec2.owned(owner)                # the fleet's sessions: DescribeTags, then by ID
    every = ec2.managed()                  # every session this provider marked (the sweep)

No Describe here uses a filter its API reference does not list (DescribeTrafficMirrorSessions
has no ``tag:`` filter): the embedded EC2 refuses undocumented names, as EC2 may.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from traffic_mirror.aws.ec2 import (
    SESSION_TYPE,
    TRANSPORT_ERRORS,
    VALUES_PER_FILTER,
    Ec2Gateway,
    TrafficMirrorSessionTypeDef,
)
from traffic_mirror.errors import ProviderError, error_code, explain, failure
from traffic_mirror.fleets.zones import ZoneReads
from traffic_mirror.ownership import (
    MANAGED_BY_KEY,
    STACK_KEY,
    Owner,
    managed_by,
    tags_of,
)
from traffic_mirror.sessions.schema import SessionSpec, Value

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import FilterTypeDef, InstanceTypeDef
else:
    FilterTypeDef = InstanceTypeDef = dict

__all__ = [
    "GROUP_TAG",
    "VALUES_PER_FILTER",
    "FleetGateway",
    "SessionsRead",
    "interfaces_of",
    "selects",
]

GROUP_TAG: Final = "aws:autoscaling:groupName"
#: Instances in these states have (or will have) interfaces worth mirroring.
LIVE_STATES: Final = ["pending", "running", "stopping", "stopped"]
#: What EC2 answers for instance and interface IDs that do not exist.
NOT_FOUND_CODES: Final = (
    "InvalidInstanceID.NotFound",
    "InvalidInstanceID.Malformed",
    "InvalidNetworkInterfaceID.NotFound",
    "InvalidNetworkInterfaceID.Malformed",
)
#: The largest page DescribeTags and DescribeTrafficMirrorSessions return.
PAGE: Final = 1000


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


class FleetGateway(ZoneReads):
    """The EC2 gateway, plus the reads a fleet needs (its zone reads: :class:`ZoneReads`)."""

    def __init__(
        self, client: Any, account: str | None = None, credentials: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(client, account, credentials)
        #: The instance type behind each interface read by :meth:`interfaces` (for Reasons).
        self.types: dict[str, str] = {}
        #: Every session of this account and region as the sweep read them (see
        #: :class:`SessionsRead`); None: :meth:`owned` reads the owner's own.
        self.known: list[TrafficMirrorSessionTypeDef] | None = None

    @classmethod
    def of(cls, gateway: Ec2Gateway) -> FleetGateway:
        """The same client and account, with the fleet's reads."""
        return cls(gateway.client, gateway.account, gateway.credentials)

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

    def check_selector(self, spec: SessionSpec) -> None:
        """Fail, naming it and where it was looked for, when the selector names what does not
        exist: an Auto Scaling group (with close names), instances, interfaces. An existing
        group with no instances, or tags that match nothing, select nothing and are valid."""
        if (group := spec.text("AutoScalingGroupName")) is not None:
            self._check_group(group)
        reads: dict[str, Callable[[list[str]], object]] = {
            "InstanceIds": lambda ids: self.client.describe_instances(InstanceIds=ids),
            "NetworkInterfaceIds": lambda ids: self.client.describe_network_interfaces(
                NetworkInterfaceIds=ids
            ),
        }
        for prop, call in reads.items():
            if ids := list(spec.lists.get(prop, ())):
                try:
                    call(ids)
                except ClientError as exc:
                    if error_code(exc) not in NOT_FOUND_CODES:
                        raise explain("describe", prop, exc, where=self.where) from exc
                    message = str(exc.response.get("Error", {}).get("Message", ""))
                    raise failure(
                        f"{prop}: {message or 'not found'} (looked {self.where}). Check the IDs, "
                        "and the fleet's RoleArn and Region.",
                        error_code(exc),
                        "EC2",
                    ) from exc
                except TRANSPORT_ERRORS as exc:
                    raise explain("describe", prop, exc, where=self.where) from exc

    def _check_group(self, group: str) -> None:
        scaling = self.service("autoscaling")
        try:
            if scaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
                "AutoScalingGroups"
            ]:
                return
            pages = scaling.get_paginator("describe_auto_scaling_groups").paginate(
                PaginationConfig={"MaxItems": 1000}
            )
            names = [str(g["AutoScalingGroupName"]) for p in pages for g in p["AutoScalingGroups"]]
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            raise explain(
                "describe", group, exc, subject="Auto Scaling group", service="Auto Scaling"
            ) from exc
        close = difflib.get_close_matches(group, names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ProviderError(
            f"AutoScalingGroupName {group} was not found {self.where}.{hint} Check the name, "
            "and the fleet's RoleArn and Region."
        )

    def check_target_and_filter(self, spec: SessionSpec) -> None:
        """Fail when the target or the filter does not exist where the fleet looks (checked
        even when the selector selects nothing, so a fleet of none still learns of it)."""
        target, mirror_filter = (
            spec.text("TrafficMirrorTargetId"),
            spec.text("TrafficMirrorFilterId"),
        )
        ids: dict[str, Value] = {}
        try:
            if target is not None:
                ids = {"TrafficMirrorTargetId": target}
                found = self.client.describe_traffic_mirror_targets(TrafficMirrorTargetIds=[target])
                if not found.get("TrafficMirrorTargets"):
                    raise self._missing("TrafficMirrorTargetId", target)
            if mirror_filter is not None:
                ids = {"TrafficMirrorFilterId": mirror_filter}
                held = self.client.describe_traffic_mirror_filters(
                    TrafficMirrorFilterIds=[mirror_filter]
                )
                if not held.get("TrafficMirrorFilters"):
                    raise self._missing("TrafficMirrorFilterId", mirror_filter)
        except ClientError as exc:
            raise explain(
                "check", str(next(iter(ids.values()))), exc, where=self.where, ids=ids
            ) from exc
        except TRANSPORT_ERRORS as exc:
            raise explain("check", str(next(iter(ids.values()))), exc, where=self.where) from exc

    def _missing(self, prop: str, value: str) -> ProviderError:
        return failure(
            f"check traffic mirror fleet: {prop} {value} was not found {self.where}. Check it "
            "exists there (a target may be shared with that account through RAM).",
            f"Invalid{prop[:-2]}Id.NotFound",
            "EC2",
        )

    def interfaces(self, spec: SessionSpec) -> list[str]:
        """Every interface the fleet mirrors now, in a stable order."""
        if "NetworkInterfaceIds" in spec.lists:
            return list(spec.lists["NetworkInterfaceIds"])
        which = spec.text("Interfaces") or "primary"
        for instance in self.instances(spec):
            kind = str(instance.get("InstanceType", ""))
            at = instance.get("Placement", {})  # an instance's interfaces are in its zone
            zone = (at.get("AvailabilityZoneId") or None, at.get("AvailabilityZone") or None)
            for eni in interfaces_of(instance, which):
                self.types[eni], self.placed[eni] = kind, zone
        return sorted(self.types)

    def locate(self, interfaces: Sequence[str]) -> None:
        """Read the zones of the interfaces no instance read placed (a fleet that selects
        NetworkInterfaceIds), by the page; one EC2 does not show stays unknown."""
        if unplaced := [eni for eni in interfaces if eni not in self.placed]:
            self.placed.update(self.read_interfaces(unplaced))

    def owned(self, owner: Owner) -> list[TrafficMirrorSessionTypeDef]:
        """Every session carrying the owner's ownership tags (all pages).

        DescribeTrafficMirrorSessions documents no ``tag:`` filter, so the owner's sessions are
        found by their tags (DescribeTags: ``resource-type``, ``key``, ``value``) and then
        read by ID (the ``traffic-mirror-session-id`` filter, :data:`VALUES_PER_FILTER` a call).
        ``make bench`` chose this over reading every session of the account: a fleet's few
        reads do not grow with the account (figures in docs/performance.md). In a sweep,
        which reads every session anyway (:class:`SessionsRead`), they are taken from
        :attr:`known` instead."""
        if self.known is not None:  # a sweep: among every session it read (no call)
            return [s for s in self.known if owner.owns(s)]
        ids = self.tagged(STACK_KEY, owner.stack_id)
        return [s for s in self.by_ids(ids, f"of {owner.describe()}") if owner.owns(s)]

    def tagged(self, key: str, value: str) -> list[str]:
        """The IDs of the sessions whose tag ``key`` is ``value`` (DescribeTags, all pages)."""
        pages = self.client.get_paginator("describe_tags")
        filters: list[FilterTypeDef] = [
            {"Name": "resource-type", "Values": [SESSION_TYPE]},
            {"Name": "key", "Values": [key]},
            {"Name": "value", "Values": [value]},
        ]
        return self._call(
            "describe",
            f"tags {key}={value}",
            lambda: sorted(
                {
                    str(tag["ResourceId"])
                    for page in pages.paginate(Filters=filters, PaginationConfig={"PageSize": PAGE})
                    for tag in page["Tags"]
                }
            ),
        )

    def every(self) -> list[TrafficMirrorSessionTypeDef]:
        """Every session EC2 shows in the account and region (all pages, 1,000 each)."""
        pages = self.client.get_paginator("describe_traffic_mirror_sessions")
        return self._call(
            "describe",
            "every session",
            lambda: [
                session
                for page in pages.paginate(PaginationConfig={"PageSize": PAGE})
                for session in page["TrafficMirrorSessions"]
            ],
        )

    def managed(self) -> list[TrafficMirrorSessionTypeDef]:
        """Every session carrying this provider's managed-by marker, found in :meth:`every`
        (the sweep reads every session anyway: it also looks for numbers shared with them)."""
        return [s for s in self.every() if tags_of(s).get(MANAGED_BY_KEY) == managed_by()]


class SessionsRead:
    """Every session of each placement, read once per sweep and shared by all who need it.

    The sweep's audit reads every session of each account and region anyway (orphans,
    numbers shared with sessions of others), and each fleet's sessions are among them: a
    fleet swept with the same read needs neither DescribeTags nor reads by ID, so a sweep
    of a healthy fleet reads its instances and nothing more of its own."""

    def __init__(self) -> None:
        self._read: dict[Hashable, list[TrafficMirrorSessionTypeDef]] = {}

    def every(self, place: Hashable, ec2: FleetGateway) -> list[TrafficMirrorSessionTypeDef]:
        """Every session ``ec2`` shows at ``place`` (a Placement), read the first time asked."""
        if place not in self._read:
            self._read[place] = ec2.every()
        return self._read[place]
