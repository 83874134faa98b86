"""An adoption the provider's role may not make (AllowAdoption left false): EC2 refuses the
CreateTags that marks the session, and the Reason says to set AllowAdoption."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from tests.conftest import iam_refusal
from tests.integration.test_adoption import declared, native_session
from traffic_mirror.errors import ADOPTION_ADVICE, MAX_REASON, explain


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_adoption_refused_by_iam_names_allow_adoption(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures, dry_run: bool
) -> None:
    session = native_session(ec2, fx)
    sid = session["TrafficMirrorSessionId"]
    arn = f"arn:aws:ec2:us-east-1:123456789012:traffic-mirror-session/{sid}"
    ec2.inject("CreateTags", "UnauthorizedOperation", message=iam_refusal("ec2:CreateTags", arn))
    wanted = declared(fx, session, **({"DryRun": "true"} if dry_run else {}))
    answer = stack.create(wanted)
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    verb = "dry-run tag" if dry_run else "tag"
    assert reason == (
        f"{verb} traffic mirror session ({sid}): UnauthorizedOperation: refused ec2:CreateTags "
        f"on it. {ADOPTION_ADVICE}"
    )
    assert "AllowAdoption=true" in reason and len(reason) <= MAX_REASON
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [sid]  # left as it was


def test_other_refusals_keep_the_general_advice() -> None:
    message = iam_refusal(
        "ec2:CreateTrafficMirrorSession",
        "arn:aws:ec2:us-east-1:123456789012:traffic-mirror-target/tmt-0123456789abcdef0",
    )
    err = ClientError(
        {"Error": {"Code": "UnauthorizedOperation", "Message": message}},
        "CreateTrafficMirrorSession",
    )
    reason = explain("create", "eni-1 #1", err).reason
    assert "AllowAdoption" not in reason and "Check the role's policy" in reason
