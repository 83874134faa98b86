"""``make bench``: the provider against its floor (bare boto3 making the same EC2 calls), in the
same run, on the same embedded EC2 endpoint, so the ratios hold on a noisy machine.

Prints a table and writes build/bench.json (git-ignored, so a run leaves the clone clean).
A benchmark, not a test: timings are reported, never judged. It exits 1 only when the fleet
rows (:mod:`local.bench_fleet`) find the fleet not as declared (not all mirrored, a write in
a sweep of a true fleet, sessions left after Delete), or the drift rows
(:mod:`local.bench_drift`) find a sweep with nothing drifted writing or reporting anything,
or the lookup rows (:mod:`local.bench_lookup`) find a way to the sessions answering other
sessions, or making other calls, than it should.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

from local import bench_drift, bench_fleet, bench_lookup
from local.harness.ec2sim import WRITE_ACTIONS, EmbeddedEc2, Fixtures
from local.harness.events import CustomResource, event, new_stack_id
from local.harness.lambda_loader import ROOT, Handler, LambdaContext, handler_location, load_handler
from local.harness.receiver import ResponseReceiver, put_json
from local.package_check import zipped_size

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "10"))
FANOUT = int(os.environ.get("BENCH_FANOUT", "100"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "20"))
THROTTLES = int(os.environ.get("BENCH_THROTTLES", "60"))
MEMBER = "111111111111"
MEMBER_ROLE = f"arn:aws:iam::{MEMBER}:role/TrafficMirrorSessions"
RESULTS = ROOT / "build" / "bench.json"
PACKAGE = ROOT / ".aws-sam" / "build" / "ProviderFunction"

COLD_PROVIDER = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {code_dir!r})
import {module}
from traffic_mirror.aws.ec2 import ec2_client
ec2_client()
print(time.perf_counter() - t0)
"""
COLD_FLOOR = """
import time
t0 = time.perf_counter()
import boto3
boto3.client("ec2")
print(time.perf_counter() - t0)
"""
RSS_PROVIDER = """
import json, sys
from local.harness.lambda_loader import LambdaContext, load_handler
handler = load_handler()
for body in json.loads(sys.argv[1]):
    handler(body, LambdaContext())
print(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
"""
RSS_FLOOR = """
import json, sys
import boto3
ec2 = boto3.client("ec2")
p = json.loads(sys.argv[1])
s = ec2.create_traffic_mirror_session(**p)["TrafficMirrorSession"]["TrafficMirrorSessionId"]
ec2.modify_traffic_mirror_session(TrafficMirrorSessionId=s, Description="b")
ec2.delete_traffic_mirror_session(TrafficMirrorSessionId=s)
print(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
"""


def summary(samples: list[float]) -> dict[str, float]:
    """Median, min and max, rounded (milliseconds or megabytes, as given)."""
    return {
        "median": round(statistics.median(samples), 3),
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
        "n": len(samples),
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }


def cold_start() -> dict[str, Any]:
    """Import of the handler module plus its first client, in fresh processes, vs boto3's."""
    code_dir, spec = handler_location()
    provider = COLD_PROVIDER.format(code_dir=str(code_dir), module=spec.rpartition(".")[0])
    times: dict[str, list[float]] = {"provider": [], "floor": []}
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    for _ in range(COLD_RUNS):  # interleaved, so both see the same machine
        for name, script in (("provider", provider), ("floor", COLD_FLOOR)):
            done = subprocess.run(  # noqa: S603 - our own interpreter, fixed scripts
                [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
            )
            times[name].append(float(done.stdout.strip().splitlines()[-1]) * 1000)
    p, f = summary(times["provider"]), summary(times["floor"])
    return {"provider_ms": p, "floor_ms": f, "ratio": round(p["median"] / f["median"], 2)}


class Lifecycle:
    """One resource's Create, Update and Delete through the handler, and the same by hand."""

    def __init__(
        self, ec2: EmbeddedEc2, rx: ResponseReceiver, handler: Handler, fx: Fixtures
    ) -> None:
        self.ec2, self.rx, self.handler, self.fx = ec2, rx, handler, fx
        self.raw = boto3.client("ec2")
        self.ssm = boto3.client("ssm")  # the floor writes a record as the provider does
        self.cloudformation = CustomResource(handler, rx, stack_id=new_stack_id("bench"))
        self.props = {
            "NetworkInterfaceId": fx.sources[0],
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[0],
            "SessionNumber": "1",
        }
        self.calls: dict[str, dict[str, int]] = {}

    def _timed(self, kind: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        before, stored = len(self.ec2.calls), len(self.ec2.json_calls)
        t0 = time.perf_counter()
        self.handler(body, LambdaContext())
        ms = (time.perf_counter() - t0) * 1000
        calls = self.ec2.calls[before:]
        writes = sum(c in WRITE_ACTIONS for c in calls)
        store = len(self.ec2.json_calls[stored:])
        self.calls[kind] = {"writes": writes, "reads": len(calls) - writes, "store": store}
        return ms, self.rx.for_request(body["RequestId"])[-1].body

    def provider(self) -> dict[str, float]:
        """Create, Update in place, Delete through the handler (each ends with its PUT)."""
        out: dict[str, float] = {}
        out["Create"], created = self._timed(
            "Create", self.cloudformation.make("Create", self.props)
        )
        sid = created["PhysicalResourceId"]
        new = {**self.props, "Description": "benchmark"}
        update = self.cloudformation.make("Update", new, physical_id=sid, old_props=self.props)
        out["Update"], _ = self._timed("Update", update)
        delete = self.cloudformation.make("Delete", new, physical_id=sid)
        out["Delete"], _ = self._timed("Delete", delete)
        return out

    def _record(self, sid: str, props: dict[str, Any] | None) -> None:
        """The drift record's write (or removal), as the provider makes it."""
        name = f"/bench-floor/sessions/{sid}"
        value = json.dumps({"stack_id": "x" * 90, "logical_id": "Bench", "properties": props})
        if props is None:
            value = '{"removed":true}'  # a tombstone, as the provider removes a record
        self.ssm.put_parameter(
            Name=name, Value=value, Type="String", Tier="Intelligent-Tiering", Overwrite=True
        )

    def floor(self) -> dict[str, float]:
        """The same EC2 calls with a bare client (the provider's reads of the interface
        included), the same store write, each event followed by one HTTPS PUT."""
        url = self.rx.url_for(str(uuid.uuid4()))
        body = {"Status": "SUCCESS"}
        out: dict[str, float] = {}
        on_interface = [
            {"Name": "network-interface-id", "Values": [str(self.props["NetworkInterfaceId"])]}
        ]
        t0 = time.perf_counter()
        params = {**self.props, "SessionNumber": 1}
        self.raw.describe_traffic_mirror_sessions(Filters=on_interface)  # type: ignore[arg-type]
        sid = self.raw.create_traffic_mirror_session(**params)["TrafficMirrorSession"][  # type: ignore[arg-type]
            "TrafficMirrorSessionId"
        ]
        self.raw.describe_traffic_mirror_sessions(Filters=on_interface)  # type: ignore[arg-type]
        self._record(sid, self.props)
        put_json(url, body)  # one HTTPS PUT, a new connection, as a function makes
        out["Create"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        self.raw.describe_traffic_mirror_sessions(Filters=on_interface)  # type: ignore[arg-type]
        self.raw.modify_traffic_mirror_session(TrafficMirrorSessionId=sid, Description="b")
        self._record(sid, {**self.props, "Description": "b"})
        put_json(url, body)  # one HTTPS PUT, a new connection, as a function makes
        out["Update"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        self.raw.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
        self._record(sid, None)
        put_json(url, body)  # one HTTPS PUT, a new connection, as a function makes
        out["Delete"] = (time.perf_counter() - t0) * 1000
        return out

    def bodies(self) -> list[dict[str, Any]]:
        """A whole lifecycle's events for another process (Update/Delete name a placeholder
        the process cannot know, so they target a session created here first)."""
        sid = self.raw.create_traffic_mirror_session(
            **{**self.props, "SessionNumber": 2}  # type: ignore[arg-type]
        )["TrafficMirrorSession"]["TrafficMirrorSessionId"]
        new = {**self.props, "Description": "rss"}
        return [
            self.cloudformation.make("Create", {**self.props, "SessionNumber": "3"}),
            self.cloudformation.make("Update", new, physical_id=sid, old_props=self.props),
            self.cloudformation.make("Delete", new, physical_id=sid),
        ]


def member_create(ec2: EmbeddedEc2, rx: ResponseReceiver, handler: Handler) -> dict[str, Any]:
    """A Create in another account with an allocated number (RoleArn, SessionNumber omitted):
    AssumeRole, a Describe of the interface, the Create and the PUT, against the same by hand."""
    fx = ec2.fixtures(sources=1, account=MEMBER)
    resource = CustomResource(handler, rx, stack_id=new_stack_id("bench-member"))
    props = {
        "NetworkInterfaceId": fx.sources[0],
        "TrafficMirrorTargetId": fx.target_id,
        "TrafficMirrorFilterId": fx.filter_ids[0],
        "RoleArn": MEMBER_ROLE,
    }
    sts = boto3.client("sts")

    def provider() -> float:
        body = resource.make("Create", props)
        t0 = time.perf_counter()
        handler(body, LambdaContext())
        ms = (time.perf_counter() - t0) * 1000
        sid = rx.for_request(body["RequestId"])[-1].body["PhysicalResourceId"]
        handler(resource.make("Delete", props, physical_id=sid), LambdaContext())
        return ms

    def floor() -> float:
        url = rx.url_for(str(uuid.uuid4()))
        t0 = time.perf_counter()
        creds = sts.assume_role(
            RoleArn=MEMBER_ROLE, RoleSessionName="bench.floor", DurationSeconds=900
        )["Credentials"]
        member = boto3.client(
            "ec2",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        taken = member.describe_traffic_mirror_sessions(
            Filters=[{"Name": "network-interface-id", "Values": [fx.sources[0]]}]
        )["TrafficMirrorSessions"]
        sid = member.create_traffic_mirror_session(
            NetworkInterfaceId=fx.sources[0],
            TrafficMirrorTargetId=fx.target_id,
            TrafficMirrorFilterId=fx.filter_ids[0],
            SessionNumber=len(taken) + 1,
        )["TrafficMirrorSession"]["TrafficMirrorSessionId"]
        member.describe_traffic_mirror_sessions(  # the provider's read for rivals
            Filters=[{"Name": "network-interface-id", "Values": [fx.sources[0]]}]
        )
        put_json(url, {"Status": "SUCCESS"})
        ms = (time.perf_counter() - t0) * 1000
        member.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
        return ms

    provider(), floor()  # warm-up
    samples: dict[str, list[float]] = {"provider": [], "floor": []}
    for _ in range(RUNS):
        samples["provider"].append(provider())
        samples["floor"].append(floor())
    p, f = summary(samples["provider"]), summary(samples["floor"])
    return {"provider_ms": p, "floor_ms": f, "ratio": round(p["median"] / f["median"], 2)}


def warm_events(life: Lifecycle) -> dict[str, Any]:
    """Per event, warm, interleaved provider and floor runs."""
    life.provider()  # warm-up: the first client, TLS context, imports on first use
    life.floor()
    samples: dict[str, dict[str, list[float]]] = {"provider": {}, "floor": {}}
    for _ in range(RUNS):
        for name, run in (("provider", life.provider), ("floor", life.floor)):
            for kind, ms in run().items():
                samples[name].setdefault(kind, []).append(ms)
    out: dict[str, Any] = {}
    for kind in ("Create", "Update", "Delete"):
        p, f = summary(samples["provider"][kind]), summary(samples["floor"][kind])
        out[kind] = {"provider_ms": p, "floor_ms": f, "ratio": round(p["median"] / f["median"], 2)}
    return out


def peak_rss(life: Lifecycle) -> dict[str, float]:
    """Peak RSS (MB) of a fresh process after a full lifecycle, provider vs floor.

    VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a child would report the
    peak of this (moto-hosting) process it was forked from.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = {}
    for name, script, arg in (
        ("provider", RSS_PROVIDER, life.bodies()),
        ("floor", RSS_FLOOR, {**life.props, "SessionNumber": 4}),
    ):
        done = subprocess.run(  # noqa: S603 - our own interpreter, fixed scripts
            [sys.executable, "-c", script, json.dumps(arg)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=ROOT,
        )
        out[f"{name}_mb"] = round(int(done.stdout.strip().splitlines()[-1]) / 1024, 1)
    return out


def _worker_init() -> None:
    global _HANDLER  # noqa: PLW0603 - one handler per worker process, like a warm container
    with contextlib.redirect_stdout(io.StringIO()):
        _HANDLER = load_handler()


_HANDLER: Handler | None = None


def _worker_run(body: dict[str, Any]) -> float:
    assert _HANDLER is not None
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        _HANDLER(body, LambdaContext(timeout_s=60))
    return (time.perf_counter() - t0) * 1000


def fan_out(ec2: EmbeddedEc2, rx: ResponseReceiver, fx: Fixtures) -> dict[str, Any]:
    """FANOUT resources created at once by WORKERS warm containers, under a throttling burst."""
    stack_id = new_stack_id("fanout")
    bodies = []
    for i in range(FANOUT):
        rid = str(uuid.uuid4())
        props = {
            "NetworkInterfaceId": fx.sources[1 + i % (len(fx.sources) - 1)],  # [0]: lifecycle
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[0],
            "SessionNumber": str(i + 1),
        }
        bodies.append(
            event(
                "Create",
                rx.url_for(rid),
                props,
                stack_id=stack_id,
                logical_id=f"S{i}",
                request_id=rid,
            )
        )
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS, initializer=_worker_init) as pool:
        pool.map(_sleep, range(WORKERS))  # all workers up and warm before the clock starts
        ec2.inject(
            "CreateTrafficMirrorSession", "RequestLimitExceeded", status=503, times=THROTTLES
        )
        before = ec2.calls.count("CreateTrafficMirrorSession")
        t0 = time.perf_counter()
        per_event = pool.map(_worker_run, bodies, chunksize=1)
        total_s = time.perf_counter() - t0
    attempts = ec2.calls.count("CreateTrafficMirrorSession") - before
    statuses = [rx.for_request(b["RequestId"])[-1].body["Status"] for b in bodies]
    ec2.clear_faults()
    return {
        "resources": FANOUT,
        "workers": WORKERS,
        "throttles_injected": THROTTLES,
        "create_attempts": attempts,
        "retries": attempts - FANOUT,
        "succeeded": statuses.count("SUCCESS"),
        "failed": statuses.count("FAILED"),
        "total_s": round(total_s, 2),
        "per_event_ms": summary(per_event),
    }


def _sleep(_: int) -> None:
    time.sleep(0.5)


def package() -> dict[str, Any]:
    """Zipped size of the sam build artifact (make bench builds it first)."""
    if not PACKAGE.is_dir():
        return {"zipped_mb": None, "note": "run `make build` first"}
    return {"zipped_mb": round(zipped_size(PACKAGE) / 1e6, 2)}


#: The provider waits this long after each Create before reading the interface again for
#: rivals (SETTLE_SECONDS, traffic_mirror.sessions.allocation): a fixed sleep, not work. The timings
#: below leave it out, so they compare work with work; the report states it on its own row.
SETTLE_WAIT_S = 1.0


def run() -> dict[str, Any]:
    """Every measurement; returns the results written to build/bench.json."""
    os.environ["SETTLE_SECONDS"] = "0"
    results: dict[str, Any] = {
        "machine": machine(),
        "runs": RUNS,
        "settle_wait_s_per_create_not_timed": SETTLE_WAIT_S,
    }
    print(f"cold start: {COLD_RUNS} fresh processes each ...", flush=True)
    results["cold_start"] = cold_start()
    with EmbeddedEc2() as ec2, ResponseReceiver() as rx:
        # EC2 allows 3 sessions per interface: enough sources for the fan-out's sessions.
        fx = ec2.fixtures(sources=-(-FANOUT // 3) + 1)
        with contextlib.redirect_stdout(io.StringIO()):
            handler = load_handler()
        life = Lifecycle(ec2, rx, handler, fx)
        print(f"warm events: {RUNS} lifecycles, provider and floor interleaved ...", flush=True)
        with contextlib.redirect_stdout(io.StringIO()):
            results["events"] = warm_events(life)
        results["ec2_calls_per_event"] = life.calls
        print(f"member-account create: {RUNS} each ...", flush=True)
        with contextlib.redirect_stdout(io.StringIO()):
            results["member_create"] = member_create(ec2, rx, handler)
        print("peak RSS: fresh processes after a full lifecycle ...", flush=True)
        results["peak_rss"] = peak_rss(life)
        print(
            f"fan-out: {FANOUT} creates, {WORKERS} workers, {THROTTLES} throttles ...", flush=True
        )
        results["fan_out"] = fan_out(ec2, rx, fx)
        if bench_fleet.SIZE:  # BENCH_FLEET_SIZE=0 leaves the fleet rows out
            print(
                f"fleet: {bench_fleet.SIZE} interfaces, created under throttling, swept, "
                f"deleted; then with a {bench_fleet.SHORT_TIMEOUT_S:.0f} s Lambda timeout ...",
                flush=True,
            )
            t0 = time.perf_counter()
            results["fleet"], results["fleet_problems"] = bench_fleet.run(ec2, rx, SETTLE_WAIT_S)
            results["fleet"]["bench_s"] = round(time.perf_counter() - t0, 1)
        if bench_drift.SESSIONS:  # BENCH_DRIFT_SESSIONS=0 leaves the drift rows out
            print(
                f"drift: {bench_drift.SESSIONS} recorded sessions in {bench_drift.STACKS} stacks, "
                f"{bench_drift.SWEEPS} sweeps ...",
                flush=True,
            )
            results["drift"], results["drift_problems"] = bench_drift.run(ec2, rx)
        if bench_lookup.SIZES:  # BENCH_LOOKUP_SIZES="" leaves the lookup rows out
            print(
                f"lookups: a fleet's sessions and the sweep's, both ways, at "
                f"{', '.join(f'{n:,}' for n in bench_lookup.SIZES)} sessions, "
                f"{bench_lookup.RUNS} runs each ...",
                flush=True,
            )
            t0 = time.perf_counter()
            results["lookup"], results["lookup_problems"] = bench_lookup.run(ec2)
            results["lookup"]["bench_s"] = round(time.perf_counter() - t0, 1)
    results["package"] = package()
    return results


def report(r: dict[str, Any]) -> str:
    """The results as the table the README carries."""
    lines = [
        f"machine: {r['machine']['cpu']}, {r['machine']['cores']} cores, "
        f"Python {r['machine']['python']}, {r['machine']['date']}",
        "",
        "| measure | provider | floor (bare boto3) | ratio |",
        "|---|---|---|---|",
    ]

    def row(name: str, entry: dict[str, Any], unit: str = "ms") -> None:
        p, f = entry["provider_ms"], entry["floor_ms"]
        lines.append(
            f"| {name} | {p['median']:.1f} {unit} ({p['min']:.1f}-{p['max']:.1f}) "
            f"| {f['median']:.1f} {unit} ({f['min']:.1f}-{f['max']:.1f}) | {entry['ratio']:.2f}x |"
        )

    row("cold start: import + first client", r["cold_start"])
    for kind in ("Create", "Update", "Delete"):
        row(f"{kind}, warm, end to end (incl. response PUT)", r["events"][kind])
    if "member_create" in r:
        row(
            "Create via RoleArn, number allocated (AssumeRole, Describe, Create, Describe, PUT)",
            r["member_create"],
        )
    calls = r["ec2_calls_per_event"]
    lines.append(
        "| EC2 calls per event (writes/reads), plus the drift record's SSM write | "
        + ", ".join(
            f"{k} {v['writes']}/{v['reads']} + {v.get('store', 0)}" for k, v in calls.items()
        )
        + " | the same | - |"
    )
    rss = r["peak_rss"]
    lines.append(
        f"| peak RSS after a lifecycle | {rss['provider_mb']} MB | {rss['floor_mb']} MB "
        f"| {rss['provider_mb'] / rss['floor_mb']:.2f}x |"
    )
    lines.append(
        f"| fixed wait after each Create for rivals (SETTLE_SECONDS), not in the times above "
        f"| {r.get('settle_wait_s_per_create_not_timed', 0) * 1000:.0f} ms | - | - |"
    )
    lines.append(f"| package, zipped | {r['package']['zipped_mb']} MB | - | - |")
    fo = r["fan_out"]
    lines.append(
        f"| fan-out: {fo['resources']} creates, {fo['workers']} workers, "
        f"{fo['throttles_injected']} throttles | {fo['succeeded']} ok, {fo['failed']} failed, "
        f"{fo['retries']} retries, {fo['total_s']} s | - | - |"
    )
    if "fleet" in r:
        lines += bench_fleet.rows(r["fleet"])
    lines += [f"FLEET PROBLEM: {p}" for p in r.get("fleet_problems", [])]
    if "drift" in r:
        lines += bench_drift.rows(r["drift"])
    lines += [f"DRIFT PROBLEM: {p}" for p in r.get("drift_problems", [])]
    if "lookup" in r:
        lines += bench_lookup.rows(r["lookup"])
    lines += [f"LOOKUP PROBLEM: {p}" for p in r.get("lookup_problems", [])]
    return "\n".join(lines)


def main() -> int:
    """Entry point."""
    results = run()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(report(results))
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")
    problems = ("fleet_problems", "drift_problems", "lookup_problems")
    return 1 if any(results.get(key) for key in problems) else 0


if __name__ == "__main__":
    sys.exit(main())
