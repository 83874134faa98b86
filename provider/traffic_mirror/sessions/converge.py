"""Bring an existing session to declared properties, in place: the fewest writes, checked first.

Used by an Update that keeps its session, by a Create that finds the resource's own session
(a redelivery, the rollback of a replacement), and by adoption; :func:`put_back` by the
fleet pass and the drift sweep, which compare with what EC2 holds rather than with previous
properties (:func:`as_held`).

Example::

    session = converge(ec2, view, held, base=old_spec, new=new_spec, owner=owner)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from traffic_mirror.aws.ec2 import Ec2Gateway, TrafficMirrorSessionTypeDef
from traffic_mirror.ownership import Owner, tags_of
from traffic_mirror.sessions.allocation import Interface, read
from traffic_mirror.sessions.plan import TagChanges, TagWrite, plan_update, tag_writes
from traffic_mirror.sessions.schema import (
    FIELDS,
    FIELDS_BY_NAME,
    MANAGED_TAG_PREFIX,
    SESSION_FIELDS,
    SessionSpec,
    Unknown,
    Value,
)
from traffic_mirror.sessions.validation import parse_previous

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import TagTypeDef

__all__ = [
    "as_held",
    "as_last_written",
    "attributes",
    "converge",
    "held_as_spec",
    "preview",
    "put_back",
    "shows",
    "tag_changes",
]

Session = TrafficMirrorSessionTypeDef
#: The PacketLength EC2 reports for whole packets with an NLB target (the highest there is).
WHOLE_PACKET = FIELDS_BY_NAME["PacketLength"].high
#: Held values that mean the same as the field omitted: whole packets; no Description.
_SAME_AS_NONE: Final[Mapping[str, object]] = {"PacketLength": WHOLE_PACKET, "Description": ""}


def tag_changes(session: Session, owner: Owner, user: TagChanges | None) -> list[TagWrite]:
    """The user's tag changes, plus ownership tags the session lacks (one made by an older
    provider), ordered so that the session never holds more than EC2's 50 tags."""
    held = tags_of(session)
    put = dict(user.put) if user else {}
    put.update({k: v for k, v in owner.ownership().items() if held.get(k) != v})
    drop = user.drop if user else ()
    return tag_writes(held, TagChanges(put, drop)) if put or drop else []


def converge(
    ec2: Ec2Gateway,
    view: Interface,
    held: Session,
    *,
    base: SessionSpec,
    new: SessionSpec,
    owner: Owner,
    dry_run: bool = False,
    marks: list[TagWrite] | None = None,
) -> Session:
    """Bring the resource's existing session from ``base`` to ``new`` in place.

    A declared number another session on the interface holds fails first, naming it; then
    ``marks`` (the reserved tags of an adopted session) are written, then the changes. With
    ``dry_run`` the same writes are only checked with EC2 (DryRun) and nothing changes.
    """
    plan = plan_update(base, new)
    sid = held["TrafficMirrorSessionId"]
    if plan.modify and "SessionNumber" in plan.modify.changes:
        number = int(plan.modify.changes["SessionNumber"])
        if (holder := view.holder(number, besides=sid)) is not None:
            raise view.taken(number, holder)
    # The tag changes as seen once the marks are on (so neither repeats them, and the 50-tag
    # ordering counts them); the marks go first: the role may only change marked sessions.
    added: list[TagTypeDef] = [
        {"Key": k, "Value": v} for w in marks or [] for k, v in w.tags.items()
    ]
    writes = tag_changes({**held, "Tags": [*held.get("Tags", []), *added]}, owner, plan.tags)
    if dry_run:
        if marks:
            ec2.check_retag(sid, marks)
        if plan.modify:
            ec2.check_modify(sid, plan.modify)
        if writes:
            ec2.check_retag(sid, writes)
        return held
    if marks:
        ec2.retag(sid, marks)
    session = ec2.modify(sid, plan.modify) if plan.modify else held
    if writes:
        ec2.retag(sid, writes)
    return session


def as_held(session: Session, new: SessionSpec) -> SessionSpec:
    """What EC2 holds, to diff ``new`` against. PacketLength omitted means whole packets,
    which an NLB target reports as its default (8500): that is no drift and is left out; any
    other length (set by hand, or by an older template) is a difference, removed."""
    held = held_as_spec(session, new)
    absent = {
        name
        for name, same_as_none in _SAME_AS_NONE.items()
        if name not in new.values and held.values.get(name) == same_as_none
    }  # an empty Description is none: removing it again would write on every sweep
    if not absent:
        return held
    values = {k: v for k, v in held.values.items() if k not in absent}
    return SessionSpec(values, held.tags, held.tags_known)


def as_last_written(held: SessionSpec, previous: SessionSpec, new: SessionSpec) -> SessionSpec:
    """``held`` with each value and tag that ``previous`` (what the last write asked for)
    sets otherwise than ``new`` as ``previous`` set it: a read may not show that write yet
    (reads lag writes), and diffed against this, ``new`` is written back. Declared values
    are compared as declared: ``PacketLength: 8500`` cuts jumbo frames on an interface or
    Gateway Load Balancer target, where omitted mirrors whole packets. A value
    ``previous`` could not read (UNKNOWN), or its unreadable tags, leave what EC2 holds.

    >>> held = SessionSpec({"Description": "before", "PacketLength": 100}, {"team": "a"})
    >>> previous = SessionSpec({"Description": "after"}, {"team": "b"})
    >>> new = SessionSpec({"Description": "before", "PacketLength": 100}, {"team": "a"})
    >>> base = as_last_written(held, previous, new)
    >>> dict(base.values), dict(base.tags)
    ({'Description': 'after'}, {'team': 'b'})
    """
    values = dict(held.values)
    for name in {*previous.values, *new.values}:
        was = previous.values.get(name)
        if isinstance(was, Unknown) or was == new.values.get(name):
            continue
        if was is None:
            values.pop(name, None)
        else:
            values[name] = was
    tags = dict(held.tags)
    for key in {*previous.tags, *new.tags} if previous.tags_known else ():
        if (had := previous.tags.get(key)) == new.tags.get(key):
            continue
        if had is None:
            tags.pop(key, None)
        else:
            tags[key] = had
    return SessionSpec(values, tags, held.tags_known)


def put_back(
    ec2: Ec2Gateway,
    session: Session,
    new: SessionSpec,
    owner: Owner,
    *,
    dry_run: bool = False,
    previous: SessionSpec | None = None,
) -> Session:
    """Bring a held session back to ``new``, diffed against what EC2 holds (no write when
    nothing differs; with ``dry_run`` the writes are only checked); with ``previous`` (what
    the last write asked for: a fleet Update's previous settings), diffed against that where
    it differs from ``new`` (:func:`as_last_written`). A number to restore is checked against
    the interface first."""
    eni = str(session["NetworkInterfaceId"])
    number = new.values.get("SessionNumber")
    view = Interface(eni, [session])
    if number is not None and number != session.get("SessionNumber"):
        view = read(ec2, eni)  # another session may hold it now
    base = as_held(session, new)
    if previous is not None:
        base = as_last_written(base, previous, new)
    return converge(ec2, view, session, base=base, new=new, owner=owner, dry_run=dry_run)


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


def shows(spec: SessionSpec, session: Session) -> bool:
    """Whether ``session`` holds what ``spec`` declares: an Update from it would write nothing.

    >>> held = {"TrafficMirrorSessionId": "tms-1", "Description": "a", "SessionNumber": 1}
    >>> shows(SessionSpec({"Description": "a", "SessionNumber": 1}), held)
    True
    >>> shows(SessionSpec({"Description": "b", "SessionNumber": 1}), held)
    False
    """
    plan = plan_update(as_held(session, spec), spec)
    return not plan.modify and not plan.tags
