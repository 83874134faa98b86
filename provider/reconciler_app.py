"""Lambda entry of the fleet reconciler (template.yaml: ReconcilerFunction).

EventBridge events in: ``EC2 Instance State-change Notification`` (source ``aws.ec2``) with
state ``running``, or Auto Scaling's ``EC2 Instance Launch Successful`` (source
``aws.autoscaling``), mirrors the instance for the fleets that select it; ``Scheduled Event``
audits every single session for drift and every marked session for orphans, then sweeps every
fleet, and emits the findings as EMF metrics (``DriftedSessions`` by kind,
``OrphanedSessions``, ``AuditErrors``; dimensions ``ProviderStack`` and ``Kind`` only, never an
ID), whatever failed. The event
is read here, once; anything else is logged and ignored. Returns the summary.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from traffic_mirror.aws.store import Store
from traffic_mirror.fleets.gateway import SessionsRead
from traffic_mirror.fleets.reconcile import launched, sweep
from traffic_mirror.ownership import managed_by
from traffic_mirror.watch.audit import Audit, watch
from traffic_mirror.watch.drift import KINDS, SHARED
from traffic_mirror.wiring import NAMESPACE, logger, remaining

STATE_CHANGE = ("aws.ec2", "EC2 Instance State-change Notification")
LAUNCH_SUCCESSFUL = ("aws.autoscaling", "EC2 Instance Launch Successful")
SCHEDULED = "Scheduled Event"


def _launched_instance(event: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    """(instance ID, what else the event says) of a launch event, else None."""
    kind = (event.get("source"), event.get("detail-type"))
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return None
    if kind == STATE_CHANGE and detail.get("state") == "running":
        return str(detail.get("instance-id", "")), {}
    if kind == LAUNCH_SUCCESSFUL:
        group = str(detail.get("AutoScalingGroupName", ""))[:255]
        return str(detail.get("EC2InstanceId", "")), {"group": group}
    return None


def _text(value: object) -> str | None:
    """A string field of the event, or None when absent or not a string."""
    return value[:64] if isinstance(value, str) and value else None


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reconcile after an instance launch, or sweep on the schedule."""
    if not isinstance(event, Mapping):
        logger.info("event ignored", extra={"detail_type": type(event).__name__})
        return {"ignored": type(event).__name__}
    kind = event.get("detail-type")
    if (launch := _launched_instance(event)) is not None:
        instance, about = launch
        logger.info("instance launched", extra={"instance": instance[:32], **about})
        # Matched only against fleets placed in the event's account and region: EC2 and Auto
        # Scaling events come from the account and region the instance is in.
        where = (_text(event.get("account")), _text(event.get("region")))
        arn = str(getattr(context, "invoked_function_arn", "")).split(":")
        mirrored = launched(Store(), instance, where, arn[4] if len(arn) > 4 else None)
        return {"launched": instance, **about, "fleets": mirrored}
    if kind == SCHEDULED:
        # The generation of any session made now: the sweep's time (a redelivery reuses it).
        generation = str(event.get("time") or time.time())

        # The audit first: reads, bounded, and its metrics must go out whatever the fleets do.
        # One read of every session per account and region, shared by the audit and fleets.
        reads = SessionsRead()
        try:
            found = watch(Store("sessions"), reads=reads)
        except Exception as exc:  # noqa: BLE001 - counted and alarmed, never a crash
            logger.exception("sessions not audited")
            found = Audit(errors=[str(exc)])
        fleets: dict[str, Any] = {}
        try:
            fleets = sweep(Store(), generation, remaining(context), reads)
        except Exception as exc:  # noqa: BLE001 - the fleets' store unreadable, say
            logger.exception("fleets not swept")
            found.errors.append(f"fleets not swept: {exc}")
        finally:
            count(found)
        return {"swept": generation, "fleets": fleets, "sessions": summary(found)}
    logger.info("event ignored", extra={"detail_type": str(kind)[:64]})
    return {"ignored": str(kind)[:64]}


def count(found: Audit) -> None:
    """One metric value per kind of finding, zeros included (an alarm then sees data), and
    the audit's errors (what went unaudited)."""
    names = {"orphaned": "OrphanedSessions", "error": "AuditErrors", SHARED: "SharedSessionNumbers"}
    for kind in (*KINDS, "error"):
        value = (
            len(found.errors)
            if kind == "error"
            else len({f.session_id for f in found.findings if f.kind == kind})
        )
        name = names.get(kind, "DriftedSessions")
        with single_metric(
            name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE
        ) as metric:
            metric.add_dimension(name="ProviderStack", value=managed_by())
            metric.add_dimension(name="Kind", value=kind)


#: Findings listed in the handler's answer at most (the counts by kind cover them all).
LISTED = 100


def summary(found: Audit) -> dict[str, Any]:
    """The audit in the handler's answer: counts, findings by kind, and the first
    :data:`LISTED` findings, each as its kind, session, detail (the field or tag, or why) and
    action; what else a finding says is in its log line."""
    return {
        "checked": found.checked,
        "seen": found.seen,
        "restored": found.restored,
        "dropped": found.dropped,
        "deferred": found.deferred,
        "errors": len(found.errors),
        "findings": {k: sum(f.kind == k for f in found.findings) for k in KINDS},
        "found": [
            {
                "kind": f.kind,
                "session": f.session_id,
                "detail": f.name or f.detail,
                "action": f.action,
            }
            for f in found.findings[:LISTED]
        ],
    }
