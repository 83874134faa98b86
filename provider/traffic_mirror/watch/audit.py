"""The drift and orphan sweep over single sessions: the reconciler's schedule and ``tms-audit``.

Per placement (the provider's own account and region, plus every RoleArn/Region a record
names), one paginated ``DescribeTrafficMirrorSessions`` reads every session (no filter: none
documented finds a tag); those with this provider's marker are judged. CloudFormation is
asked after that read. Then:

- **drift**: each recorded session (:mod:`traffic_mirror.sessions.resource`) is compared with what
  EC2
  holds (:func:`~traffic_mirror.watch.drift.differences`). A difference is judged against the
  record as stored now (re-read: an Update may have landed since the records were read) and
  only while the stack resource claims that session and its stack is not in an operation
  (:mod:`traffic_mirror.watch.stack_claims`); otherwise it waits for the next sweep. With ``OnDrift:
  Restore`` (and ``restore``) it is put back with the same writes an Update makes: one
  Modify for the fields, the tag calls for the tags; a failed restore is reported as such.
- **just written**: a session whose record was written less than the read-lag bound ago
  (:func:`~traffic_mirror.aws.consistency.visible_within`) and that does not show as written is
  read again by ID, with backoff, for what is left of the bound: EC2's reads may not show that
  Create or Update yet. Only what still differs then is drift (or gone).
- **deleted**: a recorded session gone from EC2 is reported while its resource claims it,
  never re-created (its ID is the stack's ``Ref``; the next stack update re-creates it).
  Its record is dropped once nothing claims it (a failed cleanup's record).
- **orphans**: every marked session whose owner's stack resource no longer claims it is
  reported ``orphaned``; never deleted here.
- **shared numbers**: sessions of this provider sharing a SessionNumber on an interface (a
  settle that could not see a rival: reads lag writes). Confirmed by a second read after the
  lag bound; then an allocated one (not the first by declared, then lowest ID) is moved to a
  free number, and anything else is reported ``shared-number``.

One session's or one placement's failure is counted in ``errors``; the sweep goes on. Nothing
drifted costs reads only: the Describes, the store, two CloudFormation reads per stack.

Example::

    result = audit(store.records(), gateways, Claims(), restore=True, reread=store.get)
    [f.line() for f in result.findings]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from traffic_mirror.aws.connect import Placement
from traffic_mirror.aws.consistency import until, visible_within
from traffic_mirror.aws.ec2 import TrafficMirrorSessionTypeDef
from traffic_mirror.aws.store import Record, Store
from traffic_mirror.errors import ProviderError
from traffic_mirror.fleets.gateway import FleetGateway, SessionsRead
from traffic_mirror.fleets.reconcile import connector_for
from traffic_mirror.ownership import ALLOCATED, MANAGED_BY_KEY, managed_by, number_mode, tags_of
from traffic_mirror.sessions.converge import put_back
from traffic_mirror.sessions.plan import Modify, free_numbers
from traffic_mirror.sessions.resource import desired_of
from traffic_mirror.watch.drift import SHARED, Finding, differences, orphaned, owner_of, shared
from traffic_mirror.watch.stack_claims import UNSURE, Claims

__all__ = ["Audit", "audit", "watch"]

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
    deferred: int = 0  # not judged now: their stack is in an operation, or cannot be asked
    errors: list[str] = field(default_factory=list)


@dataclass
class _Sweep:
    """One sweep's inputs: how to re-read a record, who claims what, what may be written."""

    claims: Claims
    reread: Callable[[str], Record | None]
    restore: bool
    drop: Callable[[str], None] | None
    result: Audit
    keep: Callable[[Record], None] | None = None


def _drifted(sweep: _Sweep, ec2: FleetGateway, record: Record, held: Session) -> list[Finding]:
    """The drift of one session, judged against its record as stored now and only while its
    resource claims it (an Update between the sweep's reads is no drift); restored when the
    record says so."""
    desired = desired_of(record)
    found = differences(desired, held)
    if not found:
        return []
    fresh = sweep.reread(record.key)  # an Update may have landed since the records were read
    if fresh is None:
        return []
    if fresh != record or fresh.written_within(visible_within()):
        # Judged again on what EC2 and CloudFormation hold now; a write just made is read
        # until it shows, for what is left of the bound (reads lag writes).
        again = _as_written(ec2, fresh)
        if again is None:
            return []
        sweep.claims.forget(fresh.owner.stack_id)
        record, held, desired = fresh, again, desired_of(fresh)
        found = differences(desired, held)
    owner = record.owner
    if not found or sweep.claims.of(owner) != record.key:
        sweep.result.deferred += bool(found)  # in an operation, unclaimed: orphans report it
        return []
    action = "reported"
    if sweep.restore and desired.text("OnDrift") == "Restore":
        try:
            put_back(ec2, held, desired, owner)
            action = "restored"
            sweep.result.restored += len(found)
        except ProviderError as exc:
            action = f"restore failed: {exc.reason}"
            sweep.result.errors.append(exc.reason)
    return [
        Finding(kind, record.key, owner.stack_id, owner.logical_id, name, want, got, "", action)
        for kind, name, want, got in ((d.kind, d.name, d.expected, d.actual) for d in found)
    ]


def _as_written(ec2: FleetGateway, record: Record) -> Session | None:
    """The session read by ID until it shows as ``record`` says, for what is left of the
    read-lag bound since the record was written (nothing left: one read); the last read."""
    desired = desired_of(record)
    left = visible_within() - (time.time() - (record.written_at or 0.0))

    def read() -> Session | None:
        return ec2.find(record.key)

    def shows(session: Session | None) -> bool:
        return session is not None and not differences(desired, session)

    return until(read, shows, within=max(left, 0.0))


def _gone(sweep: _Sweep, record: Record) -> list[Finding]:
    """A recorded session EC2 no longer has: reported while its resource claims it; its
    record dropped once nothing claims it (a failed cleanup's); else judged later."""
    claim = sweep.claims.of(record.owner)
    if claim == record.key:
        owner = record.owner
        return [Finding("deleted", record.key, owner.stack_id, owner.logical_id)]
    if claim == UNSURE:
        sweep.result.deferred += 1
    elif sweep.drop is not None:
        sweep.drop(record.key)
        sweep.result.dropped += 1
    return []


def _check(sweep: _Sweep, ec2: FleetGateway, record: Record, held: Session | None) -> None:
    """One recorded session; a failure is counted and the sweep goes on."""
    try:
        if held is None:
            held = ec2.find(record.key)  # unmarked by hand, or gone
        if held is None and record.written_within(visible_within()):
            held = _as_written(ec2, record)  # just created: it may not show yet
        found = _gone(sweep, record) if held is None else _drifted(sweep, ec2, record, held)
    except Exception as exc:  # noqa: BLE001 - one session's failure must not hide the others
        reason = exc.reason if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
        sweep.result.errors.append(f"{record.key}: {reason}")
        return
    sweep.result.checked += 1
    sweep.result.findings += found


def _shared(sweep: _Sweep, ec2: FleetGateway, every: list[Session], mine: list[Record]) -> None:
    """Numbers shared on an interface: after the bound on read lag, what still shares is
    real. An allocated session of this provider, not the first of its group, moves to the
    lowest free number (one Modify; its record follows); any other is reported."""
    groups = shared(every)
    if groups and visible_within() > 0:
        time.sleep(visible_within())  # a settle in flight, or a move not yet shown
        interfaces = sorted({str(g[0]["NetworkInterfaceId"]) for g in groups})
        every = [s for eni in interfaces for s in ec2.on_interface(eni)]
        groups = shared(every)
    records = {r.key: r for r in mine}
    for keeper, *others in groups:
        eni, number = str(keeper["NetworkInterfaceId"]), int(keeper.get("SessionNumber", 0))
        used = {int(s.get("SessionNumber", 0)) for s in every if s.get("NetworkInterfaceId") == eni}
        for session in (keeper, *others):
            owner = owner_of(session)
            if owner is None or not _ours(session):
                continue  # never judged: not this provider's
            sid = str(session["TrafficMirrorSessionId"])
            other = str((others[0] if session is keeper else keeper)["TrafficMirrorSessionId"])
            action = "reported"
            if session is not keeper and number_mode(session) == ALLOCATED and sweep.restore:
                to = free_numbers(used)[0]
                try:
                    ec2.modify(sid, Modify({"SessionNumber": to}))
                    used.add(to)
                    action = f"moved to #{to}"
                    if (record := records.get(sid)) is not None and sweep.keep is not None:
                        sweep.keep(
                            replace(record, assigned={**record.assigned, "SessionNumber": to})
                        )
                except ProviderError as exc:
                    action = f"move failed: {exc.reason}"
                    sweep.result.errors.append(exc.reason)
            detail = f"#{number} on {eni} is also {other}'s"
            sweep.result.findings.append(
                Finding(
                    SHARED,
                    sid,
                    owner.stack_id,
                    owner.logical_id,
                    "SessionNumber",
                    None,
                    str(number),
                    detail,
                    action,
                )
            )


def _ours(session: Session) -> bool:
    return tags_of(session).get(MANAGED_BY_KEY) == managed_by()


def _placements(records: Iterable[Record], home: Placement) -> dict[Placement, list[Record]]:
    by: dict[Placement, list[Record]] = {home: []}
    for record in records:
        try:
            found = Placement.of(desired_of(record))
            placement = replace(found, region=found.region or home.region)  # the home's region
        except Exception:  # noqa: BLE001 - an unreadable record is skipped, not fatal
            _log.warning("record unreadable", extra={"session": record.key})
            continue
        by.setdefault(placement, []).append(record)
    return by


def _orphans(
    sweep: _Sweep, ec2: FleetGateway, held: dict[str, Session], seen: set[str], read_at: float
) -> None:
    """Marked sessions no stack resource claims. A read may still show a session its stack
    deleted moments ago (reads lag writes): the candidates are read again by ID once the
    read-lag bound has passed since ``read_at``, and only those still there are reported."""
    candidates: dict[str, Finding] = {}
    for sid, session in held.items():
        owner = owner_of(session)
        if sid in seen or owner is None:
            continue
        seen.add(sid)
        why = orphaned(session, sweep.claims.of(owner))
        if why is not None:
            candidates[sid] = Finding("orphaned", sid, owner.stack_id, owner.logical_id, detail=why)
    if not candidates:
        return
    time.sleep(max(0.0, read_at + visible_within() - time.monotonic()))
    try:
        again = ec2.by_ids(sorted(candidates), "orphan candidates")
    except ProviderError as exc:  # unconfirmed: counted as not audited, never guessed
        _log.warning("orphans not confirmed", extra={"reason": exc.reason})
        sweep.result.errors.append(exc.reason)
        return
    still = {str(s["TrafficMirrorSessionId"]) for s in again}
    sweep.result.findings.extend(f for sid, f in candidates.items() if sid in still)


def audit(
    records: Iterable[Record],
    gateways: Gateways,
    claims: Claims,
    *,
    restore: bool,
    reread: Callable[[str], Record | None],
    drop: Callable[[str], None] | None = None,
    home: Placement | None = None,
    keep: Callable[[Record], None] | None = None,
    reads: SessionsRead | None = None,
) -> Audit:
    """Drift of every recorded session, orphans and shared numbers in every placement; see
    the module doc. ``keep`` rewrites a record (a session the sweep moved); ``reads`` shares
    each placement's read of every session with the fleets swept after."""
    sweep = _Sweep(claims, reread, restore, drop, Audit(), keep)
    seen: set[str] = set()
    for placement, mine in _placements(records, home or Placement()).items():
        try:
            ec2 = gateways(placement, mine[0] if mine else None)
            read_at = time.monotonic()
            every = reads.every(placement, ec2) if reads is not None else ec2.every()
            held = {str(s["TrafficMirrorSessionId"]): s for s in every if _ours(s)}
        except ProviderError as exc:
            _log.warning("placement not audited", extra={"reason": exc.reason})
            sweep.result.errors.append(exc.reason)
            continue
        claims.forget()  # CloudFormation is asked after this placement's sessions were read
        first = len(sweep.result.findings)
        for record in mine:
            _check(sweep, ec2, record, held.get(record.key))
        _orphans(sweep, ec2, held, seen, read_at)
        _shared(sweep, ec2, every, mine)
        found = sweep.result.findings
        found[first:] = [replace(f, where=ec2.where) for f in found[first:]]
    sweep.result.seen = len(seen)
    for finding in sweep.result.findings:
        _log.warning(f"session {finding.kind}", extra=finding.line())
    return sweep.result


def watch(
    store: Store,
    claims: Claims | None = None,
    *,
    restore: bool = True,
    home: Placement | None = None,
    reads: SessionsRead | None = None,
) -> Audit:
    """Drift of every recorded single session, and orphans (also in ``home``: by default the
    function's own account and region); with ``restore``, sessions whose OnDrift is Restore
    are put back and records no stack claims are dropped. ``reads``: see :func:`audit`."""

    def gateways(placement: Placement, record: Record | None) -> FleetGateway:
        return FleetGateway.of(connector_for(record)(placement))

    drop = store.remove if restore else None
    found = audit(
        store.records(),
        gateways,
        claims or Claims(),
        restore=restore,
        reread=store.get,
        drop=drop,
        home=home or Placement(),
        keep=store.put if restore else None,
        reads=reads,
    )
    if restore:
        store.prune()  # records removed an hour ago and more (see Store.remove)
    return found
