"""Lambda entry for Custom::TrafficMirrorFleet (template.yaml: FleetFunction, fleet_app.handler).

The same wiring as ``app`` (one parse, Powertools logs and metrics, the crhelper adapter, one
place where exceptions become a failed answer), with the fleet's lifecycle and the event's time
budget: a pass stops starting work when the Lambda time runs low and answers with what it
did; the reconciler finishes the rest (docs/fleet.md, Large fleets).
"""

from __future__ import annotations

from typing import Any

from app import FLEET_TYPE, logger, record, run, serve, traced
from mirror_session.crhelper_adapter import Responder
from mirror_session.fleet_resource import fleet_actions
from mirror_session.request import Outcome, Request

_contexts: list[Any] = []


def _remaining() -> float:
    """Seconds left in the current invocation (unbounded outside Lambda)."""
    if not _contexts or not hasattr(_contexts[-1], "get_remaining_time_in_millis"):
        return float("inf")
    return float(_contexts[-1].get_remaining_time_in_millis()) / 1000.0


ACTIONS = fleet_actions(_remaining)


def handle(request: Request) -> Outcome:
    """The fleet lifecycle for the request."""
    return run(ACTIONS, request)


helper = Responder(handle=handle, on_sent=record)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@traced
def handler(event: dict[str, Any], context: Any) -> None:
    """The Lambda handler CloudFormation invokes (asynchronously) for each fleet event."""
    _contexts[:] = [context]
    serve(helper, event, context, serves=FLEET_TYPE)
