"""Zonal targets: the Availability Zones each target serves, the zone each selected interface
is in, and so the target each interface is mirrored to (``ZonalTrafficMirrorTargetIds``; see
docs/fleet.md, "Zonal targets").

Zones are compared by ID (``use1-az1``), never by name: names map to different physical
zones in different accounts, IDs do not. What a target serves:

- an interface target: the zone of its interface (DescribeNetworkInterfaces);
- a Network Load Balancer target: every zone the load balancer is enabled in
  (elasticloadbalancingv2 DescribeLoadBalancers, ``AvailabilityZones[].ZoneName``);
- a Gateway Load Balancer endpoint target: the zone of the endpoint's one subnet
  (DescribeVpcEndpoints ``SubnetIds``, then DescribeSubnets ``AvailabilityZoneId``).

The reads are made once per pass, whatever the fleet's size, and kept on the gateway: one
DescribeTrafficMirrorTargets for every zonal target and the fallback, then at most one call of
each kind above, and one DescribeAvailabilityZones only when an answer names a zone without
its ID. A selected interface's zone comes from the instance read that selected it
(``Placement``), so it costs no call; a fleet that selects NetworkInterfaceIds reads them by
the page (:data:`~traffic_mirror.aws.ec2.VALUES_PER_FILTER` a call).

Example::

    zonal = ec2.zonal(spec)            # None for a fleet without zonal targets
    zonal.route(ec2.zone_of("eni-1"))  # Route(target='tmt-a', cross_zone=False)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import boto3
from botocore.exceptions import ClientError

from traffic_mirror.aws.ec2 import CLIENT_CONFIG, TRANSPORT_ERRORS, VALUES_PER_FILTER, Ec2Gateway
from traffic_mirror.errors import NotFound, ProviderError, explain, failure
from traffic_mirror.fleets.schema import ZONAL
from traffic_mirror.sessions.schema import SessionSpec

__all__ = ["Route", "Zonal", "ZoneReads", "plan_routes"]

#: DescribeLoadBalancers takes at most 20 ARNs a call.
ARNS_PER_CALL: Final = 20
#: A zone as read: its ID when the answer has it, else its name (mapped to an ID once).
Seen = tuple[str | None, str | None]
T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """Where one interface is mirrored, and whether that crosses a zone boundary."""

    target: str
    cross_zone: bool


@dataclass(frozen=True)
class Zonal:
    """The zonal targets by the zone each serves, and the fallback (TrafficMirrorTargetId)."""

    serves: Mapping[str, str]
    fallback: str | None = None
    #: The fallback's zones; empty when they could not be read (then every interface sent to
    #: it counts as cross-zone: it is not known to be in the interface's zone).
    fallback_zones: frozenset[str] = frozenset()

    def route(self, zone: str | None) -> Route | None:
        """The target for an interface in ``zone``: the zonal target serving it, else the
        fallback, else None (the interface is skipped)."""
        if zone is not None and zone in self.serves:
            return Route(self.serves[zone], cross_zone=False)
        if self.fallback is None:
            return None
        return Route(self.fallback, cross_zone=zone is None or zone not in self.fallback_zones)

    def why_not(self, zone: str | None) -> str:
        """Why an interface in ``zone`` has no route, for its skip Reason."""
        served = ", ".join(sorted(self.serves)) or "none"
        if zone is None:
            return "its Availability Zone could not be read, and no TrafficMirrorTargetId is given"
        return (
            f"no zonal target serves its zone {zone} ({ZONAL} serve {served}) and no "
            "TrafficMirrorTargetId is given as the fallback"
        )


def plan_routes(
    zonal: Sequence[str], fallback: str | None, zones: Mapping[str, frozenset[str]]
) -> Zonal:
    """The zonal targets by zone; fails when a zonal target's zones are unknown or when two
    zonal targets serve one zone (naming both and the zone)."""
    serves: dict[str, str] = {}
    for target in zonal:
        if not zones.get(target):
            raise ProviderError(
                f"{ZONAL}: the Availability Zone of target {target} could not be learnt (its "
                "interface, load balancer or endpoint is not readable in the fleet's account "
                "and region); list only targets whose zone can be read there"
            )
        for zone in sorted(zones[target]):
            if (other := serves.get(zone)) is not None and other != target:
                raise ProviderError(
                    f"{ZONAL}: targets {other} and {target} both serve zone {zone}; give one "
                    "target per zone (a load balancer serves every zone it is enabled in)"
                )
            serves[zone] = target
    return Zonal(serves, fallback, zones.get(fallback or "", frozenset()))


class ZoneReads(Ec2Gateway):
    """The gateway's zone reads, each made once per gateway (one gateway serves one pass)."""

    def __init__(
        self, client: Any, account: str | None = None, credentials: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(client, account, credentials)
        #: Each interface read by a pass: its zone as read (ID, name).
        self.placed: dict[str, Seen] = {}
        self._names: dict[str, str] | None = None
        self._zonal: Zonal | None = None

    def service(self, name: str) -> Any:
        """A client of another service, in the gateway's account (its role's keys) and region."""
        keys = self.credentials
        return boto3.client(
            name,  # type: ignore[call-overload]
            region_name=self.region,
            config=CLIENT_CONFIG,
            aws_access_key_id=keys.get("aws_access_key_id"),
            aws_secret_access_key=keys.get("aws_secret_access_key"),
            aws_session_token=keys.get("aws_session_token"),
        )

    def zone_id(self, seen: Seen) -> str | None:
        """A zone's ID: as read, or its name mapped (DescribeAvailabilityZones, once)."""
        zone_id, name = seen
        if zone_id or not name:
            return zone_id
        if self._names is None:
            answer = self._read(
                "availability zones",
                [self.region],
                lambda: self.client.describe_availability_zones(AllAvailabilityZones=True),
            )
            zones = answer["AvailabilityZones"] if answer else []
            self._names = {str(z["ZoneName"]): str(z["ZoneId"]) for z in zones}
        return self._names.get(name)

    def zone_of(self, interface: str) -> str | None:
        """The zone ID of a selected interface (read with it), None when unknown."""
        return self.zone_id(self.placed.get(interface, (None, None)))

    def zonal(self, spec: SessionSpec) -> Zonal | None:
        """The fleet's zonal targets by zone (None for a fleet without them), read once."""
        zonal = list(spec.lists.get(ZONAL, ()))
        if not zonal:
            return None
        if self._zonal is None:
            fallback = spec.text("TrafficMirrorTargetId")
            zones = self._target_zones([*zonal, *([fallback] if fallback else [])])
            self._zonal = plan_routes(zonal, fallback, zones)
        return self._zonal

    def read_interfaces(self, interfaces: Sequence[str]) -> dict[str, Seen]:
        """The zone of each interface, by the page (one EC2 does not show is absent)."""
        pages = self.client.get_paginator("describe_network_interfaces")
        found: dict[str, Seen] = {}
        for i in range(0, len(interfaces), VALUES_PER_FILTER):
            chunk = list(interfaces[i : i + VALUES_PER_FILTER])
            answer = self._read(
                "network interface",
                chunk,
                lambda chunk=chunk: [  # type: ignore[misc]
                    eni
                    for page in pages.paginate(
                        Filters=[{"Name": "network-interface-id", "Values": chunk}]
                    )
                    for eni in page["NetworkInterfaces"]
                ],
            )
            found.update((str(n["NetworkInterfaceId"]), _seen(n)) for n in answer or [])
        return found

    def _read(
        self,
        subject: str,
        ident: Sequence[str],
        call: Callable[[], T],
        *,
        service: str = "EC2",
        unknown_if_missing: bool = False,
    ) -> T | None:
        """One read; its failure a Reason naming what was read (``unknown_if_missing``: a
        resource not found answers None, the zones stay unknown: another account's resource)."""
        try:
            return call()
        except ClientError as exc:
            failed = explain("describe", ", ".join(ident), exc, subject, service, where=self.where)
            if unknown_if_missing and isinstance(failed, NotFound):
                return None
            raise failed from exc
        except TRANSPORT_ERRORS as exc:
            raise explain(
                "describe", ", ".join(ident), exc, subject, service, where=self.where
            ) from exc

    def _target_zones(self, targets: Sequence[str]) -> dict[str, frozenset[str]]:
        """The zone IDs each target serves (none when its resource is not readable here)."""
        try:
            answer = self.client.describe_traffic_mirror_targets(TrafficMirrorTargetIds=targets)
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            ids = {"TrafficMirrorTargetId": ", ".join(targets)}
            raise explain("check", ZONAL, exc, where=self.where, ids=ids) from exc
        held = {str(t["TrafficMirrorTargetId"]): t for t in answer.get("TrafficMirrorTargets", [])}
        if missing := [t for t in targets if t not in held]:
            raise failure(
                f"check traffic mirror fleet: target {', '.join(missing)} was not found "
                f"{self.where}. Check it exists there (a target may be shared with that "
                "account through RAM).",
                "InvalidTrafficMirrorTargetId.NotFound",
                "EC2",
            )
        kinds = ("NetworkInterfaceId", "NetworkLoadBalancerArn", "GatewayLoadBalancerEndpointId")
        of: dict[str, dict[str, str]] = {
            kind: {t: str(v[kind]) for t, v in held.items() if v.get(kind)}  # type: ignore[literal-required]
            for kind in kinds
        }
        enis, arns, ends = (of[kind] for kind in kinds)
        read = self.read_interfaces(sorted(set(enis.values()))) if enis else {}
        seen: dict[str, list[Seen]] = {t: [] for t in targets}
        for target, eni in enis.items():
            seen[target] += [read[eni]] if eni in read else []
        for target, zones in self._balancer_zones(arns).items():
            seen[target] += zones
        for target, zones in self._endpoint_zones(ends).items():
            seen[target] += zones
        return {t: frozenset(z for s in v if (z := self.zone_id(s))) for t, v in seen.items()}

    def _balancer_zones(self, arns: Mapping[str, str]) -> dict[str, list[Seen]]:
        """Each NLB target's zones: those its load balancer is enabled in (by name)."""
        if not arns:
            return {}
        balancers = self.service("elbv2")
        wanted = sorted(set(arns.values()))
        found: dict[str, list[Seen]] = {}
        for i in range(0, len(wanted), ARNS_PER_CALL):
            chunk = wanted[i : i + ARNS_PER_CALL]
            answer: dict[str, Any] | None = self._read(
                "load balancer",
                chunk,
                functools.partial(balancers.describe_load_balancers, LoadBalancerArns=chunk),
                service="Elastic Load Balancing",
                unknown_if_missing=True,  # LoadBalancerNotFound: another account's (shared)
            )
            for lb in answer["LoadBalancers"] if answer else []:
                found[str(lb["LoadBalancerArn"])] = [
                    (None, str(z["ZoneName"])) for z in lb.get("AvailabilityZones", [])
                ]
        return {t: found.get(arn, []) for t, arn in arns.items()}

    def _endpoint_zones(self, ends: Mapping[str, str]) -> dict[str, list[Seen]]:
        """Each GWLB endpoint target's zone: that of the endpoint's one subnet."""
        if not ends:
            return {}
        wanted = sorted(set(ends.values()))
        endpoints = self._read(
            "VPC endpoint",
            wanted,
            lambda: self.client.describe_vpc_endpoints(VpcEndpointIds=wanted)["VpcEndpoints"],
            unknown_if_missing=True,  # InvalidVpcEndpointId.NotFound
        )
        subnets_of = {
            str(e["VpcEndpointId"]): list(e.get("SubnetIds", [])) for e in endpoints or []
        }
        every = sorted({s for subnets in subnets_of.values() for s in subnets})
        subnets = (
            self._read(
                "subnet", every, lambda: self.client.describe_subnets(SubnetIds=every)["Subnets"]
            )
            if every
            else []
        )
        zone = {str(s["SubnetId"]): _seen(s) for s in subnets or []}
        return {
            t: [zone[s] for s in subnets_of.get(end, []) if s in zone] for t, end in ends.items()
        }


def _seen(resource: Mapping[str, Any]) -> Seen:
    """A zone as an answer gives it: (AvailabilityZoneId, AvailabilityZone)."""
    zone_id, name = resource.get("AvailabilityZoneId"), resource.get("AvailabilityZone")
    return (str(zone_id) if zone_id else None, str(name) if name else None)
