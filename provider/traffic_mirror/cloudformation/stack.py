"""The stack that sent an event, as CloudFormation answers read-only: its region (from its
ARN), a client for it, and whether its update is rolling back.

A session's or a fleet's dry-run Update asks only once its check has failed
(:func:`unless_rolling_back`): during the stack's update rollback that check would fail the
rollback and strand the stack in ``UPDATE_ROLLBACK_FAILED``, though a dry run changes
nothing (docs/sessions.md, DryRun).
The drift audit (:mod:`traffic_mirror.watch.stack_claims`) asks which session each stack
resource holds.

Example::

    rolling_back("arn:aws:cloudformation:eu-west-1:111111111111:stack/net/abc")   # False
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import boto3
from botocore.exceptions import ClientError

from traffic_mirror.aws.ec2 import CLIENT_CONFIG, TRANSPORT_ERRORS
from traffic_mirror.errors import DryRunIgnored, ProviderError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
else:
    CloudFormationClient = Any

__all__ = [
    "ROLLING_BACK",
    "cloudformation_client",
    "rolling_back",
    "stack_region",
    "unless_rolling_back",
]

T = TypeVar("T")
_log = logging.getLogger(__name__)

#: The stack status while CloudFormation rolls an update back (and again while
#: ``continue-update-rollback`` finishes one that failed): every event then is a rollback.
ROLLING_BACK: Final = "UPDATE_ROLLBACK_IN_PROGRESS"


def stack_region(stack_id: str) -> str | None:
    """The region in a stack ARN (``arn:aws:cloudformation:REGION:ACCOUNT:stack/…``).

    >>> stack_region("arn:aws:cloudformation:eu-west-1:111111111111:stack/net/abc")
    'eu-west-1'
    >>> stack_region("net") is None
    True
    """
    parts = stack_id.split(":")
    return parts[3] if len(parts) > 5 and parts[2] == "cloudformation" and parts[3] else None


@functools.cache
def cloudformation_client(region: str | None) -> CloudFormationClient:
    """A CloudFormation client for the stack's region, once per container."""
    return boto3.client("cloudformation", region_name=region, config=CLIENT_CONFIG)


def rolling_back(
    stack_id: str, client_for: Callable[[str | None], Any] = cloudformation_client
) -> bool:
    """Whether the stack's update is rolling back now (``DescribeStacks``). False whenever
    CloudFormation cannot say (no permission, throttled, another account's stack): the
    caller then answers as it would outside a rollback."""
    client: CloudFormationClient = client_for(stack_region(stack_id))
    try:
        stacks = client.describe_stacks(StackName=stack_id)["Stacks"]
    except (ClientError, *TRANSPORT_ERRORS):
        return False
    return bool(stacks) and stacks[0].get("StackStatus") == ROLLING_BACK


def unless_rolling_back(
    stack_id: str,
    check: Callable[[], T],
    unchecked: Callable[[], T],
    asked: Callable[[str], bool] = rolling_back,
) -> T:
    """A dry run's ``check()``; where it fails while the stack's update rolls back, the
    ``unchecked()`` answer instead: the rollback restores a dry run, which changes nothing,
    and a failed rollback strands the stack. Outside a rollback, or when CloudFormation
    cannot say, the failure stands; so does EC2 performing a DryRun call.

    >>> def refused() -> str:
    ...     raise ProviderError("use SessionNumber 1 on eni-1: tms-2 already uses it")
    >>> unless_rolling_back("stack", refused, lambda: "unchecked", asked=lambda s: True)
    'unchecked'
    >>> unless_rolling_back("stack", refused, lambda: "unchecked", asked=lambda s: False)
    Traceback (most recent call last):
    traffic_mirror.errors.ProviderError: use SessionNumber 1 on eni-1: tms-2 already uses it
    """
    try:
        return check()
    except DryRunIgnored:
        raise
    except ProviderError as exc:
        if not asked(stack_id):
            raise
        _log.warning("dry run not checked: the stack rolls back to it", extra={"reason": str(exc)})
    return unchecked()
