"""make bench's fleet rows, at a few interfaces: what they report beyond timings (all mirrored,
sweeps that only read, the throttling that fired) is true, and a fleet left unmirrored is
reported as a problem (make bench then exits 1). No timing is judged here."""

from __future__ import annotations

from typing import Any

import pytest

from local import bench_fleet
from local.harness.ec2sim import EmbeddedEc2
from local.harness.lambda_loader import Handler, load_handler
from local.harness.receiver import ResponseReceiver

# The tools as users run them (no read lag, also in a suite run under one).
pytestmark = pytest.mark.usefixtures("without_read_lag")


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("SIZE", 6), ("THROTTLE_EVERY", 4), ("SWEEPS", 1), ("MAX_SWEEPS", 3)):
        monkeypatch.setattr(bench_fleet, name, value)


@pytest.mark.usefixtures("small")
def test_the_fleet_rows_report_a_throttled_fleet_all_mirrored_and_swept_by_reads_alone(
    ec2: EmbeddedEc2, receiver: ResponseReceiver
) -> None:
    results, problems = bench_fleet.run(ec2, receiver, settle_s=0)
    assert problems == []
    create = results["create"]["provider"]
    assert create["all_mirrored"] and create["throttled"] > 0
    assert results["create"]["floor"]["throttled"] > 0
    # The selector, target and filter checked (DescribeAutoScalingGroups, DescribeTraffic-
    # MirrorTargets, -Filters), DescribeInstances, the fleet's sessions (DescribeTags: none
    # yet, so no read by ID), then the interfaces read by the page (one call for these 6),
    # a Create each, and one page read after the wait:
    # 20 calls, and every throttled attempt on top.
    assert sum(create["ec2_calls"].values()) == 3 + 1 + 1 + 1 + 6 + 1 + create["throttled"]
    assert create["invocations"] == {"stack event": 1, "sweeps": 0}
    assert results["sweep"]["writes"] == 0
    # The fleet's instances, and the same schedule's drift and orphan audit: every session
    # (read once, the fleet's found among them: no DescribeTags, no read by ID), and
    # CloudFormation about their stack (STS: this account, once per process).
    calls = results["sweep"]["ec2_calls_per_sweep"]
    assert set(calls) - {"GetCallerIdentity"} == {
        "DescribeInstances",
        "DescribeTrafficMirrorSessions",
        "DescribeStacks",
        "ListStackResources",
    }
    assert calls["DescribeTrafficMirrorSessions"] == 1  # 6 sessions: one page
    assert ec2.sessions() == []  # both fleets deleted


@pytest.mark.usefixtures("small")
def test_a_fleet_left_unmirrored_is_a_problem_the_bench_reports(
    ec2: EmbeddedEc2, receiver: ResponseReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def load(function: str = "ProviderFunction") -> Handler:
        real = load_handler(function=function)
        if function == "ReconcilerFunction":
            return lambda event, context: {"fleets": {}}  # sweeps that do nothing

        def create_then_lose_one(event: dict[str, Any], context: Any) -> None:
            real(event, context)
            if event["RequestType"] == "Create":  # a session lost before the answer is read
                lost = ec2.sessions()[0]["TrafficMirrorSessionId"]
                ec2.client().delete_traffic_mirror_session(TrafficMirrorSessionId=lost)

        return create_then_lose_one

    monkeypatch.setattr(bench_fleet, "load_handler", load)
    _, problems = bench_fleet.run(ec2, receiver, settle_s=0)
    assert "fleet Create under throttling: 5 sessions, 1 interfaces unmirrored" in problems
