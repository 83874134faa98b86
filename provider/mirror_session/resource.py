"""The resource's lifecycle: create, read (attributes), update and delete, each short.

Each takes the CloudFormation event and a :class:`~mirror_session.ec2.Sessions` and returns an
:class:`Outcome` (physical ID and ``Data``), or raises ``InvalidProperties`` / ``ProviderError``
whose message is the Reason CloudFormation shows.

Example::

    outcome = create(event, Sessions(ec2_client()))
    outcome.physical_id   # 'tms-0123456789abcdef0', what Ref returns
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

from mirror_session.ec2 import Sessions, TrafficMirrorSessionTypeDef
from mirror_session.errors import NOT_FOUND, ProviderError
from mirror_session.plan import create_params, plan_update
from mirror_session.schema import FIELDS, SessionSpec, parse, parse_previous

__all__ = [
    "MANAGED_BY_KEY",
    "Outcome",
    "attributes",
    "client_token",
    "create",
    "delete",
    "is_session_id",
    "update",
]

MANAGED_BY_KEY: Final = "traffic-mirror-provider:managed-by"
_HELD: Final = tuple(f.name for f in FIELDS)  # the session fields EC2 reports by these names
_SESSION_ID: Final = re.compile(r"tms-[0-9a-f]{8,}")
Event = Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """The answer for CloudFormation; ``created`` names a session this event created."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)
    created: str | None = None


def is_session_id(physical_id: object) -> TypeGuard[str]:
    """True for an ID this provider could have created (``tms-`` and hex)."""
    return isinstance(physical_id, str) and bool(_SESSION_ID.fullmatch(physical_id))


def client_token(event: Event) -> str:
    """A ClientToken fixed by the request: a redelivered event gets the same session back."""
    key = "\n".join(str(event.get(k, "")) for k in ("StackId", "LogicalResourceId", "RequestId"))
    return hashlib.sha256(key.encode()).hexdigest()  # 64 characters, EC2's maximum


def managed_tags() -> dict[str, str]:
    """The marker tag that the provider's IAM conditions key on."""
    return {MANAGED_BY_KEY: os.environ.get("MANAGED_BY", "traffic-mirror-provider")}


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
    }
    if "PacketLength" in session:
        data["PacketLength"] = str(session["PacketLength"])
    return data


def _create(event: Event, spec: SessionSpec, sessions: Sessions) -> Outcome:
    tags = {**spec.tags, **managed_tags()}
    session = sessions.create(create_params(spec), tags, client_token(event))
    sid = session["TrafficMirrorSessionId"]
    return Outcome(sid, attributes(session, sessions.region, sessions.partition), created=sid)


def create(event: Event, sessions: Sessions) -> Outcome:
    """Validate, then one CreateTrafficMirrorSession with an idempotent ClientToken."""
    return _create(event, parse(event.get("ResourceProperties")), sessions)


def held_as_spec(session: TrafficMirrorSessionTypeDef, new: SessionSpec) -> SessionSpec:
    """What EC2 holds, as previous properties to diff against.

    A VirtualNetworkId the new properties leave out is left out here too: EC2 assigned it,
    and the session keeps it.
    """
    fields: Mapping[str, object] = session
    held: dict[str, object] = {f: fields[f] for f in _HELD if f in fields}
    if "VirtualNetworkId" not in new.values:
        held.pop("VirtualNetworkId", None)
    held["Tags"] = [t for t in session.get("Tags", []) if t.get("Key") != MANAGED_BY_KEY]
    return parse_previous(held)


def update(event: Event, sessions: Sessions) -> Outcome:
    """Modify in place, or replace when NetworkInterfaceId changes (the old one stays).

    Replacement is decided against the session EC2 holds (one Describe, only when the
    properties say the interface changed): in the rollback of an Update that failed, the
    "old" properties are the failed ones, which never reached EC2.

    A session that EC2 no longer has is created again under a new physical ID, so that
    neither this Update nor its rollback is stuck on a session deleted outside the stack.
    """
    new = parse(event.get("ResourceProperties"))
    physical = event.get("PhysicalResourceId")
    if not is_session_id(physical):
        return _create(event, new, sessions)
    plan = plan_update(parse_previous(event.get("OldResourceProperties")), new)
    held: TrafficMirrorSessionTypeDef | None = None
    if plan.replace_because:
        held = sessions.find(physical)
        if held is None or held["NetworkInterfaceId"] != new.values["NetworkInterfaceId"]:
            return _create(event, new, sessions)
        plan = plan_update(held_as_spec(held, new), new)
    session: TrafficMirrorSessionTypeDef | None = None
    try:
        if plan.modify:
            session = sessions.modify(physical, plan.modify)
        if plan.tags:
            sessions.retag(physical, plan.tags)
    except ProviderError as exc:
        if exc.code != NOT_FOUND:
            raise
        return _create(event, new, sessions)
    session = session or held or sessions.find(physical)
    if session is None:
        return _create(event, new, sessions)
    return Outcome(physical, attributes(session, sessions.region, sessions.partition))


def delete(event: Event, sessions: Sessions) -> Outcome:
    """One DeleteTrafficMirrorSession; gone already, or never created, counts as deleted."""
    physical = str(event.get("PhysicalResourceId", ""))
    if is_session_id(physical):
        sessions.delete(physical)
    return Outcome(physical)
