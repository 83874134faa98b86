"""The resource's lifecycle: create, read (attributes), update and delete, each short.

Each takes the CloudFormation event and a ``connect`` function (a
:class:`~mirror_session.placement.Connector`: placement in, :class:`~mirror_session.ec2.Sessions`
out) and returns an :class:`Outcome` (physical ID and ``Data``), or raises
``InvalidProperties`` / ``ProviderError`` whose message is the Reason CloudFormation shows.

Example::

    outcome = create(event, Connector(event))
    outcome.physical_id   # 'tms-0123456789abcdef0', what Ref returns
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

from mirror_session.ec2 import Sessions, TrafficMirrorSessionTypeDef
from mirror_session.errors import MISMATCH, NOT_FOUND, PER_INTERFACE_LIMIT, ProviderError
from mirror_session.placement import Placement
from mirror_session.plan import create_params, first_free_number, plan_update
from mirror_session.schema import FIELDS, SESSION_FIELDS, SessionSpec, Value, parse, parse_previous

__all__ = [
    "MANAGED_BY_KEY",
    "Outcome",
    "attributes",
    "client_token",
    "create",
    "delete",
    "dry_run_id",
    "is_dry_run_id",
    "is_session_id",
    "update",
]

MANAGED_BY_KEY: Final = "traffic-mirror-provider:managed-by"
_HELD: Final = tuple(f.name for f in SESSION_FIELDS)  # the fields EC2 reports by these names
_CONTROLS: Final = tuple(f.name for f in FIELDS if not f.ec2)
#: Values EC2 (or the provider) chooses when the properties leave them out.
_KEPT_WHEN_OMITTED: Final = frozenset({"VirtualNetworkId", "SessionNumber"})
_SESSION_ID: Final = re.compile(r"tms-[0-9a-f]{8,}")
_DRY_RUN_PREFIX: Final = "dryrun-"
#: EC2 allows this many sessions per source interface.
SESSIONS_PER_INTERFACE: Final = 3
Event = Mapping[str, Any]
Session = TrafficMirrorSessionTypeDef
Connect = Callable[[Placement], Sessions]


@dataclass(frozen=True)
class Outcome:
    """The answer for CloudFormation; ``created`` names a session this event created."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)
    created: str | None = None


def is_session_id(physical_id: object) -> TypeGuard[str]:
    """True for an ID this provider could have created (``tms-`` and hex)."""
    return isinstance(physical_id, str) and bool(_SESSION_ID.fullmatch(physical_id))


def dry_run_id(event: Event) -> str:
    """The physical ID of a dry run: never a session ID, so Delete makes no EC2 call."""
    return f"{_DRY_RUN_PREFIX}{client_token(event)[:16]}"


def is_dry_run_id(physical_id: object) -> bool:
    """True for the physical ID of a dry run."""
    return isinstance(physical_id, str) and physical_id.startswith(_DRY_RUN_PREFIX)


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
        "DryRun": "false",
    }
    if "PacketLength" in session:
        data["PacketLength"] = str(session["PacketLength"])
    return data


def _preview(params: Mapping[str, Value], physical: str) -> dict[str, str]:
    """Attributes of a dry run: what the properties say; what only EC2 assigns is empty."""
    as_session: Mapping[str, Any] = {**params, "TrafficMirrorSessionId": physical}
    data = attributes(as_session, "", "")  # type: ignore[arg-type]
    return {**data, "Arn": "", "OwnerId": "", "DryRun": "true"}


def _could_be_ours(session: Session, params: Mapping[str, Value]) -> bool:
    """A session an earlier delivery of this very request may have created."""
    tags = {t.get("Key"): t.get("Value") for t in session.get("Tags", [])}
    return (
        session.get("TrafficMirrorTargetId") == params["TrafficMirrorTargetId"]
        and session.get("TrafficMirrorFilterId") == params["TrafficMirrorFilterId"]
        and tags.get(MANAGED_BY_KEY) == managed_tags()[MANAGED_BY_KEY]
    )


@dataclass(frozen=True)
class _Interface:
    """A source interface's sessions, read to allocate a SessionNumber."""

    name: str
    taken: list[Session]
    free: int | None  # the lowest unused number; None when the interface is full
    ours: list[int]  # numbers of sessions an earlier delivery of this request may have made

    def full(self) -> ProviderError:
        """The Reason for a full interface, naming its sessions."""
        names = ", ".join(
            f"{s['TrafficMirrorSessionId']} (#{s.get('SessionNumber')})" for s in self.taken
        )
        return ProviderError(
            f"allocate a SessionNumber on {self.name}: it already sources {len(self.taken)} "
            f"traffic mirror sessions, the EC2 maximum: {names}. Remove one, or mirror another "
            "interface.",
            PER_INTERFACE_LIMIT,
        )


def _read_interface(sessions: Sessions, params: Mapping[str, Value]) -> _Interface:
    interface = str(params["NetworkInterfaceId"])
    taken = sessions.on_interface(interface)
    used = [int(s.get("SessionNumber", 0)) for s in taken]
    free = first_free_number(used) if len(taken) < SESSIONS_PER_INTERFACE else None
    ours = [int(s.get("SessionNumber", 0)) for s in taken if _could_be_ours(s, params)]
    return _Interface(interface, taken, free, ours)


def _create_allocating(
    sessions: Sessions, params: Mapping[str, Value], tags: Mapping[str, str], token: str
) -> Session:
    """Create with the lowest free SessionNumber of the interface.

    Then, if EC2 refuses it as a mismatch of the ClientToken, with the numbers of sessions an
    earlier delivery of this very request may have made: for the same token EC2 answers
    IdempotentParameterMismatch for any other number and that session again for its own, so
    a redelivered Create finds its session instead of making a second one.
    """
    interface = _read_interface(sessions, params)
    numbers = ([interface.free] if interface.free is not None else []) + interface.ours
    if not numbers:
        raise interface.full()
    *earlier, last = numbers
    for number in earlier:
        try:
            return sessions.create({**params, "SessionNumber": number}, tags, token)
        except ProviderError as exc:
            if exc.code not in {MISMATCH, PER_INTERFACE_LIMIT}:
                raise
    return sessions.create({**params, "SessionNumber": last}, tags, token)


def _create(event: Event, spec: SessionSpec, sessions: Sessions) -> Outcome:
    params = create_params(spec)
    tags = {**spec.tags, **managed_tags()}
    token = client_token(event)
    if spec.dry_run:
        if "SessionNumber" not in params:
            interface = _read_interface(sessions, params)
            if interface.free is None:
                raise interface.full()
            params["SessionNumber"] = interface.free
        sessions.check_create(params, tags, token)
        return Outcome(dry_run_id(event), _preview(params, dry_run_id(event)))
    if "SessionNumber" in params:
        session = sessions.create(params, tags, token)
    else:
        session = _create_allocating(sessions, params, tags, token)
    sid = session["TrafficMirrorSessionId"]
    return Outcome(sid, attributes(session, sessions.region, sessions.partition), created=sid)


def create(event: Event, connect: Connect) -> Outcome:
    """Validate, then one CreateTrafficMirrorSession with an idempotent ClientToken.

    Without SessionNumber, first one Describe of the interface's sessions to pick a number.
    With DryRun, the Create is only checked, and nothing is made.
    """
    spec = parse(event.get("ResourceProperties"))
    return _create(event, spec, connect(Placement.of(spec)))


def held_as_spec(session: Session, new: SessionSpec) -> SessionSpec:
    """What EC2 holds, as previous properties to diff against.

    A VirtualNetworkId or SessionNumber the new properties leave out is left out here too:
    EC2 assigned it (or the provider allocated it), and the session keeps it. The session
    was found where the new properties place it, so their RoleArn, Region and ExternalId
    hold; DryRun is off (what EC2 holds is real).
    """
    fields: Mapping[str, object] = session
    held: dict[str, object] = {
        f: fields[f]
        for f in _HELD
        if f in fields and (f in new.values or f not in _KEPT_WHEN_OMITTED)
    }
    held.update({f: new.values[f] for f in _CONTROLS if f in new.values and f != "DryRun"})
    held["Tags"] = [t for t in session.get("Tags", []) if t.get("Key") != MANAGED_BY_KEY]
    return parse_previous(held)


def _on_interface(held: Session | None, new: SessionSpec) -> TypeGuard[Session]:
    """True when EC2's session is on the interface the new properties name (kept, not replaced)."""
    return held is not None and held["NetworkInterfaceId"] == new.values["NetworkInterfaceId"]


def _check_update(event: Event, new: SessionSpec, sessions: Sessions) -> Outcome:
    """A dry-run Update: check the writes the real Update would make; change nothing.

    A real session keeps its physical ID (a new one would make CloudFormation delete it in
    the cleanup), and Data shows it as it is. Where the real Update would create a session
    (none yet, or a new interface, account or region), the Create is checked instead.
    """
    physical = str(event.get("PhysicalResourceId", ""))
    held = sessions.find(physical) if is_session_id(physical) else None
    if _on_interface(held, new):
        plan = plan_update(held_as_spec(held, new), new)
        if plan.modify:
            sessions.check_modify(physical, plan.modify)
        if plan.tags:
            sessions.check_retag(physical, plan.tags)
        data = attributes(held, sessions.region, sessions.partition)
        return Outcome(physical, {**data, "DryRun": "true"})
    checked = _create(event, new, sessions)
    if not (is_session_id(physical) or is_dry_run_id(physical)):
        return checked
    data = attributes(held, sessions.region, sessions.partition) if held else checked.data
    return Outcome(physical, {**data, "Id": physical, "DryRun": "true"})


def update(event: Event, connect: Connect) -> Outcome:
    """Modify in place, or replace when NetworkInterfaceId, RoleArn or Region change.

    Replacement is decided against the session EC2 holds where the new properties place it
    (one Describe, only when the properties say it moved): in the rollback of an Update that
    failed, the "old" properties are the failed ones, which never reached EC2. After a dry
    run, the old properties never reached EC2 either, so the diff is against EC2 too.

    A session that EC2 no longer has is created again under a new physical ID, so that
    neither this Update nor its rollback is stuck on a session deleted outside the stack.
    """
    new = parse(event.get("ResourceProperties"))
    sessions = connect(Placement.of(new))
    if new.dry_run:
        return _check_update(event, new, sessions)
    physical = event.get("PhysicalResourceId")
    if not is_session_id(physical):
        return _create(event, new, sessions)
    old = parse_previous(event.get("OldResourceProperties"))
    plan = plan_update(old, new)
    held: Session | None = None
    if plan.replace_because or old.dry_run:
        held = sessions.find(physical)
        if not _on_interface(held, new):
            return _create(event, new, sessions)
        plan = plan_update(held_as_spec(held, new), new)
    session: Session | None = None
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


def delete(event: Event, connect: Connect) -> Outcome:
    """One DeleteTrafficMirrorSession where the properties place it.

    Gone already, never created, or a dry run: counts as deleted, with no EC2 call. The
    properties are read leniently: a Delete must not fail on them.
    """
    physical = str(event.get("PhysicalResourceId", ""))
    if is_session_id(physical):
        connect(Placement.of(parse_previous(event.get("ResourceProperties")))).delete(physical)
    return Outcome(physical)
