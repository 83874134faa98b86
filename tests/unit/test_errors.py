"""Reasons: code, advice and EC2's message, within 256 characters, beginning kept."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from traffic_mirror.aws.ec2 import Ec2Gateway
from traffic_mirror.errors import (
    ADVICE,
    MAX_REASON,
    InterfaceFull,
    InterfaceNotFound,
    NotFound,
    NotSupported,
    ProviderError,
    QuotaReached,
    Refused,
    SessionGone,
    SessionRefused,
    Throttled,
    explain,
    failure,
    fit,
)
from traffic_mirror.sessions.converge import attributes


def client_error(code: str, message: str = "the message") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateTrafficMirrorSession")


def test_known_code_gets_code_advice_and_message() -> None:
    err = explain("create", "eni-1 #1", client_error("InvalidTrafficMirrorTargetId.NotFound"))
    assert err.reason.startswith(
        "create traffic mirror session (eni-1 #1): InvalidTrafficMirrorTargetId.NotFound. Check"
    )
    assert err.reason.endswith("EC2 said: the message")
    assert err.code == "InvalidTrafficMirrorTargetId.NotFound"


def test_every_advice_fits_with_a_long_message() -> None:
    for code in ADVICE:
        reason = explain("modify", "tms-0123456789abcdef0", client_error(code, "m" * 500)).reason
        assert len(reason) <= MAX_REASON
        assert code in reason and ADVICE[code][:30] in reason


def test_unknown_code_still_reads() -> None:
    reason = explain("delete", "tms-1", client_error("SomethingNew", "why")).reason
    assert reason == "delete traffic mirror session (tms-1): SomethingNew. EC2 said: why"


def test_network_failure_is_advice_too() -> None:
    reason = explain("create", "x", ReadTimeoutError(endpoint_url="https://ec2")).reason
    assert "no usable answer from EC2 (ReadTimeoutError)" in reason


def test_fit_escapes_what_does_not_print() -> None:
    assert fit("got \x1b[31m and \u200b and \x7f") == "got \\u001b[31m and \\u200b and \\u007f"


def test_fit_keeps_the_beginning() -> None:
    text = "Start " + "x" * 400 + " end"
    assert fit(text).startswith("Start ") and len(fit(text)) == MAX_REASON


def test_arn_is_partition_aware() -> None:
    session = {"TrafficMirrorSessionId": "tms-1", "OwnerId": "111122223333"}
    arns = {}
    for region in ("us-east-1", "cn-north-1", "us-gov-west-1"):
        sessions = Ec2Gateway(boto3.client("ec2", region_name=region))
        arns[region] = attributes(session, sessions.region, sessions.partition)["Arn"]  # type: ignore[arg-type]
    tail = "111122223333:traffic-mirror-session/tms-1"
    assert arns == {
        "us-east-1": f"arn:aws:ec2:us-east-1:{tail}",
        "cn-north-1": f"arn:aws-cn:ec2:cn-north-1:{tail}",
        "us-gov-west-1": f"arn:aws-us-gov:ec2:us-gov-west-1:{tail}",
    }


def test_a_missing_id_and_the_place_survive_the_cut() -> None:
    """The longest IDs EC2 allows, a role's account and a long region, and a long message
    from EC2: the Reason keeps property, ID and place; EC2's message is what is cut."""
    target = "tmt-" + "f" * 60
    where = "in account 111111111111, region ap-southeast-2"
    err = explain(
        "create",
        "eni-" + "0" * 60 + " #32766",
        client_error("InvalidTrafficMirrorTargetId.NotFound", f"The target '{target}' " * 20),
        where=where,
        ids={"TrafficMirrorTargetId": target, "NetworkInterfaceId": "eni-" + "0" * 60},
    )
    assert len(err.reason) <= MAX_REASON
    assert f"TrafficMirrorTargetId {target} was not found {where}." in err.reason
    assert err.reason.endswith("EC2 said: …")  # no room left: EC2's message is what goes


#: EC2's exact error codes (and two other services' NotFound) and the failure each is.
KIND_OF: dict[str, type[ProviderError]] = {
    "InvalidTrafficMirrorSessionId.NotFound": SessionGone,
    "InvalidTrafficMirrorTargetId.NotFound": NotFound,
    "InvalidTrafficMirrorFilterId.NotFound": NotFound,
    "InvalidNetworkInterfaceID.NotFound": InterfaceNotFound,
    "InvalidInstanceID.NotFound": NotFound,
    "InvalidVpcEndpointId.NotFound": NotFound,
    "LoadBalancerNotFound": NotFound,
    "UnauthorizedOperation": Refused,
    "AccessDenied": Refused,
    "RequestLimitExceeded": Throttled,
    "NetworkInterfaceNotSupported": NotSupported,
    "TrafficMirrorSessionsPerInterfaceLimitExceeded": InterfaceFull,
    "InterfaceInUseByTrafficMirrorTarget": SessionRefused,
    "InvalidParameterValue": SessionRefused,
    "IdempotentParameterMismatch": SessionRefused,
    "TrafficMirrorSessionLimitExceeded": QuotaReached,
    "TrafficMirrorSourcesPerTargetLimitExceeded": QuotaReached,
    "TrafficMirrorSessionsPerTargetLimitExceeded": QuotaReached,
    # Not a kind the provider branches on: the base class, its Reason as for any code.
    "MissingParameter": ProviderError,
    "InvalidNetworkInterfaceId.NotFound": ProviderError,  # not EC2's spelling (capital ID)
    "SomethingNew": ProviderError,
}


@pytest.mark.parametrize(("code", "kind"), list(KIND_OF.items()))
def test_each_ec2_error_code_becomes_the_failure_of_its_kind(
    code: str, kind: type[ProviderError]
) -> None:
    err = explain("create", "eni-1 #1", client_error(code), ids={"NetworkInterfaceId": "eni-1"})
    assert type(err) is kind
    assert (err.code, err.source) == (code, "EC2")
    assert err.reason.startswith("create traffic mirror session")


def test_the_kind_of_failure_leaves_the_reason_as_it_was() -> None:
    code = "TrafficMirrorSessionsPerInterfaceLimitExceeded"
    err = explain("create", "eni-1 #1", client_error(code, "full"))
    assert isinstance(err, InterfaceFull) and isinstance(err, SessionRefused)
    assert err.reason == (
        f"create traffic mirror session (eni-1 #1): {code}. {ADVICE[code]} EC2 said: full"
    )


def test_a_missing_interface_is_both_not_found_and_a_refusal_a_fleet_skips() -> None:
    err = failure("gone", "InvalidNetworkInterfaceID.NotFound", "EC2")
    assert isinstance(err, NotFound) and isinstance(err, SessionRefused)
    assert not isinstance(err, SessionGone)


def test_a_failure_without_a_code_is_the_base_kind_with_the_provider_as_source() -> None:
    err = failure("a check of the provider's own")
    assert type(err) is ProviderError and (err.code, err.source) == (None, "provider")


def test_no_usable_answer_is_the_base_kind_without_a_code() -> None:
    err = explain("create", "x", ReadTimeoutError(endpoint_url="https://ec2"))
    assert type(err) is ProviderError and err.code is None and err.source == "EC2"
