"""What EC2 holds, read back: the attributes CloudFormation reports, and the session as
previous properties to diff against.

Example::

    attributes(session, "us-east-1", "aws")["VirtualNetworkId"]   # '6529151', as EC2 assigned it
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mirror_session.ec2 import TrafficMirrorSessionTypeDef
from mirror_session.schema import FIELDS, MANAGED_TAG_PREFIX, SESSION_FIELDS, SessionSpec, Value
from mirror_session.validation import parse_previous

__all__ = ["attributes", "held_as_spec", "preview"]

Session = TrafficMirrorSessionTypeDef
_HELD: Final = tuple(f.name for f in SESSION_FIELDS)  # the fields EC2 reports by these names
_CONTROLS: Final = tuple(f.name for f in FIELDS if not f.sent_to_ec2)
_ASSIGNED: Final = frozenset(f.name for f in FIELDS if f.assigned_when_omitted)


def attributes(session: TrafficMirrorSessionTypeDef, region: str, partition: str) -> dict[str, str]:
    """The Fn::GetAtt attributes, taken from an EC2 answer (no extra call)."""
    sid = session["TrafficMirrorSessionId"]
    owner = session.get("OwnerId", "")
    data = {
        "Id": sid,
        "Arn": f"arn:{partition}:ec2:{region}:{owner}:traffic-mirror-session/{sid}",
        "OwnerId": owner,
        "NetworkInterfaceId": session.get("NetworkInterfaceId", ""),
        "TrafficMirrorTargetId": session.get("TrafficMirrorTargetId", ""),
        "TrafficMirrorFilterId": session.get("TrafficMirrorFilterId", ""),
        "SessionNumber": str(session.get("SessionNumber", "")),
        "VirtualNetworkId": str(session.get("VirtualNetworkId", "")),
        "DryRun": "false",
    }
    if "PacketLength" in session:
        data["PacketLength"] = str(session["PacketLength"])
    return data


def preview(params: Mapping[str, Value], physical: str) -> dict[str, str]:
    """Attributes of a dry run: what the properties say; what only EC2 assigns is empty."""
    as_session: Mapping[str, Any] = {**params, "TrafficMirrorSessionId": physical}
    data = attributes(as_session, "", "")  # type: ignore[arg-type]
    return {**data, "Arn": "", "OwnerId": "", "DryRun": "true"}


def held_as_spec(session: Session, new: SessionSpec) -> SessionSpec:
    """What EC2 holds, as previous properties to diff against.

    A VirtualNetworkId or SessionNumber the new properties leave out is left out here too:
    EC2 assigned it (or the provider allocated it), and the session keeps it. The session
    was found where the new properties place it, so their RoleArn, Region and ExternalId
    hold; DryRun is off (what EC2 holds is real).
    """
    fields: Mapping[str, object] = session
    held: dict[str, object] = {
        f: fields[f] for f in _HELD if f in fields and (f in new.values or f not in _ASSIGNED)
    }
    held.update({f: new.values[f] for f in _CONTROLS if f in new.values and f != "DryRun"})
    held["Tags"] = [
        t for t in session.get("Tags", []) if not str(t.get("Key")).startswith(MANAGED_TAG_PREFIX)
    ]
    return parse_previous(held)
