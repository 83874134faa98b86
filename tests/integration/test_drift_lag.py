"""The drift sweep under EC2's read lag: a record just written is not judged until EC2's reads
can show the write (a session just created is not "deleted", one just updated not "drifted")."""

from __future__ import annotations

import logging
import time

import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from tests.conftest import props
from tests.integration.test_drift import swept

BOUND_S = 2.0  # VISIBLE_WITHIN_SECONDS here: above the lag
LAG_S = 1.5


@pytest.fixture
def lagging(ec2: EmbeddedEc2, monkeypatch: pytest.MonkeyPatch) -> EmbeddedEc2:
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", str(BOUND_S))
    ec2.read_lag = LAG_S
    return ec2


def test_a_session_just_created_is_deferred_not_reported_deleted_then_judged_healthy(
    lagging: EmbeddedEc2, stack: CustomResource, fx: Fixtures, caplog: pytest.LogCaptureFixture
) -> None:
    answer = stack.create(props(fx))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    written = time.monotonic()
    shown = lagging.client().describe_traffic_mirror_sessions()["TrafficMirrorSessions"]
    visible = answer["PhysicalResourceId"] in {s["TrafficMirrorSessionId"] for s in shown}
    summary, found = swept(caplog)
    if not visible:  # the read the sweep makes cannot show it yet: judged later
        assert found == [] and summary["deferred"] == 1, (summary, found)
    time.sleep(max(BOUND_S - (time.monotonic() - written), 0) + 0.1)
    summary, found = swept(caplog)
    assert found == [] and summary["checked"] == 1 and summary["deferred"] == 0


def test_an_update_just_made_is_not_reported_as_drift_of_its_old_values(
    lagging: EmbeddedEc2, stack: CustomResource, fx: Fixtures, caplog: pytest.LogCaptureFixture
) -> None:
    stack.create(props(fx, Description="before"))
    lagging.wait_visible()
    time.sleep(BOUND_S)  # the Create's record is old enough to be judged
    updated = stack.update(props(fx, Description="after"))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    with caplog.at_level(logging.INFO):
        _, found = swept(caplog)
    assert found == [], found  # a read may still show "before": no drift reported, no restore
    assert lagging.sessions()[0]["Description"] == "after"
