"""Sessions in other accounts and regions through RoleArn / Region, end to end.

Real event JSON, the handler loaded from template.yaml, EC2 and STS answered by the embedded
moto (STS hands out credentials that land in the role's account), responses over HTTPS.
"""

from __future__ import annotations

import io
import json

import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from tests.conftest import props

MEMBER = "111111111111"
ROLE = f"arn:aws:iam::{MEMBER}:role/TrafficMirrorSessions"


def test_role_arn_creates_the_session_in_the_roles_account(
    stack: CustomResource, ec2: EmbeddedEc2, no_secrets_in_logs: io.StringIO
) -> None:
    fx = ec2.fixtures(account=MEMBER)
    response = stack.create(props(fx, RoleArn=ROLE, ExternalId="mirror-ops"))
    assert response["Status"] == "SUCCESS", response["Reason"]
    data = response["Data"]
    assert data["OwnerId"] == MEMBER
    assert data["Arn"] == f"arn:aws:ec2:us-east-1:{MEMBER}:traffic-mirror-session/{data['Id']}"
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions(account=MEMBER)] == [data["Id"]]
    assert ec2.sessions() == []  # nothing in the provider's own account
    assert ec2.requests("CreateTrafficMirrorSession")[-1]["@account"] == MEMBER
    (assumed,) = [r for r in ec2.requests("AssumeRole") if r["RoleArn"] == ROLE]
    assert assumed["ExternalId"] == "mirror-ops"
    stack_name = stack.stack_id.split("/")[1]
    assert assumed["RoleSessionName"] == f"{stack_name}.{stack.logical_id}"
    # The function's JSON log names the role and session name, with the request's IDs.
    logged = [json.loads(line) for line in no_secrets_in_logs.getvalue().splitlines()]
    (line,) = [entry for entry in logged if entry["message"] == "assumed role"]
    assert line["role_arn"] == ROLE and line["role_session_name"] == assumed["RoleSessionName"]
    assert line["LogicalResourceId"] == stack.logical_id and line["RequestId"]


def test_update_and_delete_use_the_same_role(stack: CustomResource, ec2: EmbeddedEc2) -> None:
    fx = ec2.fixtures(account=MEMBER)
    created = stack.create(props(fx, RoleArn=ROLE))
    updated = stack.update(props(fx, RoleArn=ROLE, Description="moved nothing"))
    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"]
    (session,) = ec2.sessions(account=MEMBER)
    assert session["Description"] == "moved nothing"
    assumed = len(ec2.requests("AssumeRole"))
    deleted = stack.delete()
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert len(ec2.requests("AssumeRole")) == assumed + 1
    assert ec2.sessions(account=MEMBER) == []


def test_region_creates_the_session_there(stack: CustomResource, ec2: EmbeddedEc2) -> None:
    fx = ec2.fixtures(region="eu-west-1")
    response = stack.create(props(fx, Region="eu-west-1"))
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert response["Data"]["Arn"].startswith("arn:aws:ec2:eu-west-1:123456789012:")
    assert len(ec2.sessions(region="eu-west-1")) == 1
    assert ec2.sessions() == []
    assert stack.delete()["Status"] == "SUCCESS"
    assert ec2.sessions(region="eu-west-1") == []


def test_changing_the_role_replaces_and_the_cleanup_deletes_in_the_old_account(
    stack: CustomResource, ec2: EmbeddedEc2
) -> None:
    home = ec2.fixtures()
    member = ec2.fixtures(account=MEMBER, region="eu-west-1")
    old_props = props(home)
    created = stack.create(old_props)
    moved = stack.update(props(member, RoleArn=ROLE, Region="eu-west-1"))
    assert moved["Status"] == "SUCCESS", moved["Reason"]
    assert moved["PhysicalResourceId"] != created["PhysicalResourceId"]
    assert moved["Data"]["OwnerId"] == MEMBER
    assert len(ec2.sessions()) == 1  # the old one stays until the cleanup
    # CloudFormation's cleanup: Delete of the old physical ID with the old properties.
    cleanup = stack.send(stack.make("Delete", old_props, physical_id=created["PhysicalResourceId"]))
    assert cleanup["Status"] == "SUCCESS", cleanup["Reason"]
    assert ec2.sessions() == []
    assert len(ec2.sessions(region="eu-west-1", account=MEMBER)) == 1


def test_rollback_of_a_failed_move_keeps_the_original_session(
    stack: CustomResource, ec2: EmbeddedEc2
) -> None:
    """The move to the member account fails; the rollback's "old" properties are the failed
    ones. The session is found where the rollback places it, so nothing is created."""
    home = ec2.fixtures()
    created = stack.create(props(home))
    ec2.inject("AssumeRole", "AccessDenied", status=403)
    failed = stack.update(props(home, RoleArn=ROLE))
    assert failed["Status"] == "FAILED"
    before = len(ec2.calls)
    rollback = stack.send(
        stack.make(
            "Update",
            props(home),
            physical_id=created["PhysicalResourceId"],
            old_props=props(home, RoleArn=ROLE),
        )
    )
    assert rollback["Status"] == "SUCCESS", rollback["Reason"]
    assert rollback["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert ec2.writes(before) == []
    assert len(ec2.sessions()) == 1


def test_refused_assume_role_fails_naming_the_role_and_creates_nothing(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ec2.inject(
        "AssumeRole",
        "AccessDenied",
        status=403,
        message=(
            "User: arn:aws:sts::123456789012:assumed-role/provider/fn is not authorized to "
            f"perform: sts:AssumeRole on resource: {ROLE}"
        ),
    )
    before = len(ec2.calls)
    response = stack.create(props(fx, RoleArn=ROLE))
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(
        f"assume role ({ROLE}): AccessDenied: refused sts:AssumeRole on {ROLE}. "
        "The role must trust the provider's role"
    )
    assert ec2.calls[before:] == ["AssumeRole"]


def test_dry_run_through_a_role_checks_in_the_member_account(
    stack: CustomResource, ec2: EmbeddedEc2
) -> None:
    fx = ec2.fixtures(account=MEMBER)
    response = stack.create(props(fx, RoleArn=ROLE, DryRun="true"))
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert ec2.requests("AssumeRole")[-1]["RoleArn"] == ROLE
    (checked,) = ec2.requests("CreateTrafficMirrorSession")
    assert checked["DryRun"] == "true"
    assert (checked["@account"], checked["@region"]) == (MEMBER, "us-east-1")
    assert ec2.sessions(account=MEMBER) == []


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"Region": "cn-north-1"}, "Region cn-north-1 is in partition aws-cn"),
        ({"Region": "zz-nowhere-1"}, "Region zz-nowhere-1 is in partition none known"),
        (
            {"RoleArn": "arn:aws-cn:iam::111111111111:role/TrafficMirrorSessions"},
            "is not in partition aws",
        ),
        ({"RoleArn": ROLE, "OwnerId": "222222222222"}, "is not the account of RoleArn"),
    ],
)
def test_placement_that_cannot_work_fails_before_any_call(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures, overrides: dict[str, str], fragment: str
) -> None:
    before = len(ec2.calls)
    response = stack.create(props(fx, **overrides))
    assert response["Status"] == "FAILED"
    assert fragment in response["Reason"]
    assert ec2.calls[before:] == []
