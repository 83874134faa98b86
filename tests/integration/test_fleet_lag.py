"""Fleets under EC2's read lag: a fleet Update right after another still ends with the
settings it asks for, though a read may show the sessions as they were before the first; and
a pass answers only once its Deletes and Modifies show, so the next event does not read a
deleted session as held or a changed one as it was (each test below that says "found" failed
before fleets/fleet.py's until_shown)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.fleets import GROUP
from tests.conftest import by_hand
from tests.integration.test_fleet import by_interface, fleet_props, group, sweep

LAG_S = 1.5


@pytest.fixture
def lagging(ec2: EmbeddedEc2, monkeypatch: pytest.MonkeyPatch) -> EmbeddedEc2:
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "3")
    ec2.read_lag = LAG_S
    return ec2


def test_a_rollback_right_after_a_fleet_update_puts_every_session_back(
    lagging: EmbeddedEc2, fleet: CustomResource, fx: Fixtures, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack failing elsewhere rolls the fleet's Update back at once: a read may still show
    the sessions with the values from before the Update, which are the rollback's own. (The
    Update waits until its Modifies show, within the bound: here the lag outlasts it.)"""
    interfaces = group(lagging, fx, 3)
    made = fleet.create(fleet_props(fx, Description="before"))
    assert made["Status"] == "SUCCESS", made["Reason"]
    lagging.wait_visible()
    lagging.read_lag = 4.0
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "1")
    updated = fleet.update(
        fleet_props(fx, Description="after", TrafficMirrorFilterId=fx.filter_ids[1])
    )
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    rolled = fleet.update(fleet_props(fx, Description="before"))  # within the lag of "after"
    assert rolled["Status"] == "SUCCESS", rolled["Reason"]
    held = {s["NetworkInterfaceId"]: s for s in lagging.sessions()}
    assert sorted(held) == interfaces
    assert {s.get("Description") for s in held.values()} == {"before"}
    assert {s["TrafficMirrorFilterId"] for s in held.values()} == {fx.filter_ids[0]}


def test_an_update_that_selects_interfaces_again_right_after_deselecting_them_mirrors_them(
    lagging: EmbeddedEc2, fleet: CustomResource, fx: Fixtures
) -> None:
    """Found by the fleet stateful suite under a random lag: the second Update read the
    sessions the first had deleted, took them for held, and left the interfaces unmirrored."""
    interfaces = group(lagging, fx, 3)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    lagging.wait_visible()
    group(lagging, fx, 0, name="empty")
    away = fleet.update(fleet_props(fx, AutoScalingGroupName="empty"))
    assert away["Status"] == "SUCCESS", away["Reason"]
    assert lagging.sessions() == []
    mark = len(lagging.calls)
    back = fleet.update(fleet_props(fx, AutoScalingGroupName=GROUP))  # within the Deletes' lag
    assert back["Status"] == "SUCCESS", back["Reason"]
    assert sorted(by_interface(lagging)) == interfaces
    assert lagging.writes(mark) == ["CreateTrafficMirrorSession"] * 3  # nothing deleted twice


def test_a_single_session_made_right_after_its_fleets_delete_gets_the_lowest_number(
    lagging: EmbeddedEc2, fleet: CustomResource, stack: CustomResource, fx: Fixtures
) -> None:
    """Found by the fleet stateful suite under a random lag: the single read the fleet's
    deleted session (number 1) and took number 2."""
    (eni,) = group(lagging, fx, 1)
    made = fleet.create(fleet_props(fx))
    assert made["Status"] == "SUCCESS", made["Reason"]
    lagging.wait_visible()
    assert fleet.delete()["Status"] == "SUCCESS"
    single = stack.create(
        {
            "NetworkInterfaceId": eni,
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[1],
        }
    )
    assert single["Status"] == "SUCCESS", single["Reason"]
    assert single["Data"]["SessionNumber"] == "1"


def test_a_sweep_right_after_the_sweep_that_put_a_session_back_only_reads(
    lagging: EmbeddedEc2, fleet: CustomResource, fx: Fixtures
) -> None:
    """Found by the fleet stateful suite under a random lag: the second sweep read the session
    as changed by hand still, and wrote the same Modify again."""
    group(lagging, fx, 2)
    assert fleet.create(fleet_props(fx, Description="declared"))["Status"] == "SUCCESS"
    lagging.wait_visible()
    changed = lagging.sessions()[0]["TrafficMirrorSessionId"]
    with by_hand(lagging) as client:
        client.modify_traffic_mirror_session(TrafficMirrorSessionId=changed, Description="hand")
    mark = len(lagging.calls)
    sweep()
    assert lagging.writes(mark) == ["ModifyTrafficMirrorSession"]
    mark = len(lagging.calls)
    sweep()  # within the lag of the first sweep's Modify
    assert lagging.writes(mark) == []
    assert {s["Description"] for s in lagging.sessions()} == {"declared"}


def test_a_fleet_update_right_after_a_single_sessions_delete_mirrors_the_interface_it_freed(
    lagging: EmbeddedEc2,
    fleet: CustomResource,
    stack: CustomResource,
    fx: Fixtures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by the fleet stateful suite under a random lag (finding 5): a single session held
    the fleet's declared number on an interface; its stack update was rolled back (the single
    deleted), and the fleet's next pass, within the lag of that Delete, read the single still
    there, yielded the number to it, and left the interface unmirrored."""
    (eni,) = group(lagging, fx, 1)
    assert fleet.create(fleet_props(fx, SessionNumber=5))["Status"] == "SUCCESS"
    lagging.wait_visible()
    with by_hand(lagging) as client:
        (held,) = lagging.sessions()
        client.delete_traffic_mirror_session(TrafficMirrorSessionId=held["TrafficMirrorSessionId"])
    lagging.wait_visible()
    single = stack.create(
        {
            "NetworkInterfaceId": eni,
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[1],
            "SessionNumber": 5,
        }
    )
    assert single["Status"] == "SUCCESS", single["Reason"]
    lagging.wait_visible()
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "6")
    lagging.read_lag = 4.0  # the single's Delete shows late, the fleet's Create at once
    assert stack.delete()["Status"] == "SUCCESS"
    lagging.read_lag = 0.0
    updated = fleet.update(fleet_props(fx, SessionNumber=5, Description="after"))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert updated["Data"]["InterfacesMirrored"] == "1"
    (mirrored,) = lagging.sessions()
    assert (mirrored["NetworkInterfaceId"], mirrored["SessionNumber"]) == (eni, 5)
    assert mirrored["TrafficMirrorFilterId"] == fx.filter_ids[0]  # the fleet's, not the single's


def test_a_single_session_made_right_after_another_singles_delete_gets_the_lowest_number(
    lagging: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    """A single session's Delete answers once reads no longer show it, so another resource's
    single created right after on the same interface takes the number it freed."""
    props = {
        "NetworkInterfaceId": fx.sources[0],
        "TrafficMirrorTargetId": fx.target_id,
        "TrafficMirrorFilterId": fx.filter_ids[0],
    }
    first = stack.create(props)
    assert first["Status"] == "SUCCESS", first["Reason"]
    assert first["Data"]["SessionNumber"] == "1"
    lagging.wait_visible()
    assert stack.delete()["Status"] == "SUCCESS"
    other = replace(stack, logical_id="OtherSession", physical_id=None)
    again = other.create(props)
    assert again["Status"] == "SUCCESS", again["Reason"]
    assert again["Data"]["SessionNumber"] == "1"
