"""Every failure answers once, in time, with a Reason a person can act on, and leaves EC2 as
CloudFormation believes it is. Real-EC2 errors that moto lacks are produced by the embedded
EC2's realism layer or injected at its HTTP layer with the exact codes."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.lambda_loader import Handler, LambdaContext
from local.harness.receiver import ResponseReceiver
from tests.conftest import iam_refusal, props
from traffic_mirror.errors import ADVICE, MAX_REASON
from traffic_mirror.sessions.schema import MAX_USER_TAGS


def assert_failed_create(response: dict[str, Any], *fragments: str) -> None:
    assert response["Status"] == "FAILED"
    reason = response["Reason"]
    assert 0 < len(reason) <= MAX_REASON, reason
    for fragment in fragments:
        assert fragment in reason, reason
    pid = response["PhysicalResourceId"]
    assert pid and not pid.startswith("tms-")  # a rollback Delete of it touches nothing


# --- Invalid input: FAILED naming property and value, and no EC2 call at all ------------


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"SessionNumber": "0"}, ["SessionNumber", "between 1 and 32766", "got 0"]),
        ({"TrafficMirrorFilterId": None}, ["TrafficMirrorFilterId is required"]),
        ({"DryRun": "yes"}, ['DryRun must be "true" or "false", got "yes"']),
        (
            {"RoleArn": "arn:aws:iam::1:role/x"},
            ["RoleArn must be an IAM role ARN", '"arn:aws:iam::1'],
        ),
        ({"Region": "us-east"}, ["Region must be a region name", '"us-east"']),
        ({"ExternalId": "abc"}, ["ExternalId is only used with RoleArn"]),
        ({"PacketLength": "9000"}, ["PacketLength", "got 9000"]),
        ({"VirtualNetworkId": "abc"}, ["VirtualNetworkId must be a whole number", '"abc"']),
        ({"Description": "d" * 300}, ["Description must be at most 255 characters"]),
        ({"Tags": [{"Key": "aws:x", "Value": "1"}]}, ["Tags[0].Key", '"aws:x"']),
        ({"SessionNumer": "1"}, ['unknown property "SessionNumer"', "SessionNumber"]),
        ({"NetworkInterfaceId": ["eni-1"]}, ["NetworkInterfaceId", '["eni-1"]']),
    ],
)
def test_invalid_create_fails_before_any_ec2_call(
    stack: CustomResource,
    ec2: EmbeddedEc2,
    fx: Fixtures,
    overrides: dict[str, Any],
    fragments: list[str],
) -> None:
    before = len(ec2.calls)
    response = stack.create(props(fx, **overrides))
    assert_failed_create(response, "Invalid properties", *fragments)
    assert ec2.calls[before:] == []


def test_invalid_update_changes_nothing(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    created = stack.create(props(fx, Description="keep"))
    before = len(ec2.calls)
    response = stack.update(props(fx, Description="new", PacketLength="-5"))
    assert response["Status"] == "FAILED"
    assert "PacketLength must be between 1 and 8500, got -5" in response["Reason"]
    assert response["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert ec2.calls[before:] == []


# --- EC2 errors: code, advice, message ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        (
            {"TrafficMirrorTargetId": "tmt-0000000000000000"},
            "InvalidTrafficMirrorTargetId.NotFound",
        ),
        (
            {"TrafficMirrorFilterId": "tmf-0000000000000000"},
            "InvalidTrafficMirrorFilterId.NotFound",
        ),
        ({"NetworkInterfaceId": "eni-0000000000000000"}, "InvalidNetworkInterfaceID.NotFound"),
    ],
)
def test_missing_prerequisites_are_named(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures, overrides: dict[str, Any], code: str
) -> None:
    response = stack.create(props(fx, **overrides))
    ((prop, missing),) = overrides.items()
    assert_failed_create(
        response,
        f"create traffic mirror session: {code}: {prop} {missing} was not found in this "
        "account, region us-east-1.",
        ADVICE[code],
    )
    assert ec2.sessions() == []


def test_fourth_session_on_an_interface_hits_the_limit(
    handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    for number in (1, 2, 3):
        ok = CustomResource(handler, receiver, logical_id=f"S{number}").create(
            props(fx, SessionNumber=str(number))
        )
        assert ok["Status"] == "SUCCESS"
    before = len(ec2.calls)
    fourth = CustomResource(handler, receiver, logical_id="S4").create(props(fx, SessionNumber="4"))
    assert_failed_create(fourth, f"mirror {fx.sources[0]}: it already sources 3", "EC2 maximum")
    assert ec2.writes(before) == []  # known from the interface read: no Create tried
    assert len(ec2.sessions()) == 3


def test_same_request_with_other_properties_converges_its_own_session(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """CloudFormation never changes a request's properties; if one arrives anyway, the
    resource's own session (found by its ownership tags) is made to match: still one."""
    event = stack.make("Create", props(fx))
    assert stack.send(event)["Status"] == "SUCCESS"
    altered = {**event, "ResourceProperties": {**event["ResourceProperties"], "SessionNumber": "2"}}
    stack.handler(altered, LambdaContext())
    second = stack.receiver.for_request(event["RequestId"])[1].body
    assert second["Status"] == "SUCCESS", second["Reason"]
    (session,) = ec2.sessions()
    assert session["SessionNumber"] == 2 and second["Data"]["SessionNumber"] == "2"


def test_client_token_mismatch_from_ec2_reads_as_advice(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ec2.inject(
        "CreateTrafficMirrorSession",
        "IdempotentParameterMismatch",
        message="The client token you have provided is associated with a resource that is "
        "already deleted or has different parameters.",
    )
    response = stack.create(props(fx))
    assert_failed_create(response, "IdempotentParameterMismatch", "update the stack again")
    assert ec2.sessions() == []


@pytest.mark.parametrize(
    "code",
    [
        "NetworkInterfaceNotSupported",
        "TrafficMirrorSourcesPerTargetLimitExceeded",
        "TrafficMirrorSessionsPerTargetLimitExceeded",
        "InterfaceInUseByTrafficMirrorTarget",
        "TrafficMirrorSessionLimitExceeded",
    ],
)
def test_refusals_explain_what_to_do(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures, code: str
) -> None:
    ec2.inject("CreateTrafficMirrorSession", code)
    response = stack.create(props(fx))
    assert_failed_create(response, code, ADVICE[code], "EC2 said: injected")
    assert ec2.sessions() == []


def test_refused_create_names_the_action_and_resource(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    target = f"arn:aws:ec2:us-east-1:123456789012:traffic-mirror-target/{fx.target_id}"
    ec2.inject(
        "CreateTrafficMirrorSession",
        "UnauthorizedOperation",
        status=403,
        message=iam_refusal("ec2:CreateTrafficMirrorSession", target),
    )
    response = stack.create(props(fx))
    assert_failed_create(
        response,
        "UnauthorizedOperation: refused ec2:CreateTrafficMirrorSession on " + target,
        "Check the role's policy",
    )
    assert "QQQQ" not in response["Reason"]  # the encoded blob helps nobody in the console
    assert ec2.sessions() == []


def test_refusal_without_iam_wording_names_the_attempted_action(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ec2.inject(
        "CreateTrafficMirrorSession",
        "UnauthorizedOperation",
        status=403,
        message="You are not authorized to perform this operation.",
    )
    response = stack.create(props(fx))
    assert_failed_create(response, "refused ec2:CreateTrafficMirrorSession.")


def test_refused_modify_keeps_the_physical_id(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    created = stack.create(props(fx))
    ec2.inject("ModifyTrafficMirrorSession", "UnauthorizedOperation", status=403)
    response = stack.update(props(fx, Description="x"))
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(
        f"modify traffic mirror session ({created['PhysicalResourceId']}): "
        "UnauthorizedOperation: refused ec2:ModifyTrafficMirrorSession."
    )
    assert response["PhysicalResourceId"] == created["PhysicalResourceId"]


def test_refused_delete_fails_so_cloudformation_retries(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    stack.create(props(fx))
    ec2.inject("DeleteTrafficMirrorSession", "UnauthorizedOperation", status=403)
    response = stack.delete()
    assert response["Status"] == "FAILED"
    assert "UnauthorizedOperation" in response["Reason"]
    assert len(ec2.sessions()) == 1  # never reported deleted while it still exists


# --- Throttling ----------------------------------------------------------------------------


def test_throttling_burst_is_ridden_out(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ec2.inject("CreateTrafficMirrorSession", "RequestLimitExceeded", status=503, times=4)
    before = len(ec2.calls)
    response = stack.create(props(fx))
    assert response["Status"] == "SUCCESS", response["Reason"]
    creates = [c for c in ec2.calls[before:] if c == "CreateTrafficMirrorSession"]
    assert creates == ["CreateTrafficMirrorSession"] * 5
    assert len(ec2.sessions()) == 1  # retries reuse the ClientToken: no duplicate


def test_endless_throttling_fails_with_advice(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ec2.inject("CreateTrafficMirrorSession", "RequestLimitExceeded", status=503, times=100)
    before = len(ec2.calls)
    response = stack.create(props(fx))
    attempts = ec2.calls[before:].count("CreateTrafficMirrorSession")
    ec2.clear_faults()
    assert_failed_create(response, "RequestLimitExceeded", "deploy fewer sessions at once")
    assert attempts >= 5


def test_server_errors_are_retried(stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures) -> None:
    ec2.inject("DeleteTrafficMirrorSession", "InternalError", status=500, times=2)
    stack.create(props(fx))
    assert stack.delete()["Status"] == "SUCCESS"
    assert ec2.sessions() == []


# --- Hangs and the timeout guard ----------------------------------------------------------


def test_hung_create_answers_failed_before_the_deadline_and_leaves_no_orphan(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ec2.inject("CreateTrafficMirrorSession", delay_s=3.0)
    event = stack.make("Create", props(fx))
    context = LambdaContext(timeout_s=2.0)
    deadline = time.monotonic() + 2.0
    stack.handler(event, context)  # returns once the late create has been undone

    answers = stack.receiver.for_request(event["RequestId"])
    assert len(answers) == 1  # the late success is not sent as a second response
    assert answers[0].arrived < deadline
    assert_failed_create(answers[0].body, "Create timed out")
    assert ec2.calls[-1] == "DeleteTrafficMirrorSession"
    assert ec2.sessions() == []  # created after FAILED was sent, then deleted


def test_hung_delete_answers_failed_and_keeps_the_id(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    stack.create(props(fx))
    ec2.inject("DeleteTrafficMirrorSession", delay_s=2.0)
    event = stack.make("Delete", stack.props, physical_id=stack.physical_id)
    stack.handler(event, LambdaContext(timeout_s=1.0))
    answers = stack.receiver.for_request(event["RequestId"])
    assert [a.body["Status"] for a in answers] == ["FAILED"]
    assert answers[0].body["PhysicalResourceId"] == stack.physical_id


# --- The response PUT -----------------------------------------------------------------------


def test_response_put_is_retried_until_accepted(
    stack: CustomResource, receiver: ResponseReceiver, fx: Fixtures
) -> None:
    failed_before = receiver.failed_puts
    receiver.fail_next(2)
    event = stack.make("Create", props(fx))
    stack.handler(event, LambdaContext())
    answers = receiver.for_request(event["RequestId"])
    assert receiver.failed_puts == failed_before + 2  # S3 said 500 twice, then accepted
    assert [a.body["Status"] for a in answers] == ["SUCCESS"]
    assert answers[0].headers.get("Content-Type", "") == ""  # the pre-signed URL needs this


# --- Malformed events ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"StackId": None}, "StackId is missing"),
        ({"RequestType": "Destroy"}, "RequestType must be Create, Update or Delete"),
        ({"LogicalResourceId": 5}, "LogicalResourceId is missing or not a string"),
        ({"RequestType": "Update"}, "PhysicalResourceId is missing"),
    ],
)
def test_malformed_event_gets_a_failed_answer(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures, change: dict[str, Any], fragment: str
) -> None:
    event = stack.make("Create", props(fx))
    event.update(change)
    event = {k: v for k, v in event.items() if v is not None}
    before = len(ec2.calls)
    stack.handler(event, LambdaContext())
    body = stack.receiver.wait_for(event["RequestId"])
    assert body["Status"] == "FAILED" and fragment in body["Reason"]
    assert body["PhysicalResourceId"]
    assert ec2.calls[before:] == []


@pytest.mark.parametrize("event", [None, [], "Create", {"RequestType": "Create"}])
def test_event_without_response_url_does_not_crash(handler: Handler, event: Any) -> None:
    assert handler(event, LambdaContext()) is None


def test_missing_old_properties_resend_everything(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    stack.create(props(fx))
    event = stack.make("Update", props(fx, Description="x"), physical_id=stack.physical_id)
    assert "OldResourceProperties" not in event
    assert stack.send(event)["Status"] == "SUCCESS"
    assert ec2.sessions()[0]["Description"] == "x"


# --- Size limits ----------------------------------------------------------------------------


def test_largest_valid_input_fits_the_response_limit(
    handler: Handler, receiver: ResponseReceiver, fx: Fixtures
) -> None:
    stack = CustomResource(handler, receiver, logical_id="L" * 255)
    tags = [{"Key": f"{i:02d}" + "é" * 126, "Value": "ü" * 256} for i in range(MAX_USER_TAGS)]
    event = stack.make("Create", props(fx, Description="ß" * 255, Tags=tags, PacketLength="8500"))
    response = stack.send(event)
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert [r.size <= 4096 for r in receiver.for_request(event["RequestId"])] == [True]


def test_huge_invalid_input_still_fits(
    stack: CustomResource, receiver: ResponseReceiver, fx: Fixtures
) -> None:
    tags = [{"Key": "k" * 5000, "Value": "v" * 5000}] * 500
    response = stack.create(
        props(
            fx, Description="€" * 100_000, Tags=tags, **{f"Bogus{i}": "x" * 999 for i in range(50)}
        )
    )
    assert_failed_create(response, "Invalid properties")
    assert receiver.received[-1].size <= 4096


# --- Logs and metrics -----------------------------------------------------------------------


def test_logs_are_json_with_ids_and_never_hold_the_url_or_event(
    stack: CustomResource,
    fx: Fixtures,
    no_secrets_in_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    json_log = no_secrets_in_logs
    stack.create(props(fx, Description="secret-ish description"))
    stack.update(props(fx, Description="other"))
    stack.create(props(fx, SessionNumber="0"))  # a failure path too
    stack.delete()
    out, err = capsys.readouterr()
    logs = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert "secret-ish description" not in out + err + json_log.getvalue()
    assert len(logs) >= 4 and all(
        {"RequestId", "LogicalResourceId", "StackId"} <= set(r) for r in logs
    ), logs
    metrics = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    outcomes = [(m["RequestType"], m["Status"]) for m in metrics]
    assert outcomes == [
        ("Create", "SUCCESS"),
        ("Update", "SUCCESS"),
        ("Create", "FAILED"),
        ("Delete", "SUCCESS"),
    ]
