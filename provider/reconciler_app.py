"""Lambda entry of the fleet reconciler (template.yaml: ReconcilerFunction).

EventBridge events in: ``EC2 Instance State-change Notification`` with state ``running``
mirrors the instance for the fleets that select it; ``Scheduled Event`` sweeps every fleet.
The event is read here, once; anything else is logged and ignored. Returns the summary.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from app import logger
from mirror_session.reconcile import launched, sweep
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

        return {"swept": generation, "fleets": sweep(Store(), generation, remaining)}
    logger.info("event ignored", extra={"detail_type": str(kind)[:64]})
    return {"ignored": str(kind)[:64]}
