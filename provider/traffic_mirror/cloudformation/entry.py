"""The one wiring of both custom resource functions (app: Custom::TrafficMirrorSession,
fleet_app: Custom::TrafficMirrorFleet).

The event is parsed once into a typed request; Powertools logs (structured, with the
request's IDs), one metric per outcome and tracing wrap the crhelper adapter, which calls the
lifecycle function registered for the request type. :func:`run` is the one place where
exceptions become a failed answer.

Example::

    handler = custom_resource_handler(lambda context: ACTIONS, serves=SESSION_TYPE)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from traffic_mirror.aws.connect import Connector
from traffic_mirror.cloudformation.crhelper_adapter import Responder
from traffic_mirror.cloudformation.request import REQUEST_TYPES, MalformedEvent, Outcome, Request
from traffic_mirror.errors import ProviderError
from traffic_mirror.ownership import Owner, managed_by
from traffic_mirror.sessions.validation import InvalidProperties, show
from traffic_mirror.wiring import NAMESPACE, LambdaHandler, logger, traced

__all__ = [
    "EXPORTS",
    "FLEET_TYPE",
    "SESSION_TYPE",
    "Actions",
    "custom_resource_handler",
    "record",
    "run",
    "serve",
    "wrong_function",
]

SESSION_TYPE: Final = "Custom::TrafficMirrorSession"
FLEET_TYPE: Final = "Custom::TrafficMirrorFleet"
#: Each resource type's function, named by the provider stack's export of its ServiceToken
#: (template.yaml's Outputs: ``<stack>-ServiceToken``, ``<stack>-FleetServiceToken``).
EXPORTS: Final = {SESSION_TYPE: "ServiceToken", FLEET_TYPE: "FleetServiceToken"}

Actions = Mapping[str, Callable[[Request, Connector], Outcome]]


def _request_type(event: Mapping[str, Any]) -> str | None:
    """The event's RequestType when it is one CloudFormation sends, else None."""
    value = event.get("RequestType")
    return value if isinstance(value, str) and value in REQUEST_TYPES else None


def record(event: Mapping[str, Any], body: Mapping[str, Any]) -> None:
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


def run(actions: Actions, request: Request) -> Outcome:
    """Run the lifecycle function for the request; turn every failure into a readable Reason."""
    try:
        return actions[request.request_type](request, Connector(Owner.of(request)))
    except InvalidProperties as exc:
        logger.warning("invalid properties", extra={"problems": exc.problems})
        raise ProviderError(f"Invalid properties: {exc}") from exc
    except ProviderError as exc:
        logger.warning(f"refused by {exc.source}", extra={"reason": exc.reason, "code": exc.code})
        raise
    except Exception as exc:
        logger.exception("unexpected failure")
        raise ProviderError(
            f"Internal error ({type(exc).__name__}) in the provider; its log has the details "
            f"under RequestId {request.request_id}."
        ) from exc


def wrong_function(request: Request, serves: str) -> str | None:
    """The Reason for a Create or Update of the provider's other resource type (its template
    names the other ServiceToken export), else None. A Delete is handled as ever: a FAILED
    Delete would hold up the rollback of the very Create this refused."""
    kind = request.resource_type
    if kind == serves or kind not in EXPORTS or request.request_type == "Delete":
        return None
    return (
        f"this event is for {kind}: its ServiceToken is the {managed_by()}-{EXPORTS[kind]} "
        f"export; this function serves {serves} ({managed_by()}-{EXPORTS[serves]})."
    )


def serve(responder: Responder, event: dict[str, Any], context: Any, serves: str) -> None:
    """Parse the event once, then have ``responder`` answer it (or reject it: malformed, or
    for the other resource type than the one this function ``serves``)."""
    if not isinstance(event, Mapping) or not str(event.get("ResponseURL", "")).startswith(
        "https://"
    ):
        logger.error("event has no https response URL: nobody to answer")
        return
    logger.append_keys(
        **{k: str(event.get(k, ""))[:256] for k in ("RequestId", "LogicalResourceId", "StackId")},
        RequestType=_request_type(event) or show(event.get("RequestType"), 16),
    )
    try:
        request = Request.parse(event)
    except MalformedEvent as exc:
        logger.error("malformed event", extra={"problem": str(exc)})
        responder.reject(event, f"Malformed request: {exc}.")
        return
    if (reason := wrong_function(request, serves)) is not None:
        logger.error(
            "event for the other function",
            extra={"resource_type": request.resource_type, "serves": serves},
        )
        responder.reject(event, reason)
        return
    responder.answer(request, event, context)


def custom_resource_handler(actions_for: Callable[[Any], Actions], serves: str) -> LambdaHandler:
    """The Lambda handler of a function that ``serves`` one custom resource type: each event
    answered once through the crhelper adapter, with the lifecycle ``actions_for`` gives for
    the invocation's context (the fleet's binds the time left)."""
    contexts: list[Any] = [None]

    def handle(request: Request) -> Outcome:
        return run(actions_for(contexts[0]), request)

    responder = Responder(handle=handle, on_sent=record)

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    @traced
    def handler(event: dict[str, Any], context: Any) -> None:
        """The Lambda handler CloudFormation invokes (asynchronously) for each event."""
        contexts[0] = context
        serve(responder, event, context, serves)

    return handler
