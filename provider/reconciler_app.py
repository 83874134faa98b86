"""Lambda entry of the fleet reconciler (template.yaml: ReconcilerFunction).

EventBridge events in: ``EC2 Instance State-change Notification`` with state ``running``
mirrors the instance for the fleets that select it; ``Scheduled Event`` sweeps every fleet,
then audits every single session for drift and every marked session for orphans, and emits
the findings as EMF metrics (``DriftedSessions`` by kind, ``OrphanedSessions``; dimensions
``ProviderStack`` and ``Kind`` only, never an ID). The event is read here, once; anything
else is logged and ignored. Returns the summary.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from app import NAMESPACE, logger
from mirror_session.audit import Audit
from mirror_session.drift import KINDS
from mirror_session.identity import managed_by
from mirror_session.reconcile import launched, sweep, watch
from mirror_session.store import Store

STATE_CHANGE = "EC2 Instance State-change Notification"
SCHEDULED = "Scheduled Event"


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reconcile after an instance launch, or sweep on the schedule."""
    kind = event.get("detail-type") if isinstance(event, Mapping) else None
    detail = event.get("detail") if isinstance(event, Mapping) else None
    # The generation of any session made now: the event's time (a redelivery reuses it).
    generation = str(event.get("time") or time.time()) if isinstance(event, Mapping) else ""
    if kind == STATE_CHANGE and isinstance(detail, Mapping) and detail.get("state") == "running":
        instance = str(detail.get("instance-id", ""))
        return {"launched": instance, "fleets": launched(Store(), instance, generation)}
    if kind == SCHEDULED:

        def remaining() -> float:
            return float(context.get_remaining_time_in_millis()) / 1000.0

        fleets = sweep(Store(), generation, remaining)
        found = watch(Store("sessions"))
        count(found)
        return {"swept": generation, "fleets": fleets, "sessions": summary(found)}
    logger.info("event ignored", extra={"detail_type": str(kind)[:64]})
    return {"ignored": str(kind)[:64]}


def count(found: Audit) -> None:
    """One metric value per kind of finding, zeros included (an alarm then sees data)."""
    for kind in KINDS:
        name = "OrphanedSessions" if kind == "orphaned" else "DriftedSessions"
        value = len({f.session_id for f in found.findings if f.kind == kind})
        with single_metric(
            name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE
        ) as metric:
            metric.add_dimension(name="ProviderStack", value=managed_by())
            metric.add_dimension(name="Kind", value=kind)


def summary(found: Audit) -> dict[str, Any]:
    """The audit in the handler's answer: counts, and findings by kind."""
    return {
        "checked": found.checked,
        "seen": found.seen,
        "restored": found.restored,
        "dropped": found.dropped,
        "errors": len(found.errors),
        "findings": {k: sum(f.kind == k for f in found.findings) for k in KINDS},
    }
