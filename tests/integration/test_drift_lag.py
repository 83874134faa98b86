"""The drift sweep under EC2's read lag: a record just written is not judged until EC2's reads
can show the write (a session just created is not "deleted", one just updated not "drifted")."""

from __future__ import annotations

import time

import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.stacks import STACKS
from tests.conftest import props
from tests.integration.test_drift import swept
from traffic_mirror.aws.store import Store
from traffic_mirror.watch.audit import watch

BOUND_S = 2.0  # VISIBLE_WITHIN_SECONDS here: above the lag
LAG_S = 1.5


@pytest.fixture
def lagging(ec2: EmbeddedEc2, monkeypatch: pytest.MonkeyPatch) -> EmbeddedEc2:
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", str(BOUND_S))
    ec2.read_lag = LAG_S
    return ec2


def test_a_session_deleted_right_after_its_create_is_reported_once_the_bound_has_passed(
    lagging: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    """What never shows within the bound is gone: reported in the same sweep."""
    sid = stack.create(props(fx))["PhysicalResourceId"]
    lagging.client().delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
    lagging.wait_visible()  # the deletion shows; the record is still younger than the bound
    started = time.monotonic()
    _, found = swept()
    assert [(f["kind"], f["session"]) for f in found] == [("deleted", sid)]
    assert time.monotonic() - started < BOUND_S + 2  # waited at most what was left of the bound


def test_an_update_just_made_is_not_reported_as_drift_of_its_old_values(
    lagging: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    stack.create(props(fx, Description="before"))
    lagging.wait_visible()
    time.sleep(BOUND_S)  # the Create's record is old enough to be judged
    updated = stack.update(props(fx, Description="after"))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    _, found = swept()
    assert found == [], found  # a read may still show "before": no drift reported, no restore
    assert lagging.sessions()[0]["Description"] == "after"


def test_a_rollback_right_after_an_update_puts_the_previous_values_back(
    lagging: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    """A stack that fails elsewhere rolls a successful Update back at once: a read may still
    show the values from before the Update, which are the rollback's; EC2 must end with them."""
    stack.create(props(fx, Description="before"))
    lagging.wait_visible()
    assert stack.update(props(fx, Description="after"))["Status"] == "SUCCESS"
    rolled = stack.update(props(fx, Description="before"))  # within the lag of "after"
    assert rolled["Status"] == "SUCCESS", rolled["Reason"]
    assert lagging.sessions()[0]["Description"] == "before"


def test_a_session_its_stack_just_deleted_is_not_reported_orphaned(
    lagging: EmbeddedEc2, stack: CustomResource, fx: Fixtures, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read still shows it; read again by ID once the bound has passed, it is gone. (The
    Delete waits until reads no longer show it; here it answers at once, as one whose wait
    gave up would, so that the sweep still reads it.)"""
    sid = stack.create(props(fx))["PhysicalResourceId"]
    lagging.wait_visible()
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "0")
    assert stack.delete()["Status"] == "SUCCESS"
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", str(BOUND_S))
    assert lagging.sessions() == []  # gone, though reads show it for a while yet
    shown = lagging.client().describe_traffic_mirror_sessions(TrafficMirrorSessionIds=[sid])
    assert [s["TrafficMirrorSessionId"] for s in shown["TrafficMirrorSessions"]] == [sid]
    found = watch(Store("sessions"))
    assert [f.line() for f in found.findings] == []


def test_a_session_of_a_deleted_stack_is_still_reported_orphaned_under_lag(
    lagging: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    """The same confirmation keeps a real orphan: still there after the bound."""
    sid = stack.create(props(fx))["PhysicalResourceId"]
    lagging.wait_visible()
    STACKS.delete_stack(stack.stack_id)  # e.g. deleted with DeletionPolicy: Retain
    found = watch(Store("sessions"))
    assert [(f.kind, f.session_id) for f in found.findings] == [("orphaned", sid)]
