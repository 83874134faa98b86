"""Fleets under EC2's read lag: a fleet Update right after another still ends with the
settings it asks for, though a read may show the sessions as they were before the first."""

from __future__ import annotations

import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from tests.integration.test_fleet import fleet_props, group

LAG_S = 1.5


@pytest.fixture
def lagging(ec2: EmbeddedEc2, monkeypatch: pytest.MonkeyPatch) -> EmbeddedEc2:
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "3")
    ec2.read_lag = LAG_S
    return ec2


def test_a_rollback_right_after_a_fleet_update_puts_every_session_back(
    lagging: EmbeddedEc2, fleet: CustomResource, fx: Fixtures
) -> None:
    """A stack failing elsewhere rolls the fleet's Update back at once: a read may still show
    the sessions with the values from before the Update, which are the rollback's own."""
    interfaces = group(lagging, fx, 3)
    made = fleet.create(fleet_props(fx, Description="before"))
    assert made["Status"] == "SUCCESS", made["Reason"]
    lagging.wait_visible()
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
