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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

from mirror_session.allocation import Interface, place, read
from mirror_session.ec2 import Sessions, TrafficMirrorSessionTypeDef
from mirror_session.errors import NOT_FOUND, ProviderError
from mirror_session.identity import (
    Owner,
    client_token,
    dry_run_id,
    is_dry_run_id,
    is_session_id,
    tags_of,
)
from mirror_session.placement import Placement
from mirror_session.plan import TagChanges, TagWrite, create_params, plan_update, tag_writes
from mirror_session.schema import (
    FIELDS,
    MANAGED_TAG_PREFIX,
    SESSION_FIELDS,
    SessionSpec,
    Value,
    parse,
    parse_previous,
)

__all__ = ["Outcome", "attributes", "create", "delete", "held_as_spec", "update"]

_HELD: Final = tuple(f.name for f in SESSION_FIELDS)  # the fields EC2 reports by these names
_CONTROLS: Final = tuple(f.name for f in FIELDS if not f.ec2)
#: Values EC2 (or the provider) chooses when the properties leave them out.
_KEPT_WHEN_OMITTED: Final = frozenset({"VirtualNetworkId", "SessionNumber"})
Event = Mapping[str, Any]
Session = TrafficMirrorSessionTypeDef
Connect = Callable[[Placement], Sessions]


@dataclass(frozen=True)
class Outcome:
    """The answer for CloudFormation; ``created`` names a session this event created."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)
    created: str | None = None


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


def _answer(session: Session, sessions: Sessions, created: bool = False) -> Outcome:
    sid = session["TrafficMirrorSessionId"]
    data = attributes(session, sessions.region, sessions.partition)
    return Outcome(sid, data, created=sid if created else None)


def _preview(params: Mapping[str, Value], physical: str) -> dict[str, str]:
    """Attributes of a dry run: what the properties say; what only EC2 assigns is empty."""
    as_session: Mapping[str, Any] = {**params, "TrafficMirrorSessionId": physical}
    data = attributes(as_session, "", "")  # type: ignore[arg-type]
    return {**data, "Arn": "", "OwnerId": "", "DryRun": "true"}


def _tag_writes(session: Session, owner: Owner, user: TagChanges | None) -> list[TagWrite]:
    """The user's tag changes, plus ownership tags the session lacks (one made by an older
    provider), ordered so that the session never holds more than EC2's 50 tags."""
    held = tags_of(session)
    put = dict(user.put) if user else {}
    put.update({k: v for k, v in owner.ownership().items() if held.get(k) != v})
    drop = user.drop if user else ()
    return tag_writes(held, TagChanges(put, drop)) if put or drop else []


def _converge(
    sessions: Sessions,
    view: Interface,
    held: Session,
    *,
    base: SessionSpec,
    new: SessionSpec,
    owner: Owner,
) -> Session:
    """Bring the resource's existing session from ``base`` to ``new`` in place."""
    plan = plan_update(base, new)
    sid = held["TrafficMirrorSessionId"]
    if plan.modify and "SessionNumber" in plan.modify.changes:
        number = int(plan.modify.changes["SessionNumber"])
        if (holder := view.holder(number, besides=sid)) is not None:
            raise view.taken(number, holder)
    session = sessions.modify(sid, plan.modify) if plan.modify else held
    if writes := _tag_writes(held, owner, plan.tags):
        sessions.retag(sid, writes)
    return session


def _number_for(view: Interface, params: Mapping[str, Value]) -> int:
    """The number a Create would use, failing as it would (full, or a declared number taken)."""
    declared = "SessionNumber" in params
    free = view.free()
    if free is None:
        raise view.full("mirror" if declared else "allocate a SessionNumber on")
    if not declared:
        return free
    number = int(params["SessionNumber"])
    if (holder := view.holder(number)) is not None:
        raise view.taken(number, holder)
    return number


def _create(
    event: Event, spec: SessionSpec, sessions: Sessions, view: Interface | None = None
) -> Outcome:
    """Create the session, or take back the resource's own one already on the interface."""
    params = create_params(spec)
    interface = str(params["NetworkInterfaceId"])
    owner = Owner.of(event)
    allocated = "SessionNumber" not in params
    tags = {**spec.tags, **owner.tags(allocated=allocated)}
    view = view or read(sessions, interface)
    if spec.dry_run:
        params["SessionNumber"] = _number_for(view, params)
        sessions.check_create(params, tags, client_token(event, params["SessionNumber"]))
        return Outcome(dry_run_id(event), _preview(params, dry_run_id(event)))
    own = view.owned(owner)
    if own is not None:
        # A redelivered Create, or the rollback of a replacement: the session that this
        # resource already has here is made to match and kept, never a second one made.
        return _answer(
            _converge(sessions, view, own, base=held_as_spec(own, spec), new=spec, owner=owner),
            sessions,
        )
    session = place(sessions, view, params, tags, lambda n: client_token(event, n))
    return _answer(session, sessions, created=True)


def create(event: Event, connect: Connect) -> Outcome:
    """Validate, read the interface, then one CreateTrafficMirrorSession (idempotent token).

    Without SessionNumber the lowest free number is allocated; either way the interface is
    read again after the Create so that sessions created in parallel never share a number
    (:mod:`mirror_session.allocation`). With DryRun, the Create is only checked.
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
    held["Tags"] = [
        t for t in session.get("Tags", []) if not str(t.get("Key")).startswith(MANAGED_TAG_PREFIX)
    ]
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
        if plan.modify and "SessionNumber" in plan.modify.changes:
            number = int(plan.modify.changes["SessionNumber"])
            view = read(sessions, held["NetworkInterfaceId"])
            if (holder := view.holder(number, besides=physical)) is not None:
                raise view.taken(number, holder)
        if plan.modify:
            sessions.check_modify(physical, plan.modify)
        if writes := _tag_writes(held, Owner.of(event), plan.tags):
            sessions.check_retag(physical, writes)
        data = attributes(held, sessions.region, sessions.partition)
        return Outcome(physical, {**data, "DryRun": "true"})
    checked = _create(event, new, sessions)
    if not (is_session_id(physical) or is_dry_run_id(physical)):
        return checked
    data = attributes(held, sessions.region, sessions.partition) if held else checked.data
    return Outcome(physical, {**data, "Id": physical, "DryRun": "true"})


def update(event: Event, connect: Connect) -> Outcome:
    """Modify in place, or replace when NetworkInterfaceId, RoleArn or Region change.

    One Describe of the interface the new properties name (where they place it) decides:
    the session is there (in place), or it is not (replaced, deleted outside the stack, or
    rolled back). In place, the diff is against the previous properties, or against what EC2
    holds when those never reached EC2 (the rollback of a failed Update, after a dry run).
    Not there: the resource's own session on that interface is taken back (the rollback of
    a replacement ends with the original session), else a session is created.
    """
    new = parse(event.get("ResourceProperties"))
    sessions = connect(Placement.of(new))
    if new.dry_run:
        return _check_update(event, new, sessions)
    physical = event.get("PhysicalResourceId")
    if not is_session_id(physical):
        return _create(event, new, sessions)
    view = read(sessions, str(new.values["NetworkInterfaceId"]))
    held = view.get(physical)
    if held is None:
        return _create(event, new, sessions, view)
    old = parse_previous(event.get("OldResourceProperties"))
    trusted = not old.dry_run and not plan_update(old, new).replace_because
    base = old if trusted else held_as_spec(held, new)
    try:
        session = _converge(sessions, view, held, base=base, new=new, owner=Owner.of(event))
    except ProviderError as exc:
        if exc.code != NOT_FOUND:
            raise
        return _create(event, new, sessions)  # deleted between the read and the write
    return _answer(session, sessions)


def delete(event: Event, connect: Connect) -> Outcome:
    """One DeleteTrafficMirrorSession where the properties place it.

    Gone already, never created, or a dry run: counts as deleted, with no EC2 call. The
    properties are read leniently: a Delete must not fail on them.
    """
    physical = str(event.get("PhysicalResourceId", ""))
    if is_session_id(physical):
        connect(Placement.of(parse_previous(event.get("ResourceProperties")))).delete(physical)
    return Outcome(physical)
