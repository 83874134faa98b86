"""The drift sweep against what happens around it: Updates landing mid-sweep, CloudFormation
busy or unreachable, one session's failure, records that cannot be kept, sessions in other
accounts and regions, adopted sessions. Each case a review reproduced against the first
version (it reported, restored or dropped wrongly); sessions made through ProviderFunction's
handler, CloudFormation's side as the harness's CustomResource told it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from local.harness.by_hand import session_by_hand
from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.receiver import ResponseReceiver
from local.harness.stacks import STACKS
from tests.conftest import by_hand, props
from tests.integration.test_adoption import declared, native_session
from tests.integration.test_drift import audited, recorded, swept
from tms_audit.cli import main as tms_audit
from traffic_mirror.aws.connect import Placement
from traffic_mirror.aws.store import Record, Store
from traffic_mirror.fleets.gateway import FleetGateway
from traffic_mirror.fleets.reconcile import connector_for
from traffic_mirror.watch.audit import audit
from traffic_mirror.watch.stack_claims import Claims

MEMBER = "111111111111"
ROLE = f"arn:aws:iam::{MEMBER}:role/TrafficMirrorSessions"


@pytest.fixture(autouse=True)
def quiet_logger_restored() -> Iterator[None]:
    package = logging.getLogger("traffic_mirror")
    level = package.level
    yield
    package.setLevel(level)


def gateway(placement: Placement, record: Record | None) -> FleetGateway:
    """The gateway the sweep uses for a placement (as ``watch`` builds it)."""
    return FleetGateway.of(connector_for(record)(placement))


def test_an_update_landing_between_the_sweeps_reads_is_not_reverted(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    sid = stack.create(props(fx, OnDrift="Restore"))["PhysicalResourceId"]
    before_update = Store("sessions").records()  # the sweep read the records here
    answer = stack.update(props(fx, OnDrift="Restore", TrafficMirrorFilterId=fx.filter_ids[1]))
    assert answer["Status"] == "SUCCESS"
    store = Store("sessions")
    mark = len(ec2.calls)
    found = audit(
        before_update, gateway, Claims(), restore=True, reread=store.get, drop=store.remove
    )
    assert found.findings == [] and ec2.writes(mark) == []
    assert ec2.sessions()[0]["TrafficMirrorFilterId"] == fx.filter_ids[1]
    # The same call does see drift: the filter changed back by hand is found and restored.
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(
            TrafficMirrorSessionId=sid, TrafficMirrorFilterId=fx.filter_ids[0]
        )
    found = audit(
        store.records(), gateway, Claims(), restore=True, reread=store.get, drop=store.remove
    )
    assert [(f.kind, f.session_id, f.name, f.action) for f in found.findings] == [
        ("field", sid, "TrafficMirrorFilterId", "restored")
    ]


def test_drift_while_the_stack_is_in_an_operation_waits_for_the_next_sweep(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    sid = stack.create(props(fx, OnDrift="Restore"))["PhysicalResourceId"]
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(
            TrafficMirrorSessionId=sid, TrafficMirrorFilterId=fx.filter_ids[1]
        )
    STACKS.set_stack_status(stack.stack_id, "UPDATE_IN_PROGRESS")
    mark = len(ec2.calls)
    summary, found = swept()
    assert found == [] and summary["deferred"] == 1 and ec2.writes(mark) == []
    STACKS.set_stack_status(stack.stack_id, "UPDATE_COMPLETE")
    assert [(f["detail"], f["action"]) for f in swept()[1]] == [
        ("TrafficMirrorFilterId", "restored")
    ]


@pytest.mark.parametrize("how", ["stack busy", "CloudFormation throttling"])
def test_a_deleted_session_is_kept_on_record_until_cloudformation_can_tell(
    ec2: EmbeddedEc2,
    stack: CustomResource,
    fx: Fixtures,
    how: str,
) -> None:
    sid = stack.create(props(fx))["PhysicalResourceId"]
    with by_hand(ec2) as client:
        client.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
    if how == "stack busy":
        STACKS.set_stack_status(stack.stack_id, "UPDATE_IN_PROGRESS")
    else:
        ec2.inject("DescribeStacks", "Throttling", times=20)
    summary, found = swept()
    assert found == [] and summary["dropped"] == 0 and sid in recorded(ec2)
    ec2.clear_faults()
    STACKS.set_stack_status(stack.stack_id, "UPDATE_COMPLETE")
    assert [(f["kind"], f["session"]) for f in swept()[1]] == [("deleted", sid)]


def test_one_failed_restore_is_reported_and_the_other_sessions_are_still_judged(
    ec2: EmbeddedEc2,
    stack: CustomResource,
    fx: Fixtures,
    receiver: ResponseReceiver,
) -> None:
    a = stack.create(props(fx, OnDrift="Restore"))["PhysicalResourceId"]
    other = CustomResource(stack.handler, receiver, logical_id="Other", stack_id=stack.stack_id)
    b = other.create(props(fx, NetworkInterfaceId=fx.sources[1]))["PhysicalResourceId"]
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(TrafficMirrorSessionId=a, SessionNumber=2)
        holder = session_by_hand(  # on A's declared number
            client,
            interface=fx.sources[0],
            target=fx.target_id,
            mirror_filter=fx.filter_ids[0],
            number=1,
        )["TrafficMirrorSessionId"]
        client.modify_traffic_mirror_session(TrafficMirrorSessionId=b, Description="by hand")
    summary, found = swept()
    by_session = {f["session"]: f for f in found}
    assert set(by_session) == {a, b}
    assert by_session[a]["action"].startswith("restore failed: ")
    assert "SessionNumber 1" in by_session[a]["action"] and holder in by_session[a]["action"]
    assert by_session[b]["action"] == "reported"
    assert summary["errors"] == 1 and summary["checked"] == 2


def test_an_update_whose_record_cannot_be_kept_removes_the_older_record(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    sid = stack.create(props(fx, OnDrift="Restore", Tags=[{"Key": "team", "Value": "net"}]))[
        "PhysicalResourceId"
    ]
    tags = [{"Key": f"k{n:03d}" + "x" * 124, "Value": "v" * 256} for n in range(46)]
    assert stack.update(props(fx, OnDrift="Restore", Tags=tags))["Status"] == "SUCCESS"
    assert sid not in recorded(ec2)
    mark = len(ec2.calls)
    assert swept()[1] == [] and ec2.writes(mark) == []
    held = {t["Key"] for t in ec2.sessions()[0]["Tags"]}
    assert {t["Key"] for t in tags} <= held


def test_sessions_in_a_member_account_and_another_region_are_watched_there(
    ec2: EmbeddedEc2,
    stack: CustomResource,
    receiver: ResponseReceiver,
) -> None:
    member, regional = ec2.fixtures(account=MEMBER), ec2.fixtures(region="eu-west-1")
    sid = stack.create(props(member, RoleArn=ROLE, OnDrift="Restore"))["PhysicalResourceId"]
    other = CustomResource(stack.handler, receiver, logical_id="Regional", stack_id=stack.stack_id)
    assert other.create(props(regional, Region="eu-west-1"))["Status"] == "SUCCESS"
    mark = len(ec2.calls)
    summary, found = swept()
    assert found == [] and summary["checked"] == 2 and ec2.writes(mark) == []
    with by_hand(ec2, account=MEMBER) as client:
        client.modify_traffic_mirror_session(TrafficMirrorSessionId=sid, Description="by hand")
    drift = audited().findings  # as the handler runs it, and where each was found
    assert [(f.session_id, f.name, f.action) for f in drift] == [(sid, "Description", "restored")]
    assert drift[0].where == f"in account {MEMBER}, region us-east-1"
    assert "Description" not in ec2.sessions(account=MEMBER)[0]


def test_adopted_sessions_and_an_update_of_ondrift_alone_raise_no_finding(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    native = native_session(ec2, fx)
    adopted: dict[str, Any] = declared(
        fx, native, Description="adopted", SessionNumber=None, VirtualNetworkId=None
    )
    assert stack.create(adopted)["Status"] == "SUCCESS"
    # The next sweep, once the adoption's writes show (a sweep within the read lag is the
    # test below).
    ec2.wait_visible()
    assert swept()[1] == []
    mark = len(ec2.calls)
    assert stack.update({**adopted, "OnDrift": "Restore"})["Status"] == "SUCCESS"
    assert ec2.writes(mark) == []  # OnDrift reaches the record only
    sid = native["TrafficMirrorSessionId"]
    assert recorded(ec2)[sid]["properties"]["OnDrift"] == "Restore"
    assert swept()[1] == []


def test_a_replacement_in_a_later_placement_mid_sweep_is_not_called_an_orphan(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures, receiver: ResponseReceiver
) -> None:
    regional_fx = ec2.fixtures(region="eu-west-1")
    assert stack.create(props(fx))["Status"] == "SUCCESS"  # the home placement, same stack
    regional = CustomResource(
        stack.handler, receiver, logical_id="Regional", stack_id=stack.stack_id
    )
    regional.create(props(regional_fx, Region="eu-west-1"))
    records = Store("sessions").records()

    def gateways(placement: Placement, record: Record | None) -> FleetGateway:
        if placement.region == "eu-west-1":  # a replacement lands while home is being judged
            regional.update(
                props(regional_fx, Region="eu-west-1", NetworkInterfaceId=regional_fx.sources[1])
            )
            STACKS.set_stack_status(stack.stack_id, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        return gateway(placement, record)

    store = Store("sessions")
    found = audit(records, gateways, Claims(), restore=False, reread=store.get)
    assert [f.line() for f in found.findings if f.kind == "orphaned"] == []
    # The same call does see orphans: with the stack gone, every one of its sessions is one.
    STACKS.delete_stack(stack.stack_id)
    found = audit(store.records(), gateway, Claims(), restore=False, reread=store.get)
    held = ec2.sessions() + ec2.sessions(region="eu-west-1")
    assert sorted(f.session_id for f in found.findings if f.kind == "orphaned") == sorted(
        s["TrafficMirrorSessionId"] for s in held
    )


def test_tms_audit_deletes_only_orphans_where_it_runs_and_says_where_the_others_are(
    ec2: EmbeddedEc2, stack: CustomResource, receiver: ResponseReceiver
) -> None:
    regional_fx = ec2.fixtures(region="eu-west-1")
    gone = CustomResource(stack.handler, receiver, logical_id="Gone")
    orphan = gone.create(props(regional_fx, Region="eu-west-1"))["PhysicalResourceId"]
    STACKS.delete_stack(gone.stack_id)
    out = io.StringIO()
    status = tms_audit(["--delete-orphans", "--yes"], out=out, ask=lambda prompt: "y")
    assert status == 1
    assert "Not deleted here: orphans in this account, region eu-west-1" in out.getvalue()
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions(region="eu-west-1")] == [orphan]
    status = tms_audit(
        ["--region", "eu-west-1", "--delete-orphans", "--yes"], out=io.StringIO(), ask=input
    )
    assert ec2.sessions(region="eu-west-1") == []


def test_a_stack_of_another_account_is_never_called_gone(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    elsewhere = "arn:aws:cloudformation:us-east-1:999999999999:stack/theirs/abc"
    other = CustomResource(stack.handler, stack.receiver, logical_id="Theirs", stack_id=elsewhere)
    assert other.create(props(fx))["Status"] == "SUCCESS"
    STACKS.delete_stack(elsewhere)  # CloudFormation here would say it does not exist
    mark = len(ec2.calls)
    _, found = swept()
    assert found == [] and "DescribeStacks" not in ec2.calls[mark:]


def test_a_sweep_right_after_an_update_in_place_finds_no_drift_and_writes_nothing(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    """The schedule may fire at any moment, the second after an Update answered SUCCESS."""
    assert stack.create(props(fx, OnDrift="Restore"))["Status"] == "SUCCESS"
    answer = stack.update(props(fx, OnDrift="Restore", Description="changed by the stack"))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    mark = len(ec2.calls)
    summary, found = swept()
    assert found == [] and summary["restored"] == 0 and ec2.writes(mark) == []
    assert ec2.sessions()[0]["Description"] == "changed by the stack"
