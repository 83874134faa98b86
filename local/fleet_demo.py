"""``make demo-fleet``: a Custom::TrafficMirrorFleet kept true while its Auto Scaling group
changes, against an embedded EC2 (with Auto Scaling and SSM), no AWS account.

The group is spread over two Availability Zones, each with its own collector (an interface
target): the fleet's ``ZonalTrafficMirrorTargetIds`` sends each zone's interfaces to their own
zone's target (``InterfacesCrossZone`` 0: no inter-zone data transfer); later zone b's target
leaves the list and a central collector in zone a becomes the fallback, so zone b's sessions
move to it in place and the cross-zone count shows them.

Stack events go to FleetFunction's handler, EventBridge events (an instance launched, the
schedule firing) to ReconcilerFunction's, both loaded from template.yaml as Lambda loads them;
answers land on the local HTTPS receiver. After every step it compares what EC2 holds (the
sessions, their interfaces, numbers, VNIs, targets and filters) with what the stack believes
(the fleet's properties, the interfaces its selector names now, the VirtualNetworkId of its
last answer; the provider's stored copy must match the properties). They must agree, or
differ exactly as the step says (a session deleted by hand); the EC2 writes of each step, from
the embedded EC2's call log, are checked too. Exits 1 on any surprise.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.fleets import (
    GROUP,
    Zone,
    create_group,
    group_instances,
    interfaces_by_zone,
    resize,
    resize_zonal,
    running_event,
    scheduled_event,
    target_in,
    zones,
)
from local.harness.lambda_loader import ROOT, Handler, LambdaContext, load_handler
from local.harness.receiver import ResponseReceiver

LOG = ROOT / "build" / "demo-fleet-function-log.jsonl"
STORE = "/traffic-mirror-provider"  # the provider's own SSM path (template.yaml)
CREATE, MODIFY, DELETE = (
    "CreateTrafficMirrorSession",
    "ModifyTrafficMirrorSession",
    "DeleteTrafficMirrorSession",
)


@dataclass
class Step:
    """One thing that happens to the fleet, and what must come of it."""

    title: str
    act: Callable[[], str]  # does it; returns what to show (the answer, the summary)
    writes: list[str]  # the EC2 writes it makes, in any order
    missing: Callable[[], set[str]] = set  # selected interfaces EC2 is to lack afterwards
    extra: Callable[[], set[str]] = set  # interfaces EC2 still mirrors though not selected
    check: Callable[[], str | None] = lambda: None  # anything else; a problem or None
    note: str = ""


@dataclass
class Belief:
    """What the stack believes: the fleet's properties and its last answer's attributes."""

    interfaces: set[str] = field(default_factory=set)  # what the selector names now
    targets: dict[str, str | None] = field(default_factory=dict)  # each one's, by its zone
    filter: str = "-"
    vni: str = "-"
    zones: str = ""  # which target each zone's interfaces go to

    def show(self) -> str:
        if self.filter == "-":
            return "no fleet"
        return (
            f"group {GROUP!r} selects {len(self.interfaces)} interface(s), {self.zones}, "
            f"filter {self.filter}, VirtualNetworkId {self.vni}"
        )


class FleetDemo:
    """The steps, played against one embedded EC2 with one fleet resource."""

    def __init__(
        self, ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, reconciler: Handler
    ) -> None:
        self.ec2, self.fx, self.fleet, self.reconciler = ec2, fx, fleet, reconciler
        self.spread: list[Zone] = zones(ec2, fx.vpc_id)  # us-east-1a and -1b, a collector each
        a = self.spread[0]
        self.central = target_in(ec2, a.subnet_id, "central collector")  # in zone a
        #: Where each target is (the demo made them): the oracle's own knowledge.
        self.zone_of_target = {z.target_id: z.name for z in self.spread} | {self.central: a.name}
        self.props: dict[str, Any] = {
            "AutoScalingGroupName": GROUP,
            "ZonalTrafficMirrorTargetIds": [z.target_id for z in self.spread],
            "TrafficMirrorFilterId": fx.filter_ids[0],
            "Description": "web tier, every instance",
        }
        self.data: dict[str, Any] = {}  # the attributes of the last answer that had them
        self.exists = False  # the stack holds the fleet (created, not yet deleted)
        self.seen: dict[str, Any] = {}  # what a step remembers for its check

    # What the two sides hold.
    def stored(self) -> list[dict[str, Any]]:
        """The fleets' properties in the provider's store (SSM, its own path)."""
        ssm = boto3.client("ssm", region_name=self.ec2.region, endpoint_url=self.ec2.endpoint)
        pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=STORE, Recursive=True)
        from traffic_mirror.aws.store import REMOVED  # noqa: PLC0415 - loaded with the handlers

        values = [p["Value"] for page in pages for p in page["Parameters"]]
        return [json.loads(v)["properties"] for v in values if v != REMOVED]  # no tombstones

    def belief(self) -> tuple[Belief, list[str]]:
        """What the stack believes (the template's properties, the last answer's attributes),
        and how the provider's stored copy differs from it."""
        declared = dict(self.fleet.props) if self.exists else None
        stored = self.stored()
        problems = []
        if len(stored) != (declared is not None):
            problems.append(
                f"the store holds {len(stored)} fleet(s), the stack {int(bool(declared))}"
            )
        elif declared is not None and stored[0] != declared:
            differ = sorted(
                k for k in {*declared, *stored[0]} if declared.get(k) != stored[0].get(k)
            )
            problems.append(
                "the store holds "
                + ", ".join(f"{k}={stored[0].get(k)}" for k in differ)
                + "; the stack declares "
                + ", ".join(f"{k}={declared.get(k)}" for k in differ)
            )
        if declared is None:
            return Belief(), problems
        by_zone = interfaces_by_zone(self.ec2, declared["AutoScalingGroupName"])
        serving = {self.zone_of_target[t]: t for t in declared["ZonalTrafficMirrorTargetIds"]}
        fallback = declared.get("TrafficMirrorTargetId")
        names = {z.target_id: f"{z.name}'s" for z in self.spread} | {self.central: "central"}
        belief = Belief(
            {eni for enis in by_zone.values() for eni in enis},
            {eni: serving.get(zone, fallback) for zone, enis in by_zone.items() for eni in enis},
            declared["TrafficMirrorFilterId"],
            str(self.data.get("VirtualNetworkId") or "-"),
            ", ".join(
                f"{zone} ({len(by_zone.get(zone, []))}) to "
                + (names.get(serving.get(zone, fallback) or "", "nowhere") + " collector")
                for zone in (z.name for z in self.spread)
            ),
        )
        return belief, problems

    def answer(self, body: dict[str, Any], *, exists: bool = True) -> str:
        """CloudFormation's answer, shown; a FAILED one fails the step."""
        if body["Status"] != "SUCCESS":
            raise RuntimeError(f"answered {body['Status']}: {body.get('Reason')}")
        self.exists = exists  # after a Create or Update; not after the Delete
        shown = f"{body['Status']} {body['PhysicalResourceId']}"
        if not body.get("Data"):
            return shown
        self.data = body["Data"]
        return (
            f"{shown}: InterfacesMirrored {self.data.get('InterfacesMirrored')} in total, "
            f"InterfacesSkipped {self.data.get('InterfacesSkipped')}, "
            f"InterfacesCrossZone {self.data.get('InterfacesCrossZone')}"
        )

    def reconcile(self, event: dict[str, Any], launch: bool = False) -> str:
        """Deliver an EventBridge event to the reconciler; say what it did, each count named
        (a launch pass counts the new instance's interfaces, a sweep the whole fleet's)."""
        mark = len(self.ec2.calls)
        summary = self.reconciler(event, LambdaContext(timeout_s=60))
        mine = summary.get("fleets", {}).get(self.fleet.physical_id, {})
        if not mine:
            return "reconciler: did nothing for this fleet"
        created = self.ec2.writes(mark).count(CREATE)
        mirrored = mine.get("mirrored", 0)
        said = [
            f"created {created}",
            f"removed {mine.get('removed', 0)}",
            f"the new instance's {mirrored} interface(s) mirrored"
            if launch
            else f"{mirrored} interface(s) mirrored in total",
        ]
        said += [f"{k} {v}" for k, v in mine.items() if k not in {"mirrored", "removed"} and v]
        return "reconciler: " + ", ".join(said)

    # The steps.
    def steps(self) -> list[Step]:
        client = self.ec2.client()

        def scale_out() -> str:
            before = set(group_instances(self.ec2))
            resize(self.ec2, 4)
            (new,) = set(group_instances(self.ec2)) - before
            return self.reconcile(running_event(new), launch=True)

        def by_hand() -> str:
            gone = min(self.ec2.sessions(), key=lambda s: str(s["NetworkInterfaceId"]))
            self.seen["gone"] = gone
            client.delete_traffic_mirror_session(
                TrafficMirrorSessionId=gone["TrafficMirrorSessionId"]
            )
            self.ec2.wait_visible()  # shown deleted in EC2's reads before the next step
            return f"deleted {gone['TrafficMirrorSessionId']} on {gone['NetworkInterfaceId']}"

        def restored() -> str | None:
            gone = self.seen["gone"]
            again = self.held().get(gone["NetworkInterfaceId"])
            same = again and again["TrafficMirrorSessionId"] == gone["TrafficMirrorSessionId"]
            return "the deleted session is back under its old ID?" if same else None

        def update() -> str:
            self.seen["ids"] = {s["TrafficMirrorSessionId"] for s in self.ec2.sessions()}
            self.props = {**self.props, "TrafficMirrorFilterId": self.fx.filter_ids[1]}
            return self.answer(self.fleet.update(self.props))

        def in_place() -> str | None:
            now = {s["TrafficMirrorSessionId"] for s in self.ec2.sessions()}
            return None if now == self.seen["ids"] else "sessions replaced, not modified"

        def fallback() -> str:
            self.seen["ids"] = {s["TrafficMirrorSessionId"] for s in self.ec2.sessions()}
            a = self.spread[0]
            self.props = {
                **self.props,
                "ZonalTrafficMirrorTargetIds": [a.target_id],
                "TrafficMirrorTargetId": self.central,
            }
            return self.answer(self.fleet.update(self.props))

        def scale_in() -> str:
            before = group_instances(self.ec2)
            resize(self.ec2, 2)
            self.seen["ended"] = {before[i] for i in set(before) - set(group_instances(self.ec2))}
            return f"terminated {len(self.seen['ended'])} instances"

        return [
            Step(f"Auto Scaling group {GROUP!r} of 3", self.group, []),
            Step(
                "Create the fleet (stack created)",
                lambda: self.answer(self.fleet.create(self.props)),
                [CREATE] * 3,
                check=lambda: self.counts("3", "0", "0"),
                note="each zone's interfaces go to their own zone's collector: no mirrored byte "
                "crosses a zone (inter-zone data transfer is charged per GB in each direction)",
            ),
            Step("scale out to 4, the launch event", scale_out, [CREATE]),
            Step(
                "a session deleted by hand",
                by_hand,
                [DELETE],
                lambda: {self.seen["gone"]["NetworkInterfaceId"]},
            ),
            Step(
                "the scheduled sweep",
                lambda: self.reconcile(scheduled_event()),
                [CREATE],
                check=restored,
            ),
            Step(
                "filter changed in the template (Update)",
                update,
                [MODIFY] * 4,
                check=lambda: in_place() or self.counts("4", "0", "0"),
            ),
            Step(
                "zone b's collector leaves the list (Update)",
                fallback,
                [MODIFY],
                check=lambda: in_place() or self.counts("4", "0", "1"),
                note="zone b's session moved in place to the central collector (the fallback, "
                "in zone a): InterfacesCrossZone counts it, its traffic now crosses zones",
            ),
            Step(
                "scale in to 2",
                scale_in,
                [],
                extra=lambda: set(self.seen["ended"]),
                note="moto keeps a terminated instance's interface and its session; EC2 deletes "
                "both (DeleteOnTermination), and the sweep then has nothing to delete",
            ),
            Step("the scheduled sweep", lambda: self.reconcile(scheduled_event()), [DELETE] * 2),
            Step(
                "stack deleted (Delete)",
                lambda: self.answer(self.fleet.delete(), exists=False),
                [DELETE] * 2,
            ),
        ]

    def group(self) -> str:
        a, _ = self.spread
        create_group(self.ec2, a.subnet_id, 2)  # two in zone a
        by_zone = resize_zonal(self.ec2, self.spread, 1)  # and one in zone b
        interfaces = sorted(eni for enis in by_zone.values() for eni in enis)
        where = ", ".join(f"{len(enis)} in {zone}" for zone, enis in by_zone.items())
        return f"{len(interfaces)} instances ({where}), primary interfaces {', '.join(interfaces)}"

    def counts(self, mirrored: str, skipped: str, cross_zone: str) -> str | None:
        got = tuple(self.data.get(f"Interfaces{k}") for k in ("Mirrored", "Skipped", "CrossZone"))
        return None if got == (mirrored, skipped, cross_zone) else f"attributes say {got}"

    def held(self) -> dict[str, dict[str, Any]]:
        return {str(s["NetworkInterfaceId"]): s for s in self.ec2.sessions()}

    def compare(self, step: Step) -> tuple[list[str], list[str]]:
        """Lines showing both sides, and the problems found (none when they agree)."""
        sessions, (belief, problems) = self.ec2.sessions(), self.belief()
        store = "the store disagrees" if problems else "the store agrees"
        held = {str(s["NetworkInterfaceId"]): s for s in sessions}
        missing, extra = step.missing(), step.extra()
        expected = (belief.interfaces - missing) | extra
        if len(held) != len(sessions):
            problems.append(f"{len(sessions) - len(held)} duplicate session(s) on an interface")
        if set(held) != expected:
            problems.append(
                f"EC2 mirrors {sorted(set(held) - expected)} unexpectedly and lacks "
                f"{sorted(expected - set(held))}"
            )
        for eni, session in held.items():
            want_target = belief.targets.get(eni, session["TrafficMirrorTargetId"])
            if session["TrafficMirrorTargetId"] != want_target:
                problems.append(
                    f"EC2 mirrors {eni} to {session['TrafficMirrorTargetId']}, the stack to "
                    f"{want_target} (its zone's)"
                )
        for name, key, want in (
            ("filters", "TrafficMirrorFilterId", {belief.filter}),
            ("VNIs", "VirtualNetworkId", {belief.vni}),
            ("numbers", "SessionNumber", {"1"}),  # the lowest free on each interface
        ):
            got = {str(s[key]) for s in sessions}
            if sessions and got != want:
                problems.append(f"EC2 holds {name} {sorted(got)}, the stack {sorted(want)}")
        numbers = ",".join(sorted({str(s["SessionNumber"]) for s in sessions})) or "-"
        vnis = ",".join(sorted({str(s["VirtualNetworkId"]) for s in sessions})) or "-"
        filters = ",".join(sorted({str(s["TrafficMirrorFilterId"]) for s in sessions})) or "-"
        lines = [
            f"EC2:   {len(sessions)} session(s) on {len(held)} interface(s), #{numbers}, "
            f"VNI {vnis}, filter {filters}",
            f"stack: {belief.show()}; {store}",
        ]
        if missing or extra:
            lines.append(
                f"as the step expects: {len(missing)} selected interface(s) without a session, "
                f"{len(extra)} no longer selected still mirrored"
            )
        if step.note:
            lines.append(f"note:  {step.note}")
        return lines, problems


def play(demo: FleetDemo, log: Any) -> int:
    """Play every step; print two or three lines each; return the number of bad steps."""
    failures = 0
    for n, step in enumerate(demo.steps(), start=1):
        mark = len(demo.ec2.calls)
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(log):  # the function's log lines
                shown = step.act()
            problems = [p for p in (step.check(),) if p]
        except Exception as exc:  # noqa: BLE001 - a step that breaks is a failed step
            shown, problems = f"raised {type(exc).__name__}", [str(exc)]
        ms = (time.perf_counter() - t0) * 1000
        writes = Counter(demo.ec2.writes(mark))
        if writes != Counter(step.writes):
            problems.append(f"EC2 writes {dict(writes)}, expected {dict(Counter(step.writes))}")
        try:
            lines, differ = demo.compare(step)
        except Exception as exc:  # noqa: BLE001 - a state that cannot be compared is a failure
            lines, differ = [], [f"cannot compare: {exc}"]
        problems += differ
        failures += bool(problems)
        shown_writes = ", ".join(
            f"{v} {k.removesuffix('TrafficMirrorSession')}" for k, v in writes.items()
        )
        print(f"{'BAD' if problems else 'ok '}{n:>3}. {step.title:<40} {ms:7.0f} ms  {shown}")
        print(f"        writes: {shown_writes or 'none'}")
        for line in lines + [f"PROBLEM: {p}" for p in problems]:
            print(f"        {line}")
    return failures


@contextlib.contextmanager
def _world(
    ec2: EmbeddedEc2 | None, receiver: ResponseReceiver | None
) -> Iterator[tuple[EmbeddedEc2, ResponseReceiver]]:
    with contextlib.ExitStack() as stack:
        yield (
            ec2 or stack.enter_context(EmbeddedEc2()),
            receiver or stack.enter_context(ResponseReceiver()),
        )


def run(
    log_path: Path = LOG,
    ec2: EmbeddedEc2 | None = None,
    receiver: ResponseReceiver | None = None,
) -> int:
    """Play the demo; return the exit code. The function's log lines go to ``log_path``.

    ``ec2`` and ``receiver``: already running ones (a test's), else the demo starts its own.
    """
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with _world(ec2, receiver) as (sim, rx), log_path.open("w") as log:
        fx = sim.fixtures()
        with contextlib.redirect_stdout(log):  # the logger binds its stream at import
            fleet_handler = load_handler(function="FleetFunction")
            reconciler = load_handler(function="ReconcilerFunction")
        fleet = CustomResource(
            fleet_handler,
            rx,
            logical_id="WebFleet",
            resource_type="Custom::TrafficMirrorFleet",
            timeout_s=60,
        )
        print(f"embedded EC2 {sim.endpoint}, receiver https://localhost:{rx.port}")
        print(f"filters {', '.join(fx.filter_ids)}\n")
        failures = play(FleetDemo(sim, fx, fleet, reconciler), log)
        left = len(sim.sessions())
    elapsed = time.monotonic() - started
    print(f"\nEC2 holds {left} session(s) at the end; the stack expects 0.")
    if failures or left:
        print(f"DEMO FAILED: {failures} step(s) where EC2 and the stack disagreed.")
        return 1
    print(
        "Every step: EC2 and the stack agreed, or differed only as the step said "
        f"({elapsed:.1f} s)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(run())
