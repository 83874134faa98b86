"""Lambda entry for Custom::TrafficMirrorSession (template.yaml: CodeUri provider/, app.handler).

Thin wiring: Powertools (structured logs with the request's IDs, one metric per outcome,
tracing) around crhelper's dispatcher, which calls the resource functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from mirror_session import resource
from mirror_session.errors import ProviderError
from mirror_session.placement import Connector
from mirror_session.responder import Responder
from mirror_session.schema import InvalidProperties, show

SERVICE: Final = os.environ.get("POWERTOOLS_SERVICE_NAME", "traffic-mirror-provider")
NAMESPACE: Final = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TrafficMirrorProvider")
REQUEST_TYPES: Final = {"Create", "Update", "Delete"}

#: Tracing is on only when the template says so (Tracing=Enabled sets this to "false").
#: Constructing Powertools' Tracer imports aws_xray_sdk (~190 ms of cold start), so a
#: function with tracing off does not construct it.
TRACING: Final = os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false"

logger = Logger(service=SERVICE)
copy_config_to_registered_loggers(source_logger=logger, include={"mirror_session"})
Event = Mapping[str, Any]
LambdaHandler = Callable[[dict[str, Any], Any], None]


def _traced(handler: LambdaHandler) -> LambdaHandler:
    """Wrap the handler in an X-Ray segment when tracing is on; otherwise leave it alone."""
    if not TRACING:
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing is on

    traced: LambdaHandler = Tracer(service=SERVICE).capture_lambda_handler(
        handler, capture_response=False
    )
    return traced


Action = Callable[[Event, resource.Connect], resource.Outcome]


def _request_type(event: Mapping[str, Any]) -> str | None:
    """The event's RequestType when it is one CloudFormation sends, else None."""
    value = event.get("RequestType")
    return value if isinstance(value, str) and value in REQUEST_TYPES else None


def _record(event: Event, body: Mapping[str, Any]) -> None:
    """Log the outcome (never the URL or the raw event) and emit its metric."""
    status = str(body.get("Status"))
    request_type = _request_type(event) or "Invalid"  # bounded metric dimensions
    logger.info(
        "responded",
        extra={
            "status": status,
            "physical_id": body.get("PhysicalResourceId"),
            "reason": body.get("Reason") or None,
        },
    )
    with single_metric(
        name="Responses", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="RequestType", value=request_type)
        metric.add_dimension(name="Status", value=status)


helper = Responder(on_sent=_record)


def _run(action: Action, event: Event) -> str:
    """Run one lifecycle function; turn every failure into a readable Reason."""
    connect = Connector(event)
    try:
        outcome = action(event, connect)
    except InvalidProperties as exc:
        logger.warning("invalid properties", extra={"problems": exc.problems})
        raise ProviderError(f"Invalid properties: {exc}") from exc
    except ProviderError as exc:
        logger.warning("EC2 refused", extra={"reason": exc.reason, "code": exc.code})
        raise
    except Exception as exc:
        logger.exception("unexpected failure")
        raise ProviderError(
            f"Internal error ({type(exc).__name__}) in the provider; its log has the details "
            f"under RequestId {event.get('RequestId')}."
        ) from exc
    if outcome.created and helper.timed_out and connect.last is not None:
        # FAILED was already sent for this event: what we made now would be an orphan.
        logger.warning("undoing a session created after the timeout", extra={"id": outcome.created})
        connect.last.delete(outcome.created)
    helper.Data.update(outcome.data)
    return outcome.physical_id


@helper.create
def _create(event: Event, _context: Any) -> str:
    return _run(resource.create, event)


@helper.update
def _update(event: Event, _context: Any) -> str:
    return _run(resource.update, event)


@helper.delete
def _delete(event: Event, _context: Any) -> str:
    return _run(resource.delete, event)


def _envelope_problem(event: Mapping[str, Any]) -> str | None:
    """What makes an event unusable for crhelper, or None when it is well formed."""
    if _request_type(event) is None:
        got = show(event.get("RequestType"))
        return f"RequestType must be Create, Update or Delete, got {got}"
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        if not isinstance(event.get(key), str) or not event[key]:
            return f"{key} is missing or not a string"
    if _request_type(event) != "Create" and not isinstance(event.get("PhysicalResourceId"), str):
        return "PhysicalResourceId is missing or not a string"
    return None


@logger.inject_lambda_context(log_event=False, clear_state=True)
@_traced
def handler(event: dict[str, Any], context: Any) -> None:
    """The Lambda handler CloudFormation invokes (asynchronously) for each event."""
    if not isinstance(event, Mapping) or not str(event.get("ResponseURL", "")).startswith(
        "https://"
    ):
        logger.error("event has no https response URL: nobody to answer")
        return
    logger.append_keys(
        **{k: str(event.get(k, ""))[:256] for k in ("RequestId", "LogicalResourceId", "StackId")},
        RequestType=_request_type(event) or show(event.get("RequestType"), 16),
    )
    problem = _envelope_problem(event)
    if problem:
        logger.error("malformed event", extra={"problem": problem})
        helper.reject(event, f"Malformed request: {problem}.")
        return
    helper(event, context)
