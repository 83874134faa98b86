"""make bench's drift rows, at a few sessions: what they report beyond timings (every record
checked, no finding, no write) is true, and a drifted session makes the bench report a
problem (make bench then exits 1). No timing is judged here."""

from __future__ import annotations

from typing import Any

import pytest

from local import bench_drift
from local.harness.ec2sim import EmbeddedEc2
from local.harness.receiver import ResponseReceiver
from tests.conftest import by_hand


@pytest.fixture(autouse=True)
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("SESSIONS", 4), ("STACKS", 2), ("SWEEPS", 1)):
        monkeypatch.setattr(bench_drift, name, value)


def test_the_drift_rows_read_every_record_and_write_nothing(
    ec2: EmbeddedEc2, receiver: ResponseReceiver
) -> None:
    results, problems = bench_drift.run(ec2, receiver)
    assert problems == []
    assert (results["checked"], results["findings"], results["writes"]) == (4, 0, 0)
    calls = results["calls_per_sweep"]
    assert calls["DescribeTrafficMirrorSessions"] == 1  # every marked session in one page
    assert calls["DescribeStacks"] == calls["ListStackResources"] == 2  # once per stack
    assert results["floor_calls_per_sweep"]["DescribeStacks"] == 2
    assert "drift sweep, 4 recorded sessions in 2 stacks" in bench_drift.rows(results)[0]


def test_a_drifted_session_is_a_problem_the_bench_reports(
    ec2: EmbeddedEc2, receiver: ResponseReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bench_drift._setup

    def setup_then_drift(ec2: EmbeddedEc2, rx: ResponseReceiver) -> Any:
        stacks = real(ec2, rx)
        sid = ec2.sessions()[0]["TrafficMirrorSessionId"]
        with by_hand(ec2) as client:  # drifted before the sweep runs, as a read shows it
            client.modify_traffic_mirror_session(
                TrafficMirrorSessionId=sid, Description="changed by hand"
            )
        return stacks

    monkeypatch.setattr(bench_drift, "_setup", setup_then_drift)
    _, problems = bench_drift.run(ec2, receiver)
    assert problems == ["the sweep found 1 findings, checked 4"]
