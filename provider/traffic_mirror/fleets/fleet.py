"""A fleet made true: a session on every selected interface, each as declared, none elsewhere.

:func:`sync` serves Create, Update and the reconciler alike; everything is found in EC2 (the
interfaces by the selector, the sessions by their ownership tags), so running it again, after
a redelivery, a timeout or a crash, finishes what was left. Per interface it reuses the
session machinery: :func:`~traffic_mirror.sessions.allocation.place` allocates numbers with the
same guarantees (the batch settles once, after one wait), and
:func:`~traffic_mirror.sessions.converge.converge` puts held sessions back (changed fields only).

An interface EC2 will not mirror is skipped, counted and logged with its reason; the fleet
fails only when it cannot work at all (target or filter not found, not permitted).

With ``ZonalTrafficMirrorTargetIds`` each interface gets the target serving its own zone
(:mod:`traffic_mirror.fleets.zones`), else the fallback (``TrafficMirrorTargetId``), else it is
skipped and a session it holds is removed (the template no longer mirrors it). A change of the
zonal targets moves held sessions in place: the same put-back, one Modify of the target each.

Example::

    tally = sync(FleetGateway.of(ec2), Fleet.of(spec, owner), generation=request_id)
    tally.mirrored, tally.skipped, tally.vni
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from traffic_mirror.aws.consistency import visible_within
from traffic_mirror.aws.ec2 import VALUES_PER_FILTER, TrafficMirrorSessionTypeDef
from traffic_mirror.errors import NotSupported, ProviderError, SessionGone, SessionRefused
from traffic_mirror.fleets.gateway import FleetGateway
from traffic_mirror.fleets.zones import Route
from traffic_mirror.ownership import Owner, fleet_id, fleet_token
from traffic_mirror.sessions.allocation import Interface, check_place, place, settle, settle_wait
from traffic_mirror.sessions.converge import put_back, shows
from traffic_mirror.sessions.plan import create_params
from traffic_mirror.sessions.schema import SESSION_FIELDS, SessionSpec, Value

__all__ = ["RESERVE_S", "Budget", "Fleet", "Tally", "sync", "until_shown"]

Session = TrafficMirrorSessionTypeDef
#: Seconds left, per the Lambda context; a fleet stops starting work below RESERVE_S.
Budget = Callable[[], float]
RESERVE_S: Final = 15.0
_PARAMS: Final = frozenset(f.name for f in SESSION_FIELDS)
#: Set per interface by the pass, not declared by the fleet.
_PER_INTERFACE: Final = frozenset({"NetworkInterfaceId", "VirtualNetworkId"})
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fleet:
    """A validated fleet definition, its owner and its physical ID."""

    spec: SessionSpec
    owner: Owner

    @property
    def id(self) -> str:
        """The physical ID: fixed by owner and placement (RoleArn, Region)."""
        return fleet_id(self.owner, self.spec.text("RoleArn"), self.spec.text("Region"))

    def session_spec(
        self, interface: str, vni: int | None, target: str | None = None
    ) -> SessionSpec:
        """One member session's properties: the fleet's, on ``interface``, with the fleet's VNI
        (and ``target``: the interface's zonal target, in place of TrafficMirrorTargetId)."""
        values: dict[str, Value] = {
            k: v for k, v in self.spec.values.items() if k in _PARAMS and isinstance(v, int | str)
        }
        values["NetworkInterfaceId"] = interface
        if target is not None:
            values["TrafficMirrorTargetId"] = target
        if vni is not None:
            values["VirtualNetworkId"] = vni
        return SessionSpec(values=values, tags=self.spec.tags)


@dataclass
class Tally:
    """What a pass found and did."""

    selected: int = 0
    mirrored: int = 0
    skipped: int = 0
    removed: int = 0
    #: Mirrored to a target in another zone (None: the fleet has no zonal targets, so its
    #: zones are not read).
    cross_zone: int | None = None
    vni: int | None = None
    unfinished: bool = False
    reasons: list[str] = field(default_factory=list)
    made: list[str] = field(default_factory=list)  # the IDs of the sessions it created
    deleted: list[str] = field(default_factory=list)  # and of those it deleted
    written: dict[str, SessionSpec] = field(default_factory=dict)  # changed: to what, by ID

    def data(self, physical_id: str) -> dict[str, str]:
        """The attributes: counts as strings, never a list (the 4 KB response limit)."""
        return {
            "Id": physical_id,
            "VirtualNetworkId": "" if self.vni is None else str(self.vni),
            "InterfacesSelected": str(self.selected),
            "InterfacesMirrored": str(self.mirrored),
            "InterfacesSkipped": str(self.skipped),
            "InterfacesCrossZone": "" if self.cross_zone is None else str(self.cross_zone),
        }

    def mirrored_by(self, route: Route | None) -> None:
        """Count one interface mirrored, and whether its target is in another zone."""
        self.mirrored += 1
        if route is not None and route.cross_zone:
            self.cross_zone = (self.cross_zone or 0) + 1


def _id(session: Session) -> str:
    return str(session["TrafficMirrorSessionId"])


def _skippable(exc: ProviderError) -> bool:
    """EC2 refused this one interface's session, or a check of the provider's own did: the
    interface is skipped, the fleet goes on."""
    if isinstance(exc, SessionRefused):
        return True
    return exc.code is None and exc.source == "provider"


def _skip(tally: Tally, interface: str, exc: ProviderError, kind: str = "") -> None:
    """Count and log a skipped interface; its instance type named where EC2 refused it."""
    why = f"{kind} " if kind and isinstance(exc, NotSupported) else ""
    tally.skipped += 1
    tally.reasons.append(f"{interface}: {why}{exc.reason}")
    _log.warning(
        "interface skipped",
        extra={"interface": interface, "instance_type": kind, "reason": f"{why}{exc.reason}"},
    )


def _fleet_vni(fleet: Fleet, held: Collection[Session]) -> int | None:
    """The declared VNI; else the one most of the fleet's sessions hold (the first's)."""
    declared = fleet.spec.values.get("VirtualNetworkId")
    if isinstance(declared, int):
        return declared
    found = Counter(int(s["VirtualNetworkId"]) for s in held if "VirtualNetworkId" in s)
    return found.most_common(1)[0][0] if found else None


def _as_previous(spec: SessionSpec, previous: SessionSpec, *, zonal: bool) -> SessionSpec:
    """One member session as the fleet's previous settings made it: ``spec`` with each
    setting the fleet declares (not the interface, the shared VNI, nor a zonal target) as
    ``previous`` declared it."""
    values = dict(spec.values)
    for name in _PARAMS - _PER_INTERFACE - ({"TrafficMirrorTargetId"} if zonal else set()):
        if name in previous.values:
            values[name] = previous.values[name]
        else:
            values.pop(name, None)
    return SessionSpec(values, previous.tags, previous.tags_known)


def _keep(
    ec2: FleetGateway,
    fleet: Fleet,
    session: Session,
    vni: int | None,
    route: Route | None,
    *,
    previous: SessionSpec | None = None,
) -> SessionSpec | None:
    """Put one held session back to the fleet's settings and its interface's target (no
    write when it already is; a moved target is one Modify). With ``previous`` (an Update's
    previous settings), a setting they declared otherwise is written even where a read
    shows it as new: that read may be stale (a rollback right after the Update it undoes).
    The settings written where the read showed others (None: none to wait for)."""
    eni = str(session["NetworkInterfaceId"])
    spec = fleet.session_spec(eni, vni, route.target if route else None)
    last = _as_previous(spec, previous, zonal=route is not None) if previous else None
    put_back(ec2, session, spec, fleet.owner, dry_run=fleet.spec.dry_run, previous=last)
    return None if fleet.spec.dry_run or shows(spec, session) else spec


def _routes(ec2: FleetGateway, fleet: Fleet, wanted: list[str], tally: Tally) -> dict[str, Route]:
    """Each interface's target by its zone (a fleet with zonal targets); those no target
    serves are skipped and counted here. Empty for a fleet without zonal targets."""
    zonal = ec2.zonal(fleet.spec)
    if zonal is None:
        return {}
    tally.cross_zone = 0
    ec2.locate(wanted)
    routes: dict[str, Route] = {}
    for eni in wanted:
        zone = ec2.zone_of(eni)
        if (route := zonal.route(zone)) is None:
            _skip(tally, eni, ProviderError(zonal.why_not(zone)))
        else:
            routes[eni] = route
    return routes


def sync(
    ec2: FleetGateway,
    fleet: Fleet,
    *,
    generation: str,
    only: Collection[str] | None = None,
    budget: Budget = lambda: float("inf"),
    made: list[str] | None = None,
    previous: SessionSpec | None = None,
) -> Tally:
    """Make the fleet true (``only``: just on these interfaces, removing nothing else).

    With DryRun, every write the pass would make is checked with EC2 instead (the Creates by
    :func:`~traffic_mirror.sessions.allocation.check_place`, the Modifies and tag calls by
    :func:`~traffic_mirror.sessions.converge.converge`); the counts say what would happen. ``made``
    collects the IDs of the sessions this pass creates (reads may not show them yet: a caller
    that undoes the pass deletes them by ID). ``previous``: an Update's previous settings,
    which the last pass wrote (see :func:`_keep`)."""
    wanted = ec2.interfaces(fleet.spec)
    if only is not None:
        wanted = [eni for eni in wanted if eni in only]
    held = ec2.owned(fleet.owner)
    tally = Tally(selected=len(wanted), vni=_fleet_vni(fleet, held))
    tally.made = made if made is not None else tally.made  # filled as it goes, even on a raise
    if not wanted:
        _log.warning("the selector selects no interface", extra={"fleet": fleet.id})
    routes = _routes(ec2, fleet, wanted, tally)
    if tally.cross_zone is not None:  # a zonal fleet mirrors only the interfaces it routes
        wanted = [eni for eni in wanted if eni in routes]
    try:
        mine: dict[str, Session] = {}
        for session in sorted(held, key=_id):
            eni = str(session["NetworkInterfaceId"])
            extra = eni in mine or (eni not in wanted and only is None)
            if extra and budget() <= RESERVE_S:
                tally.unfinished = True  # left for the next pass, which removes it
            elif extra:
                if not fleet.spec.dry_run:  # a dry run only counts it (no check for Delete)
                    ec2.delete(_id(session))  # no longer selected
                    tally.deleted.append(_id(session))
                tally.removed += 1
            else:
                mine[eni] = session
        kept = {e: s for e, s in mine.items() if e in wanted}
        gone = _keep_all(ec2, fleet, kept, tally, budget, routes=routes, previous=previous)
        missing = [eni for eni in wanted if eni not in mine or _id(mine[eni]) in gone]
        _create_missing(
            ec2,
            fleet,
            missing,
            generation=generation,
            tally=tally,
            budget=budget,
            routes=routes,
            gone=gone,
        )
    finally:  # also when the pass fails: a rollback must not read its Deletes as held
        until_shown(ec2, fleet.owner, tally, budget)
    return tally


def until_shown(ec2: FleetGateway, owner: Owner, tally: Tally, budget: Budget) -> None:
    """Wait (within the visibility bound and the budget) until reads show the pass's writes
    (no session it deleted, each it changed as written): reads lag writes, and the next pass
    would read a deleted session as held or a changed one as it was (docs/fleet.md). Best
    effort: a read that fails, or no time left, is logged and the pass goes on."""
    within = min(visible_within(), budget() - RESERVE_S)
    if not (ids := [*tally.deleted, *tally.written]) or within <= 0:
        return

    def done(session: Session) -> bool:  # a deleted session is done once no read shows it
        spec = tally.written.get(_id(session))
        return spec is not None and shows(spec, session)

    try:
        left = ec2.until_read(ids, done, within)
    except ProviderError as exc:
        left = [exc.reason]
    if left:
        _log.warning("writes not shown yet", extra={"of": owner.describe(), "sessions": left})


def _keep_all(
    ec2: FleetGateway,
    fleet: Fleet,
    mine: dict[str, Session],
    tally: Tally,
    budget: Budget,
    *,
    routes: Mapping[str, Route],
    previous: SessionSpec | None = None,
) -> set[str]:
    """Put each held session back to the fleet's settings; the IDs found deleted meanwhile
    (a read still showed them: reads lag writes), whose interfaces are then mirrored anew."""
    gone: set[str] = set()
    for eni, session in mine.items():
        if budget() < RESERVE_S:
            tally.unfinished = True
            break
        try:
            spec = _keep(ec2, fleet, session, tally.vni, routes.get(eni), previous=previous)
            if spec is not None:
                tally.written[_id(session)] = spec
        except SessionGone:
            gone.add(_id(session))
            continue
        except ProviderError as exc:
            if not _skippable(exc):
                raise
            _skip(tally, eni, exc, ec2.types.get(eni, ""))
            continue
        tally.mirrored_by(routes.get(eni))
    return gone


def _create_missing(
    ec2: FleetGateway,
    fleet: Fleet,
    missing: list[str],
    *,
    generation: str,
    tally: Tally,
    budget: Budget,
    routes: Mapping[str, Route],
    gone: Collection[str] = (),
) -> None:
    """One Create per missing interface, then one wait, then each settles (no second wait).

    The interfaces are read by the page (:meth:`~traffic_mirror.aws.ec2.Ec2Gateway.on_interfaces`,
    200 a call) before their Creates and again after the wait, so a pass makes about one call
    per interface. It stops starting Creates while it still has time to finish them:
    RESERVE_S, the wait, and the reads after it (at the pace of this pass's reads)."""
    placed: list[tuple[Session, Interface, float]] = []
    read_s: list[float] = []
    declared = "SessionNumber" in fleet.spec.values
    tags = {**fleet.spec.tags, **fleet.owner.tags(allocated=not declared)}
    views: dict[str, Interface] = {}
    for eni in missing:
        pace = sum(read_s) / len(read_s) if read_s else 0.0
        if budget() < RESERVE_S + settle_wait() + (len(placed) // VALUES_PER_FILTER + 1) * pace:
            tally.unfinished = True  # the next pass (reconciler, redelivery) goes on
            break
        if eni not in views:  # the next page of interfaces, read just before their Creates
            started = time.monotonic()
            page = missing[missing.index(eni) :][:VALUES_PER_FILTER]
            views.update(
                (name, Interface(name, [s for s in held if _id(s) not in gone], started))
                for name, held in ec2.on_interfaces(page).items()
            )
            read_s.append(time.monotonic() - started)
        view = views[eni]
        if view.owned(fleet.owner) is not None:
            # Made since the fleet's sessions were read, by another pass (the instance's other
            # launch event, a sweep): the interface is mirrored, a second session would not be.
            tally.mirrored_by(routes.get(eni))
            continue
        route = routes.get(eni)
        params = create_params(fleet.session_spec(eni, tally.vni, route.target if route else None))
        token_for = functools.partial(fleet_token, fleet.id, eni, generation=generation)
        try:
            if fleet.spec.dry_run:
                check_place(ec2, view, params, tags, token_for)
                tally.mirrored_by(route)
                continue
            made = place(ec2, view, params, tags, token_for, settled=False)
        except ProviderError as exc:
            if not _skippable(exc):
                raise
            _skip(tally, eni, exc, ec2.types.get(eni, ""))
            continue
        placed.append((made, view, time.monotonic()))
        tally.made.append(_id(made))
        if tally.vni is None and "VirtualNetworkId" in made:
            tally.vni = int(made["VirtualNetworkId"])  # the fleet shares the first one's
    if placed:
        time.sleep(settle_wait())
    started = time.monotonic()
    after = ec2.on_interfaces([view.name for _, view, _ in placed]) if placed else {}
    for made, view, at in placed:
        try:
            now = Interface(view.name, after.get(view.name, []), started)
            settle(
                ec2,
                made,
                view,
                created_at=at,
                one_per=fleet.owner,
                after=now,
                gone_within=min(visible_within(), budget() - RESERVE_S),
            )
        except ProviderError as exc:
            if not _skippable(exc):
                raise
            _skip(tally, view.name, exc, ec2.types.get(view.name, ""))
            continue
        tally.mirrored_by(routes.get(view.name))
