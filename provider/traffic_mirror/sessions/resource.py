"""The resource's lifecycle: create, read (attributes), update and delete, each short.

Each takes the parsed :class:`~traffic_mirror.cloudformation.request.Request` and a ``connect``
function (a
:class:`~traffic_mirror.aws.connect.Connector`: placement in,
:class:`~traffic_mirror.aws.ec2.Ec2Gateway`
out) and returns an :class:`~traffic_mirror.cloudformation.request.Outcome` (physical ID, ``Data``,
and the
undo of what it created), or raises ``InvalidProperties`` / ``ProviderError`` whose message is
the Reason CloudFormation shows.

Example::

    outcome = create(request, Connector(Owner.of(request)))
    outcome.physical_id   # 'tms-0123456789abcdef0', what Ref returns
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Final

from traffic_mirror.aws.connect import Placement
from traffic_mirror.aws.consistency import until
from traffic_mirror.aws.ec2 import Ec2Gateway, TrafficMirrorSessionTypeDef
from traffic_mirror.aws.store import Record, Store
from traffic_mirror.cloudformation.request import Outcome, Request
from traffic_mirror.cloudformation.stack import unless_rolling_back
from traffic_mirror.errors import ProviderError, SessionGone
from traffic_mirror.ownership import (
    Owner,
    client_token,
    dry_run_id,
    is_dry_run_id,
    is_session_id,
)
from traffic_mirror.sessions.adoption import adopt
from traffic_mirror.sessions.allocation import Interface, check_place, place, read
from traffic_mirror.sessions.converge import attributes, converge, held_as_spec, preview, shows
from traffic_mirror.sessions.plan import create_params, plan_update
from traffic_mirror.sessions.schema import FIELDS, SessionSpec, Value
from traffic_mirror.sessions.validation import parse, parse_previous

__all__ = [
    "ACTIONS",
    "ASSIGNED",
    "create",
    "delete",
    "desired_of",
    "forget",
    "recorded",
    "remember",
    "update",
]

Session = TrafficMirrorSessionTypeDef
Connect = Callable[[Placement], Ec2Gateway]
_log = logging.getLogger(__name__)


def _answer(session: Session, ec2: Ec2Gateway, created: bool = False) -> Outcome:
    """The answer for a session; one this event created can be undone (deleted again)."""
    sid = session["TrafficMirrorSessionId"]
    data = attributes(session, ec2.region, ec2.partition)
    return Outcome(sid, data, undo=(lambda: ec2.delete(sid)) if created else None)


def _create(
    request: Request, spec: SessionSpec, ec2: Ec2Gateway, view: Interface | None = None
) -> Outcome:
    """Create the session, or take back the resource's own one already on the interface."""
    params = create_params(spec)
    interface = str(params["NetworkInterfaceId"])
    owner = Owner.of(request)
    allocated = "SessionNumber" not in params
    tags = {**spec.tags, **owner.tags(allocated=allocated)}
    view = view or read(ec2, interface)
    if spec.dry_run:
        number = check_place(ec2, view, params, tags, lambda n: client_token(request, n))
        params["SessionNumber"] = number
        return Outcome(dry_run_id(request), preview(params, dry_run_id(request)))
    own = view.owned(owner)
    if own is not None:
        # A redelivered Create, or the rollback of a replacement: the session that this
        # resource already has here is made to match and kept, never a second one made.
        try:
            return _answer(
                converge(ec2, view, own, base=held_as_spec(own, spec), new=spec, owner=owner),
                ec2,
            )
        except SessionGone:
            # Deleted, though the read still showed it (reads lag writes): make a new one.
            gone = own["TrafficMirrorSessionId"]
            others = [s for s in view.sessions if s["TrafficMirrorSessionId"] != gone]
            view = Interface(view.name, others, view.read_at)
    session = place(ec2, view, params, tags, lambda n: client_token(request, n))
    return _answer(session, ec2, created=True)


def create(request: Request, connect: Connect) -> Outcome:
    """Validate, read the interface, then one CreateTrafficMirrorSession (idempotent token).

    Without SessionNumber the lowest free number is allocated; either way the interface is
    read again after the Create so that sessions created in parallel never share a number
    (:mod:`traffic_mirror.sessions.allocation`). With DryRun, the Create is only checked. With
    AdoptSessionId, the named session is taken over instead
    (:mod:`traffic_mirror.sessions.adoption`).
    """
    spec = parse(request.resource_properties)
    ec2 = connect(Placement.of(spec))
    if "AdoptSessionId" in spec.values:
        return adopt(request, spec, ec2)
    return _create(request, spec, ec2)


def _unchecked_update(request: Request, new: SessionSpec, connect: Connect) -> Outcome:
    """A dry-run Update answered unchecked (the stack rolls back to it): Data shows the
    session as EC2 holds it, or, where it cannot be read, what the properties say (a number
    the dry run would allocate is empty, as in a dry-run Create)."""
    physical = request.physical_resource_id or dry_run_id(request)
    data = preview(create_params(new), physical)
    if is_session_id(physical):
        try:
            ec2 = connect(Placement.of(new))
            if (found := ec2.find(physical)) is not None:
                data = attributes(found, ec2.region, ec2.partition)
        except ProviderError:
            pass  # the properties' view
    return Outcome(physical, {**data, "DryRun": "true"})


def _check_update(request: Request, new: SessionSpec, ec2: Ec2Gateway) -> Outcome:
    """A dry-run Update: check the writes the real Update would make; change nothing.

    A real session keeps its physical ID (a new one would make CloudFormation delete it in
    the cleanup), and Data shows it as it is. Where the real Update would create a session
    (none yet, or a new interface, account or region), the Create is checked instead.
    """
    view, held = _staying(request, new, ec2)
    owner = Owner.of(request)
    if held is not None:
        base = held_as_spec(held, new)
        converge(ec2, view, held, base=base, new=new, owner=owner, dry_run=True)
        data = attributes(held, ec2.region, ec2.partition)
        return Outcome(held["TrafficMirrorSessionId"], {**data, "DryRun": "true"})
    checked = _create(request, new, ec2, view)
    physical = request.physical_resource_id or ""
    if not (is_session_id(physical) or is_dry_run_id(physical)):
        return checked
    elsewhere = ec2.find(physical) if is_session_id(physical) else None
    data = attributes(elsewhere, ec2.region, ec2.partition) if elsewhere else checked.data
    return Outcome(physical, {**data, "Id": physical, "DryRun": "true"})


def _staying(
    request: Request, new: SessionSpec, ec2: Ec2Gateway
) -> tuple[Interface, Session | None]:
    """The one decision of an Update, where replacement is decided: does the session stay?

    One Describe of the interface the new properties name (at their role and region). The
    session is there: it stays, and is changed in place. It is not (a new interface, role or
    region; the rollback of a replacement; a session deleted outside the stack; no session
    yet): None, and the Create path runs on that interface, which takes back the resource's
    own session where one is, and otherwise makes one. The plan's ``elsewhere_because``
    (:class:`~traffic_mirror.sessions.plan.UpdatePlan`) only says whether to wait for a
    session not shown yet: where the properties still place it here, one read never means
    "gone".
    """
    interface = str(new.values["NetworkInterfaceId"])
    view = read(ec2, interface)
    physical = request.physical_resource_id
    if not is_session_id(physical):
        return view, None
    old = parse_previous(request.old_resource_properties)
    if view.get(physical) is None and not plan_update(old, new).elsewhere_because:
        # Made or changed moments ago, it may not show yet: one read never means "gone".
        view = until(
            lambda: read(ec2, interface), lambda v: v.get(physical) is not None, first=view
        )
    return view, view.get(physical)


def _as_last_written(
    ec2: Ec2Gateway, view: Interface, held: Session, old: SessionSpec, new: SessionSpec
) -> tuple[Interface, Session, SessionSpec]:
    """The session as the previous properties made it (a read may still show it as it was
    before: reads lag writes), and what to diff the new properties against: the previous
    ones; or what EC2 holds, when that is already the new and the previous never reached
    EC2 (a failed Update's rollback: its record still holds the new). A read that shows the
    new while the record holds the previous is stale (a rollback right after the Update it
    undoes): diffed against the previous. Still neither after the bound: changed outside the
    stack; diffed against the previous."""
    sid = str(held["TrafficMirrorSessionId"])

    def written(v: Interface) -> bool:
        again = v.get(sid)
        return again is not None and (shows(old, again) or shows(new, again))

    view = until(lambda: read(ec2, view.name), written, first=view)
    held = view.get(sid) or held
    if not shows(new, held) or (old != new and _recorded_as(sid, old)):
        return view, held, old
    return view, held, held_as_spec(held, new)


def _recorded_as(session_id: str, spec: SessionSpec) -> bool:
    """Whether the session's record holds ``spec``: the last Create or Update that succeeded
    wrote it (an unreadable store: not known, False)."""
    try:
        record = Store("sessions").get(session_id)
    except ProviderError as exc:
        _log.warning("record not read", extra={"session": session_id, "reason": exc.reason})
        return False
    return record is not None and parse_previous(record.properties) == spec


def update(request: Request, connect: Connect) -> Outcome:
    """Modify in place, or replace: the session placed on another interface, account or
    region (NetworkInterfaceId, RoleArn, Region) is not on the interface read, so
    :func:`_staying` answers None and a new session is made there (or the resource's own
    taken back).

    In place, the diff is against the previous properties, or against what EC2 holds when
    those never reached EC2 (the rollback of a failed Update, after a dry run).
    """
    new = parse(request.resource_properties)
    if new.dry_run:  # never fails the rollback to a dry run (cloudformation/stack.py)
        return unless_rolling_back(
            request.stack_id,
            lambda: _check_update(request, new, connect(Placement.of(new))),
            lambda: _unchecked_update(request, new, connect),
        )
    ec2 = connect(Placement.of(new))
    view, held = _staying(request, new, ec2)
    if held is None:
        return _create(request, new, ec2, view)
    old = parse_previous(request.old_resource_properties)
    trusted = not old.dry_run and not plan_update(old, new).elsewhere_because
    if trusted:
        view, held, base = _as_last_written(ec2, view, held, old, new)
    else:
        base = held_as_spec(held, new)
    try:
        session = converge(ec2, view, held, base=base, new=new, owner=Owner.of(request))
    except SessionGone:
        return _create(request, new, ec2)  # deleted between the read and the write
    return _answer(session, ec2)


def delete(request: Request, connect: Connect) -> Outcome:
    """One DeleteTrafficMirrorSession where the properties place it, a wait until reads no
    longer show the session (:meth:`~traffic_mirror.aws.ec2.Ec2Gateway.delete_until_gone`),
    then its record.

    Gone already: counts as deleted. Never created, or a dry run: no EC2 call. The properties
    are read leniently: a Delete must not fail on them, nor on the record (one left behind is
    dropped by the sweep once no stack claims its session).
    """
    physical = request.physical_resource_id or ""
    if is_session_id(physical):
        ec2 = connect(Placement.of(parse_previous(request.resource_properties)))
        ec2.delete_until_gone(physical)
        try:
            forget(Store("sessions"), physical)
        except ProviderError as exc:
            _log.warning("record not removed", extra={"session": physical, "reason": exc.reason})
    return Outcome(physical)


Action = Callable[[Request, Connect], Outcome]


def recorded(action: Action) -> Action:
    """``action``, then the session's desired state recorded for the drift sweep (not for a
    dry run). A record that cannot be written fails the event, and what it made is undone."""

    def run(request: Request, connect: Connect) -> Outcome:
        outcome = action(request, connect)
        if outcome.data.get("DryRun") == "true":
            return outcome
        try:
            remember(Store("sessions"), request, outcome)
        except ProviderError:
            if outcome.undo is not None:
                outcome.undo()
            raise
        return outcome

    return run


#: The lifecycle function for each request type.
ACTIONS: Final[Mapping[str, Action]] = {
    "Create": recorded(create),
    "Update": recorded(update),
    "Delete": delete,
}


#: Values EC2 or the provider picks when the property is omitted; recorded as assigned.
ASSIGNED: Final = tuple(f.name for f in FIELDS if f.assigned_when_omitted)
_log = logging.getLogger(__name__)


def remember(store: Store, request: Request, outcome: Outcome) -> None:
    """Record the session's desired state (not for a dry run: nothing was made).

    A record that cannot be kept (too large even for the advanced tier: tags near EC2's
    limits) is removed instead, so that no older record describes the session: it works,
    and is logged as not watched. A store that refuses the write fails a Create (what it made
    is undone); an Update then removes the older record, or fails if it cannot (its
    rollback makes the older properties true again).
    """
    props = request.resource_properties
    if not isinstance(props, Mapping) or not is_session_id(outcome.physical_id):
        return
    assigned = {k: int(outcome.data[k]) for k in ASSIGNED if str(outcome.data.get(k)).isdigit()}
    record = Record(outcome.physical_id, Owner.of(request), props, assigned=assigned)
    try:
        store.put(record)
    except ProviderError as exc:
        if exc.source != "provider" and request.request_type == "Create":
            raise
        store.remove(record.key)
        _log.warning(
            "session not watched for drift",
            extra={"session": outcome.physical_id, "reason": exc.reason},
        )


def forget(store: Store, physical_id: str | None) -> None:
    """Remove the session's record (none kept counts as removed)."""
    if is_session_id(physical_id):
        store.remove(physical_id)


def desired_of(record: Record) -> SessionSpec:
    """The session as its stack declared it: the recorded properties, with the values
    assigned at Create in place of the omitted ones."""
    spec = parse(record.properties)
    values: dict[str, Value] = {k: v for k, v in spec.values.items() if isinstance(v, int | str)}
    for name, value in record.assigned.items():
        values.setdefault(name, value)
    return SessionSpec(values=values, tags=spec.tags)
