"""Who claims a session, as CloudFormation answers: each answer mapped to a physical ID,
GONE or UNSURE. CloudFormation answered by botocore's Stubber with its real shapes and
error codes (the embedded endpoint's stand-in covers the integration tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from traffic_mirror.ownership import Owner
from traffic_mirror.watch.stack_claims import GONE, UNSURE, Claims

ACCOUNT = "123456789012"
STACK = f"arn:aws:cloudformation:eu-west-1:{ACCOUNT}:stack/net/abc"
OWNER = Owner(STACK, "WebMirror")


@pytest.fixture
def cfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "cloudformation",
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def claims(client: Any) -> Claims:
    return Claims(client_for=lambda region: client, account=lambda: ACCOUNT)


def stack(stub: Stubber, status: str) -> None:
    stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "net",
                    "StackId": STACK,
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": status,
                }
            ]
        },
        {"StackName": STACK},
    )


def resources(stub: Stubber, *found: tuple[str, str, str]) -> None:
    summaries = [
        {
            "LogicalResourceId": logical,
            "PhysicalResourceId": physical,
            "ResourceType": "Custom::TrafficMirrorSession",
            "LastUpdatedTimestamp": "2026-01-01T00:00:00Z",
            "ResourceStatus": status,
        }
        for logical, physical, status in found
    ]
    stub.add_response(
        "list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": STACK}
    )


def test_a_live_resource_claims_its_physical_id_and_the_stack_is_asked_once(cfn: Any) -> None:
    client, stub = cfn
    stack(stub, "UPDATE_COMPLETE")
    resources(
        stub, ("WebMirror", "tms-1", "UPDATE_COMPLETE"), ("Other", "tms-2", "CREATE_COMPLETE")
    )
    found = claims(client)
    assert found.of(OWNER) == "tms-1"
    assert found.of(Owner(STACK, "Other")) == "tms-2"  # no second call (the Stubber would fail)
    assert found.of(Owner(STACK, "Removed")) == GONE


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("DELETE_COMPLETE", GONE),
        ("UPDATE_IN_PROGRESS", UNSURE),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", UNSURE),
        ("DELETE_IN_PROGRESS", UNSURE),
        ("UPDATE_ROLLBACK_FAILED", UNSURE),
    ],
)
def test_a_stack_gone_or_in_an_operation_answers_without_listing_resources(
    cfn: Any, status: str, expected: str
) -> None:
    client, stub = cfn
    stack(stub, status)
    assert claims(client).of(OWNER) == expected


@pytest.mark.parametrize(
    ("status", "physical", "expected"),
    [
        ("DELETE_COMPLETE", "tms-1", GONE),
        ("CREATE_IN_PROGRESS", "tms-1", UNSURE),
        ("UPDATE_IN_PROGRESS", "tms-1", UNSURE),
        ("DELETE_FAILED", "tms-1", "tms-1"),
    ],
)
def test_each_resource_status_maps_to_a_claim(
    cfn: Any, status: str, physical: str, expected: str
) -> None:
    client, stub = cfn
    stack(stub, "UPDATE_COMPLETE")
    resources(stub, ("WebMirror", physical, status))
    assert claims(client).of(OWNER) == expected


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("ValidationError", f"Stack with id {STACK} does not exist", GONE),
        ("ValidationError", "1 validation error detected", UNSURE),
        (
            "AccessDenied",
            "User is not authorized to perform: cloudformation:DescribeStacks",
            UNSURE,
        ),
        ("Throttling", "Rate exceeded", UNSURE),
    ],
)
def test_cloudformation_errors_are_gone_only_when_it_says_the_stack_does_not_exist(
    cfn: Any, code: str, message: str, expected: str
) -> None:
    client, stub = cfn
    stub.add_client_error("describe_stacks", code, message, http_status_code=400)
    assert claims(client).of(OWNER) == expected


def test_a_stack_of_another_account_is_unsure_and_cloudformation_is_not_asked(cfn: Any) -> None:
    client, _ = cfn  # no response queued: any call would fail the test
    theirs = Owner("arn:aws:cloudformation:eu-west-1:999999999999:stack/net/abc", "WebMirror")
    assert claims(client).of(theirs) == UNSURE


def test_forget_asks_again(cfn: Any) -> None:
    client, stub = cfn
    stack(stub, "UPDATE_IN_PROGRESS")
    stack(stub, "UPDATE_COMPLETE")
    resources(stub, ("WebMirror", "tms-1", "UPDATE_COMPLETE"))
    found = claims(client)
    assert found.of(OWNER) == UNSURE
    found.forget()
    assert found.of(OWNER) == "tms-1"
