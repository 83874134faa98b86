"""Beyond the native resource (issue 7), end to end: allocated session numbers, DryRun
preflights, and sessions in other accounts and regions through RoleArn / Region.

Real event JSON, the handler loaded from template.yaml, EC2 and STS answered by the embedded
moto (STS hands out credentials that land in the role's account), responses over HTTPS.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.stub import Stubber

from local.ec2sim import EmbeddedEc2, Fixtures
from local.events import Stack
from mirror_session.ec2 import Ec2Gateway
from mirror_session.identity import LOGICAL_KEY, MANAGED_BY_KEY, NUMBER_KEY, STACK_KEY
from mirror_session.plan import first_free_number
from tests.conftest import iam_refusal, props

MEMBER = "111111111111"
ROLE = f"arn:aws:iam::{MEMBER}:role/TrafficMirrorSessions"

RESERVED_KEYS = {MANAGED_BY_KEY, STACK_KEY, LOGICAL_KEY, NUMBER_KEY}


def place(ec2: EmbeddedEc2, fx: Fixtures, numbers: list[int]) -> list[str]:
    """Sessions made outside the stack on the first source interface, by number."""
    client = ec2.client()
    return [
        client.create_traffic_mirror_session(
            NetworkInterfaceId=fx.sources[0],
            TrafficMirrorTargetId=fx.target_id,
            TrafficMirrorFilterId=fx.filter_ids[1],
            SessionNumber=n,
        )["TrafficMirrorSession"]["TrafficMirrorSessionId"]
        for n in numbers
    ]


# --- SessionNumber allocated when omitted ---------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "allocated"), [([], 1), ([1], 2), ([1, 3], 2), ([2, 3], 1), ([1, 2], 3)]
)
def test_omitted_number_is_the_lowest_free_on_the_interface(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures, existing: list[int], allocated: int
) -> None:
    place(ec2, fx, existing)
    client = ec2.client()  # a session on another interface does not count
    client.create_traffic_mirror_session(
        NetworkInterfaceId=fx.sources[1],
        TrafficMirrorTargetId=fx.target_id,
        TrafficMirrorFilterId=fx.filter_ids[0],
        SessionNumber=1 if allocated != 1 else 2,
    )
    before = len(ec2.calls)
    response = stack.create(props(fx, SessionNumber=None))
    assert response["Status"] == "SUCCESS", response["Reason"]
    # Read the interface, create, read it again for rivals created at the same moment.
    assert ec2.calls[before:] == [
        "DescribeTrafficMirrorSessions",
        "CreateTrafficMirrorSession",
        "DescribeTrafficMirrorSessions",
    ]
    described = ec2.requests("DescribeTrafficMirrorSessions")[-2]
    assert described["Filter.1.Name"] == "network-interface-id"
    assert described["Filter.1.Value.1"] == fx.sources[0]
    assert response["Data"]["SessionNumber"] == str(allocated)
    made = [s for s in ec2.sessions() if s["TrafficMirrorSessionId"] == response["Data"]["Id"]]
    assert made[0]["SessionNumber"] == allocated


def test_full_interface_names_its_sessions_and_creates_nothing(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ids = place(ec2, fx, [1, 2, 5])
    before = len(ec2.calls)
    response = stack.create(props(fx, SessionNumber=None))
    assert response["Status"] == "FAILED"
    reason = response["Reason"]
    assert reason.startswith(f"allocate a SessionNumber on {fx.sources[0]}: it already sources 3")
    assert "the EC2 maximum" in reason and "Remove one, or mirror another interface" in reason
    for sid, n in zip(ids, [1, 2, 5], strict=True):
        assert f"{sid} (#{n})" in reason
    assert ec2.writes(before) == []
    assert len(ec2.sessions()) == 3


def test_dry_run_on_a_full_interface_reports_it_too(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    place(ec2, fx, [1, 2, 3])
    before = len(ec2.calls)
    response = stack.create(props(fx, SessionNumber=None, DryRun="true"))
    assert response["Status"] == "FAILED"
    assert "it already sources 3 sessions, the EC2 maximum" in response["Reason"]
    assert ec2.calls[before:] == ["DescribeTrafficMirrorSessions"]


def test_update_that_still_omits_the_number_keeps_it_and_writes_nothing(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    place(ec2, fx, [1])
    created = stack.create(props(fx, SessionNumber=None))
    assert created["Data"]["SessionNumber"] == "2"
    place(ec2, fx, [3])  # the interface changed meanwhile; the number must not move
    before = len(ec2.calls)
    updated = stack.update(props(fx, SessionNumber=None))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert ec2.writes(before) == []
    assert updated["Data"]["SessionNumber"] == "2"


def test_update_from_allocated_to_explicit_and_back(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    created = stack.create(props(fx, SessionNumber=None))
    assert created["Data"]["SessionNumber"] == "1"
    explicit = stack.update(props(fx, SessionNumber="7"))
    assert explicit["Data"]["SessionNumber"] == "7"
    before = len(ec2.calls)
    omitted = stack.update(props(fx, SessionNumber=None, Description="x"))
    assert omitted["Data"]["SessionNumber"] == "7"  # omitted means keep, not re-allocate
    modify = ec2.requests("ModifyTrafficMirrorSession")[-1]
    assert "SessionNumber" not in modify and ec2.writes(before) == ["ModifyTrafficMirrorSession"]


def test_replacement_allocates_on_the_new_interface(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    stack.create(props(fx, SessionNumber=None))
    ec2.client().create_traffic_mirror_session(
        NetworkInterfaceId=fx.sources[1],
        TrafficMirrorTargetId=fx.target_id,
        TrafficMirrorFilterId=fx.filter_ids[0],
        SessionNumber=1,
    )
    moved = stack.update(props(fx, SessionNumber=None, NetworkInterfaceId=fx.sources[1]))
    assert moved["Status"] == "SUCCESS", moved["Reason"]
    assert moved["Data"]["NetworkInterfaceId"] == fx.sources[1]
    assert moved["Data"]["SessionNumber"] == "2"


def test_redelivered_create_with_an_allocated_number_finds_its_session(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """Lambda retried the event after the first attempt's session was made: the interface
    now shows that session, so a naive allocation would pick the next number and make a
    duplicate. The session's ownership tags say it is this resource's: it is answered again."""
    body = stack.make("Create", props(fx, SessionNumber=None))
    first = stack.send(body)
    again = stack.send(body)
    assert first["Status"] == again["Status"] == "SUCCESS", again["Reason"]
    assert again["PhysicalResourceId"] == first["PhysicalResourceId"]
    assert len(ec2.sessions()) == 1
    numbers = [r.get("SessionNumber") for r in ec2.requests("CreateTrafficMirrorSession")]
    assert numbers == ["1"]  # the second delivery found its own session: no Create


def test_redelivery_onto_a_now_full_interface_still_finds_its_session(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    place(ec2, fx, [1, 2])
    body = stack.make("Create", props(fx, SessionNumber=None))
    first = stack.send(body)
    assert first["Data"]["SessionNumber"] == "3"
    again = stack.send(body)
    assert again["Status"] == "SUCCESS", again["Reason"]
    assert again["PhysicalResourceId"] == first["PhysicalResourceId"]
    assert len(ec2.sessions()) == 3


def test_allocation_reads_every_page(ec2: EmbeddedEc2) -> None:
    """moto does not paginate; botocore's Stubber plays EC2 returning two pages."""
    client = ec2.client()
    page = {"Filters": [{"Name": "network-interface-id", "Values": ["eni-1"]}]}

    def session(n: int) -> dict[str, Any]:
        return {"TrafficMirrorSessionId": f"tms-{n:017x}", "SessionNumber": n, "Tags": []}

    with Stubber(client) as stub:
        stub.add_response(
            "describe_traffic_mirror_sessions",
            {"TrafficMirrorSessions": [session(1)], "NextToken": "more"},
            page,
        )
        stub.add_response(
            "describe_traffic_mirror_sessions",
            {"TrafficMirrorSessions": [session(2)]},
            {**page, "NextToken": "more"},
        )
        found = Ec2Gateway(client).on_interface("eni-1")
        stub.assert_no_pending_responses()
    assert first_free_number(s["SessionNumber"] for s in found) == 3


# --- DryRun ---------------------------------------------------------------------------------


def test_dry_run_create_checks_with_ec2_and_creates_nothing(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
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
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
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


def test_deleting_a_dry_run_makes_no_call(stack: Stack, ec2: EmbeddedEc2, fx: Fixtures) -> None:
    stack.create(props(fx, DryRun="true"))
    before = len(ec2.calls)
    deleted = stack.delete()
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert ec2.calls[before:] == []


def test_dry_run_then_real_deploy_creates_and_cleans_up(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
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
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
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
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    created = stack.create(props(fx))
    checked = stack.update(props(fx, DryRun="true", NetworkInterfaceId=fx.sources[1]))
    assert checked["Status"] == "SUCCESS", checked["Reason"]
    assert checked["PhysicalResourceId"] == created["PhysicalResourceId"]
    create = ec2.requests("CreateTrafficMirrorSession")[-1]
    assert create["DryRun"] == "true" and create["NetworkInterfaceId"] == fx.sources[1]
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [created["PhysicalResourceId"]]


def test_delete_of_a_real_session_deletes_even_with_dry_run_set(
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """The last Update was a dry run, so the Delete's properties say DryRun: the session is
    still real and must not be orphaned."""
    stack.create(props(fx))
    stack.update(props(fx, DryRun="true"))
    deleted = stack.delete()
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert ec2.sessions() == []


# --- Other accounts and regions -------------------------------------------------------------


def test_role_arn_creates_the_session_in_the_roles_account(
    stack: Stack, ec2: EmbeddedEc2, no_secrets_in_logs: io.StringIO
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
    stack_name = stack.stack.split("/")[1]
    assert assumed["RoleSessionName"] == f"{stack_name}.{stack.logical_id}"
    # The function's JSON log names the role and session name, with the request's IDs.
    logged = [json.loads(line) for line in no_secrets_in_logs.getvalue().splitlines()]
    (line,) = [entry for entry in logged if entry["message"] == "assumed role"]
    assert line["role_arn"] == ROLE and line["role_session_name"] == assumed["RoleSessionName"]
    assert line["LogicalResourceId"] == stack.logical_id and line["RequestId"]


def test_update_and_delete_use_the_same_role(stack: Stack, ec2: EmbeddedEc2) -> None:
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


def test_region_creates_the_session_there(stack: Stack, ec2: EmbeddedEc2) -> None:
    fx = ec2.fixtures(region="eu-west-1")
    response = stack.create(props(fx, Region="eu-west-1"))
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert response["Data"]["Arn"].startswith("arn:aws:ec2:eu-west-1:123456789012:")
    assert len(ec2.sessions(region="eu-west-1")) == 1
    assert ec2.sessions() == []
    assert stack.delete()["Status"] == "SUCCESS"
    assert ec2.sessions(region="eu-west-1") == []


def test_changing_the_role_replaces_and_the_cleanup_deletes_in_the_old_account(
    stack: Stack, ec2: EmbeddedEc2
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
    stack: Stack, ec2: EmbeddedEc2
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
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures
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
    stack: Stack, ec2: EmbeddedEc2
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
    stack: Stack, ec2: EmbeddedEc2, fx: Fixtures, overrides: dict[str, str], fragment: str
) -> None:
    before = len(ec2.calls)
    response = stack.create(props(fx, **overrides))
    assert response["Status"] == "FAILED"
    assert fragment in response["Reason"]
    assert ec2.calls[before:] == []
