"""traffic_mirror.aws.connect: the account and region a session is managed in, STS AssumeRole's
exact request, and the refusals made before any call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber

from tests.unit import aws_stubs
from traffic_mirror.aws import connect
from traffic_mirror.aws.connect import Connector, Placement, role_session_name
from traffic_mirror.errors import ProviderError
from traffic_mirror.ownership import Owner

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_sts import STSClient

OWNER = Owner("arn:aws:cloudformation:us-east-1:111122223333:stack/net/x", "WebMirror")
ROLE = "arn:aws:iam::444455556666:role/TrafficMirrorMember"


@pytest.fixture
def clients() -> tuple[EC2Client, STSClient]:
    return aws_stubs.client("ec2"), aws_stubs.client("sts")


@pytest.fixture
def home(clients: tuple[EC2Client, STSClient], monkeypatch: pytest.MonkeyPatch) -> EC2Client:
    client = clients[0]
    monkeypatch.setattr(connect, "ec2_client", lambda region=None: client)
    return client


@pytest.fixture
def sts(clients: tuple[EC2Client, STSClient], monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = clients[1]
    monkeypatch.setattr(connect, "sts_client", lambda: client)
    with aws_stubs.stubbed(client) as stubber:  # a call nothing was scripted for fails
        yield stubber


CREDENTIALS: dict[str, Any] = {
    "Credentials": {
        "AccessKeyId": "ASIAIOSFODNN7EXAMPLE",
        "SecretAccessKey": "secret",
        "SessionToken": "token",
        "Expiration": datetime(2030, 1, 1, tzinfo=UTC),
    }
}


def test_without_role_or_region_the_providers_own_client_is_used_and_sts_not_called(
    home: EC2Client, sts: Stubber
) -> None:
    gateway = Connector(OWNER)(Placement())
    assert gateway.client is home
    assert gateway.account is None
    assert gateway.where == "in this account, region us-east-1"


def test_a_role_is_assumed_for_fifteen_minutes_under_the_resources_name(
    home: EC2Client, sts: Stubber
) -> None:
    sts.add_response(
        "assume_role",
        CREDENTIALS,
        {
            "RoleArn": ROLE,
            "RoleSessionName": "net.WebMirror",
            "DurationSeconds": 900,
            "ExternalId": "ext-1",
        },
    )
    gateway = Connector(OWNER)(Placement(ROLE, "ext-1", "eu-west-1"))
    assert gateway.account == "444455556666"
    assert gateway.region == "eu-west-1"
    assert gateway.credentials["aws_session_token"] == "token"
    assert gateway.where == "in account 444455556666, region eu-west-1"


def test_no_external_id_is_sent_when_none_was_given(home: EC2Client, sts: Stubber) -> None:
    sts.add_response(
        "assume_role",
        CREDENTIALS,
        {"RoleArn": ROLE, "RoleSessionName": "reconciler.sweep", "DurationSeconds": 900},
    )
    assert Connector(None)(Placement(ROLE)).region == "us-east-1"


def test_a_refused_assume_role_keeps_stss_code_and_names_the_role(
    home: EC2Client, sts: Stubber
) -> None:
    sts.add_client_error(
        "assume_role",
        "AccessDenied",
        f"User: x is not authorized to perform: sts:AssumeRole on resource: {ROLE}",
        403,
    )
    with pytest.raises(ProviderError) as info:
        Connector(OWNER)(Placement(ROLE))
    assert (info.value.code, info.value.source) == ("AccessDenied", "STS")
    assert info.value.reason.startswith(f"assume role ({ROLE}): AccessDenied: refused sts:")


def test_a_region_of_another_partition_is_refused_before_any_call(
    home: EC2Client, sts: Stubber
) -> None:
    with pytest.raises(ProviderError, match=r"Region cn-north-1 is in partition aws-cn"):
        Connector(OWNER)(Placement(ROLE, region="cn-north-1"))


def test_a_region_no_partition_knows_is_refused_as_such(home: EC2Client, sts: Stubber) -> None:
    with pytest.raises(ProviderError, match="in partition none known"):
        Connector(OWNER)(Placement(region="moon-east-1"))


def test_a_role_of_another_partition_is_refused_before_assuming_it(
    home: EC2Client, sts: Stubber
) -> None:
    with pytest.raises(ProviderError, match="is not in partition aws"):
        Connector(OWNER)(Placement("arn:aws-us-gov:iam::444455556666:role/r"))


def test_session_names_keep_to_stss_characters_and_length() -> None:
    odd = Owner("arn:aws:cloudformation:us-east-1:1:stack/net/x", "Web Mirror/1")
    assert role_session_name(odd) == "net.Web-Mirror-1"
    long_a = role_session_name(Owner(OWNER.stack_id, "A" * 80 + "a"))
    long_b = role_session_name(Owner(OWNER.stack_id, "A" * 80 + "b"))
    assert len(long_a) == len(long_b) == 64
    assert long_a != long_b  # the hash tells resources sharing a long prefix apart
    assert long_a.startswith("net.AAAA")
