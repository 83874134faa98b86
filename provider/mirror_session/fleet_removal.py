"""Removing a fleet's sessions: all of them, except those its successor holds.

Example::

    keep = held_by_successors(store.records(), owner, fleet_id, gateway_for)
    tally = remove_all(ec2, owner, budget, keep=keep)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from mirror_session.fleet import RESERVE_S, Budget, Tally
from mirror_session.fleet_schema import FLEET
from mirror_session.identity import Owner
from mirror_session.inventory import FleetGateway
from mirror_session.schema import SessionSpec
from mirror_session.store import Record
from mirror_session.validation import parse

__all__ = ["held_by_successors", "remove_all"]


def _unlimited() -> float:
    return float("inf")


def remove_all(
    ec2: FleetGateway,
    owner: Owner,
    budget: Budget = _unlimited,
    keep: Collection[str] = frozenset(),
) -> Tally:
    """Delete every session the owner has but ``keep`` (vanished ones count as deleted)."""
    tally = Tally()
    for session in ec2.owned(owner):
        if str(session["TrafficMirrorSessionId"]) in keep:
            continue
        if budget() < RESERVE_S:
            tally.unfinished = True
            break
        ec2.delete(str(session["TrafficMirrorSessionId"]))
        tally.removed += 1
    return tally


def held_by_successors(
    records: Iterable[Record],
    owner: Owner,
    fleet_id: str,
    gateway_for: Callable[[SessionSpec], FleetGateway],
) -> set[str]:
    """Sessions another live fleet of the same owner holds where it is placed.

    A replaced fleet (RoleArn or Region changed) and its successor have the same owner, and
    may share an account and region (another role of the same account): then the sessions
    are the successor's, and the old fleet's cleanup Delete must leave them.
    """
    kept: set[str] = set()
    for record in records:
        if record.owner != owner or record.key == fleet_id or record.deleting:
            continue
        spec = parse(record.properties, schema=FLEET)
        kept |= {str(s["TrafficMirrorSessionId"]) for s in gateway_for(spec).owned(owner)}
    return kept
