"""The stack that sent an event, as CloudFormation answers read-only: its region (from its
ARN), a client for it, and whether its update is rolling back.

The session lifecycle asks only when a dry-run Update's check has failed: during the stack's
update rollback that check would fail the rollback and strand the stack in
``UPDATE_ROLLBACK_FAILED``, though a dry run changes nothing (docs/sessions.md, DryRun).
The drift audit (:mod:`traffic_mirror.watch.stack_claims`) asks which session each stack
resource holds.

Example::

    rolling_back("arn:aws:cloudformation:eu-west-1:111111111111:stack/net/abc")   # False
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError

from traffic_mirror.aws.ec2 import CLIENT_CONFIG, TRANSPORT_ERRORS

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
else:
    CloudFormationClient = Any

__all__ = ["ROLLING_BACK", "cloudformation_client", "rolling_back", "stack_region"]

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
