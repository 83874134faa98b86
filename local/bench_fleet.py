"""``make bench``, the fleet rows: a Custom::TrafficMirrorFleet of BENCH_FLEET_SIZE (1,000)
interfaces, an Auto Scaling group's instances in the embedded EC2.

- **Create under throttling**: 1 in BENCH_FLEET_THROTTLE_EVERY calls of each EC2 action the
  fleet makes answers ``RequestLimitExceeded`` (HTTP 503); botocore's standard retry mode
  backs off for real. The stack's Create goes to FleetFunction's handler with the template's
  timeout, then scheduled sweeps to ReconcilerFunction's until every interface is mirrored:
  the invocations used are counted. Then EC2 is checked: one session on each interface, one
  VNI, the declared target and filter; anything else is a failure (``make bench`` exits 1).
- **Sweep of a true fleet**: reads only (the call log must show no write).
- **Delete** of the whole fleet.
- **Time budget**: the same fleet created and deleted with a Lambda timeout of
  BENCH_FLEET_SHORT_TIMEOUT_S, so a pass stops early and sweeps finish the work.

Floors, on the same endpoint in the same run: bare boto3 (the provider's retry policy)
making the calls that cannot be avoided: DescribeInstances and one Create per interface (no
reads, numbers not allocated, as the naive scripts do), under the same throttling; the
sweep's two Describes; a Describe and one Delete per session.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Final

import boto3
import botocore.retries.standard
from botocore.config import Config

from local.harness.ec2sim import WRITE_ACTIONS, EmbeddedEc2, Fixtures, tagged_sessions
from local.harness.events import CustomResource, new_stack_id
from local.harness.fleets import GROUP, LIVE, create_group, scheduled_event
from local.harness.lambda_loader import LambdaContext, load_handler, read_template
from local.harness.receiver import ResponseReceiver

SIZE = int(os.environ.get("BENCH_FLEET_SIZE", "1000"))
THROTTLE_EVERY = int(os.environ.get("BENCH_FLEET_THROTTLE_EVERY", "100"))
SWEEPS = int(os.environ.get("BENCH_FLEET_SWEEPS", "3"))
SHORT_TIMEOUT_S = float(os.environ.get("BENCH_FLEET_SHORT_TIMEOUT_S", "22"))
#: The EC2 actions a fleet's Create makes, each throttled 1 in THROTTLE_EVERY.
THROTTLED: Final = (
    "DescribeInstances",
    "DescribeTags",
    "DescribeTrafficMirrorSessions",
    "CreateTrafficMirrorSession",
)
MAX_SWEEPS: Final = 20
RAW_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 8})  # the provider's


def timeout_of(function: str) -> float:
    """The function's Timeout in template.yaml (seconds)."""
    return float(read_template()["Resources"][function]["Properties"]["Timeout"])


def throttle(ec2: EmbeddedEc2, every: int, calls: int) -> None:
    """Throttle 1 in ``every`` calls of each action in THROTTLED, for ``calls`` calls each."""
    for action in THROTTLED:
        for _ in range(calls // every + 1):
            ec2.inject(action, "RequestLimitExceeded", status=503, skip=every - 1)


@contextlib.contextmanager
def backoff_clock() -> Iterator[list[float]]:
    """The backoff delays botocore chooses meanwhile (it still sleeps them)."""
    delays: list[float] = []
    original = botocore.retries.standard.ExponentialBackoff.delay_amount

    def counted(self: Any, context: Any) -> float:
        delay = float(original(self, context))
        delays.append(delay)
        return delay

    botocore.retries.standard.ExponentialBackoff.delay_amount = counted  # type: ignore[method-assign]
    try:
        yield delays
    finally:
        botocore.retries.standard.ExponentialBackoff.delay_amount = original  # type: ignore[method-assign]


class Bench:
    """One fleet, its handlers and the embedded EC2's call log."""

    def __init__(self, ec2: EmbeddedEc2, rx: ResponseReceiver, fx: Fixtures) -> None:
        self.ec2, self.rx, self.fx = ec2, rx, fx
        with contextlib.redirect_stdout(io.StringIO()):
            self.fleet_handler = load_handler(function="FleetFunction")
            self.reconciler = load_handler(function="ReconcilerFunction")
        self.props = {
            "AutoScalingGroupName": GROUP,
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[0],
        }
        self.raw = boto3.client("ec2", config=RAW_CONFIG)
        self.problems: list[str] = []

    def invoke(self, call: Callable[[], Any], calls: Counter[str]) -> tuple[Any, float]:
        """One Lambda invocation: its result and seconds; its EC2 calls added to ``calls``."""
        mark = len(self.ec2.calls)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = call()
        seconds = time.perf_counter() - t0
        calls.update(self.ec2.calls[mark:])
        return result, seconds

    def sweep(self, timeout_s: float) -> Any:
        return self.reconciler(scheduled_event(), LambdaContext(timeout_s=timeout_s))

    def converge(
        self, first: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float
    ) -> dict[str, Any]:
        """The stack's event, then sweeps until ``done`` (given each one's result): the
        invocations used, their seconds, their EC2 calls (throttled attempts included)."""
        calls: Counter[str] = Counter()
        answer, seconds = self.invoke(first, calls)
        times, sweeps = [seconds], 0
        finished = done(answer)
        while not finished and sweeps < MAX_SWEEPS:
            summary, seconds = self.invoke(lambda: self.sweep(timeout_s), calls)
            times.append(seconds)
            sweeps += 1
            finished = done(summary)
        if not finished:
            self.problems.append(f"not finished after {sweeps} sweeps")
        return {
            "finished": finished,
            "invocations": {"stack event": 1, "sweeps": sweeps},
            "wall_s": round(sum(times), 2),
            "longest_invocation_s": round(max(times), 2),
            "ec2_calls": dict(sorted(calls.items())),
        }

    def create(self, fleet: CustomResource, timeout_s: float) -> dict[str, Any]:
        """Create, then sweeps until every interface is mirrored."""

        def done(result: Any) -> bool:
            if "Status" in result:  # the stack event's answer
                if result["Status"] != "SUCCESS":
                    self.problems.append(f"fleet Create answered FAILED: {result.get('Reason')}")
                return bool(result.get("Data", {}).get("InterfacesMirrored") == str(SIZE))
            return bool(result["fleets"].get(fleet.physical_id, {}).get("mirrored") == SIZE)

        return self.converge(lambda: fleet.create(self.props), done, timeout_s)

    def delete(self, fleet: CustomResource, timeout_s: float) -> dict[str, Any]:
        """Delete, then sweeps until the record is gone (a Delete cut short marks it)."""

        def done(result: Any) -> bool:
            if result.get("Status", "SUCCESS") != "SUCCESS":
                self.problems.append(f"fleet Delete answered FAILED: {result.get('Reason')}")
            return not self.stored()

        return self.converge(fleet.delete, done, timeout_s)

    def stored(self) -> int:
        """Fleet records in the store (SSM, not an EC2 call)."""
        ssm = boto3.client("ssm")
        pages = ssm.get_paginator("get_parameters_by_path").paginate(
            Path="/traffic-mirror-provider", Recursive=True
        )
        from traffic_mirror.aws.store import REMOVED  # noqa: PLC0415 - loaded with the handlers

        return sum(p["Value"] != REMOVED for page in pages for p in page["Parameters"])

    def check(self, interfaces: list[str], what: str) -> None:
        """Every interface mirrored once, one VNI, the declared target and filter."""
        sessions = self.ec2.sessions()
        found = Counter(str(s["NetworkInterfaceId"]) for s in sessions)
        problems = []
        if sorted(found) != interfaces or set(found.values()) - {1}:
            unmirrored = len(set(interfaces) - set(found))
            problems.append(f"{len(sessions)} sessions, {unmirrored} interfaces unmirrored")
        if len({s["VirtualNetworkId"] for s in sessions}) != 1:
            problems.append("more than one VNI")
        wanted = {(self.fx.target_id, self.fx.filter_ids[0])}
        if {(s["TrafficMirrorTargetId"], s["TrafficMirrorFilterId"]) for s in sessions} != wanted:
            problems.append("a session with another target or filter")
        self.problems += [f"{what}: {p}" for p in problems]

    # Floors: bare boto3, the calls that cannot be avoided.
    def describe_group(self) -> list[str]:
        pages = self.raw.get_paginator("describe_instances").paginate(
            Filters=[
                {"Name": "instance-state-name", "Values": LIVE},
                {"Name": "tag:aws:autoscaling:groupName", "Values": [GROUP]},
            ]
        )
        return sorted(
            str(n["NetworkInterfaceId"])
            for page in pages
            for r in page["Reservations"]
            for i in r["Instances"]
            for n in i["NetworkInterfaces"]
            if n["Attachment"]["DeviceIndex"] == 0
        )

    def floor_create(self, tags: dict[str, str]) -> list[str]:
        """DescribeInstances, then one Create per interface (number 1, the first's VNI;
        ``tags`` so the Delete floor finds them as the provider finds its own)."""
        vni: int | None = None
        made = []
        for eni in self.describe_group():
            args: dict[str, Any] = {
                "NetworkInterfaceId": eni,
                "TrafficMirrorTargetId": self.fx.target_id,
                "TrafficMirrorFilterId": self.fx.filter_ids[0],
                "SessionNumber": 1,
                "TagSpecifications": [
                    {
                        "ResourceType": "traffic-mirror-session",
                        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                    }
                ],
            }
            if vni is not None:
                args["VirtualNetworkId"] = vni
            session = self.raw.create_traffic_mirror_session(**args)["TrafficMirrorSession"]
            vni = vni or int(session["VirtualNetworkId"])
            made.append(str(session["TrafficMirrorSessionId"]))
        return made

    def floor_owned(self, tags: dict[str, str]) -> list[Any]:
        return tagged_sessions(self.raw, tags)  # no tag: filter on sessions in EC2

    def floor_sweep(self, tags: dict[str, str]) -> None:
        """The two reads a sweep cannot avoid: the group's instances, the fleet's sessions."""
        self.describe_group()
        self.floor_owned(tags)

    def floor_delete(self, tags: dict[str, str]) -> None:
        self.ec2.wait_visible()  # what floor_create made shows in reads (no wait without lag)
        for session in self.floor_owned(tags):
            self.raw.delete_traffic_mirror_session(
                TrafficMirrorSessionId=session["TrafficMirrorSessionId"]
            )


def _floor(bench: Bench, work: Callable[[], Any]) -> dict[str, Any]:
    mark = len(bench.ec2.calls)
    t0 = time.perf_counter()
    work()
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "ec2_calls": dict(sorted(Counter(bench.ec2.calls[mark:]).items())),
    }


def _calls(entry: dict[str, Any]) -> int:
    return sum(entry["ec2_calls"].values())


def create_under_throttling(bench: Bench, interfaces: list[str]) -> dict[str, Any]:
    """The floor, then the fleet, each under the same throttling."""
    ec2 = bench.ec2
    throttled = ec2.injected.get("RequestLimitExceeded", 0)
    throttle(ec2, THROTTLE_EVERY, 4 * SIZE)
    tags = {"bench": "floor"}
    with backoff_clock() as delays:
        floor = _floor(bench, lambda: bench.floor_create(tags))
    ec2.clear_faults()
    floor["throttled"] = ec2.injected.get("RequestLimitExceeded", 0) - throttled
    floor["backoff_s"] = round(sum(delays), 2)
    delete_floor = _floor(bench, lambda: bench.floor_delete(tags))

    fleet = CustomResource(
        bench.fleet_handler,
        bench.rx,
        logical_id="BenchFleet",
        stack_id=new_stack_id("bench-fleet"),
        resource_type="Custom::TrafficMirrorFleet",
        timeout_s=timeout_of("FleetFunction"),
    )
    throttled = ec2.injected.get("RequestLimitExceeded", 0)
    throttle(ec2, THROTTLE_EVERY, 4 * SIZE)
    with backoff_clock() as delays:
        made = bench.create(fleet, timeout_of("ReconcilerFunction"))
    ec2.clear_faults()
    made["throttled"] = ec2.injected.get("RequestLimitExceeded", 0) - throttled
    made["backoff_s"] = round(sum(delays), 2)
    before = len(bench.problems)
    bench.check(interfaces, "fleet Create under throttling")
    made["all_mirrored"] = made["finished"] and len(bench.problems) == before
    sweep = sweep_true_fleet(bench, fleet)
    deleted = bench.delete(fleet, timeout_of("FleetFunction"))
    if ec2.sessions():
        bench.problems.append(f"fleet Delete left {len(ec2.sessions())} sessions")
    return {
        "create": {
            "provider": made,
            "floor": floor,
            "time_ratio": round(made["wall_s"] / floor["wall_s"], 2),
            "calls_ratio": round(_calls(made) / _calls(floor), 2),
        },
        "sweep": sweep,
        "delete": {
            "provider": deleted,
            "floor": delete_floor,
            "time_ratio": round(deleted["wall_s"] / delete_floor["wall_s"], 2),
        },
    }


def sweep_true_fleet(bench: Bench, fleet: CustomResource) -> dict[str, Any]:
    """SWEEPS sweeps of the fleet as made, interleaved with the floor's two Describes."""
    sample = bench.ec2.sessions()[0]
    tags = {
        str(t["Key"]): str(t["Value"])
        for t in sample.get("Tags", [])
        if str(t["Key"]).endswith(("stack-id", "logical-id"))
    }
    provider: list[float] = []
    floor: list[float] = []
    calls: Counter[str] = Counter()
    floor_calls: dict[str, int] = {}
    timeout = timeout_of("ReconcilerFunction")
    for _ in range(SWEEPS):
        _, seconds = bench.invoke(lambda: bench.sweep(timeout), calls)
        provider.append(seconds * 1000)
        measured = _floor(bench, lambda: bench.floor_sweep(tags))
        floor.append(measured["wall_s"] * 1000)
        floor_calls = measured["ec2_calls"]
    writes = {k: v for k, v in calls.items() if k in WRITE_ACTIONS}
    if writes:
        bench.problems.append(f"a sweep of a true fleet wrote: {writes}")
    p, f = statistics.median(provider), statistics.median(floor)
    return {
        "sweeps": SWEEPS,
        "provider_ms": round(p, 1),
        "floor_ms": round(f, 1),
        "ratio": round(p / f, 2),
        "ec2_calls_per_sweep": {k: v // SWEEPS for k, v in sorted(calls.items())},
        "floor_calls": floor_calls,
        "writes": sum(writes.values()),
    }


def time_budget(bench: Bench, interfaces: list[str]) -> dict[str, Any]:
    """The fleet created and deleted with a short Lambda timeout: passes stop early, sweeps
    finish; each invocation must end inside its timeout."""
    fleet = CustomResource(
        bench.fleet_handler,
        bench.rx,
        logical_id="BudgetFleet",
        stack_id=new_stack_id("bench-budget"),
        resource_type="Custom::TrafficMirrorFleet",
        timeout_s=SHORT_TIMEOUT_S,
    )
    made = bench.create(fleet, SHORT_TIMEOUT_S)
    bench.check(interfaces, f"fleet Create with a {SHORT_TIMEOUT_S:.0f} s timeout")
    deleted = bench.delete(fleet, SHORT_TIMEOUT_S)
    if bench.ec2.sessions():
        bench.problems.append(f"the budgeted Delete left {len(bench.ec2.sessions())} sessions")
    for what, entry in (("Create", made), ("Delete", deleted)):
        if entry["longest_invocation_s"] > SHORT_TIMEOUT_S:
            bench.problems.append(
                f"a {what} invocation ran {entry['longest_invocation_s']} s, over its "
                f"{SHORT_TIMEOUT_S:.0f} s timeout"
            )
    return {"timeout_s": SHORT_TIMEOUT_S, "create": made, "delete": deleted}


def run(
    ec2: EmbeddedEc2, rx: ResponseReceiver, settle_s: float
) -> tuple[dict[str, Any], list[str]]:
    """Every fleet row, on a fresh embedded EC2 state; the results and any failure."""
    ec2.reset()
    saved = os.environ.get("SETTLE_SECONDS")
    os.environ["SETTLE_SECONDS"] = str(settle_s)  # the real wait: once per pass, not per Create
    try:
        fx = ec2.fixtures(sources=1)
        # Room for the group: a /20 holds 4,091 instances, a /18 (the 10,000 row) 16,379.
        cidr = "10.0.16.0/20" if SIZE <= 4000 else "10.0.64.0/18"
        subnet = ec2.client().create_subnet(VpcId=fx.vpc_id, CidrBlock=cidr)
        t0 = time.perf_counter()
        interfaces = create_group(ec2, subnet["Subnet"]["SubnetId"], SIZE)
        setup_s = time.perf_counter() - t0
        bench = Bench(ec2, rx, fx)
        results = {
            "interfaces": len(interfaces),
            "selector": f"AutoScalingGroupName ({SIZE} instances, primary interfaces)",
            "throttle_every": THROTTLE_EVERY,
            "throttled_actions": list(THROTTLED),
            "settle_seconds": settle_s,
            "group_setup_s": round(setup_s, 1),
            **create_under_throttling(bench, interfaces),
            "time_budget": time_budget(bench, interfaces),
        }
    finally:
        if saved is None:
            os.environ.pop("SETTLE_SECONDS", None)
        else:
            os.environ["SETTLE_SECONDS"] = saved
    return results, bench.problems


def _per(entry: dict[str, Any]) -> str:
    calls = _calls(entry)
    return f"{calls} EC2 calls, {calls / SIZE:.2f} per interface"


def rows(r: dict[str, Any]) -> list[str]:
    """The fleet rows of the report's table."""
    c, p, f = r["create"], r["create"]["provider"], r["create"]["floor"]
    inv = p["invocations"]
    sweep, d = r["sweep"], r["delete"]
    budget = r["time_budget"]
    mirrored = "all mirrored" if p["all_mirrored"] else "NOT all mirrored"
    return [
        f"| fleet Create, {r['interfaces']} interfaces (Auto Scaling group), 1 in "
        f"{r['throttle_every']} calls throttled | {mirrored}, {p['wall_s']} s (backoff "
        f"{p['backoff_s']} s), {_per(p)} ({p['throttled']} throttled), invocations: "
        f"{inv['stack event']} Create + {inv['sweeps']} sweeps | {f['wall_s']} s (backoff "
        f"{f['backoff_s']} s), {_per(f)} ({f['throttled']} throttled) "
        f"| {c['time_ratio']:.2f}x time, {c['calls_ratio']:.2f}x calls |",
        f"| fleet sweep, {r['interfaces']} interfaces, nothing drifted (median of "
        f"{sweep['sweeps']}) | {sweep['provider_ms']:.0f} ms, {sweep['writes']} writes, calls "
        + ", ".join(f"{k} {v}" for k, v in sweep["ec2_calls_per_sweep"].items())
        + f" | {sweep['floor_ms']:.0f} ms | {sweep['ratio']:.2f}x |",
        f"| fleet Delete, {r['interfaces']} sessions | {d['provider']['wall_s']} s, "
        f"{_calls(d['provider'])} EC2 calls | {d['floor']['wall_s']} s, "
        f"{_calls(d['floor'])} EC2 calls | {d['time_ratio']:.2f}x |",
        f"| fleet with a {budget['timeout_s']:.0f} s Lambda timeout: invocations until done "
        f"| Create 1 + {budget['create']['invocations']['sweeps']} sweeps (longest "
        f"{budget['create']['longest_invocation_s']} s), Delete 1 + "
        f"{budget['delete']['invocations']['sweeps']} sweeps (longest "
        f"{budget['delete']['longest_invocation_s']} s) | - | - |",
    ]
