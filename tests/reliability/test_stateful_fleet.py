"""Fleets, stateful: random sequences of what happens around a Custom::TrafficMirrorFleet, played
through the real handlers (FleetFunction, ReconcilerFunction and the session provider, each as
Lambda imports it from template.yaml) against the embedded EC2 with Auto Scaling and SSM.

Steps: the fleet created on a group, on tags or on interface IDs (Interfaces primary or all);
groups scaled out, with the `running` event delivered, delivered twice or lost; instances
terminated, their interfaces deleted by EC2 with their sessions or left behind; a second
interface attached; the selector and the settings changed by Update; an Update refused, then
rolled back; a fleet session deleted or changed by hand; the scheduled sweep; single
Custom::TrafficMirrorSession resources on fleet interfaces (SessionNumber omitted or declared),
one at a time, or two at once in their own Lambda environments while this process sweeps,
handles the launch of their instance, or updates the fleet; single sessions and the fleet
deleted.

Zonal targets: the groups' instances are spread over two Availability Zones as drawn (each
scale-out draws its zone), and the fleet's settings draw whether it uses
ZonalTrafficMirrorTargetIds, which zones have a target and whether TrafficMirrorTargetId (a
central target in the first zone) is the fallback; a step adds or removes one zone's target by
an Update, then sweeps. After every pass, each mirrored interface's session targets the target
of its own zone when one serves it, else the fallback; an interface with neither is skipped
(and holds no fleet session); InterfacesCrossZone (or the sweep's ``cross_zone``) is the
number of interfaces mirrored to the fallback from another zone. A target that moves is moved
in place: same session, one Modify.

A member account: a second fleet placed there through RoleArn (the embedded EC2 plays that
account: calls signed with its role's keys land there), on an Auto Scaling group of that
account, created and deleted as drawn; the group scales out and each launch's event is
forwarded from the member account (examples/member-events.yaml, as
tests/integration/test_member_launch.py plays EventBridge): from its account and region it
mirrors the instance at once, without a sweep, with one Create in that account; from another
account or region it reads and writes nothing (only the sweep then mirrors the instance). After
every step, the member account holds exactly the member fleet's sessions on the instances it
must mirror by then, and the home account none of them.

After every step, in EC2: no SessionNumber twice on an interface; at most one fleet session per
interface; every single session exactly as its stack resource believes (same ID, number and
settings, whatever the fleet did); no session that is neither a single's nor the live fleet's
(after the fleet's Delete: none of it); one store record per live fleet. After every pass over
the whole fleet (Create, Update, sweep): a session on every selected interface the fleet can
mirror, as declared, sharing one VNI, and none elsewhere; the counts it reports are those; a
second sweep only reads.

Two reconciler passes of one fleet at once are not played here: test_fleet_races.py.

Steps draw from fixed strategies, and preconditions read only what the draws fixed: whether the
fleet exists, the instances launched (the model's ``launched``, which an invariant checks
against EC2), the single resources added. Never how a race ended or what EC2 answered (which
session won a number, whether a racing Create left a session, IDs, numbers): hypothesis replays
and shrinks a sequence with the same draws (tests/reliability/_draws.py).

FLEET_SEQUENCES and FLEET_STEPS size the run (defaults 6 x 15; `make reliability` runs more).
"""

from __future__ import annotations

import copy
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from local.harness.ec2sim import EmbeddedEc2
from local.harness.environments import LambdaEnvironments
from local.harness.events import event, new_stack_id
from local.harness.fleets import ZONES, running_event, scheduled_event
from local.harness.lambda_loader import Handler, LambdaContext, load_handler
from local.harness.receiver import ResponseReceiver
from tests.figures import FIGURES
from tests.integration.test_member_launch import OTHER_MEMBER, delivered, member_event
from tests.integration.test_placement import MEMBER, ROLE
from tests.reliability._draws import PICK, pick
from tests.reliability._fleet_model import (
    GROUP_TAG,
    GROUP_TAGS,
    GROUPS,
    LIVE,
    MAX_SIZE,
    MEMBER_GROUP,
    SPREAD,
    Clock,
    Launched,
    MemberWorld,
    Route,
    Selector,
    SelectorChoice,
    Settings,
    SingleSpec,
    World,
    fleet_settings,
    interfaces_of,
    selector_choices,
    single_specs,
)
from traffic_mirror.aws.store import REMOVED, store_path
from traffic_mirror.ownership import (
    ALLOCATED,
    DECLARED,
    LOGICAL_KEY,
    MANAGED_BY_KEY,
    NUMBER_KEY,
    STACK_KEY,
)

SEQUENCES = int(os.environ.get("FLEET_SEQUENCES", "6"))
STEPS = int(os.environ.get("FLEET_STEPS", "15"))
FLEET = "WebFleet"
MEMBER_FLEET = "MemberFleet"  # a second fleet, placed in the member account (RoleArn)
OTHER_REGION = "eu-west-1"
FLEET_TYPE = "Custom::TrafficMirrorFleet"
SINGLES = ("SingleA", "SingleB", "SingleC")
RACERS = ("RacerA", "RacerB")  # single sessions created during a race
MAX_SESSIONS = 3  # per source interface
RACE_SETTLE_S = "0.3"  # SETTLE_SECONDS of every party to a race (as in test_stateful)
F = "fleet stateful: "
Session = dict[str, Any]


@dataclass
class Single:
    """A single session as its stack resource knows it."""

    physical: str
    eni: str
    spec: SingleSpec
    number: int
    props: dict[str, Any]
    vanished: bool = False  # deleted by EC2 with its interface


@dataclass
class Fleet:
    """The fleet as the stack knows it."""

    physical: str
    selector: Selector
    settings: Settings
    props: dict[str, Any]
    true: bool = True  # nothing drifted since the last pass over the whole fleet


@dataclass
class Harness:
    ec2: EmbeddedEc2
    sessions: Handler
    fleet: Handler
    reconciler: Handler
    receiver: ResponseReceiver
    envs: LambdaEnvironments


class FleetAndSingles(RuleBasedStateMachine):
    """One stack: a Custom::TrafficMirrorFleet and up to three single sessions, among groups.

    Rules draw from fixed strategies only (see ``PICK``), and preconditions and picks read only
    what the draws fixed (``fleet`` being None or not, ``launched``, the keys of ``singles``):
    hypothesis replays a sequence with the same draws, however its races end."""

    env: ClassVar[Harness]

    def __init__(self) -> None:
        super().__init__()
        # The member account: its group and fleet, made by the first step that needs them.
        # ``member_launched``: how many instances the draws launched there (in launch order,
        # ``member_ids``); ``member_mirrored``: those of them the member fleet must mirror now
        # (by its Create, a sweep, or the launch event forwarded from the member account).
        self.member_world: MemberWorld | None = None
        self.member: Fleet | None = None
        self.member_launched = 0
        self.member_ids: list[str] = []
        self.member_mirrored: set[int] = set()
        self.env.ec2.reset()
        self.world = World(self.env.ec2, self.env.ec2.fixtures())
        self.fx = self.world.fx
        self.clock = Clock()
        self.stack_id = new_stack_id("fleet-stateful")
        self.fleet: Fleet | None = None
        # The single resources the draws added, by logical ID: the session each Create made, or
        # None where the Create was refused and rolled back (which may follow from how a race
        # ended: the numbers the fleet holds). Which logical IDs are here is up to the draws;
        # delete_single removes one (and sends the Delete when there is a resource).
        self.singles: dict[str, Single | None] = {}
        self.launched: list[Launched] = []  # every instance, in launch order (World.launched)
        FIGURES[F + "sequences"] += 1

    # --- CloudFormation's and EventBridge's side ------------------------------------------

    def make(self, kind: str, logical: str, props: dict[str, Any], **kw: Any) -> dict[str, Any]:
        rid = str(uuid.uuid4())
        return event(
            kind,
            self.env.receiver.url_for(rid),
            props,
            stack_id=self.stack_id,
            logical_id=logical,
            request_id=rid,
            resource_type=(
                FLEET_TYPE if logical in (FLEET, MEMBER_FLEET) else "Custom::TrafficMirrorSession"
            ),
            **kw,
        )

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        fleets = (FLEET, MEMBER_FLEET)
        single = body["LogicalResourceId"] not in fleets
        handler = self.env.sessions if single else self.env.fleet
        handler(copy.deepcopy(body), LambdaContext(timeout_s=60))
        return self.env.receiver.for_request(body["RequestId"])[-1].body

    def ok(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.send(body)
        assert answer["Status"] == "SUCCESS", answer["Reason"]
        return answer

    def reconcile(self, bridge_event: dict[str, Any]) -> dict[str, Any]:
        summary: dict[str, Any] = self.env.reconciler(
            copy.deepcopy(bridge_event), LambdaContext(timeout_s=60)
        )
        return summary

    def mark(self) -> int:
        return len(self.env.ec2.calls)

    def shown(self) -> None:
        """Changes made by hand (or by EC2) before the provider is asked show in its reads:
        long before it is asked, in an account. Under a read lag (EMBEDDED_EC2_READ_LAG) this
        waits for them (tests/conftest.py's by_hand); with none, it returns at once."""
        self.env.ec2.wait_visible()

    # --- what EC2 holds, and what it must hold ---------------------------------------------

    def owned_by_fleet(self, session: Session) -> bool:
        tags = {t["Key"]: t["Value"] for t in session.get("Tags", [])}
        return tags.get(STACK_KEY) == self.stack_id and tags.get(LOGICAL_KEY) == FLEET

    def fleet_sessions(self) -> dict[str, list[Session]]:
        """The fleet's sessions (found by its ownership tags), by interface."""
        return {
            eni: mine
            for eni, held in self.world.by_interface().items()
            if (mine := [s for s in held if self.owned_by_fleet(s)])
        }

    def fleet_sessions_in_order(self) -> list[Session]:
        held = self.fleet_sessions()
        return [s for eni in self.world.ordered(held) for s in held[eni]]

    def routes(self, fleet: Fleet, enis: set[str] | None = None) -> dict[str, Route | None]:
        """Where each selected interface (or each of ``enis``) must be mirrored, by the zone
        EC2 says it is in: None where no zonal target serves it and there is no fallback."""
        if enis is None:
            enis = self.world.selected(fleet.selector)
        targets = fleet.settings.targets
        if not targets.zonal:
            return dict.fromkeys(enis, targets.route(self.world, None))
        zones = self.world.zone_names(enis)
        return {eni: targets.route(self.world, zones.get(eni)) for eni in enis}

    def expectation(self, fleet: Fleet) -> tuple[set[str], set[str]]:
        """(interfaces the fleet must mirror, selected interfaces it must skip): skipped are
        those whose other sessions fill the interface or hold the fleet's declared number, and
        those of a zone no zonal target serves when there is no fallback."""
        held = self.world.by_interface()
        mirrored, skipped = set(), set()
        for eni, route in self.routes(fleet).items():
            others = [s for s in held.get(eni, []) if not self.owned_by_fleet(s)]
            number = fleet.settings.number
            full = len(others) >= MAX_SESSIONS
            if route is None or full or any(s["SessionNumber"] == number for s in others):
                skipped.add(eni)
            else:
                mirrored.add(eni)
        return mirrored, skipped

    def check_true(self, counts: tuple[int, int], cross: str | int | None) -> None:
        """After a pass over the whole fleet, which reported ``counts`` (mirrored, skipped)
        and ``cross`` (InterfacesCrossZone: "" or absent, None, for a fleet without zonal
        targets): EC2 holds the fleet exactly as declared."""
        fleet = self.fleet
        assert fleet is not None
        must, skip = self.expectation(fleet)
        routes = self.routes(fleet)
        held = self.fleet_sessions()
        lost = must - set(held)
        stray = set(held) - must - skip  # on interfaces the fleet does not select
        unrouted = {eni for eni in held if eni in routes and routes[eni] is None}
        FIGURES[F + "fleet sessions lost (after a pass)"] += len(lost)
        FIGURES[F + "fleet sessions left on unselected interfaces (after a pass)"] += len(stray)
        FIGURES[F + "fleet sessions left in a zone no target serves (after a pass)"] += len(
            unrouted
        )
        assert not lost and not stray and not unrouted, (lost, stray, unrouted, fleet.selector)
        vnis = set()
        for eni in must:
            (session,) = held[eni]
            self.check_settings(session, fleet.settings, routes[eni])
            vnis.add(session["VirtualNetworkId"])
        assert len(vnis) <= 1, vnis  # the fleet shares one VNI
        assert counts == (len(must), len(skip)), (counts, must, skip)
        crossing = sum(bool((r := routes[eni]) and r.cross_zone) for eni in must)
        if fleet.settings.targets.zonal:
            assert cross is not None and int(cross) == crossing, (cross, crossing, routes)
            FIGURES[F + "interfaces mirrored by a zonal fleet (after a pass)"] += len(must)
            FIGURES[F + "cross-zone interfaces (after a pass)"] += crossing
            FIGURES[F + "interfaces skipped, no target serves their zone (after a pass)"] += sum(
                routes[eni] is None for eni in skip
            )
        else:
            assert cross in (None, ""), cross
        FIGURES[F + "interfaces mirrored (after a pass)"] += len(must)
        FIGURES[F + "interfaces skipped, full or number taken (after a pass)"] += len(skip)
        fleet.true = True

    def check_settings(self, session: Session, want: Settings, route: Route | None) -> None:
        """The session as ``want`` declares it, to ``route``'s target (its interface's)."""
        assert route is not None, session
        assert session["TrafficMirrorTargetId"] == route.target, (session, route)
        assert session["TrafficMirrorFilterId"] == self.fx.filter_ids[want.filter], session
        assert want.packet_of(session) == want.packet, (session, want)
        assert session.get("Description") == want.desc, (session, want)
        if want.number is not None:
            assert session["SessionNumber"] == want.number, (session, want)
        tags = {t["Key"]: t["Value"] for t in session.get("Tags", [])}
        assert tags.pop(NUMBER_KEY) in (ALLOCATED, DECLARED)
        assert tags == {
            **dict(want.tags),
            MANAGED_BY_KEY: "traffic-mirror-provider",
            STACK_KEY: self.stack_id,
            LOGICAL_KEY: FLEET,
        }, tags

    @staticmethod
    def counts(data: dict[str, str]) -> tuple[int, int]:
        return int(data["InterfacesMirrored"]), int(data["InterfacesSkipped"])

    def check_answer(self, answer: dict[str, Any]) -> None:
        """A pass's answer (Create, Update): EC2 and its Data agree with the model."""
        data = answer["Data"]
        self.check_true(self.counts(data), data.get("InterfacesCrossZone"))

    # --- the steps: the fleet's lifecycle ---------------------------------------------------

    @initialize(
        web=st.integers(1, 3),
        api=st.integers(0, 2),
        spread=SPREAD,
        choice=selector_choices,
        want=fleet_settings,
        twice=st.booleans(),
    )
    def groups_and_fleet(
        self,
        web: int,
        api: int,
        spread: tuple[int, ...],
        choice: SelectorChoice,
        want: Settings,
        twice: bool,
    ) -> None:
        """Both groups, their instances spread over the two zones as drawn, and the fleet
        (which a later step may delete and create again)."""
        sizes = {"web": list(spread[:web]), "api": list(spread[3 : 3 + api])}
        self.world.build(sizes)
        self.launched = [
            Launched(group, zone)
            for group in GROUPS
            for zone in range(len(ZONES))
            for _ in range(sizes[group].count(zone))
        ]
        self.create_fleet(choice, want, twice)

    def fleet_props(self, selector: Selector, want: Settings) -> dict[str, Any]:
        return {**selector.props(), **want.props(self.world)}

    @precondition(lambda self: self.fleet is None)
    @rule(choice=selector_choices, want=fleet_settings, twice=st.booleans())
    def create_fleet(self, choice: SelectorChoice, want: Settings, twice: bool) -> None:
        selector = choice.resolve(self.world)
        props = self.fleet_props(selector, want)
        body = self.make("Create", FLEET, props)
        answer = self.ok(body)
        self.fleet = Fleet(answer["PhysicalResourceId"], selector, want, props)
        self.check_answer(answer)
        vnis = {str(s["VirtualNetworkId"]) for s in self.fleet_sessions_in_order()}
        assert vnis <= {answer["Data"]["VirtualNetworkId"]}, (vnis, answer["Data"])
        if twice:  # Lambda delivers the Create again: the same fleet, nothing written
            mark = self.mark()
            again = self.ok(body)
            assert again["PhysicalResourceId"] == self.fleet.physical
            assert self.env.ec2.writes(mark) == []
            FIGURES[F + "fleet Creates delivered twice"] += 1
        FIGURES[F + "step: fleet Create"] += 1
        FIGURES[F + "zonal fleets created"] += want.targets.zonal

    def update_body(self, selector: Selector, want: Settings) -> dict[str, Any]:
        """CloudFormation's Update of the fleet; the stack records the new properties."""
        fleet = self.fleet
        assert fleet is not None
        props = self.fleet_props(selector, want)
        body = self.make("Update", FLEET, props, physical_id=fleet.physical, old_props=fleet.props)
        fleet.selector, fleet.settings, fleet.props = selector, want, props
        return body

    def in_place(self, answer: dict[str, Any]) -> dict[str, Any]:
        assert self.fleet is not None
        assert answer["Status"] == "SUCCESS", answer["Reason"]
        assert answer["PhysicalResourceId"] == self.fleet.physical  # never a replacement
        return answer

    @precondition(lambda self: self.fleet is not None)
    @rule(choice=selector_choices)
    def update_selector(self, choice: SelectorChoice) -> None:
        assert self.fleet is not None
        before = {e: h[0]["TrafficMirrorSessionId"] for e, h in self.fleet_sessions().items()}
        body = self.update_body(choice.resolve(self.world), self.fleet.settings)
        self.check_answer(self.in_place(self.send(body)))
        after = self.fleet_sessions()
        for eni in set(before) & set(after):  # still selected: the same session
            assert after[eni][0]["TrafficMirrorSessionId"] == before[eni]
        FIGURES[F + "step: selector changed by Update"] += 1

    @precondition(lambda self: self.fleet is not None)
    @rule(want=fleet_settings)
    def update_settings(self, want: Settings) -> None:
        self.settings_updated(want)
        FIGURES[F + "step: settings changed by Update"] += 1

    def settings_updated(self, want: Settings) -> int:
        """The fleet's settings (its targets among them) changed by an Update: every session
        kept is changed in place; the sessions whose target moved, counted."""
        fleet = self.fleet
        assert fleet is not None
        was_true = fleet.true
        held = self.fleet_sessions()
        new = replace(fleet, settings=want)
        must, _ = self.expectation(new)
        routes = self.routes(new)
        rewrites = want.rewrites(fleet.settings)
        modifies = sum(
            rewrites or want.differs(held[eni][0], self.fx, routes[eni])
            for eni in must
            if eni in held
        )
        moves: int = sum(
            held[eni][0]["TrafficMirrorTargetId"] != route.target
            for eni in must & set(held)
            if (route := routes[eni]) is not None
        )
        unrouted = {eni for eni in held if eni in routes and routes[eni] is None}
        mark = self.mark()
        body = self.update_body(fleet.selector, want)
        self.check_answer(self.in_place(self.send(body)))
        after = self.fleet_sessions()
        for eni in must & set(held):  # changed in place (a target moved too): never re-created
            assert after[eni][0]["TrafficMirrorSessionId"] == held[eni][0]["TrafficMirrorSessionId"]
        if was_true:  # one Modify per session whose settings changed, nothing else but tags,
            # a Create per interface skipped before (its number taken, its zone unserved) and
            # mirrored now, and a Delete per session of a zone no target serves any more
            writes = Counter(self.env.ec2.writes(mark))
            creates = len(must - set(held))
            assert writes["ModifyTrafficMirrorSession"] == modifies, (writes, modifies)
            assert writes["CreateTrafficMirrorSession"] == creates, (writes, creates)
            assert writes["DeleteTrafficMirrorSession"] == len(unrouted), (writes, unrouted)
            assert set(writes) <= {
                "ModifyTrafficMirrorSession",
                "CreateTrafficMirrorSession",
                "DeleteTrafficMirrorSession",
                "CreateTags",
                "DeleteTags",
            }
            FIGURES[F + "interfaces no longer skipped after a settings Update"] += creates
            FIGURES[F + "sessions removed, their zone no longer served"] += len(unrouted)
        FIGURES[F + "Modifies sent by settings Updates"] += modifies
        FIGURES[F + "sessions moved to another target in place by an Update"] += moves
        return moves

    @precondition(lambda self: self.fleet is not None and self.fleet.settings.targets.zonal)
    @rule(
        zone=st.integers(0, len(ZONES) - 1),
        fallback=st.sampled_from(["kept", "kept", "given", "dropped"]),
    )
    def zonal_target_added_or_removed(self, zone: int, fallback: str) -> None:
        """The zone's target added to ZonalTrafficMirrorTargetIds by an Update, or removed
        (the only one: moved to the other zone), maybe with the fallback given or dropped:
        the zone's sessions move in place, one Modify each; then the sweep, which only
        confirms."""
        fleet = self.fleet
        assert fleet is not None
        targets = fleet.settings.targets.toggled(zone)
        if fallback != "kept":
            targets = replace(targets, fallback=fallback == "given")
        moves = self.settings_updated(replace(fleet.settings, targets=targets))
        self.scheduled_sweep()
        FIGURES[F + "step: zonal target added or removed by Update"] += 1
        FIGURES[F + "zonal target moves (sessions)"] += moves

    @precondition(lambda self: self.fleet is not None)
    @rule(missing=st.sampled_from(["TrafficMirrorFilterId", "TrafficMirrorTargetId"]))
    def failed_update_then_rollback(self, missing: str) -> None:
        fleet = self.fleet
        assert fleet is not None
        if not self.expectation(fleet)[0]:
            return  # no session the missing filter or target would be sent for
        absent = {"TrafficMirrorFilterId": "tmf-", "TrafficMirrorTargetId": "tmt-"}[missing]
        absent += "0" * 16
        bad = {**fleet.props, missing: absent}
        body = self.make("Update", FLEET, bad, physical_id=fleet.physical, old_props=fleet.props)
        failed = self.send(body)
        assert failed["Status"] == "FAILED", failed
        assert f"{missing} {absent} was not found" in failed["Reason"], failed["Reason"]
        assert failed["PhysicalResourceId"] == fleet.physical
        back = self.make("Update", FLEET, fleet.props, physical_id=fleet.physical, old_props=bad)
        self.check_answer(self.in_place(self.send(back)))
        FIGURES[F + "step: failed Update, then rollback"] += 1
        FIGURES[F + "failed Updates of a zonal fleet, then rollback"] += (
            fleet.settings.targets.zonal
        )

    @precondition(lambda self: self.fleet is not None)
    @rule(twice=st.booleans())
    def delete_fleet(self, twice: bool) -> None:
        fleet = self.fleet
        assert fleet is not None
        body = self.make("Delete", FLEET, fleet.props, physical_id=fleet.physical)
        self.ok(body)
        if twice:
            self.ok(body)  # delivered again: nothing left, still SUCCESS
        self.fleet = None
        left = self.fleet_sessions()
        FIGURES[F + "fleet sessions left after the fleet's Delete"] += len(left)
        assert not left, left
        FIGURES[F + "step: fleet Delete"] += 1

    # --- the steps: instances come and go ---------------------------------------------------

    def size(self, group: str) -> int:
        """How many live instances the group has: the draws fix it (``launched``)."""
        return sum(i.live and i.group == group for i in self.launched)

    def live_instances(self, interfaces: int | None = None) -> list[int]:
        """Indices into ``launched`` of the live instances (with that many interfaces)."""
        return [
            k
            for k, i in enumerate(self.launched)
            if i.live and (interfaces is None or i.interfaces == interfaces)
        ]

    @precondition(lambda self: any(self.size(g) < MAX_SIZE for g in GROUPS))
    @rule(
        which=PICK,
        count=st.integers(1, 2),
        delivery=st.sampled_from(["delivered", "delivered", "delivered twice", "lost"]),
        zone=st.integers(0, len(ZONES) - 1),
    )
    def scale_out(self, which: int, count: int, delivery: str, zone: int) -> None:
        group = pick([g for g in GROUPS if self.size(g) < MAX_SIZE], which)
        new = self.launch(group, min(count, MAX_SIZE - self.size(group)), zone)
        FIGURES[F + "instances launched"] += len(new)
        FIGURES[F + f"step: scale out, launch event {delivery}"] += 1
        if delivery == "lost":
            if self.fleet is not None:
                self.fleet.true = False  # only the sweep will find them
            return
        for instance in new:
            self.launch_event(instance, twice=delivery == "delivered twice")

    def launch(self, group: str, count: int, zone: int) -> list[str]:
        """The group grows by ``count`` in the zone (in the model and in EC2); the IDs."""
        new = self.world.scale_out(group, count, zone)
        assert len(new) == count, (new, count)
        first = len(self.launched)
        self.launched += [Launched(group, zone) for _ in new]
        assert [self.world.launched(first + k) for k in range(count)] == new
        return new

    def launch_event(self, instance: str, *, twice: bool) -> None:
        """The `running` event reaches the reconciler: the instance's interfaces the fleet
        selects and can mirror get a session each, and nothing else is written."""
        at = self.clock.tick()
        mark = self.mark()
        summary = self.reconcile(running_event(instance, at))
        fleet = self.fleet
        if fleet is None:
            assert summary["fleets"] == {} and self.env.ec2.writes(mark) == []
            return
        (found,) = [i for i in self.world.instances() if i["InstanceId"] == instance]
        mine = set(interfaces_of(found, "all"))
        must, skip = self.expectation(fleet)
        held = self.fleet_sessions()
        routes = self.routes(fleet, mine)
        for eni in mine & must:
            (session,) = held[eni]
            self.check_settings(session, fleet.settings, routes[eni])
        made = len(mine & must)
        assert self.env.ec2.writes(mark) == ["CreateTrafficMirrorSession"] * made
        if mine & (must | skip):
            assert summary["fleets"][fleet.physical]["mirrored"] == made, summary
        if twice:
            mark = self.mark()
            self.reconcile(running_event(instance, at))  # the same event again
            assert self.env.ec2.writes(mark) == []
        FIGURES[F + "interfaces mirrored by a launch event"] += made

    @precondition(lambda self: self.live_instances())
    @rule(which=PICK, interfaces_deleted=st.booleans())
    def scale_in(self, which: int, interfaces_deleted: bool) -> None:
        index = pick(self.live_instances(), which)
        enis = self.world.scale_in(self.world.launched(index))
        self.launched[index].live = False
        if interfaces_deleted:  # EC2 deletes the interfaces, and their sessions with them
            gone = set(self.world.interfaces_deleted(enis))
            self.shown()
            for single in self.singles.values():
                if single is not None:
                    single.vanished = single.vanished or single.physical in gone
            FIGURES[F + "sessions deleted by EC2 with their interface"] += len(gone)
        if self.fleet is not None:
            self.fleet.true = False
        kept = "deleted" if interfaces_deleted else "kept"
        FIGURES[F + f"step: scale in, interfaces {kept}"] += 1

    @precondition(lambda self: self.live_instances(interfaces=1))
    @rule(which=PICK)
    def attach_second_interface(self, which: int) -> None:
        index = pick(self.live_instances(interfaces=1), which)
        self.world.attach_second(self.world.launched(index), self.launched[index].zone)
        self.launched[index].interfaces = 2
        if self.fleet is not None:
            self.fleet.true = False
        FIGURES[F + "step: second interface attached"] += 1

    # --- the steps: out of band, and the sweep -----------------------------------------------

    def fleet_session_at(self, which: int) -> Session | None:
        """The fleet's session on the ``which``-th interface it selects, if it has one there.
        Which interfaces the fleet selects follows from the draws; whether its session is
        there may not (a skip, after a race took the number)."""
        assert self.fleet is not None
        selected = self.world.ordered(self.world.selected(self.fleet.selector))
        if not selected:
            return None
        here = self.fleet_sessions().get(pick(selected, which), [])
        return here[0] if here else None

    @precondition(lambda self: self.fleet is not None)
    @rule(which=PICK)
    def session_deleted_by_hand(self, which: int) -> None:
        session = self.fleet_session_at(which)
        if session is None:
            FIGURES[F + "step: fleet session deleted by hand (none there)"] += 1
            return
        sid = session["TrafficMirrorSessionId"]
        self.world.client.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
        self.shown()
        assert self.fleet is not None
        self.fleet.true = False
        FIGURES[F + "step: fleet session deleted by hand"] += 1

    @precondition(lambda self: self.fleet is not None)
    @rule(
        which=PICK,
        what=st.sampled_from(["target", "filter", "packet", "description", "vni"]),
        value=st.integers(1, 8500),
    )
    def session_changed_by_hand(self, which: int, what: str, value: int) -> None:
        session = self.fleet_session_at(which)
        if session is None:
            FIGURES[F + "step: fleet session changed by hand (none there)"] += 1
            return
        other_filter = next(f for f in self.fx.filter_ids if f != session["TrafficMirrorFilterId"])
        changes: dict[str, dict[str, Any]] = {
            "target": {"TrafficMirrorTargetId": self.world.other_target},
            "filter": {"TrafficMirrorFilterId": other_filter},
            "packet": {"PacketLength": value},
            "description": {"Description": f"changed by hand {value}"},
            "vni": {"VirtualNetworkId": value},
        }
        self.world.client.modify_traffic_mirror_session(
            TrafficMirrorSessionId=session["TrafficMirrorSessionId"], **changes[what]
        )
        self.shown()
        assert self.fleet is not None
        self.fleet.true = False
        FIGURES[F + f"step: fleet session's {what} changed by hand"] += 1

    @rule()  # the only rule without arguments: hypothesis's simplest choice, drawn most
    def sweep(self) -> None:
        self.scheduled_sweep()
        FIGURES[F + "step: scheduled sweep"] += 1

    def scheduled_sweep(self) -> None:
        """The sweep makes the fleet true; a second one right after only reads."""
        summary = self.reconcile(scheduled_event(self.clock.tick()))
        fleet, member = self.fleet, self.member
        stored = {f.physical for f in (fleet, member) if f is not None}
        assert set(summary["fleets"]) == stored, summary
        if fleet is not None:
            tally = summary["fleets"][fleet.physical]
            self.check_true((tally["mirrored"], tally["skipped"]), tally.get("cross_zone"))
        if member is not None:
            self.member_mirrored = set(range(self.member_launched))
            self.check_member(summary["fleets"][member.physical]["mirrored"])
        mark = self.mark()
        self.reconcile(scheduled_event(self.clock.tick()))
        assert self.env.ec2.writes(mark) == [], self.env.ec2.writes(mark)

    # --- the steps: single sessions ----------------------------------------------------------

    def candidates(self) -> list[str]:
        """Interfaces for single sessions: the fleet's (else every instance's), and one of
        no instance."""
        fleet = self.fleet
        chosen = self.world.selected(fleet.selector) if fleet is not None else set()
        if not chosen:
            chosen = {e for i in self.world.live() for e in interfaces_of(i, "all")}
        return [*self.world.ordered(chosen), self.fx.sources[1]]

    def predict(self, eni: str, spec: SingleSpec) -> str | None:
        """The Reason a single Create must fail with here now; None: it succeeds."""
        held = self.world.by_interface().get(eni, [])
        if len(held) >= MAX_SESSIONS:
            return "the EC2 maximum"
        if spec.number is not None and any(s["SessionNumber"] == spec.number for s in held):
            return "use SessionNumber"
        return None

    def settle_single(
        self, logical: str, eni: str, spec: SingleSpec, body: dict[str, Any], answer: Any
    ) -> Single | None:
        """The single a Create's answer made; a FAILED one gets CloudFormation's rollback."""
        props = body["ResourceProperties"]
        if answer["Status"] == "SUCCESS":
            number = int(answer["Data"]["SessionNumber"])
            assert spec.number is None or number == spec.number
            return Single(answer["PhysicalResourceId"], eni, spec, number, props)
        self.ok(self.make("Delete", logical, props, physical_id=answer["PhysicalResourceId"]))
        return None

    @precondition(lambda self: len(self.singles) < len(SINGLES))
    @rule(
        which=st.integers(0, 3),
        spec=single_specs,
        fleet_session_gone=st.booleans(),
        fleet_number=st.booleans(),
    )
    def create_single(
        self, which: int, spec: SingleSpec, fleet_session_gone: bool, fleet_number: bool
    ) -> None:
        """A single session on one of the first fleet interfaces (so that they meet), maybe
        declaring the number the fleet declares, maybe where the fleet's session was deleted
        by hand: then the fleet must skip the interface when the single takes its number or
        the last free place. Whether the Create succeeds may follow from how an earlier race
        ended (the numbers the fleet holds): either way is checked against what EC2 holds,
        and the logical ID is recorded (with None for a refused Create)."""
        logical = next(n for n in SINGLES if n not in self.singles)
        if fleet_number and self.fleet is not None and self.fleet.settings.number is not None:
            spec = replace(spec, number=self.fleet.settings.number)
        eni = pick(self.candidates(), which)
        if fleet_session_gone and self.fleet is not None:
            for session in self.fleet_sessions().get(eni, []):
                sid = session["TrafficMirrorSessionId"]
                self.world.client.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
                self.fleet.true = False
            self.shown()
        expected = self.predict(eni, spec)
        used = {s["SessionNumber"] for s in self.world.by_interface().get(eni, [])}
        lowest = min(set(range(1, MAX_SESSIONS + 2)) - used)
        # The lowest free number: every Delete before (a fleet's pass, a single's) answered
        # only once reads no longer showed the session (Ec2Gateway.delete_until_gone).
        body = self.make("Create", logical, spec.props(self.fx, eni))
        answer = self.send(body)
        if expected is None:
            assert answer["Status"] == "SUCCESS", answer["Reason"]
            if spec.number is None:
                assert answer["Data"]["SessionNumber"] == str(lowest), (answer, used)
        else:
            assert answer["Status"] == "FAILED" and expected in answer["Reason"], answer
            FIGURES[F + f"single Creates refused ({expected})"] += 1
        self.singles[logical] = made = self.settle_single(logical, eni, spec, body, answer)
        FIGURES[F + "single sessions created"] += made is not None
        FIGURES[F + "step: single session Create"] += 1

    @precondition(lambda self: self.singles)
    @rule(which=PICK, twice=st.booleans())
    def delete_single(self, which: int, twice: bool) -> None:
        """One of the single resources the draws added is removed from the template:
        CloudFormation deletes it, unless its Create was refused (no resource to delete)."""
        logical = pick(sorted(self.singles), which)
        single = self.singles.pop(logical)
        if single is None:
            FIGURES[F + "step: single removed whose Create was refused"] += 1
            return
        body = self.make("Delete", logical, single.props, physical_id=single.physical)
        self.ok(body)
        if twice:
            self.ok(body)
        FIGURES[F + "step: single session Delete"] += 1

    @precondition(lambda self: self.fleet is not None)
    @rule(
        which=PICK,
        specs=st.tuples(single_specs, single_specs),
        rival=st.sampled_from(["sweep", "launch event", "fleet Update"]),
        missing=st.booleans(),
        want=fleet_settings,
    )
    def singles_race_the_fleet(
        self,
        which: int,
        specs: tuple[SingleSpec, SingleSpec],
        rival: str,
        missing: bool,
        want: Settings,
    ) -> None:
        """Two single sessions created at once on one fleet interface, each in its own Lambda
        environment, while this process runs the rival: a sweep (the fleet's session there
        deleted by hand first, or not), the launch event of their instance, or an Update of
        the fleet's settings. Whatever the order: no number twice, the singles that succeed
        are untouched by it; CloudFormation deletes them again (so that how the race ended
        does not change what later steps draw), and the next sweep makes the fleet true."""
        fleet = self.fleet
        assert fleet is not None
        run: Callable[[], Any]
        if rival == "launch event" and (group := self.group_with_room(fleet)) is not None:
            (instance,) = self.launch(group, 1, which % len(ZONES))
            (found,) = [i for i in self.world.instances() if i["InstanceId"] == instance]
            eni = interfaces_of(found, "primary")[0]
            at = self.clock.tick()
            run = lambda: self.reconcile(running_event(instance, at))  # noqa: E731
        else:
            rival = "sweep" if rival == "launch event" else rival
            eni = pick(self.candidates(), which)
            here = self.fleet_sessions().get(eni, [])
            if missing and here:
                sid = here[0]["TrafficMirrorSessionId"]
                self.world.client.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
                self.shown()  # before the race: the race is the singles' against the rival
            if rival == "sweep":
                at = self.clock.tick()
                run = lambda: self.reconcile(scheduled_event(at))  # noqa: E731
            else:
                update = self.update_body(fleet.selector, want)
                run = lambda: self.in_place(self.send(update))  # noqa: E731
        bodies = [
            self.make("Create", logical, spec.props(self.fx, eni))
            for logical, spec in zip(RACERS, specs, strict=True)
        ]
        self.race(run, bodies)
        if rival == "sweep" and self.member is not None:  # it swept the member fleet too
            self.member_mirrored = set(range(self.member_launched))
        made = {}
        for logical, spec, body in zip(RACERS, specs, bodies, strict=True):
            answer = self.env.receiver.wait_for(body["RequestId"])
            if answer["Status"] == "FAILED":
                reason = answer["Reason"]
                assert "use SessionNumber" in reason or "the EC2 maximum" in reason, reason
                FIGURES[F + "single Creates refused in a race"] += 1
            if (single := self.settle_single(logical, eni, spec, body, answer)) is not None:
                made[logical] = single
                FIGURES[F + "single sessions created in a race"] += 1
        self.singles.update(made)
        self.ec2_agrees()  # as the race left it, whichever way it ended
        for logical, single in made.items():  # the stack update that added them is rolled back
            del self.singles[logical]
            self.ok(self.make("Delete", logical, single.props, physical_id=single.physical))
        self.scheduled_sweep()
        FIGURES[F + f"step: two single Creates racing a {rival}"] += 1

    def group_with_room(self, fleet: Fleet) -> str | None:
        """A group with room whose new instances the fleet selects, if any."""
        selector = fleet.selector
        for group in GROUPS:
            if self.size(group) >= MAX_SIZE:
                continue
            if selector.kind == "AutoScalingGroupName" and selector.group == group:
                return group
            tags = GROUP_TAGS[group]
            if selector.kind == "InstanceTags" and all(tags.get(k) == v for k, v in selector.tags):
                return group
        return None

    def race(self, run: Callable[[], Any], bodies: list[dict[str, Any]]) -> None:
        """``run`` here, in a thread, while the environments handle ``bodies``: all start at
        the same moment, every party with the same SETTLE_SECONDS."""
        done: list[Any] = []
        start = time.time() + 0.3  # invoke_together's lead

        def rival() -> None:
            time.sleep(max(start - time.time(), 0.0))
            done.append(run())

        saved = os.environ.get("SETTLE_SECONDS")
        os.environ["SETTLE_SECONDS"] = RACE_SETTLE_S
        thread = threading.Thread(target=rival)
        try:
            thread.start()
            self.env.envs.invoke_together(bodies)
        finally:
            thread.join(timeout=120)
            if saved is None:
                os.environ.pop("SETTLE_SECONDS", None)
            else:
                os.environ["SETTLE_SECONDS"] = saved
        assert done, "the rival did not finish"

    # --- the steps: a fleet in a member account, and its launch events ---------------------

    def member_world_made(self) -> MemberWorld:
        if self.member_world is None:
            self.member_world = MemberWorld(self.env.ec2, MEMBER)
        return self.member_world

    def member_props(self) -> dict[str, Any]:
        fx = self.member_world_made().fx
        return {
            "AutoScalingGroupName": MEMBER_GROUP,
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[0],
            "RoleArn": ROLE,
        }

    @precondition(lambda self: self.member is None)
    @rule(twice=st.booleans())
    def member_fleet_created(self, twice: bool) -> None:
        """A second fleet, placed in the member account through RoleArn: it mirrors the
        member group's instances there (none of the home account's)."""
        props = self.member_props()
        body = self.make("Create", MEMBER_FLEET, props)
        answer = self.ok(body)
        if twice:  # delivered again: the same fleet, nothing written
            mark = self.mark()
            assert self.ok(body)["PhysicalResourceId"] == answer["PhysicalResourceId"]
            assert self.env.ec2.writes(mark) == []
        self.member = Fleet(
            answer["PhysicalResourceId"],
            Selector("AutoScalingGroupName", group=MEMBER_GROUP),
            Settings(0, None, None, None, ()),
            props,
        )
        self.member_mirrored = set(range(self.member_launched))
        self.check_member(int(answer["Data"]["InterfacesMirrored"]))
        FIGURES[F + "step: member-account fleet Create"] += 1

    @precondition(lambda self: self.member is not None)
    @rule(twice=st.booleans())
    def member_fleet_deleted(self, twice: bool) -> None:
        member = self.member
        assert member is not None
        body = self.make("Delete", MEMBER_FLEET, member.props, physical_id=member.physical)
        self.ok(body)
        if twice:
            self.ok(body)
        self.member = None
        self.member_mirrored = set()
        assert self.member_world_made().sessions() == []
        FIGURES[F + "step: member-account fleet Delete"] += 1

    @precondition(lambda self: self.member_launched < MAX_SIZE)
    @rule(
        count=st.integers(1, 2),
        kind=st.sampled_from(["running", "launch-successful"]),
        source=st.sampled_from(
            ["member", "member", "member twice", "another account", "another region", "lost"]
        ),
    )
    def member_scale_out(self, count: int, kind: str, source: str) -> None:
        """The member's group scales out; each launch's event is forwarded from the member
        account to the provider's bus (examples/member-events.yaml) and reaches the
        reconciler: from the member account and region, it mirrors the instance for the fleet
        placed there, at once (no sweep); from another account or region (or lost), nothing
        is read or written, and only a sweep mirrors it."""
        world = self.member_world_made()
        new = world.scale_out(min(count, MAX_SIZE - self.member_launched))
        first = self.member_launched
        self.member_launched += len(new)
        self.member_ids += new
        FIGURES[F + "member-account instances launched"] += len(new)
        FIGURES[F + f"step: member-account scale out, event from {source}"] += 1
        if source == "lost":
            return
        for k, instance in enumerate(new):
            forwarded = member_event(kind, instance)
            if source == "another account":
                forwarded = member_event(kind, instance, account=OTHER_MEMBER)
            elif source == "another region":
                forwarded["region"] = OTHER_REGION
                forwarded["resources"] = [
                    r.replace(":us-east-1:", f":{OTHER_REGION}:") for r in forwarded["resources"]
                ]
            forwarded["time"] = self.clock.tick()
            mark = self.mark()
            summary = self.reconcile(delivered(forwarded))
            FIGURES[F + "member launch events"] += 1
            assert summary.get("launched") == instance and "swept" not in summary, summary
            placed_here = source.startswith("member") and self.member is not None
            if not placed_here:
                assert summary["fleets"] == {}, summary
                assert self.env.ec2.requests_since(mark) == [], self.env.ec2.requests_since(mark)
                if source.startswith("another"):
                    FIGURES[F + "member launch events from elsewhere, changing nothing"] += 1
                else:
                    FIGURES[F + "member launch events with no member fleet, changing nothing"] += 1
                continue
            assert self.member is not None
            assert summary["fleets"] == {
                self.member.physical: summary["fleets"][self.member.physical]
            }
            assert summary["fleets"][self.member.physical]["mirrored"] == 1, summary
            caused = self.env.ec2.requests_since(mark)
            assert self.env.ec2.writes(mark) == ["CreateTrafficMirrorSession"], caused
            assert {r["@account"] for r in caused if r["Action"] != "AssumeRole"} == {MEMBER}
            self.member_mirrored.add(first + k)
            self.member_agrees(world)
            FIGURES[F + "member launch events mirroring at once"] += 1
            if source == "member twice":
                mark = self.mark()
                self.reconcile(delivered(forwarded))
                assert self.env.ec2.writes(mark) == []

    def check_member(self, mirrored: int) -> None:
        """After a pass over the member fleet: every instance of the member group mirrored."""
        assert mirrored == self.member_launched == len(self.member_mirrored), (
            mirrored,
            self.member_launched,
        )
        self.member_agrees(self.member_world_made())

    def member_agrees(self, world: MemberWorld) -> None:
        """The member account holds one session on each instance the member fleet must
        mirror now, the fleet's, to its target; nothing else. The home account holds none of
        the member fleet's."""
        held = world.sessions()
        on = Counter(s["NetworkInterfaceId"] for s in held)
        want = {world.primaries[self.member_ids[k]] for k in self.member_mirrored}
        assert set(on) == want and all(n == 1 for n in on.values()), (on, want)
        for session in held:
            tags = {t["Key"]: t["Value"] for t in session.get("Tags", [])}
            assert tags.get(LOGICAL_KEY) == MEMBER_FLEET, session
            assert tags.get(STACK_KEY) == self.stack_id, session
            assert session["TrafficMirrorTargetId"] == world.fx.target_id, session
        assert len({s["VirtualNetworkId"] for s in held}) <= 1, held

    # --- the invariant -------------------------------------------------------------------

    @invariant()
    def ec2_agrees(self) -> None:
        held = {s["TrafficMirrorSessionId"]: s for s in self.env.ec2.sessions()}
        FIGURES[F + "steps checked"] += 1
        for logical, single in self.singles.items():
            if single is None:
                continue  # its Create was refused: no session
            if single.vanished:
                assert single.physical not in held
                continue
            session = held.get(single.physical)
            FIGURES[F + "single sessions lost"] += session is None
            assert session is not None, (logical, single)
            self.check_single(logical, single, session)
        singles = {s.physical for s in self.singles.values() if s is not None}
        fleet_held = [s for s in held.values() if self.owned_by_fleet(s)]
        orphaned = [
            sid
            for sid, s in held.items()
            if sid not in singles and (self.fleet is None or not self.owned_by_fleet(s))
        ]
        per_interface = Counter(s["NetworkInterfaceId"] for s in fleet_held)
        duplicated = sum(n - 1 for n in per_interface.values())
        numbers = Counter((s["NetworkInterfaceId"], s["SessionNumber"]) for s in held.values())
        shared = sum(n - 1 for n in numbers.values())
        FIGURES[F + "sessions orphaned"] += len(orphaned)
        FIGURES[F + "fleet sessions duplicated on an interface"] += duplicated
        FIGURES[F + "SessionNumbers shared on an interface"] += shared
        assert not orphaned, orphaned
        assert duplicated == 0, per_interface
        assert shared == 0, numbers
        stored = self.world.ssm.get_parameters_by_path(Path=store_path())["Parameters"]
        live = [p for p in stored if p["Value"] != REMOVED]  # a removed record is a tombstone
        fleets = (self.fleet is not None) + (self.member is not None)
        assert len(live) == fleets, stored  # one record per live fleet
        if self.member_world is not None:
            self.member_agrees(self.member_world)

    @invariant()
    def instances_are_those_the_draws_launched(self) -> None:
        """EC2's instances are the model's (whose counts preconditions read): live or not,
        and each live one in its group, with as many interfaces."""
        found = {i["InstanceId"]: i for i in self.world.instances()}
        assert len(found) == len(self.launched), (found, self.launched)
        for index, launched in enumerate(self.launched):
            instance = found[self.world.launched(index)]
            assert (instance["State"]["Name"] in LIVE) == launched.live, (index, instance)
            zone = instance["Placement"]["AvailabilityZone"]
            assert zone == ZONES[launched.zone], (index, instance)
            if launched.live:  # (a terminated instance has left its group)
                tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                assert tags.get(GROUP_TAG) == launched.group, (index, instance)
                assert len(instance["NetworkInterfaces"]) == launched.interfaces, instance

    def check_single(self, logical: str, single: Single, session: Session) -> None:
        """Exactly as its stack resource made it: fleets never touch it."""
        spec = single.spec
        assert session["NetworkInterfaceId"] == single.eni
        assert session["SessionNumber"] == single.number, (session, single)
        assert session["TrafficMirrorTargetId"] == self.fx.target_id
        assert session["TrafficMirrorFilterId"] == self.fx.filter_ids[spec.filter]
        assert session.get("PacketLength") == spec.packet
        assert session.get("Description") == spec.desc
        tags = {t["Key"]: t["Value"] for t in session.get("Tags", [])}
        assert tags == {
            MANAGED_BY_KEY: "traffic-mirror-provider",
            STACK_KEY: self.stack_id,
            LOGICAL_KEY: logical,
            NUMBER_KEY: ALLOCATED if spec.number is None else DECLARED,
        }, tags


@pytest.fixture(scope="module")
def single_environments(
    embedded: EmbeddedEc2, receiver: ResponseReceiver
) -> Iterator[LambdaEnvironments]:
    # The embedded EC2 answers a Create in milliseconds: a shorter wait for rivals suffices.
    with LambdaEnvironments(len(RACERS), env={"SETTLE_SECONDS": RACE_SETTLE_S}) as envs:
        yield envs


def test_fleets_scaling_drifting_and_single_sessions_lose_orphan_and_duplicate_nothing(
    embedded: EmbeddedEc2,
    handler: Handler,
    receiver: ResponseReceiver,
    single_environments: LambdaEnvironments,
) -> None:
    FleetAndSingles.env = Harness(
        embedded,
        handler,
        load_handler(function="FleetFunction"),
        load_handler(function="ReconcilerFunction"),
        receiver,
        single_environments,
    )
    run_state_machine_as_test(
        FleetAndSingles,
        settings=settings(
            max_examples=SEQUENCES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
