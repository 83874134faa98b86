"""The properties of ``Custom::TrafficMirrorFleet``: the session's table, minus what names one
session, plus the selectors (see docs/fleet.md).

A fleet shares every rule and message of the session properties it reuses (the same
:class:`~traffic_mirror.sessions.schema.Field` values);
:func:`traffic_mirror.sessions.validation.parse` takes
``schema=FLEET``.

Example::

    spec = parse({"AutoScalingGroupName": "web", "TrafficMirrorTargetId": "tmt-1",
                  "TrafficMirrorFilterId": "tmf-1"}, schema=FLEET)
"""

from __future__ import annotations

import re
from typing import Final

from traffic_mirror.sessions.schema import FIELDS, Field, Kind, Schema

__all__ = ["FLEET", "INTERFACES", "SELECTORS", "ZONAL"]

#: Exactly one of these says which interfaces the fleet mirrors.
SELECTORS: Final = ("AutoScalingGroupName", "InstanceIds", "NetworkInterfaceIds", "InstanceTags")
#: Which interfaces of a selected instance: its primary (device index 0), or all of them.
INTERFACES: Final = ("primary", "all")
#: Targets by zone: each interface is mirrored to the one serving its own Availability Zone
#: (see traffic_mirror.fleets.zones); TrafficMirrorTargetId is then optional, the fallback.
ZONAL: Final = "ZonalTrafficMirrorTargetIds"
#: The session properties a fleet takes as they are (NetworkInterfaceId names one session;
#: OwnerId and AdoptSessionId are about one session too).
SHARED: Final = frozenset(
    {
        "TrafficMirrorTargetId",
        "TrafficMirrorFilterId",
        "SessionNumber",
        "PacketLength",
        "VirtualNetworkId",
        "Description",
        "DryRun",
        "RoleArn",
        "ExternalId",
        "Region",
    }
)

FLEET: Final = Schema(
    fields=(
        Field("AutoScalingGroupName", Kind.TEXT, max_len=255, sent_to_ec2=False),
        Field("InstanceIds", Kind.IDS, sent_to_ec2=False),
        Field("NetworkInterfaceIds", Kind.IDS, sent_to_ec2=False),
        Field("InstanceTags", Kind.PAIRS, sent_to_ec2=False),
        Field(
            "Interfaces",
            Kind.TEXT,
            max_len=16,
            sent_to_ec2=False,
            pattern=re.compile("primary|all"),
            shape='"primary" or "all"',
        ),
        *(f for f in FIELDS if f.name in SHARED),
        Field(ZONAL, Kind.IDS, sent_to_ec2=False),
    ),
    one_of=SELECTORS,
    required_unless={"TrafficMirrorTargetId": ZONAL},
)
