"""Adoption (AdoptSessionId) and the migration from AWS::EC2::TrafficMirrorSession it enables:
the session's ID, number and VXLAN ID never change, and there is never a second session."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from local.harness.by_hand import session_by_hand
from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.lambda_loader import ROOT, Handler
from local.harness.receiver import ResponseReceiver
from tests.conftest import props
from traffic_mirror.ownership import LOGICAL_KEY, MANAGED_BY_KEY, NUMBER_KEY, STACK_KEY
from traffic_mirror.sessions.adoption import ADOPTABLE_KEY as ADOPTABLE


def native_session(
    ec2: EmbeddedEc2, fx: Fixtures, tags: dict[str, str] | None = None
) -> dict[str, Any]:
    """A session as AWS::EC2::TrafficMirrorSession made it: number 2, VXLAN ID 4242, tagged
    as adoptable by this provider (migration step 2) unless ``tags`` say otherwise."""
    made = session_by_hand(
        ec2.client(),
        interface=fx.sources[0],
        target=fx.target_id,
        mirror_filter=fx.filter_ids[0],
        number=2,
        vni=4242,
        description="native",
        tags={ADOPTABLE: "traffic-mirror-provider"} if tags is None else tags,
    )
    ec2.wait_visible()  # made long before the adoption: a read shows it, tags and all
    return made


def declared(fx: Fixtures, session: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The custom resource's properties: the native resource's, plus AdoptSessionId."""
    wanted: dict[str, Any] = {
        "SessionNumber": "2",
        "VirtualNetworkId": "4242",
        "Description": "native",
        "AdoptSessionId": session["TrafficMirrorSessionId"],
        **overrides,
    }
    return props(fx, **wanted)


def tags_of(session: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in session.get("Tags", [])}


def test_adoption_keeps_id_number_and_vxlan_id_and_marks_the_owner(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    native = native_session(ec2, fx)
    before = len(ec2.calls)
    adopted = stack.create(declared(fx, native, Description="adopted"))
    assert adopted["Status"] == "SUCCESS", adopted["Reason"]
    assert adopted["PhysicalResourceId"] == native["TrafficMirrorSessionId"]
    assert adopted["Data"]["SessionNumber"] == "2"
    assert adopted["Data"]["VirtualNetworkId"] == "4242"
    (session,) = ec2.sessions()
    assert session["Description"] == "adopted"  # the other declared settings, in place
    assert tags_of(session) == {
        MANAGED_BY_KEY: "traffic-mirror-provider",
        STACK_KEY: stack.stack_id,
        LOGICAL_KEY: stack.logical_id,
        NUMBER_KEY: "declared",  # never moved by anyone
    }
    writes = ec2.writes(before)
    assert "CreateTrafficMirrorSession" not in writes
    assert "DeleteTrafficMirrorSession" not in writes


def test_adoption_refuses_a_session_its_owner_did_not_mark_adoptable(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    for tags in ({}, {ADOPTABLE: "another-provider"}):
        native = native_session(ec2, fx, tags=tags)
        before = len(ec2.calls)
        answer = stack.create(declared(fx, native))
        assert answer["Status"] == "FAILED"
        assert f"is not tagged {ADOPTABLE}=traffic-mirror-provider" in answer["Reason"]
        assert ec2.writes(before) == []


def test_adoption_refuses_a_session_that_is_not_the_declared_one(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    native = native_session(ec2, fx)
    for overrides, difference in (
        ({"NetworkInterfaceId": fx.sources[1]}, f"NetworkInterfaceId is {fx.sources[0]} there"),
        (
            {"TrafficMirrorFilterId": fx.filter_ids[1]},
            f"TrafficMirrorFilterId is {fx.filter_ids[0]}",
        ),
        (
            {"TrafficMirrorTargetId": "tmt-0123456789abcdef0"},
            f"TrafficMirrorTargetId is {fx.target_id}",
        ),
    ):
        before = len(ec2.calls)
        answer = stack.create(declared(fx, native, **overrides))
        assert answer["Status"] == "FAILED"
        assert (
            f"adopt traffic mirror session ({native['TrafficMirrorSessionId']})"
            in (answer["Reason"])
        )
        assert difference in answer["Reason"], answer["Reason"]
        assert ec2.writes(before) == []
    assert MANAGED_BY_KEY not in tags_of(ec2.sessions()[0])  # never marked


def test_adoption_refuses_a_session_managed_by_another_provider_stack(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    native = native_session(ec2, fx, tags={MANAGED_BY_KEY: "another-provider", ADOPTABLE: "x"})
    before = len(ec2.calls)
    answer = stack.create(declared(fx, native))
    assert answer["Status"] == "FAILED"
    assert "it is managed by the provider stack another-provider" in answer["Reason"]
    assert ec2.writes(before) == []


def test_adoption_refuses_a_session_owned_by_another_resource(
    handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    theirs = CustomResource(handler, receiver, logical_id="Theirs")
    made = theirs.create(props(fx, SessionNumber="2"))
    session = {"TrafficMirrorSessionId": made["PhysicalResourceId"]}
    mine = CustomResource(handler, receiver, logical_id="Mine")
    before = len(ec2.calls)
    answer = mine.create(declared(fx, session, VirtualNetworkId=None, Description=None))
    assert answer["Status"] == "FAILED"
    assert "it belongs to mirror-demo/Theirs" in answer["Reason"], answer["Reason"]
    assert ec2.writes(before) == []


def test_adopting_again_what_this_resource_already_owns_changes_nothing(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """A redelivered Create of an adoption: the session is already this resource's."""
    native = native_session(ec2, fx)
    body = stack.make("Create", declared(fx, native))
    first = stack.send(body)
    # Redelivered once a read shows the adoption's marks (a redelivery within the read lag
    # sees the session unmarked and marks it again: reported to the lead with the sweep case,
    # test_drift_races.test_a_sweep_right_after_an_update_in_place_...).
    ec2.wait_visible()
    before = len(ec2.calls)
    again = stack.send(body)
    assert first["Status"] == again["Status"] == "SUCCESS", again["Reason"]
    assert again["PhysicalResourceId"] == native["TrafficMirrorSessionId"]
    assert ec2.writes(before) == []


def test_adopting_a_session_that_does_not_exist_says_where_it_looked(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    answer = stack.create(declared(fx, {"TrafficMirrorSessionId": "tms-0123456789abcdef0"}))
    assert answer["Status"] == "FAILED"
    assert (
        "adopt traffic mirror session (tms-0123456789abcdef0): not found in this account, "
        "region us-east-1"
    ) in answer["Reason"]
    assert ec2.sessions() == []


def test_adoption_id_must_be_a_session_id(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    answer = stack.create(props(fx, AdoptSessionId="tmt-0123456789abcdef0"))
    assert answer["Status"] == "FAILED"
    assert (
        'AdoptSessionId must be a traffic mirror session ID (tms-…), got "tmt-'
        in (answer["Reason"])
    )
    assert ec2.sessions() == []


def test_a_dry_run_adoption_checks_and_changes_nothing(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    native = native_session(ec2, fx)
    before = len(ec2.calls)
    checked = stack.create(declared(fx, native, Description="adopted", DryRun="true"))
    assert checked["Status"] == "SUCCESS", checked["Reason"]
    assert checked["Data"]["DryRun"] == "true"
    assert checked["PhysicalResourceId"].startswith("dryrun-")  # its Delete touches nothing
    assert ec2.requests("CreateTags")[-1]["DryRun"] == "true"
    assert ec2.requests("ModifyTrafficMirrorSession")[-1]["DryRun"] == "true"
    # Mark, change, drop the now consumed adoptable tag: each only checked (DryRun).
    assert ec2.writes(before) == ["CreateTags", "ModifyTrafficMirrorSession", "DeleteTags"]
    assert ec2.requests("DeleteTags")[-1]["DryRun"] == "true"
    (session,) = ec2.sessions()
    assert session["Description"] == "native" and MANAGED_BY_KEY not in tags_of(session)


def test_an_adopted_session_is_kept_when_the_answer_comes_too_late(
    handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """The timer answered FAILED before the adoption finished: what was made after a timeout
    is undone, but an adopted session was not made by this event, so it is never deleted."""
    native = native_session(ec2, fx)
    ec2.inject("ModifyTrafficMirrorSession", after_s=4.0)
    slow = CustomResource(handler, receiver, timeout_s=4.0)
    answer = slow.create(declared(fx, native, Description="adopted"))
    assert answer["Status"] == "FAILED" and "timed out" in answer["Reason"]
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [
        native["TrafficMirrorSessionId"]
    ]
    assert ec2.requests("DeleteTrafficMirrorSession") == []


def test_migration_from_the_native_resource_has_no_gap_and_no_second_session(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """The README's Migration steps, end to end.

    1. The native resource made the session (the stack as it is today).
    2. DeletionPolicy: Retain on it, then remove it from the template: CloudFormation forgets
       the session and calls nothing in EC2 (nothing to play here).
    3. Add the custom resource with the same properties and AdoptSessionId: adopted.
    4. Later updates change it in place; deleting the resource deletes the session.
    After every step: one session, same ID, number and VXLAN ID.
    """
    native = native_session(ec2, fx, tags={"team": "netsec", ADOPTABLE: "traffic-mirror-provider"})
    sid, vni = native["TrafficMirrorSessionId"], native["VirtualNetworkId"]

    def still_the_same() -> dict[str, Any]:
        (session,) = ec2.sessions()
        assert session["TrafficMirrorSessionId"] == sid
        assert session["SessionNumber"] == 2 and session["VirtualNetworkId"] == vni
        return session

    custom = declared(fx, native, Tags=[{"Key": "team", "Value": "netsec"}])
    creates = len(ec2.requests("CreateTrafficMirrorSession"))
    adopted = stack.create(custom)
    assert adopted["Status"] == "SUCCESS", adopted["Reason"]
    assert adopted["PhysicalResourceId"] == sid
    assert tags_of(still_the_same())["team"] == "netsec"

    updated = stack.update({**custom, "Description": "now managed by the custom resource"})
    assert updated["Status"] == "SUCCESS" and updated["PhysicalResourceId"] == sid
    assert still_the_same()["Description"] == "now managed by the custom resource"
    assert len(ec2.requests("CreateTrafficMirrorSession")) == creates  # none since step 1

    assert stack.delete()["Status"] == "SUCCESS"
    assert ec2.sessions() == []


# --- Reasons name the place looked in ------------------------------------------------------

MEMBER = "111111111111"
ROLE = f"arn:aws:iam::{MEMBER}:role/TrafficMirrorSessions"


def test_a_missing_target_in_a_member_account_is_named_with_that_account_and_region(
    stack: CustomResource, ec2: EmbeddedEc2
) -> None:
    fx = ec2.fixtures(account=MEMBER, region="eu-west-1")
    missing = "tmt-" + "0" * 60  # the longest ID: still in the Reason, whole
    answer = stack.create(
        props(fx, RoleArn=ROLE, Region="eu-west-1", TrafficMirrorTargetId=missing)
    )
    assert answer["Status"] == "FAILED"
    assert (
        f"TrafficMirrorTargetId {missing} was not found in account {MEMBER}, region eu-west-1."
    ) in answer["Reason"], answer["Reason"]
    assert len(answer["Reason"]) <= 256


def test_the_migration_walkthrough_command_holds_every_promise() -> None:
    """`make demo-migration`, as a newcomer runs it from the README."""
    run = subprocess.run(
        [sys.executable, "-m", "local.migration_demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1].startswith("checked: the same session ID")
    assert run.stdout.count("\nok ") == 9  # the six steps (4 in two), then update and delete
    assert "CreateTrafficMirrorSession calls after the native one: 0" in run.stdout


def test_adoption_reads_ec2_once_before_its_writes(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """The declared interface's sessions include the one to adopt: one Describe serves the
    identity, ownership and number checks; the writes are the marks and the changes."""
    native = native_session(ec2, fx)
    before = len(ec2.calls)
    assert stack.create(declared(fx, native, Description="adopted"))["Status"] == "SUCCESS"
    assert ec2.calls[before:] == [
        "DescribeTrafficMirrorSessions",
        "CreateTags",
        "ModifyTrafficMirrorSession",
        "DeleteTags",  # the adoptable tag, its job done
    ]
