"""Reasons: code, advice and EC2's message, within 256 characters, beginning kept."""

from __future__ import annotations

import boto3
from botocore.exceptions import ClientError, ReadTimeoutError

from traffic_mirror.aws.ec2 import Ec2Gateway
from traffic_mirror.errors import ADVICE, MAX_REASON, explain, fit
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
