"""The world of the stateful fleet suite (test_stateful_fleet.py): two Auto Scaling groups whose
instances come and go (their EventBridge events: local/harness/fleets.py), each instance in one
of two Availability Zones (ZONES there: a subnet and an interface target in each, and a central
target in the first, the zonal fleets' fallback), and which interfaces a fleet selects and where
each must be mirrored, worked out from EC2 directly (the oracle does not use the provider's
code).

Example::

    world = World(ec2, fx)
    world.build({"web": [0, 1], "api": [1]}) # each instance's zone (an index into ZONES)
    new = world.scale_out("web", 1, zone=0)  # instance IDs launched
    world.launched(3)                        # the fourth instance launched (new[0])
    world.selected(Selector("AutoScalingGroupName", group="web"))   # {'eni-…', …}

and what the stack declares: the fleet's selector and settings, single sessions' properties,
and the strategies that draw them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import boto3
from hypothesis import strategies as st

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import properties
from local.harness.fleets import ZONES, Zone, zones
from tests.reliability._draws import PICK, pick

GROUPS: Final = ("web", "api")
#: Tags each group propagates to its instances (InstanceTags selectors pick by them).
GROUP_TAGS: Final = {
    "web": {"role": "web", "tier": "front"},
    "api": {"role": "api", "tier": "front"},
}
TAG_SELECTIONS: Final = (
    (("role", "web"),),
    (("tier", "front"),),
    (("role", "api"), ("tier", "front")),
)
GROUP_TAG: Final = "aws:autoscaling:groupName"
LIVE: Final = frozenset({"pending", "running", "stopping", "stopped"})
MAX_SIZE: Final = 4
#: The zone each of the first instances is launched in (``initialize`` draws them: the groups
#: start with at most 3 + 2 instances, each in the zone its draw names).
SPREAD: Final = st.tuples(*[st.integers(0, len(ZONES) - 1)] * 5)


@dataclass(frozen=True)
class Selector:
    """Which interfaces a fleet mirrors: one selector property, and ``Interfaces``."""

    kind: str  # AutoScalingGroupName, InstanceTags or NetworkInterfaceIds
    group: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    enis: tuple[str, ...] = ()
    interfaces: str | None = None  # None: omitted (the primary interface)

    def props(self) -> dict[str, Any]:
        """The selector's ResourceProperties, as a template gives them."""
        value: Any
        if self.kind == "AutoScalingGroupName":
            value = self.group
        elif self.kind == "InstanceTags":
            value = [{"Key": k, "Value": v} for k, v in self.tags]
        else:
            value = list(self.enis)
        out: dict[str, Any] = {self.kind: value}
        if self.interfaces is not None:
            out["Interfaces"] = self.interfaces
        return out


def interfaces_of(instance: dict[str, Any], which: str) -> list[str]:
    """The instance's primary interface (device index 0), or all of them."""
    return sorted(
        str(n["NetworkInterfaceId"])
        for n in instance.get("NetworkInterfaces", [])
        if which == "all" or n["Attachment"]["DeviceIndex"] == 0
    )


class World:
    """The groups and instances around a fleet, in the embedded EC2."""

    def __init__(self, ec2: EmbeddedEc2, fx: Fixtures) -> None:
        self.ec2 = ec2
        self.fx = fx
        self.client = ec2.client()
        self.asg = boto3.client("autoscaling", region_name=ec2.region, endpoint_url=ec2.endpoint)
        self.ssm = boto3.client("ssm", region_name=ec2.region, endpoint_url=ec2.endpoint)
        self.other_target = ""
        self.order: dict[str, int] = {}  # instance ID -> launch order (IDs are random)
        #: The two zones of :data:`ZONES` (a subnet and an interface target in each), and a
        #: central target in the first zone (zonal fleets' fallback).
        self.zones: list[Zone] = []
        self.central = ""

    def build(self, sizes: dict[str, list[int]]) -> None:
        """Both groups, with an instance in each zone (an index into :data:`ZONES`) listed,
        a second target (for sessions changed by hand), the zones' targets and a central one.
        Launch order: the groups' instances in the order of :data:`GROUPS`, each group's in
        zone order."""
        self.zones = zones(self.ec2, self.fx.vpc_id)
        eni = self.client.create_network_interface(SubnetId=self.zones[0].subnet_id)
        self.central = self.client.create_traffic_mirror_target(
            NetworkInterfaceId=eni["NetworkInterface"]["NetworkInterfaceId"]
        )["TrafficMirrorTarget"]["TrafficMirrorTargetId"]
        self.asg.create_launch_configuration(
            LaunchConfigurationName="lc-fleet", ImageId="ami-12c6146b", InstanceType="m6i.large"
        )
        for name in GROUPS:
            self.asg.create_auto_scaling_group(
                AutoScalingGroupName=name,
                LaunchConfigurationName="lc-fleet",
                MinSize=0,
                MaxSize=MAX_SIZE,
                DesiredCapacity=0,
                VPCZoneIdentifier=",".join(z.subnet_id for z in self.zones),
                Tags=[
                    {
                        "Key": k,
                        "Value": v,
                        "PropagateAtLaunch": True,
                        "ResourceId": name,
                        "ResourceType": "auto-scaling-group",
                    }
                    for k, v in GROUP_TAGS[name].items()
                ],
            )
            for zone in range(len(ZONES)):
                if count := sizes[name].count(zone):
                    self.scale_out(name, count, zone)
        eni = self.client.create_network_interface(SubnetId=self.fx.subnet_id)
        self.other_target = self.client.create_traffic_mirror_target(
            NetworkInterfaceId=eni["NetworkInterface"]["NetworkInterfaceId"]
        )["TrafficMirrorTarget"]["TrafficMirrorTargetId"]

    def _note_launches(self) -> None:
        for instance in self.instances():
            self.order.setdefault(instance["InstanceId"], len(self.order))

    def launched(self, index: int) -> str:
        """The ID of the ``index``-th instance launched (0: the first)."""
        (instance,) = [i for i, k in self.order.items() if k == index]
        return instance

    def instances(self) -> list[dict[str, Any]]:
        """Every instance EC2 knows, terminated ones included, in launch order (so that a
        sequence replayed by hypothesis picks the same ones, whatever their random IDs)."""
        pages = self.client.get_paginator("describe_instances").paginate()
        found = [dict(i) for page in pages for r in page["Reservations"] for i in r["Instances"]]
        return sorted(found, key=lambda i: self.order.get(i["InstanceId"], len(self.order)))

    def ordered(self, enis: Iterable[str]) -> list[str]:
        """Interfaces in a replayable order: by instance launch and device index, then the
        fixtures' interfaces of no instance."""
        rank = {
            str(n["NetworkInterfaceId"]): (
                self.order.get(i["InstanceId"], -1),
                0,
                n["Attachment"]["DeviceIndex"],
            )
            for i in self.instances()
            for n in i.get("NetworkInterfaces", [])
        }
        rank.update({eni: (-1, 1, k) for k, eni in enumerate(self.fx.sources)})
        return sorted(set(enis), key=lambda eni: rank.get(eni, (-1, 2, 0)))

    def live(self, group: str | None = None) -> list[dict[str, Any]]:
        """Instances not shutting down or terminated (of ``group``, when given)."""
        return [
            i
            for i in self.instances()
            if i["State"]["Name"] in LIVE and (group is None or _tags(i).get(GROUP_TAG) == group)
        ]

    def size(self, group: str) -> int:
        return len(self.live(group))

    def scale_out(self, group: str, count: int, zone: int = 0) -> list[str]:
        """The group grows by ``count`` in the zone (an index into :data:`ZONES`); the
        instances it launched. moto launches into a group's first subnet: the zone's comes
        first while the group grows (local/harness/fleets.py's resize_zonal)."""
        before = {i["InstanceId"] for i in self.live(group)}
        first = self.zones[zone].subnet_id
        others = [z.subnet_id for z in self.zones if z.subnet_id != first]
        self.asg.update_auto_scaling_group(
            AutoScalingGroupName=group,
            VPCZoneIdentifier=",".join([first, *others]),
            DesiredCapacity=len(before) + count,
        )
        self._note_launches()
        return [i["InstanceId"] for i in self.live(group) if i["InstanceId"] not in before]

    def scale_in(self, instance_id: str) -> list[str]:
        """The group terminates this instance (and shrinks); the interfaces it had."""
        (instance,) = [i for i in self.instances() if i["InstanceId"] == instance_id]
        self.asg.terminate_instance_in_auto_scaling_group(
            InstanceId=instance_id, ShouldDecrementDesiredCapacity=True
        )
        return interfaces_of(instance, "all")

    def interfaces_deleted(self, enis: list[str]) -> list[str]:
        """What EC2 does when it deletes a terminated instance's interfaces: their sessions go
        (the embedded EC2 keeps the interfaces, as with DeleteOnTermination off). The IDs."""
        gone = [
            str(s["TrafficMirrorSessionId"])
            for s in self.ec2.sessions()
            if s["NetworkInterfaceId"] in enis
        ]
        for sid in gone:
            self.client.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
        return gone

    def attach_second(self, instance_id: str, zone: int) -> str:
        """A second interface (device index 1) attached to the instance (in its zone)."""
        eni = self.client.create_network_interface(SubnetId=self.zones[zone].subnet_id)
        eni_id = eni["NetworkInterface"]["NetworkInterfaceId"]
        self.client.attach_network_interface(
            NetworkInterfaceId=eni_id, InstanceId=instance_id, DeviceIndex=1
        )
        return eni_id

    def selected(self, selector: Selector) -> set[str]:
        """The interfaces the selector names now."""
        if selector.kind == "NetworkInterfaceIds":
            return set(selector.enis)
        which = selector.interfaces or "primary"
        wanted = dict(selector.tags)
        if selector.kind == "AutoScalingGroupName":
            wanted = {GROUP_TAG: selector.group}
        return {
            eni
            for i in self.live()
            if all(_tags(i).get(k) == v for k, v in wanted.items())
            for eni in interfaces_of(i, which)
        }

    def zone_names(self, enis: Iterable[str]) -> dict[str, str]:
        """The Availability Zone (name) of each interface, as EC2 says."""
        wanted = sorted(set(enis))
        if not wanted:
            return {}
        found = self.client.describe_network_interfaces(NetworkInterfaceIds=wanted)
        return {
            str(n["NetworkInterfaceId"]): str(n["AvailabilityZone"])
            for n in found["NetworkInterfaces"]
        }

    def by_interface(self) -> dict[str, list[dict[str, Any]]]:
        """Every session EC2 holds, by source interface."""
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in self.ec2.sessions():
            found[str(s["NetworkInterfaceId"])].append(s)
        return found


@dataclass
class Launched:
    """An instance as the draws made it, in the machine's model: its group, whether it is
    live, and how many interfaces it has. Preconditions and picks read these, not EC2: how
    many instances a group has follows from the draws alone (an invariant checks EC2 agrees)."""

    group: str
    zone: int = 0  # an index into ZONES
    live: bool = True
    interfaces: int = 1


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in instance.get("Tags", [])}


class Clock:
    """EventBridge times a minute apart: every event of a run has its own (a sweep's time is
    the generation of the sessions it makes)."""

    def __init__(self) -> None:
        self.now = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 1000)

    def tick(self) -> str:
        self.now += timedelta(minutes=1)
        return self.now.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- what the stack declares ------------------------------------------------------------------

WORDS: Final = st.text(alphabet="abcdefghij-. ", min_size=1, max_size=12)
#: What EC2 reports as PacketLength for whole packets with an NLB target.
WHOLE_PACKET: Final = 8500


@dataclass(frozen=True)
class SelectorChoice:
    """A selector as drawn; which interface IDs it lists is picked when the step runs."""

    kind: str
    group: str
    tags: tuple[tuple[str, str], ...]
    interfaces: str | None
    picks: tuple[int, ...]

    def resolve(self, world: World) -> Selector:
        if self.kind == "group":
            return Selector("AutoScalingGroupName", group=self.group)
        if self.kind == "tags":
            return Selector("InstanceTags", tags=self.tags, interfaces=self.interfaces)
        live = world.ordered(e for i in world.live() for e in interfaces_of(i, "all"))
        candidates = [*live, world.fx.sources[0]]  # and an interface of no instance
        return Selector(
            "NetworkInterfaceIds",
            enis=tuple(dict.fromkeys(pick(candidates, p) for p in self.picks)),
        )


selector_choices: Final = st.builds(
    SelectorChoice,
    kind=st.sampled_from(["group", "group", "tags", "interfaces"]),
    group=st.sampled_from(GROUPS),
    tags=st.sampled_from(TAG_SELECTIONS),
    interfaces=st.sampled_from([None, None, "primary", "all"]),
    picks=st.lists(PICK, min_size=1, max_size=4).map(tuple),
)


@dataclass(frozen=True)
class Route:
    """Where an interface must be mirrored, and whether that crosses a zone."""

    target: str
    cross_zone: bool


@dataclass(frozen=True)
class Targets:
    """Where the fleet mirrors: the fixtures' one target, or zonal targets (``covered``: the
    zones, indices into :data:`ZONES`, that have one) with the central target as fallback or
    none."""

    zonal: bool = False
    covered: tuple[int, ...] = ()
    fallback: bool = True

    def props(self, world: World) -> dict[str, Any]:
        if not self.zonal:
            return {"TrafficMirrorTargetId": world.fx.target_id}
        out: dict[str, Any] = {
            "ZonalTrafficMirrorTargetIds": [world.zones[z].target_id for z in self.covered]
        }
        if self.fallback:
            out["TrafficMirrorTargetId"] = world.central
        return out

    def route(self, world: World, zone: str | None) -> Route | None:
        """The target an interface in ``zone`` (a name) must be mirrored to; None: skipped.
        The central target is in the first zone."""
        if not self.zonal:
            return Route(world.fx.target_id, cross_zone=False)
        index = ZONES.index(zone) if zone in ZONES else None
        if index in self.covered:
            return Route(world.zones[index].target_id, cross_zone=False)
        if not self.fallback:
            return None
        return Route(world.central, cross_zone=zone != ZONES[0])

    def toggled(self, zone: int) -> Targets:
        """The zone's target added to the list, or removed (the last one moves to the other
        zone: a zonal fleet keeps one zonal target at least)."""
        if zone not in self.covered:
            return replace(self, covered=tuple(sorted({*self.covered, zone})))
        left = tuple(z for z in self.covered if z != zone)
        return replace(self, covered=left or (1 - zone,))


target_choices: Final = st.builds(
    lambda zonal, covered, fallback: Targets(True, covered, fallback) if zonal else Targets(),
    zonal=st.booleans(),
    covered=st.sampled_from([(0,), (1,), (0, 1)]),
    fallback=st.booleans(),
)


@dataclass(frozen=True)
class Settings:
    """The fleet's session settings (``filter``: an index into the fixtures' filters)."""

    filter: int
    packet: int | None
    desc: str | None
    number: int | None  # None: allocated on each interface
    tags: tuple[tuple[str, str], ...]
    targets: Targets = Targets()

    def props(self, world: World) -> dict[str, Any]:
        fx = world.fx
        targets = self.targets.props(world)
        zonal = targets.pop("ZonalTrafficMirrorTargetIds", None)
        out = properties(
            {
                **targets,
                "TrafficMirrorFilterId": fx.filter_ids[self.filter],
                "SessionNumber": self.number,
                "PacketLength": self.packet,
                "Description": self.desc,
            },
            self.tags,
        )
        if zonal is not None:  # a list, as CloudFormation sends it
            out["ZonalTrafficMirrorTargetIds"] = zonal
        return out

    def packet_of(self, session: dict[str, Any]) -> int | None:
        """The session's PacketLength as this fleet reads it: with PacketLength omitted, the
        whole-packet 8500 counts as omitted."""
        held = session.get("PacketLength")
        return None if self.packet is None and held == WHOLE_PACKET else held

    def rewrites(self, old: Settings) -> bool:
        """Whether an Update from ``old`` modifies every kept session whatever a read shows:
        the provider writes each setting the previous properties declared otherwise (a read
        may lag the last write). ``PacketLength: 8500`` and omitted differ here: 8500 cuts
        jumbo frames on an interface target, though a held 8500 reads as omitted. A number
        declared where the previous properties had another, or none, is written too (the
        session may hold it already); a number left out keeps the one held."""
        declared = (self.filter, self.packet, self.desc) != (old.filter, old.packet, old.desc)
        return declared or (self.number is not None and self.number != old.number)

    def differs(self, session: dict[str, Any], fx: Fixtures, route: Route | None) -> bool:
        """Whether the session needs a Modify to have these settings (tags are not Modify's),
        ``route`` its interface's."""
        return (
            (route is not None and session["TrafficMirrorTargetId"] != route.target)
            or session["TrafficMirrorFilterId"] != fx.filter_ids[self.filter]
            or self.packet_of(session) != self.packet
            or session.get("Description") != self.desc
            or (self.number is not None and session["SessionNumber"] != self.number)
        )


fleet_settings: Final = st.builds(
    Settings,
    filter=st.integers(0, 1),
    packet=st.none() | st.integers(1, WHOLE_PACKET),
    desc=st.none() | WORDS,
    number=st.none() | st.none() | st.integers(1, 3),
    tags=st.dictionaries(st.sampled_from(["team", "cost"]), WORDS, max_size=2).map(
        lambda d: tuple(sorted(d.items()))
    ),
    targets=target_choices,
)


@dataclass(frozen=True)
class SingleSpec:
    """A Custom::TrafficMirrorSession's properties, but its interface."""

    filter: int
    number: int | None
    packet: int | None
    desc: str | None

    def props(self, fx: Fixtures, eni: str) -> dict[str, Any]:
        return properties(
            {
                "NetworkInterfaceId": eni,
                "TrafficMirrorTargetId": fx.target_id,
                "TrafficMirrorFilterId": fx.filter_ids[self.filter],
                "SessionNumber": self.number,
                "PacketLength": self.packet,
                "Description": self.desc,
            }
        )


single_specs: Final = st.builds(
    SingleSpec,
    filter=st.integers(0, 1),
    number=st.none() | st.integers(1, 3),
    packet=st.none() | st.integers(1, WHOLE_PACKET),
    desc=st.none() | WORDS,
)


# --- a member account -------------------------------------------------------------------------

#: The member account a fleet is placed in through RoleArn (tests/integration/test_placement),
#: its group, and the tag its instances carry.
MEMBER_GROUP: Final = "member-web"


class MemberWorld:
    """An Auto Scaling group in a member account (the embedded EC2 plays every account: calls
    signed with a role's keys land in its account), and what EC2 holds there.

    Example::

        member = MemberWorld(ec2, "111111111111")
        (instance,) = member.scale_out(1)
        member.primary(instance)          # 'eni-…'
    """

    def __init__(self, ec2: EmbeddedEc2, account: str) -> None:
        self.ec2 = ec2
        self.account = account
        self.fx = ec2.fixtures(account=account)
        sts = boto3.client("sts", region_name=ec2.region, endpoint_url=ec2.endpoint)
        role = f"arn:aws:iam::{account}:role/embedded-fixtures"
        keys = sts.assume_role(RoleArn=role, RoleSessionName="member-world")["Credentials"]
        self.asg = boto3.client(
            "autoscaling",
            region_name=ec2.region,
            endpoint_url=ec2.endpoint,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
        )
        self.client = ec2.client(account=account)
        self.truth = ec2.client(account=account, truth=True)
        self.asg.create_launch_configuration(
            LaunchConfigurationName="lc-member", ImageId="ami-12c6146b", InstanceType="m6i.large"
        )
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=MEMBER_GROUP,
            LaunchConfigurationName="lc-member",
            MinSize=0,
            MaxSize=MAX_SIZE,
            DesiredCapacity=0,
            VPCZoneIdentifier=self.fx.subnet_id,
        )
        self.primaries: dict[str, str] = {}  # instance ID -> primary interface

    def scale_out(self, count: int) -> list[str]:
        """The member's group grows by ``count``; the instances it launched."""
        self.asg.set_desired_capacity(
            AutoScalingGroupName=MEMBER_GROUP, DesiredCapacity=len(self.primaries) + count
        )
        pages = self.client.get_paginator("describe_instances").paginate()
        new = {
            str(i["InstanceId"]): str(n["NetworkInterfaceId"])
            for page in pages
            for r in page["Reservations"]
            for i in r["Instances"]
            for n in i["NetworkInterfaces"]
            if n["Attachment"]["DeviceIndex"] == 0 and i["InstanceId"] not in self.primaries
        }
        self.primaries.update(new)
        return sorted(new)

    def sessions(self) -> list[dict[str, Any]]:
        """Every session EC2 holds in the member account now (past any read lag)."""
        pages = self.truth.get_paginator("describe_traffic_mirror_sessions").paginate()
        return [dict(s) for page in pages for s in page["TrafficMirrorSessions"]]
