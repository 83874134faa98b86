"""The reconciler: keeps every stored fleet true as instances come and go.

Two triggers (template.yaml's ReconcilerFunction; the entry, ``reconciler_app``, parses the
EventBridge event):

- :func:`launched`: an instance reached ``running`` (EC2), or Auto Scaling launched it: its
  interfaces are mirrored for every fleet whose selector names it (only those interfaces;
  nothing is removed);
- :func:`sweep`: on a schedule, every fleet: missing sessions made (under a fresh token: the
  sweep's time is the generation), sessions changed outside the stack put back, sessions of
  interfaces no longer selected removed, fleets marked ``deleting`` finished. Otherwise it
  only reads. Sessions of terminated instances vanish with their interfaces: only noticed.
- on the same schedule, :func:`traffic_mirror.watch.audit.watch` judges drift of every
  recorded single session and orphans, with the same connections (:func:`connector_for`).

One fleet's failure is logged and does not stop the others.

Example::

    sweep(Store(), generation="2025-01-01T00:10:00Z")   # {'fleet-…': {'mirrored': 3, …}}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from traffic_mirror.aws.connect import Connector, Placement
from traffic_mirror.aws.ec2 import Ec2Gateway
from traffic_mirror.aws.store import Record, Store
from traffic_mirror.fleets.fleet import Budget, Fleet, Tally, sync
from traffic_mirror.fleets.gateway import FleetGateway, SessionsRead, interfaces_of, selects
from traffic_mirror.fleets.resource import held_by_successors, remove_all
from traffic_mirror.fleets.schema import FLEET
from traffic_mirror.sessions.schema import SessionSpec
from traffic_mirror.sessions.validation import parse

__all__ = ["connector_for", "launched", "sweep"]

_log = logging.getLogger(__name__)
Summary = dict[str, dict[str, Any]]
Connect = Callable[[Placement], Ec2Gateway]


def _unlimited() -> float:
    return float("inf")


def connector_for(record: Record | None) -> Connect:
    """A Connector as the resource's own events would have (role session name:
    stack.logical); without a record, the provider's own (no role is assumed there)."""
    return Connector(record.owner if record is not None else None)


def _each(
    store: Store,
    work: Callable[[Record, Fleet, FleetGateway], Tally | None],
    wants: Callable[[Record, Fleet], bool] = lambda record, fleet: True,
) -> Summary:
    """``work`` on every stored fleet ``wants`` (asked before its role is assumed)."""
    summary: Summary = {}
    for record in store.records():
        try:
            spec = parse(record.properties, schema=FLEET)
            fleet = Fleet(spec, record.owner)
            if not wants(record, fleet):
                continue
            ec2 = FleetGateway.of(connector_for(record)(Placement.of(spec)))
            tally = work(record, fleet, ec2)
        except Exception as exc:  # noqa: BLE001 - one fleet's failure must not stop the others
            _log.warning("fleet not reconciled", extra={"fleet": record.key, "reason": str(exc)})
            summary[record.key] = {"error": str(exc)}
            continue
        if tally is not None:
            summary[record.key] = {
                "mirrored": tally.mirrored,
                "skipped": tally.skipped,
                "removed": tally.removed,
                "unfinished": tally.unfinished,
            }
            if tally.cross_zone is not None:  # a fleet with zonal targets
                summary[record.key]["cross_zone"] = tally.cross_zone
    _log.info("reconciled", extra={"fleets": summary})
    return summary


def sweep(
    store: Store,
    generation: str,
    budget: Budget = _unlimited,
    reads: SessionsRead | None = None,
) -> Summary:
    """Every stored fleet made true; fleets being deleted finished and forgotten. With
    ``reads`` (the audit's, in the same sweep), each fleet's sessions are found among every
    session of its placement as read once for all (no reads of its own)."""

    def work(record: Record, fleet: Fleet, ec2: FleetGateway) -> Tally:
        if reads is not None:
            ec2.known = reads.every(Placement.of(fleet.spec), ec2)
        if record.deleting:
            connect = connector_for(record)
            keep = held_by_successors(
                store.records(),
                fleet.owner,
                record.key,
                lambda s: FleetGateway.of(connect(Placement.of(s))),
            )
            tally = remove_all(ec2, fleet.owner, budget, keep=keep)
            if not tally.unfinished:
                store.remove(record.key)
            return tally
        return sync(ec2, fleet, generation=generation, budget=budget)

    summary = _each(store, work)
    store.prune()  # fleets removed an hour ago and more (see Store.remove)
    return summary


def _placed_at(spec: SessionSpec, where: tuple[str | None, str | None], home: str | None) -> bool:
    """Whether the fleet is placed in the event's (account, region); None: not said. A fleet
    without RoleArn is in ``home`` (the provider's account), without Region in its region."""
    account, region = where
    role = spec.text("RoleArn")
    placed_account = role.split(":")[4] if role else home
    placed_region = spec.text("Region") or os.environ.get("AWS_REGION")
    return (account is None or placed_account in (None, account)) and (
        region is None or placed_region in (None, region)
    )


def launched(
    store: Store,
    instance_id: str,
    where: tuple[str | None, str | None] = (None, None),
    home: str | None = None,
) -> Summary:
    """The instance's interfaces mirrored for every fleet that selects it.

    One launch brings two events (EC2's ``running``, Auto Scaling's ``EC2 Instance Launch
    Successful``), often handled at once. The generation is therefore the launch itself (the
    instance and its LaunchTime), not the event: both send the same ClientTokens, so EC2 makes
    one session where both create; a later launch (a stop and start) gets fresh tokens.
    """

    def wants(record: Record, fleet: Fleet) -> bool:
        # Not for a fleet being deleted, nor one placed elsewhere than the instance (then no
        # role is assumed and no EC2 call made for it).
        return not record.deleting and _placed_at(fleet.spec, where, home)

    def work(record: Record, fleet: Fleet, ec2: FleetGateway) -> Tally | None:
        found = ec2.instances(fleet.spec, instance_ids=[instance_id])
        instance = next((i for i in found if selects(fleet.spec, i)), None)
        if instance is None:
            return None
        enis = interfaces_of(instance, "all")
        generation = f"launch {instance_id} {instance.get('LaunchTime', '')}"
        return sync(ec2, fleet, generation=generation, only=enis)

    return _each(store, work, wants)
