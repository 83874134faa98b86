"""DryRun, end to end: preflights that ask EC2 whether the deploy would be allowed and
change nothing, then the real deploy, and the Deletes that follow.

Real event JSON, the handler loaded from template.yaml, EC2 answered by the embedded moto,
responses over HTTPS.
"""

from __future__ import annotations

import pytest

from local.harness.ec2sim import WRITE_ACTIONS, EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.lambda_loader import Handler
from local.harness.receiver import ResponseReceiver
from local.harness.stacks import STACKS
from tests.conftest import iam_refusal, props
from tests.integration.test_placement import MEMBER, ROLE
from traffic_mirror.ownership import LOGICAL_KEY, MANAGED_BY_KEY, NUMBER_KEY, STACK_KEY

RESERVED_KEYS = {MANAGED_BY_KEY, STACK_KEY, LOGICAL_KEY, NUMBER_KEY}


def test_dry_run_create_checks_with_ec2_and_creates_nothing(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    response = stack.create(props(fx, DryRun="true", SessionNumber=None))
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert response["PhysicalResourceId"].startswith("dryrun-")
    data = response["Data"]
    assert data["DryRun"] == "true"
    assert data["Id"] == response["PhysicalResourceId"]
    assert data["SessionNumber"] == "1" and data["NetworkInterfaceId"] == fx.sources[0]
    assert data["Arn"] == data["OwnerId"] == data["VirtualNetworkId"] == ""  # EC2 assigns these
    (checked,) = ec2.requests("CreateTrafficMirrorSession")
    assert checked["DryRun"] == "true"
    assert checked["TagSpecification.1.Tag.1.Key"] == MANAGED_BY_KEY  # the tag condition too
    assert ec2.sessions() == []


def test_dry_run_refused_names_the_action_and_resource(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    target = f"arn:aws:ec2:us-east-1:123456789012:traffic-mirror-target/{fx.target_id}"
    message = iam_refusal("ec2:CreateTrafficMirrorSession", target)
    ec2.inject("CreateTrafficMirrorSession", "UnauthorizedOperation", status=403, message=message)
    response = stack.create(props(fx, DryRun="true"))
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(
        f"dry-run create traffic mirror session ({fx.sources[0]} #1): UnauthorizedOperation: "
        f"refused ec2:CreateTrafficMirrorSession on {target}."
    )
    assert ec2.sessions() == []


def test_deleting_a_dry_run_makes_no_call(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    stack.create(props(fx, DryRun="true"))
    before = len(ec2.calls)
    deleted = stack.delete()
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert ec2.calls[before:] == []


def test_dry_run_then_real_deploy_creates_and_cleans_up(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    dry = stack.create(props(fx, DryRun="true"))
    real = stack.update(props(fx))  # the same template without DryRun
    assert real["Status"] == "SUCCESS", real["Reason"]
    assert real["PhysicalResourceId"].startswith("tms-")
    assert real["Data"]["DryRun"] == "false"
    before = len(ec2.calls)
    stack.delete(dry["PhysicalResourceId"])  # CloudFormation's cleanup of the old ID
    assert ec2.calls[before:] == []
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [real["PhysicalResourceId"]]


def test_dry_run_update_of_a_real_session_changes_nothing_and_keeps_its_id(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    created = stack.create(props(fx, PacketLength="128", Tags=[{"Key": "a", "Value": "1"}]))
    wanted = props(
        fx,
        DryRun="true",
        TrafficMirrorFilterId=fx.filter_ids[1],
        Tags=[{"Key": "b", "Value": "2"}],
    )
    checked = stack.update(wanted)
    assert checked["Status"] == "SUCCESS", checked["Reason"]
    # Same physical ID: a new one would make CloudFormation delete the real session.
    assert checked["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert checked["Data"]["DryRun"] == "true"
    assert checked["Data"]["TrafficMirrorFilterId"] == fx.filter_ids[0]  # as it still is
    assert ec2.requests("ModifyTrafficMirrorSession")[-1]["DryRun"] == "true"
    assert ec2.requests("CreateTags")[-1]["DryRun"] == "true"
    assert ec2.requests("DeleteTags")[-1]["DryRun"] == "true"
    (session,) = ec2.sessions()
    assert session["TrafficMirrorFilterId"] == fx.filter_ids[0]
    assert session["PacketLength"] == 128

    # The real deploy: the "old" properties are the dry run's, which never reached EC2, so
    # the provider diffs against EC2 and applies everything.
    real = stack.update({**wanted, "DryRun": "false"})
    assert real["Status"] == "SUCCESS", real["Reason"]
    assert real["PhysicalResourceId"] == created["PhysicalResourceId"]
    (session,) = ec2.sessions()
    assert session["TrafficMirrorFilterId"] == fx.filter_ids[1]
    assert {t["Key"] for t in session["Tags"]} == {"b", *RESERVED_KEYS}


def test_dry_run_of_a_replacing_update_checks_the_create_and_keeps_the_session(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    created = stack.create(props(fx))
    checked = stack.update(props(fx, DryRun="true", NetworkInterfaceId=fx.sources[1]))
    assert checked["Status"] == "SUCCESS", checked["Reason"]
    assert checked["PhysicalResourceId"] == created["PhysicalResourceId"]
    create = ec2.requests("CreateTrafficMirrorSession")[-1]
    assert create["DryRun"] == "true" and create["NetworkInterfaceId"] == fx.sources[1]
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [created["PhysicalResourceId"]]


def test_delete_of_a_real_session_deletes_even_with_dry_run_set(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """The last Update was a dry run, so the Delete's properties say DryRun: the session is
    still real and must not be orphaned."""
    stack.create(props(fx))
    stack.update(props(fx, DryRun="true"))
    deleted = stack.delete()
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert ec2.sessions() == []


def test_the_rollback_to_a_dry_run_update_succeeds_when_its_number_was_taken_since(
    handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """A stack whose last Update of A was a dry run declaring number 1 (free then) must be
    able to roll a later failed Update of A back to it after B took number 1: a rollback that
    fails leaves the stack in UPDATE_ROLLBACK_FAILED, and the dry run changed nothing."""
    a = CustomResource(handler, receiver, logical_id="MirrorA")
    b = CustomResource(handler, receiver, logical_id="MirrorB", stack_id=a.stack_id)
    assert a.create(props(fx, SessionNumber="5"))["Status"] == "SUCCESS"
    dry = props(fx, SessionNumber="1", DryRun="true")
    assert a.update(dry)["Status"] == "SUCCESS"  # number 1 is free: the check passes
    assert "DescribeStacks" not in ec2.calls  # a check that passes never asks CloudFormation
    assert b.create(props(fx, SessionNumber=None))["Data"]["SessionNumber"] == "1"
    bad = props(fx, TrafficMirrorFilterId="tmf-0000000000000000")
    assert a.update(bad)["Status"] == "FAILED"
    mark = len(ec2.calls)
    rollback = a.rollback(bad)
    assert rollback["Status"] == "SUCCESS", rollback["Reason"]
    assert rollback["PhysicalResourceId"] == a.physical_id
    assert rollback["Data"]["DryRun"] == "true" and rollback["Data"]["SessionNumber"] == "5"
    sent = ec2.requests_since(mark)
    assert [r for r in sent if r["Action"] in WRITE_ACTIONS and r.get("DryRun") != "true"] == []
    assert "DescribeStacks" in ec2.calls[mark:]  # asked only once the check had failed
    held = {s["TrafficMirrorSessionId"]: s["SessionNumber"] for s in ec2.sessions()}
    assert held == {a.physical_id: 5, b.physical_id: 1}


@pytest.mark.parametrize("cloudformation", ["at rest", "DescribeStacks refused"])
def test_a_dry_run_update_to_a_taken_number_fails_outside_a_rollback(
    handler: Handler,
    receiver: ResponseReceiver,
    ec2: EmbeddedEc2,
    fx: Fixtures,
    cloudformation: str,
) -> None:
    """The preflight keeps its worth: outside a rollback (or when CloudFormation cannot say
    whether the stack rolls back), a dry run to a number another session holds fails and
    names that session."""
    a = CustomResource(handler, receiver, logical_id="MirrorA")
    b = CustomResource(handler, receiver, logical_id="MirrorB", stack_id=a.stack_id)
    assert a.create(props(fx, SessionNumber="5"))["Status"] == "SUCCESS"
    assert b.create(props(fx, SessionNumber="1"))["Status"] == "SUCCESS"
    if cloudformation == "DescribeStacks refused":
        ec2.inject("DescribeStacks", "AccessDenied", status=403, times=1)
        with STACKS.rolling_back(a.stack_id):
            answer = a.update(props(fx, SessionNumber="1", DryRun="true"))
    else:
        answer = a.update(props(fx, SessionNumber="1", DryRun="true"))
    assert answer["Status"] == "FAILED"
    assert f"use SessionNumber 1 on {fx.sources[0]}: {b.physical_id} " in answer["Reason"]
    assert "DescribeStacks" in ec2.calls


def test_the_rollback_to_a_dry_run_succeeds_when_its_role_is_refused_since(
    stack: CustomResource, ec2: EmbeddedEc2
) -> None:
    """A dry run is how a new account is checked; the rollback to it must not depend on the
    role still being assumable: the session keeps its ID and nothing is written."""
    member = ec2.fixtures(account=MEMBER)
    assert stack.create(props(member, RoleArn=ROLE))["Status"] == "SUCCESS"
    assert stack.update(props(member, RoleArn=ROLE, DryRun="true"))["Status"] == "SUCCESS"
    bad = props(member, RoleArn=ROLE, TrafficMirrorFilterId="tmf-0000000000000000")
    assert stack.update(bad)["Status"] == "FAILED"
    ec2.inject("AssumeRole", "AccessDenied", status=403, times=2)  # the check, then the read
    mark = len(ec2.calls)
    rollback = stack.rollback(bad)
    assert rollback["Status"] == "SUCCESS", rollback["Reason"]
    assert rollback["PhysicalResourceId"] == stack.physical_id
    assert rollback["Data"]["DryRun"] == "true"
    assert rollback["Data"]["Id"] == stack.physical_id  # from the properties: no read
    assert ec2.calls[mark:].count("AssumeRole") == 2  # both refused
    assert ec2.writes(mark) == [] and len(ec2.sessions(account=MEMBER)) == 1
