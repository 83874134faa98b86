"""Whether the stack's update is rolling back, as CloudFormation answers DescribeStacks:
only UPDATE_ROLLBACK_IN_PROGRESS is; every other status, and every answer that is not a
status (refused, throttled, no such stack), is not. CloudFormation answered by botocore's
Stubber with its real shapes and error codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from traffic_mirror.cloudformation.stack import ROLLING_BACK, rolling_back, unless_rolling_back
from traffic_mirror.errors import DryRunIgnored, ProviderError

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
        ("IMPORT_ROLLBACK_IN_PROGRESS", False),
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


def test_a_stack_cloudformation_cannot_reach_or_no_longer_lists_is_not_rolling_back(
    cfn: tuple[Any, Stubber],
) -> None:
    client, stub = cfn
    stub.add_response("describe_stacks", {"Stacks": []}, {"StackName": STACK})
    assert asked(client) is False

    class Down:  # no connection to CloudFormation's endpoint
        def describe_stacks(self, **_: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://cloudformation.eu-west-1.x")

    assert rolling_back(STACK, lambda region: Down()) is False


def refused() -> str:
    raise ProviderError("use SessionNumber 1 on eni-1: tms-2 already uses it")


def test_a_check_that_passes_never_asks_cloudformation() -> None:
    asked_about: list[str] = []

    def asked(stack_id: str) -> bool:
        asked_about.append(stack_id)
        return True

    answer = unless_rolling_back(STACK, lambda: "checked", lambda: "unchecked", asked=asked)
    assert (answer, asked_about) == ("checked", [])


def test_a_failed_check_is_answered_unchecked_only_while_the_stack_rolls_back() -> None:
    asked_about: list[str] = []

    def asked_yes(stack_id: str) -> bool:
        asked_about.append(stack_id)
        return True

    assert unless_rolling_back(STACK, refused, lambda: "unchecked", asked=asked_yes) == "unchecked"
    assert asked_about == [STACK]
    with pytest.raises(ProviderError, match="already uses it"):
        unless_rolling_back(STACK, refused, lambda: "unchecked", asked=lambda s: False)


def test_ec2_performing_a_dry_run_call_fails_even_in_a_rollback() -> None:
    def performed() -> str:
        raise DryRunIgnored("EC2 did not honour DryRun and performed the call")

    with pytest.raises(DryRunIgnored):
        unless_rolling_back(STACK, performed, lambda: "unchecked", asked=lambda s: True)
