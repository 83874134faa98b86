"""Clients for unit tests of AWS-facing modules: real botocore clients (so request parameters
and error codes are checked against the service models) that never reach the network, each
answered by botocore's Stubber. Built once per process: a client costs a few hundred ms."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.stub import Stubber

REGION = "us-east-1"


@functools.cache
def client(service: str, region: str = REGION) -> Any:
    """A client of ``service`` with dummy keys; its calls are answered only by a Stubber."""
    session = boto3.session.Session(
        region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return session.client(service)  # type: ignore[call-overload]


@contextmanager
def stubbed(stub_client: Any) -> Iterator[Stubber]:
    """The Stubber for ``stub_client``: a call nothing was scripted for fails, and so does a
    scripted call never made."""
    with Stubber(stub_client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def listed(*sessions: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """A DescribeTrafficMirrorSessions answer: these session IDs, with these tags."""
    return {
        "TrafficMirrorSessions": [
            {
                "TrafficMirrorSessionId": sid,
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            }
            for sid, tags in sessions
        ]
    }
