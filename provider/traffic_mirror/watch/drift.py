"""Drift and orphans, as findings: what EC2 holds against what a stack declared or claims.

Pure comparisons (no AWS call here): :func:`differences` diffs a recorded session's desired
state with the session EC2 holds, by the same plan an Update makes (so a Restore is exactly
the writes listed); :func:`orphaned` says whether a session the provider marked is still
claimed by the stack resource its tags name (:mod:`traffic_mirror.watch.stack_claims` asks).

Each finding is one structured log line and counts in a metric whose only dimension is its
:attr:`Finding.kind` (bounded: ``field``, ``tag``, ``deleted``, ``orphaned``), never an ID.

Example::

    >>> from traffic_mirror.sessions.validation import parse
    >>> desired = parse({"NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1",
    ...                  "TrafficMirrorFilterId": "tmf-1", "SessionNumber": "1"})
    >>> held = {"TrafficMirrorSessionId": "tms-1", "NetworkInterfaceId": "eni-1",
    ...         "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-9",
    ...         "SessionNumber": 1}
    >>> differences(desired, held)  # doctest: +NORMALIZE_WHITESPACE
    [Difference(kind='field', name='TrafficMirrorFilterId', expected='tmf-1', actual='tmf-9')]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from traffic_mirror.aws.ec2 import TrafficMirrorSessionTypeDef
from traffic_mirror.ownership import DECLARED, Owner, number_mode
from traffic_mirror.sessions.converge import as_held
from traffic_mirror.sessions.plan import plan_update
from traffic_mirror.sessions.schema import FIELDS, SessionSpec, Unknown
from traffic_mirror.watch.stack_claims import GONE, UNSURE

__all__ = ["KINDS", "SHARED", "Difference", "Finding", "differences", "orphaned", "shared"]

Session = TrafficMirrorSessionTypeDef
#: A number shared with another session on the interface (reads lag writes: settling after a
#: Create cannot always see every rival; the sweep finds what it missed).
SHARED: Final = "shared-number"
#: The kinds of finding: the only dimension of the DriftedSessions and OrphanedSessions metrics.
KINDS: Final = ("field", "tag", "deleted", "orphaned", SHARED)
_BY_REMOVE: Final = {f.remove_as: f.name for f in FIELDS if f.remove_as}


@dataclass(frozen=True)
class Difference:
    """One field or tag that differs: what the stack declared and what EC2 holds (None:
    absent)."""

    kind: str
    name: str
    expected: str | None
    actual: str | None


@dataclass(frozen=True)
class Finding:
    """One drifted field or tag, a deleted session, or an orphan, and what was done."""

    kind: str
    session_id: str
    stack_id: str
    logical_id: str
    name: str = ""
    expected: str | None = None
    actual: str | None = None
    detail: str = ""
    action: str = "reported"
    where: str = ""  # the account and region it was found in

    def line(self) -> dict[str, str | None]:
        """The finding as one structured log line (and one JSON row of ``tms-audit``): kind,
        session, stack, logical_id, field, expected, actual, detail, action, where."""
        return {
            "kind": self.kind,
            "session": self.session_id,
            "stack": self.stack_id,
            "logical_id": self.logical_id,
            "field": self.name or None,
            "expected": self.expected,
            "actual": self.actual,
            "detail": self.detail or None,
            "action": self.action,
            "where": self.where or None,
        }


def _show(value: object) -> str | None:
    return None if value is None or isinstance(value, Unknown) else str(value)


def differences(desired: SessionSpec, session: Session) -> list[Difference]:
    """What differs between the declared session and the one EC2 holds; [] when nothing.

    The diff is the plan an Update would make from what EC2 holds. ``desired`` holds what
    EC2 or the provider assigned at Create for omitted values
    (:func:`traffic_mirror.sessions.resource.desired_of`), so every field is compared.
    """
    held = as_held(session, desired)
    plan = plan_update(held, desired)
    found: list[Difference] = []
    if plan.modify:
        for name, value in plan.modify.changes.items():
            found.append(Difference("field", name, _show(value), _show(held.values.get(name))))
        for removed in plan.modify.remove:
            name = _BY_REMOVE[removed]
            found.append(Difference("field", name, None, _show(held.values.get(name))))
    if plan.tags:
        for key, value in plan.tags.put.items():
            found.append(Difference("tag", key, value, held.tags.get(key)))
        for key in plan.tags.drop:
            found.append(Difference("tag", key, None, held.tags.get(key)))
    return found


def orphaned(session: Session, claim: str) -> str | None:
    """Why the session is an orphan, given what its owner's stack resource holds now
    (``claim``, from :meth:`traffic_mirror.watch.stack_claims.Claims.of`); None when it is claimed
    or
    CloudFormation cannot tell. A fleet's resource claims every session its tags give it."""
    sid = str(session["TrafficMirrorSessionId"])
    if claim in (UNSURE, sid) or claim.startswith("fleet-"):
        return None
    if claim == GONE:
        return "its stack or resource no longer exists"
    return f"its resource now has physical ID {claim}"


def owner_of(session: Session) -> Owner | None:
    """The owner the session's tags name (None: made by hand or by an old provider)."""
    owner = Owner.recorded_on(session)
    return owner if owner and owner.logical_id else None


def shared(sessions: Iterable[Session]) -> list[list[Session]]:
    """Sessions sharing a SessionNumber on one interface, a group each, the one that keeps
    the number first: declared before allocated, then the lowest ID (the order
    :func:`traffic_mirror.sessions.allocation.settle` ranks sessions it did not see before by).

    >>> from traffic_mirror.ownership import NUMBER_KEY
    >>> def s(sid, n, mode="allocated"):
    ...     return {"TrafficMirrorSessionId": sid, "NetworkInterfaceId": "eni-1",
    ...             "SessionNumber": n, "Tags": [{"Key": NUMBER_KEY, "Value": mode}]}
    >>> [[x["TrafficMirrorSessionId"] for x in g] for g in shared(
    ...     [s("tms-2", 1), s("tms-1", 1), s("tms-3", 1, "declared"), s("tms-4", 2)])]
    [['tms-3', 'tms-1', 'tms-2']]
    """
    by: dict[tuple[str, int], list[Session]] = {}
    for session in sessions:
        key = (str(session.get("NetworkInterfaceId")), int(session.get("SessionNumber", 0)))
        by.setdefault(key, []).append(session)
    return [
        sorted(group, key=lambda x: (number_mode(x) != DECLARED, str(x["TrafficMirrorSessionId"])))
        for group in by.values()
        if len(group) > 1
    ]
