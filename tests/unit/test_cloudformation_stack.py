"""Whether the stack's update is rolling back, as CloudFormation answers DescribeStacks:
only UPDATE_ROLLBACK_IN_PROGRESS is; every other status, and every answer that is not a
status (refused, throttled, no such stack), is not. CloudFormation answered by botocore's
Stubber with its real shapes and error codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from traffic_mirror.cloudformation.stack import ROLLING_BACK, rolling_back

STACK = "arn:aws:cloudformation:eu-west-1:123456789012:stack/net/abc"


@pytest.fixture
def cfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def asked(client: Any) -> bool:
    regions: list[str | None] = []

    def client_for(region: str | None) -> Any:
        regions.append(region)
        return client

    answer = rolling_back(STACK, client_for)
    assert regions == ["eu-west-1"]  # asked in the stack's own region
    return answer


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ROLLING_BACK, True),
        ("UPDATE_IN_PROGRESS", False),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", False),
        ("UPDATE_ROLLBACK_FAILED", False),
        ("ROLLBACK_IN_PROGRESS", False),
        ("UPDATE_COMPLETE", False),
    ],
)
def test_only_an_update_rolling_back_is_a_rollback(
    cfn: tuple[Any, Stubber], status: str, expected: bool
) -> None:
    client, stub = cfn
    stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackId": STACK,
                    "StackName": "net",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": status,
                }
            ]
        },
        {"StackName": STACK},
    )
    assert asked(client) is expected


@pytest.mark.parametrize(
    ("code", "http"),
    [("AccessDenied", 403), ("Throttling", 400), ("ValidationError", 400)],
)
def test_a_stack_cloudformation_cannot_describe_is_not_rolling_back(
    cfn: tuple[Any, Stubber], code: str, http: int
) -> None:
    client, stub = cfn
    stub.add_client_error("describe_stacks", code, "no", http, {"StackName": STACK})
    assert asked(client) is False
