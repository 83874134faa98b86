"""Faults below the handler: the function process killed mid-Create, connections dropped before
and after EC2 did the work. Whatever happens, redelivery converges on one session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.lambda_loader import ROOT, LambdaContext
from tests.conftest import props
from tests.figures import FIGURES

RUN_ONE_EVENT = """
import json, sys
from local.harness.lambda_loader import LambdaContext, load_handler
load_handler()(json.loads(sys.argv[1]), LambdaContext(timeout_s=60))
"""


def wait_until(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_function_killed_mid_create_then_redelivered_makes_one_session(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    # EC2 creates the session, then its answer stalls; the function process is killed before
    # it hears back (as when Lambda's sandbox dies). Lambda then delivers the event again.
    ec2.inject("CreateTrafficMirrorSession", after_s=5.0)
    event = stack.make("Create", props(fx))
    function = subprocess.Popen(
        [sys.executable, "-c", RUN_ONE_EVENT, json.dumps(event)],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: len(ec2.sessions()) == 1)
        function.send_signal(signal.SIGKILL)
        function.wait(timeout=10)
    finally:
        if function.poll() is None:
            function.kill()
    assert stack.receiver.for_request(event["RequestId"]) == []  # it died without answering
    FIGURES["process: function killed mid-create"] += 1

    stack.handler(dict(event), LambdaContext())  # the redelivery
    answer = stack.receiver.for_request(event["RequestId"])[-1].body
    sessions = ec2.sessions()
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert [s["TrafficMirrorSessionId"] for s in sessions] == [answer["PhysicalResourceId"]]


def test_answer_lost_after_ec2_created_the_session_is_retried_without_duplicate(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ec2.inject("CreateTrafficMirrorSession", drop=True, after_s=0.01)
    response = stack.create(props(fx))
    assert ec2.injected.get("dropped connection")
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [response["PhysicalResourceId"]]


def test_connections_dropped_before_ec2_are_retried(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    stack.create(props(fx))
    ec2.inject("ModifyTrafficMirrorSession", drop=True, times=2)
    updated = stack.update(props(fx, Description="through two drops"))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert ec2.sessions()[0]["Description"] == "through two drops"


def test_ec2_unreachable_fails_with_advice(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ec2.inject("CreateTrafficMirrorSession", drop=True, times=100)
    response = stack.create(props(fx))
    ec2.clear_faults()
    assert response["Status"] == "FAILED"
    assert "no usable answer from EC2" in response["Reason"]
    assert "network route to the EC2 endpoint" in response["Reason"]
    assert ec2.sessions() == []
