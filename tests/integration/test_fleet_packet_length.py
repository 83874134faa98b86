"""A fleet's PacketLength left out means whole packets, on every session of the fleet: an Update
that removes it, and a sweep after someone set one by hand, take it off (RemoveFields), as for
single sessions. Only the value an NLB target reports for whole packets (8500) is no drift
(tests/integration/test_fleet.py). Found by the stateful fleet suite."""

from __future__ import annotations

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from tests.conftest import by_hand
from tests.integration.test_fleet import fleet_props, group, sweep


def test_a_packet_length_removed_from_the_fleet_is_removed_from_every_session(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 2)
    assert fleet.create(fleet_props(fx, PacketLength="128"))["Status"] == "SUCCESS"
    mark = len(ec2.calls)
    answer = fleet.update(fleet_props(fx))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert ec2.writes(mark) == ["ModifyTrafficMirrorSession"] * 2
    assert {m.get("RemoveField.1") for m in ec2.requests("ModifyTrafficMirrorSession")} == {
        "packet-length"
    }
    assert [s.get("PacketLength") for s in ec2.sessions()] == [None, None]


def test_the_sweep_takes_off_a_packet_length_set_by_hand_on_a_fleet_of_whole_packets(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource
) -> None:
    group(ec2, fx, 2)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    changed = ec2.sessions()[0]["TrafficMirrorSessionId"]
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(TrafficMirrorSessionId=changed, PacketLength=64)
    mark = len(ec2.calls)
    sweep()
    assert ec2.writes(mark) == ["ModifyTrafficMirrorSession"]
    assert [s.get("PacketLength") for s in ec2.sessions()] == [None, None]
