"""Custom::TrafficMirrorFleet's lifecycle: create, update and delete, each one pass of
:func:`~traffic_mirror.fleets.fleet.sync` (or :func:`~traffic_mirror.fleets.fleet.remove_all`).

Each takes the parsed request, a ``connect`` function (placement in, EC2 gateway out) and a
budget (seconds left); the fleet is written to the store (:mod:`traffic_mirror.aws.store`) first,
so the reconciler keeps it true from then on, and finishes a pass the budget cut short. A dry
run (``DryRun``) writes nothing, to EC2 or the store: the same pass checks each write instead.

Example::

    actions = fleet_actions(lambda: context.get_remaining_time_in_millis() / 1000)
    outcome = actions["Create"](request, Connector(Owner.of(request)))
    outcome.physical_id   # 'fleet-…', stable for the stack, resource and placement
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping

from traffic_mirror.aws.connect import Placement
from traffic_mirror.aws.ec2 import Ec2Gateway
from traffic_mirror.aws.store import Record, Store
from traffic_mirror.cloudformation.request import Outcome, Request
from traffic_mirror.cloudformation.stack import unless_rolling_back
from traffic_mirror.fleets.fleet import RESERVE_S, Budget, Fleet, Tally, sync, until_shown
from traffic_mirror.fleets.gateway import FleetGateway
from traffic_mirror.fleets.schema import FLEET
from traffic_mirror.ownership import Owner, dry_run_id, is_dry_run_id
from traffic_mirror.sessions.schema import SessionSpec
from traffic_mirror.sessions.validation import InvalidProperties, parse, parse_previous

__all__ = ["fleet_actions", "held_by_successors", "remove_all"]

Connect = Callable[[Placement], Ec2Gateway]
Action = Callable[[Request, Connect], Outcome]
_log = logging.getLogger(__name__)


def _report(fleet: Fleet, tally: Tally, physical: str) -> Outcome:
    _log.info(
        "fleet pass",
        extra={
            "fleet": physical,
            "dry_run": fleet.spec.dry_run,
            "mirrored": tally.mirrored,
            "skipped": tally.skipped,
            "removed": tally.removed,
            "cross_zone": tally.cross_zone,
            "unfinished": tally.unfinished,
            "skipped_because": tally.reasons[:20],
        },
    )
    return Outcome(physical, tally.data(physical))


def _dry_run_physical(request: Request) -> str:
    """A dry run's physical ID: a real fleet's stays (a new one would make CloudFormation's
    cleanup delete it), a dry run's stays a dry run's."""
    physical = request.physical_resource_id or ""
    if not (physical.startswith("fleet-") or is_dry_run_id(physical)):
        physical = dry_run_id(request)
    return physical


def _check(request: Request, fleet: Fleet, ec2: FleetGateway, budget: Budget) -> Outcome:
    """A dry run: the pass with every write checked with EC2 (DryRun) instead; nothing is
    written to EC2 or the store. A real fleet keeps its physical ID (a new one would make
    CloudFormation's cleanup delete it), a dry run's stays a dry run's."""
    physical = _dry_run_physical(request)
    tally = sync(ec2, fleet, generation=request.request_id, budget=budget)
    outcome = _report(fleet, tally, physical)
    return Outcome(physical, {**outcome.data, "DryRun": "true"})


def _unchecked(request: Request) -> Outcome:
    """A dry run answered unchecked (the stack rolls back to it): no pass, nothing counted."""
    physical = _dry_run_physical(request)
    return Outcome(physical, {**Tally().data(physical), "DryRun": "true"})


def _checked_gateway(connect: Connect, spec: SessionSpec) -> FleetGateway:
    """The fleet's EC2, once the names it gives exist: they fail before anything is written.
    Zonal targets: each zone learnt, two for one zone fail (kept for the pass)."""
    ec2 = FleetGateway.of(connect(Placement.of(spec)))
    ec2.check_selector(spec)
    ec2.check_target_and_filter(spec)
    ec2.zonal(spec)
    return ec2


def _apply(request: Request, connect: Connect, budget: Budget, store: Store) -> Outcome:
    spec = parse(request.resource_properties, schema=FLEET)
    fleet = Fleet(spec, Owner.of(request))
    props = request.resource_properties
    assert isinstance(props, Mapping)  # parse checked it
    record = Record(fleet.id, fleet.owner, props)
    if not spec.dry_run:
        store.fitting(record)
    if spec.dry_run:  # never fails the rollback to a dry run (cloudformation/stack.py)
        return unless_rolling_back(
            request.stack_id,
            lambda: _check(request, fleet, _checked_gateway(connect, spec), budget),
            lambda: _unchecked(request),
        )
    ec2 = _checked_gateway(connect, spec)
    previous = _previous(request, fleet)
    store.put(record)
    made: list[str] = []
    try:
        tally = sync(
            ec2,
            fleet,
            generation=request.request_id,
            budget=budget,
            made=made,
            previous=previous,
        )
    except Exception:
        if request.physical_resource_id != fleet.id:  # a new fleet (Create, replacement)
            # It answers FAILED, so no later Delete names it: undo it now, record included,
            # or the reconciler would keep a fleet CloudFormation rolled back. What this
            # pass made is deleted by ID too: a read may not show it yet.
            _forget(fleet, ec2, connect, store, also=made)
        raise
    return _report(fleet, tally, fleet.id)


def _previous(request: Request, fleet: Fleet) -> SessionSpec | None:
    """An Update's previous settings, when the last pass of this same fleet wrote them (not
    a dry run's, nor a replaced fleet's); read leniently (unreadable values: UNKNOWN)."""
    if request.request_type != "Update" or request.physical_resource_id != fleet.id:
        return None
    previous = parse_previous(request.old_resource_properties)
    return None if previous.dry_run else previous


def _forget(
    fleet: Fleet, ec2: FleetGateway, connect: Connect, store: Store, also: list[str] | None = None
) -> Tally:
    """Remove the fleet's sessions (not those a live sibling of the same owner holds), and
    ``also`` these by ID, and, once all are gone, its record."""
    keep = held_by_successors(
        store.records(), fleet.owner, fleet.id, lambda s: FleetGateway.of(connect(Placement.of(s)))
    )
    tally = remove_all(ec2, fleet.owner, keep=keep, also=also or ())
    store.remove(fleet.id)
    return tally


def _delete(request: Request, connect: Connect, budget: Budget, store: Store) -> Outcome:
    """Every session of the fleet, found by its ownership tags where the fleet was placed."""
    physical = request.physical_resource_id or ""
    if not physical.startswith(("fleet-", "create-failed-")):
        return Outcome(physical)  # a dry run: nothing was made
    try:
        spec = parse(request.resource_properties, schema=FLEET)
    except InvalidProperties:
        return Outcome(physical)  # never valid, so never made
    fleet = Fleet(spec, Owner.of(request))
    if physical.startswith("create-failed-"):
        # The rollback of a failed Create: whatever a cut-short pass left (a timeout gives
        # it no chance to clean up) goes now, and its record with it.
        _forget(fleet, FleetGateway.of(connect(Placement.of(spec))), connect, store)
        return Outcome(physical)
    if fleet.id != physical:
        # The cleanup of a replacement: the old fleet's placement is not in these properties.
        _log.warning("fleet placement unknown", extra={"fleet": physical})
        return Outcome(physical)
    ec2 = FleetGateway.of(connect(Placement.of(spec)))
    keep = held_by_successors(
        store.records(), fleet.owner, physical, lambda s: FleetGateway.of(connect(Placement.of(s)))
    )
    tally = remove_all(ec2, fleet.owner, budget, keep=keep)
    if tally.unfinished:  # the reconciler deletes the rest, then the record
        props = request.resource_properties
        assert isinstance(props, Mapping)  # parse checked it
        store.put(Record(fleet.id, fleet.owner, props, deleting=True))
    else:
        store.remove(fleet.id)
    return Outcome(physical)


def fleet_actions(budget: Budget, store: Callable[[], Store] = Store) -> Mapping[str, Action]:
    """The lifecycle function for each request type, with the event's time budget."""
    return {
        "Create": lambda request, connect: _apply(request, connect, budget, store()),
        "Update": lambda request, connect: _apply(request, connect, budget, store()),
        "Delete": lambda request, connect: _delete(request, connect, budget, store()),
    }


def _unlimited() -> float:
    return float("inf")


def remove_all(
    ec2: FleetGateway,
    owner: Owner,
    budget: Budget = _unlimited,
    keep: Collection[str] = frozenset(),
    also: Collection[str] = (),
) -> Tally:
    """Delete every session the owner has, and ``also`` these by ID (a pass's own, which a read
    may not show yet), but ``keep``; vanished ones count as deleted among the owner's. Then
    wait until reads stop showing them: a single session made next sees their numbers free."""
    tally = Tally()
    owned = [str(session["TrafficMirrorSessionId"]) for session in ec2.owned(owner)]
    for session_id in dict.fromkeys([*owned, *also]):
        if session_id in keep:
            continue
        if budget() < RESERVE_S:
            tally.unfinished = True
            break
        deleted = ec2.delete(session_id)  # False when already gone
        tally.removed += session_id in owned or deleted
        tally.deleted.append(session_id)
    until_shown(ec2, owner, tally, budget)
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
