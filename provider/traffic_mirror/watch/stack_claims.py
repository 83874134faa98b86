"""Does the stack resource a session names still claim it? CloudFormation, asked read-only.

A session the provider made carries its owner (stack ID and logical ID, see
:mod:`traffic_mirror.ownership`). Once per stack, in the stack's own region,
``DescribeStacks`` and then ``ListStackResources`` (all pages) answer what each of its
resources' physical ID is now:

- the stack is gone (``ValidationError`` "does not exist", or ``DELETE_COMPLETE``), the
  template no longer has the resource, or it is ``DELETE_COMPLETE``: :data:`GONE`;
- the stack or the resource is in an operation (``*_IN_PROGRESS``, which includes the cleanup
  after an update, when a replaced session is about to be deleted), its update's rollback
  failed (``continue-update-rollback`` may claim the older session again), or CloudFormation
  cannot be asked (a stack of another account, which it would call nonexistent; no
  permission; throttled): :data:`UNSURE`;
- otherwise its physical ID (a session ID, or a fleet's ``fleet-…``).

Example::

    claims = Claims()
    claims.of(Owner(stack_arn, "WebMirror"))   # 'tms-0abc…', GONE or UNSURE
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError

from traffic_mirror.aws.ec2 import CLIENT_CONFIG, TRANSPORT_ERRORS
from traffic_mirror.cloudformation.stack import cloudformation_client, stack_region
from traffic_mirror.errors import error_code
from traffic_mirror.ownership import Owner

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
else:
    CloudFormationClient = Any

__all__ = ["GONE", "UNSURE", "Claims"]

GONE: Final = "gone"
UNSURE: Final = "unsure"


class Claims:
    """What each stack's resources hold now; every stack is asked once (until forgotten)."""

    def __init__(self, client_for: Any = cloudformation_client, account: Any = None) -> None:
        self._client_for = client_for
        self._account = account or _caller_account
        self._stacks: dict[str, dict[str, str] | str] = {}

    def forget(self, stack_id: str | None = None) -> None:
        """Ask again (about one stack, or all) from now on, after a fresh read of sessions."""
        if stack_id is None:
            self._stacks.clear()
        else:
            self._stacks.pop(stack_id, None)

    def of(self, owner: Owner) -> str:
        """The owner's physical ID now, :data:`GONE` or :data:`UNSURE`."""
        if owner.stack_id not in self._stacks:
            self._stacks[owner.stack_id] = self._ask(owner.stack_id)
        resources = self._stacks[owner.stack_id]
        if isinstance(resources, str):
            return resources
        return resources.get(owner.logical_id, GONE)

    def _ask(self, stack_id: str) -> dict[str, str] | str:
        parts = stack_id.split(":")
        mine = self._account()
        if len(parts) > 4 and mine and parts[4] != mine:
            return UNSURE  # CloudFormation would call another account's stack nonexistent
        client: CloudFormationClient = self._client_for(stack_region(stack_id))
        try:
            stacks = client.describe_stacks(StackName=stack_id)["Stacks"]
            status = str(stacks[0].get("StackStatus", "")) if stacks else "DELETE_COMPLETE"
            if status == "DELETE_COMPLETE":
                return GONE
            if status.endswith("_IN_PROGRESS") or status == "UPDATE_ROLLBACK_FAILED":
                return UNSURE
            pages = client.get_paginator("list_stack_resources").paginate(StackName=stack_id)
            found = [r for page in pages for r in page["StackResourceSummaries"]]
        except ClientError as exc:
            gone = error_code(exc) == "ValidationError" and "does not exist" in str(exc)
            return GONE if gone else UNSURE
        except TRANSPORT_ERRORS:
            return UNSURE
        return {str(r["LogicalResourceId"]): _claim(r) for r in found}


@functools.cache
def _caller_account() -> str | None:
    """This function's account (STS GetCallerIdentity, which needs no permission)."""
    try:
        return str(boto3.client("sts", config=CLIENT_CONFIG).get_caller_identity()["Account"])
    except (ClientError, *TRANSPORT_ERRORS):
        return None


def _claim(resource: Any) -> str:
    status = str(resource.get("ResourceStatus", ""))
    if status == "DELETE_COMPLETE":
        return GONE
    physical = resource.get("PhysicalResourceId")
    if status.endswith("_IN_PROGRESS") or not physical:
        return UNSURE
    return str(physical)
