"""The drift and orphan sweep over single sessions: the reconciler's schedule and ``tms-audit``.

Per placement (the provider's own account and region, plus every RoleArn/Region a record
names), one paginated ``DescribeTrafficMirrorSessions`` on the managed-by marker reads every
session the provider marked. Then:

- **drift**: each recorded session (:mod:`mirror_session.desired`) is compared with what EC2
  holds (:func:`~mirror_session.drift.differences`). With ``OnDrift: Restore`` (and
  ``restore``) it is put back with the same writes an Update makes: one Modify for the
  fields, the tag calls for the tags. A session gone from EC2 is reported ``deleted``, never
  re-created (its ID is the stack's ``Ref``; the next stack update re-creates it). A record
  whose resource no longer claims its session (a failed cleanup) is dropped instead.
- **orphans**: every marked session whose owner's stack resource no longer claims it
  (:mod:`mirror_session.claims`, read-only) is reported ``orphaned``; never deleted here.

Nothing drifted costs reads only: the Describes, the store read, one CloudFormation read per
stack that owns a session.

Example::

    result = audit(Store("sessions").records(), gateways, Claims(), restore=True)
    [f.line() for f in result.findings]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mirror_session.claims import Claims
from mirror_session.converge import put_back
from mirror_session.desired import desired_of
from mirror_session.drift import Finding, differences, orphaned, owner_of
from mirror_session.ec2 import TrafficMirrorSessionTypeDef
from mirror_session.inventory import FleetGateway
from mirror_session.placement import Placement
from mirror_session.store import Record

__all__ = ["Audit", "audit"]

Session = TrafficMirrorSessionTypeDef
#: The gateway for a placement (the record whose placement it is, for the role session name).
Gateways = Callable[[Placement, Record | None], FleetGateway]
_log = logging.getLogger(__name__)


@dataclass
class Audit:
    """What a sweep found and did."""

    findings: list[Finding] = field(default_factory=list)
    checked: int = 0  # recorded sessions compared with EC2
    seen: int = 0  # sessions carrying the marker
    restored: int = 0
    dropped: int = 0  # records of sessions no stack claims any longer
    errors: list[str] = field(default_factory=list)


def _check(
    ec2: FleetGateway, record: Record, held: Session | None, claims: Claims, restore: bool
) -> tuple[list[Finding], bool]:
    """The findings for one recorded session; True when its record is stale."""
    owner = record.owner
    if held is None:
        held = ec2.find(record.key)  # unmarked by hand, or gone
    if held is None:
        if claims.of(owner) != record.key:
            return [], True  # deleted and unclaimed: a failed cleanup's record
        return [Finding("deleted", record.key, owner.stack_id, owner.logical_id)], False
    desired = desired_of(record)
    found = differences(desired, held)
    act = restore and record.properties.get("OnDrift") == "Restore" and bool(found)
    if act:
        put_back(ec2, held, desired, owner, strict=True)
    return [
        Finding(
            d.kind,
            record.key,
            owner.stack_id,
            owner.logical_id,
            d.name,
            d.expected,
            d.actual,
            action="restored" if act else "reported",
        )
        for d in found
    ], False


def _placements(records: Iterable[Record]) -> dict[Placement, list[Record]]:
    by: dict[Placement, list[Record]] = {Placement(): []}
    for record in records:
        try:
            placement = Placement.of(desired_of(record))
        except Exception:  # noqa: BLE001 - an unreadable record is skipped, not fatal
            _log.warning("record unreadable", extra={"session": record.key})
            continue
        by.setdefault(placement, []).append(record)
    return by


def audit(
    records: Iterable[Record],
    gateways: Gateways,
    claims: Claims,
    *,
    restore: bool,
    drop: Callable[[str], None] | None = None,
) -> Audit:
    """Drift of every recorded session, orphans in every placement; see the module doc."""
    result = Audit()
    seen: set[str] = set()
    for placement, mine in _placements(records).items():
        try:
            ec2 = gateways(placement, mine[0] if mine else None)
            held = {str(s["TrafficMirrorSessionId"]): s for s in ec2.managed()}
            for record in mine:
                found, stale = _check(ec2, record, held.get(record.key), claims, restore)
                result.checked += 1
                result.findings += found
                result.restored += sum(f.action == "restored" for f in found)
                if stale and drop is not None:
                    drop(record.key)
                    result.dropped += 1
        except Exception as exc:  # noqa: BLE001 - one placement's failure must not stop others
            _log.warning("placement not audited", extra={"reason": str(exc)})
            result.errors.append(str(exc))
            continue
        for sid, session in held.items():
            owner = owner_of(session)
            if sid in seen or owner is None:
                continue
            seen.add(sid)
            why = orphaned(session, claims.of(owner))
            if why is not None:
                result.findings.append(
                    Finding("orphaned", sid, owner.stack_id, owner.logical_id, detail=why)
                )
    result.seen = len(seen)
    for finding in result.findings:
        _log.warning(f"session {finding.kind}", extra=finding.line())
    return result
