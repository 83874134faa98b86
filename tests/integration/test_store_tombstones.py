"""Removed records are tombstones, not deleted parameters: SSM asks callers to wait 30 s
before creating a parameter under a deleted name (PutParameter reference), and a fleet's ID is
fixed by its stack, resource and placement, so a fleet deleted and declared again within
seconds would hit that. The reconciler's sweep prunes tombstones over an hour old."""

from __future__ import annotations

import boto3

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from tests.conftest import by_hand, props
from tests.integration.test_fleet import fleet_props, group, records, sweep
from traffic_mirror.aws.store import REMOVED, Store, store_path


def values(ec2: EmbeddedEc2, kind: str) -> dict[str, str]:
    ssm = boto3.client("ssm", region_name=ec2.region, endpoint_url=ec2.endpoint)
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=store_path(kind))
    return {p["Name"].rsplit("/", 1)[-1]: p["Value"] for page in pages for p in page["Parameters"]}


def test_a_fleet_deleted_and_declared_again_at_once_never_deletes_its_parameter(
    ec2: EmbeddedEc2,
    fx: Fixtures,
    fleet: CustomResource,
) -> None:
    group(ec2, fx, 2)
    first = fleet.create(fleet_props(fx))
    assert first["Status"] == "SUCCESS", first["Reason"]
    assert fleet.delete()["Status"] == "SUCCESS"
    assert values(ec2, "fleets") == {first["PhysicalResourceId"]: REMOVED}  # a tombstone
    assert records(ec2) == []  # which counts as no record
    again = fleet.create(fleet_props(fx, Description="again"))
    assert again["Status"] == "SUCCESS", again["Reason"]
    assert again["PhysicalResourceId"] == first["PhysicalResourceId"]  # the same fixed ID
    assert "AmazonSSM.DeleteParameter" not in ec2.json_calls
    assert records(ec2) == [f"{store_path('fleets')}/{again['PhysicalResourceId']}"]
    assert sweep()["fleets"][again["PhysicalResourceId"]]["mirrored"] == 2  # live, not removed


def test_a_session_deleted_leaves_a_tombstone_the_sweep_keeps_while_young(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    sid = stack.create(props(fx))["PhysicalResourceId"]
    assert stack.delete()["Status"] == "SUCCESS"
    assert values(ec2, "sessions") == {sid: REMOVED}
    summary = sweep()["sessions"]
    assert summary["findings"]["deleted"] == 0 and summary["checked"] == 0  # no record
    assert values(ec2, "sessions") == {sid: REMOVED}  # under an hour old: kept
    assert "AmazonSSM.DeleteParameter" not in ec2.json_calls


def test_a_live_record_whose_session_was_deleted_by_hand_is_found_by_the_same_sweep(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    """The test above's counterpart: its "nothing found" is the tombstone's doing, not a
    sweep that cannot see a deleted session."""
    sid = stack.create(props(fx))["PhysicalResourceId"]
    with by_hand(ec2) as client:
        client.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
    summary = sweep()["sessions"]
    assert summary["findings"]["deleted"] == 1 and summary["checked"] == 1
    assert summary["found"] == [
        {"kind": "deleted", "session": sid, "detail": "", "action": "reported"}
    ]


def test_pruning_deletes_old_tombstones_and_keeps_a_record_written_since(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    gone = stack.create(props(fx))["PhysicalResourceId"]
    assert stack.delete()["Status"] == "SUCCESS"
    other = CustomResource(stack.handler, stack.receiver, logical_id="Other")
    kept = other.create(props(fx, NetworkInterfaceId=fx.sources[1]))["PhysicalResourceId"]
    store = Store("sessions")
    assert {r.key for r in store.records()} == {kept}
    assert [name.rsplit("/", 1)[-1] for name, _ in store.tombstones] == [gone]
    assert store.prune(older_than_s=0) == 1
    assert values(ec2, "sessions") == {kept: values(ec2, "sessions")[kept]}
    assert values(ec2, "sessions")[kept] != REMOVED


def test_pruning_keeps_a_tombstone_written_over_since_it_was_read(
    ec2: EmbeddedEc2,
    fx: Fixtures,
    fleet: CustomResource,
) -> None:
    group(ec2, fx, 1)
    fleet.create(fleet_props(fx))
    assert fleet.delete()["Status"] == "SUCCESS"
    store = Store("fleets")
    assert store.records() == [] and len(store.tombstones) == 1  # read as a tombstone
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"  # declared again meanwhile
    assert store.prune(older_than_s=0) == 0  # read again before deleting: a record now
    assert len(records(ec2)) == 1
