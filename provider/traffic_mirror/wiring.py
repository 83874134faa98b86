"""What the three Lambda entries share (app, fleet_app, reconciler_app): the service's name and
metric namespace, one structured logger, tracing when the template turns it on, and the time
budget an invocation has left. It loads neither crhelper nor the lifecycles: the reconciler's
cold start pays only for what it runs.

Example::

    budget = remaining(context)   # seconds left in this invocation, as a function
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

__all__ = ["NAMESPACE", "SERVICE", "TRACING", "LambdaHandler", "logger", "remaining", "traced"]

SERVICE: Final = os.environ.get("POWERTOOLS_SERVICE_NAME", "traffic-mirror-provider")
NAMESPACE: Final = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TrafficMirrorProvider")

#: Tracing is on only when the template says so (Tracing=Enabled sets this to "false").
#: Constructing Powertools' Tracer imports aws_xray_sdk (~190 ms of cold start), so a
#: function with tracing off does not construct it.
TRACING: Final = os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false"

logger = Logger(service=SERVICE)
copy_config_to_registered_loggers(source_logger=logger, include={"traffic_mirror"})
LambdaHandler = Callable[[dict[str, Any], Any], Any]


def traced(handler: LambdaHandler) -> LambdaHandler:
    """Wrap the handler in an X-Ray segment when tracing is on; otherwise leave it alone."""
    if not TRACING:
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing is on

    wrapped: LambdaHandler = Tracer(service=SERVICE).capture_lambda_handler(
        handler, capture_response=False
    )
    return wrapped


def remaining(context: Any) -> Callable[[], float]:
    """Seconds left in the invocation ``context`` belongs to, asked each time (unbounded
    outside Lambda: a context without ``get_remaining_time_in_millis``).

    >>> remaining(None)()
    inf
    """
    ask = getattr(context, "get_remaining_time_in_millis", None)
    if ask is None:
        return lambda: float("inf")
    return lambda: float(ask()) / 1000.0
