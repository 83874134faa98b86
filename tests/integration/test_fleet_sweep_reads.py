"""A sweep reads every session of an account and region once, for the audit and the fleets
alike: a healthy fleet costs the sweep its instances' read and nothing more of its own."""

from __future__ import annotations

from collections import Counter

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from tests.integration.test_fleet import fleet_props, group, sweep


def test_a_sweep_of_a_true_fleet_reads_the_sessions_once_for_the_audit_and_the_fleet(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 3)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    mark = len(ec2.calls)
    summary = sweep()
    calls = Counter(ec2.calls[mark:])
    assert [f for f in summary["fleets"].values() if f.get("mirrored") == 3], summary
    assert calls["DescribeTrafficMirrorSessions"] == 1, calls  # the audit's, shared
    assert calls["DescribeTags"] == 0, calls  # the fleet's sessions found among them
    assert ec2.writes(mark) == []


def test_a_fleet_session_changed_by_hand_is_put_back_by_a_sweep_from_the_shared_read(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    enis = group(ec2, fx, 2)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    client = ec2.client()
    changed = next(s for s in ec2.sessions() if s["NetworkInterfaceId"] == enis[0])
    client.modify_traffic_mirror_session(
        TrafficMirrorSessionId=changed["TrafficMirrorSessionId"],
        TrafficMirrorFilterId=fx.filter_ids[1],
    )
    ec2.wait_visible()
    sweep()
    assert {s["TrafficMirrorFilterId"] for s in ec2.sessions()} == {fx.filter_ids[0]}
    assert len(ec2.sessions()) == 2  # put back in place, nothing re-created
