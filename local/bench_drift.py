"""``make bench``, the drift rows: the scheduled sweep over BENCH_DRIFT_SESSIONS (1,000)
recorded single sessions, nothing drifted, through ReconcilerFunction's handler.

Setup (not measured): the sessions are made through ProviderFunction's handler (so each is
recorded as a real Create records it), BENCH_DRIFT_STACKS stacks of equal share, one
interface each. Then BENCH_DRIFT_SWEEPS scheduled sweeps, each followed by the floor: bare
boto3 making the reads the sweep cannot avoid on the same endpoint (the marked sessions, all
pages; the records, all pages; one DescribeStacks and one ListStackResources per stack).

Reported: wall time (median) and its ratio to the floor; EC2, SSM and CloudFormation calls
per sweep; writes (must be 0, or ``make bench`` exits 1); findings (must be 0).
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import time
from collections import Counter
from typing import Any, Final

import boto3

from local.harness.ec2sim import WRITE_ACTIONS, EmbeddedEc2, tagged_sessions
from local.harness.events import CustomResource, new_stack_id
from local.harness.fleets import scheduled_event
from local.harness.lambda_loader import LambdaContext, load_handler
from local.harness.receiver import ResponseReceiver

SESSIONS = int(os.environ.get("BENCH_DRIFT_SESSIONS", "1000"))
STACKS = int(os.environ.get("BENCH_DRIFT_STACKS", "20"))
SWEEPS = int(os.environ.get("BENCH_DRIFT_SWEEPS", "3"))
PATH: Final = "/traffic-mirror-provider/traffic-mirror-provider/sessions"
SSM_WRITES: Final = frozenset({"AmazonSSM.PutParameter", "AmazonSSM.DeleteParameter"})


def _setup(ec2: EmbeddedEc2, rx: ResponseReceiver) -> list[str]:
    """SESSIONS sessions through the session handler; the stack IDs."""
    fx = ec2.fixtures(sources=1)
    client = ec2.client()
    subnet = client.create_subnet(VpcId=fx.vpc_id, CidrBlock="10.0.16.0/20")["Subnet"]
    handler = load_handler()
    stacks = [new_stack_id(f"bench-drift-{n}") for n in range(STACKS)]
    for n in range(SESSIONS):
        eni = client.create_network_interface(SubnetId=subnet["SubnetId"])
        resource = CustomResource(handler, rx, logical_id=f"Mirror{n}", stack_id=stacks[n % STACKS])
        answer = resource.create(
            {
                "NetworkInterfaceId": eni["NetworkInterface"]["NetworkInterfaceId"],
                "TrafficMirrorTargetId": fx.target_id,
                "TrafficMirrorFilterId": fx.filter_ids[0],
                "Description": f"bench session {n}",
                "Tags": [{"Key": "team", "Value": "netsec"}],
            }
        )
        assert answer["Status"] == "SUCCESS", answer.get("Reason")
    return stacks


def _floor(ec2: EmbeddedEc2, stacks: list[str]) -> None:
    """The reads a sweep cannot avoid, with bare boto3."""
    ec2_client = ec2.client()
    # EC2 documents no tag: filter on DescribeTrafficMirrorSessions: DescribeTags, then by IDs
    tagged_sessions(ec2_client, {"traffic-mirror-provider:managed-by": "traffic-mirror-provider"})
    ssm = boto3.client("ssm", region_name=ec2.region, endpoint_url=ec2.endpoint)
    sum(
        len(p["Parameters"])
        for p in ssm.get_paginator("get_parameters_by_path").paginate(Path=PATH)
    )
    cfn = boto3.client("cloudformation", region_name=ec2.region, endpoint_url=ec2.endpoint)
    for stack in stacks:
        cfn.describe_stacks(StackName=stack)
        for _ in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
            pass


def run(ec2: EmbeddedEc2, rx: ResponseReceiver) -> tuple[dict[str, Any], list[str]]:
    """The drift rows on a fresh embedded EC2 state; the results and any failure."""
    ec2.reset()
    problems: list[str] = []
    saved = os.environ.get("SETTLE_SECONDS")
    os.environ["SETTLE_SECONDS"] = "0"  # setup only: the sweep never waits
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            stacks = _setup(ec2, rx)
    finally:
        if saved is None:
            os.environ.pop("SETTLE_SECONDS", None)
        else:
            os.environ["SETTLE_SECONDS"] = saved
    setup_s = time.perf_counter() - t0
    reconciler = load_handler(function="ReconcilerFunction")
    provider: list[float] = []
    floor: list[float] = []
    calls: Counter[str] = Counter()
    floor_calls: Counter[str] = Counter()
    summary: dict[str, Any] = {}
    for _ in range(SWEEPS):
        mark, json_mark = len(ec2.calls), len(ec2.json_calls)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            summary = reconciler(scheduled_event(), LambdaContext(timeout_s=900))["sessions"]
        provider.append((time.perf_counter() - started) * 1000)
        calls.update(ec2.calls[mark:] + ec2.json_calls[json_mark:])
        mark, json_mark = len(ec2.calls), len(ec2.json_calls)
        started = time.perf_counter()
        _floor(ec2, stacks)
        floor.append((time.perf_counter() - started) * 1000)
        floor_calls.update(ec2.calls[mark:] + ec2.json_calls[json_mark:])
    writes = {k: v for k, v in calls.items() if k in WRITE_ACTIONS or k in SSM_WRITES}
    if writes:
        problems.append(f"a sweep with nothing drifted wrote: {writes}")
    found = sum(summary["findings"].values())
    if found or summary["checked"] != SESSIONS:
        problems.append(f"the sweep found {found} findings, checked {summary['checked']}")
    p, f = statistics.median(provider), statistics.median(floor)
    return {
        "sessions": SESSIONS,
        "stacks": STACKS,
        "setup_s": round(setup_s, 1),
        "sweeps": SWEEPS,
        "provider_ms": round(p, 1),
        "floor_ms": round(f, 1),
        "ratio": round(p / f, 2),
        "calls_per_sweep": {k: v // SWEEPS for k, v in sorted(calls.items())},
        "floor_calls_per_sweep": {k: v // SWEEPS for k, v in sorted(floor_calls.items())},
        "writes": sum(writes.values()),
        "findings": found,
        "checked": summary["checked"],
    }, problems


def rows(r: dict[str, Any]) -> list[str]:
    """The drift row of the report's table."""
    per = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in r["calls_per_sweep"].items())
    floor = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in r["floor_calls_per_sweep"].items())
    return [
        f"| drift sweep, {r['sessions']} recorded sessions in {r['stacks']} stacks, nothing "
        f"drifted (median of {r['sweeps']}) | {r['provider_ms']:.0f} ms, {r['writes']} writes, "
        f"{r['findings']} findings; calls: {per} | {r['floor_ms']:.0f} ms; calls: {floor} "
        f"| {r['ratio']:.2f}x |"
    ]


if __name__ == "__main__":
    from local.harness.ec2sim import EmbeddedEc2 as _Ec2

    with _Ec2() as _ec2, ResponseReceiver() as _rx:
        _result, _problems = run(_ec2, _rx)
    print("\n".join(rows(_result)))
    print(_result)
    raise SystemExit(1 if _problems else 0)
