"""Lifecycles, stateful: random sequences played the way CloudFormation plays them, and after
every step EC2 holds exactly the sessions the simulated stack believes exist, with the
properties it believes they have. No orphan, no duplicate, no loss, no SessionNumber twice
on an interface. Sessions may omit SessionNumber (allocated, then kept), declare one another
session holds (refused, then rolled back), be created in parallel (separate Lambda
environments), be replaced and rolled back, and carry the maximum of tags; any step may be a
DryRun (nothing changes in EC2). After every step the drift and orphan sweep runs too, and
must find nothing: nothing here changes a session behind the stack's back for longer than the
step that does it, so any finding is a false positive (or a record left behind).

Steps draw from fixed strategies, and preconditions read only what the draws fixed (which
logical IDs exist, which were sent with DryRun, which interface each session is on), never what
a race or EC2 decided (which Lambda environment won a number, physical IDs, numbers assigned):
hypothesis replays and shrinks a sequence with the same draws (tests/reliability/_draws.py).
Whether a declared number is refused as in use is therefore drawn too (``in_use``), and the
number sent is chosen from what the sessions hold to match.

STATEFUL_SEQUENCES and STATEFUL_STEPS size the run (defaults 30 x 20; `make reliability`
runs more).
"""

from __future__ import annotations

import copy
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Final

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.environments import LambdaEnvironments
from local.harness.events import event, new_stack_id, properties
from local.harness.lambda_loader import Handler, LambdaContext
from local.harness.receiver import ResponseReceiver
from local.harness.stacks import STACKS
from tests.figures import FIGURES
from tests.reliability._draws import PICK, pick
from traffic_mirror.aws.store import Store
from traffic_mirror.ownership import (
    ALLOCATED,
    DECLARED,
    LOGICAL_KEY,
    MANAGED_BY_KEY,
    NUMBER_KEY,
    STACK_KEY,
)
from traffic_mirror.sessions.schema import MAX_USER_TAGS
from traffic_mirror.watch.audit import watch

SEQUENCES = int(os.environ.get("STATEFUL_SEQUENCES", "30"))
STEPS = int(os.environ.get("STATEFUL_STEPS", "20"))
LOGICALS = ("MirrorA", "MirrorB")
WORDS = st.text(alphabet="abcdefghij-. ", min_size=1, max_size=12)
HIGHEST_NUMBER: Final = 32766


@dataclass(frozen=True)
class Spec:
    """The properties of one resource, abstractly (indices into the fixtures)."""

    eni: int
    filter: int
    number: int | None  # None: omitted, the provider allocates
    packet: int | None
    vni: int | None
    desc: str | None
    tags: tuple[tuple[str, str], ...]
    dry: bool = False

    def props(self, fx: Fixtures) -> dict[str, Any]:
        """ResourceProperties as CloudFormation sends them (strings)."""
        return properties(
            {
                "NetworkInterfaceId": fx.sources[self.eni],
                "TrafficMirrorTargetId": fx.target_id,
                "TrafficMirrorFilterId": fx.filter_ids[self.filter],
                "DryRun": "true" if self.dry else None,
                "SessionNumber": self.number,
                "PacketLength": self.packet,
                "VirtualNetworkId": self.vni,
                "Description": self.desc,
            },
            self.tags,
        )


specs = st.builds(
    Spec,
    eni=st.integers(0, 2),
    filter=st.integers(0, 1),
    number=st.none() | st.integers(1, 3) | st.integers(1, HIGHEST_NUMBER),
    packet=st.none() | st.integers(1, 8500),
    vni=st.none() | st.integers(0, 16_777_215),
    desc=st.none() | WORDS,
    tags=st.dictionaries(st.sampled_from(["team", "env", "cost"]), WORDS, max_size=3).map(
        lambda d: tuple(sorted(d.items()))
    ),
    dry=st.sampled_from([False, False, False, True]),
)


@dataclass(frozen=True)
class Resource:
    """One resource as the stack knows it.

    What the draws fix, and all that preconditions and picks may read: the properties
    CloudFormation last stored (``sent``), and the session EC2 must hold for it (``held``,
    with SessionNumber as declared, None where omitted; ``held`` None: no session, a dry run).
    What EC2 answered, only compared with later: the physical ID, the number the session
    holds (``number``; allocated ones depend on how races ended) and the session-number tag
    it was created with (``mode``)."""

    sent: Spec
    held: Spec | None
    physical: str
    number: int | None = None
    mode: str | None = None

    def session(self) -> Spec | None:
        """What EC2 must hold for it, with the number its session holds."""
        return None if self.held is None else replace(self.held, number=self.number)


@dataclass
class Harness:
    ec2: EmbeddedEc2
    handler: Handler
    receiver: ResponseReceiver
    envs: LambdaEnvironments


class CloudFormationStack(RuleBasedStateMachine):
    """A stack of up to two Custom::TrafficMirrorSession resources, driven like CloudFormation."""

    env: ClassVar[Harness]

    def __init__(self) -> None:
        super().__init__()
        self.env.ec2.reset()
        self.fx = self.env.ec2.fixtures()
        self.stack_id = new_stack_id("stateful")
        self.live: dict[str, Resource] = {}  # logical ID -> what the stack knows
        FIGURES["stateful: sequences"] += 1

    # --- CloudFormation's side ---------------------------------------------------------

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        self.env.handler(copy.deepcopy(body), LambdaContext())
        answers = self.env.receiver.for_request(body["RequestId"])
        FIGURES["stateful: responses"] += len(answers)
        return answers[-1].body

    def make(
        self, kind: str, logical: str, spec: Spec | dict[str, Any], **kw: Any
    ) -> dict[str, Any]:
        rid = str(uuid.uuid4())
        props = spec.props(self.fx) if isinstance(spec, Spec) else spec
        old = kw.pop("old", None)
        if isinstance(old, Spec):
            old = old.props(self.fx)
        return event(
            kind,
            self.env.receiver.url_for(rid),
            props,
            stack_id=self.stack_id,
            logical_id=logical,
            request_id=rid,
            old_props=old,
            **kw,
        )

    def ok(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.send(body)
        assert answer["Status"] == "SUCCESS", answer["Reason"]
        return answer

    def redeliver(self, body: dict[str, Any], first: dict[str, Any]) -> None:
        """Lambda delivers the same event again: the same answer, no new session."""
        self.env.handler(copy.deepcopy(body), LambdaContext())
        again = self.env.receiver.for_request(body["RequestId"])[-1].body
        FIGURES["stateful: events delivered twice"] += 1
        assert again["Status"] == first["Status"], again["Reason"]
        assert again["PhysicalResourceId"] == first["PhysicalResourceId"]

    def sessions_besides(self, logical: str) -> list[Resource]:
        """The other resources that hold a session, by logical ID (the draws fix which, and on
        which interface)."""
        return [r for name, r in sorted(self.live.items()) if name != logical and r.held]

    def declare(
        self, logical: str, spec: Spec, in_use: bool, *, move: bool = False
    ) -> tuple[Spec, bool]:
        """The properties to send for ``logical``, and whether they must be refused (a declared
        number another session on the interface holds).

        With ``in_use`` (a draw), a declared number becomes the one another resource's session
        on the interface holds (with ``move``, the spec moves to that session's interface
        first), when there is one: refused. Otherwise a declared number another session there
        holds moves on to the next free one: accepted. Which numbers the sessions hold is up to
        EC2 and races; whether the step is refused is up to the draws alone."""
        others = self.sessions_besides(logical)
        if spec.number is None:
            return spec, False
        if in_use and move and others:
            assert others[0].held is not None
            spec = replace(spec, eni=others[0].held.eni)
        taken = [
            r.number
            for r in others
            if r.held is not None and r.held.eni == spec.eni and r.number is not None
        ]
        if in_use and taken:
            return replace(spec, number=taken[0]), True
        number = spec.number
        while number in taken:
            number = number % HIGHEST_NUMBER + 1
        return replace(spec, number=number), False

    def refused(self, body: dict[str, Any]) -> dict[str, Any]:
        """A declared number another session holds: FAILED, naming it, nothing written."""
        before = len(self.env.ec2.calls)  # writes() counts from an index into calls
        answer = self.send(body)
        assert answer["Status"] == "FAILED", answer
        assert "use SessionNumber" in answer["Reason"], answer["Reason"]
        assert self.env.ec2.writes(before) == []
        FIGURES["stateful: declared numbers refused (in use)"] += 1
        return answer

    def pick(self, which: int, *, real: bool = False) -> tuple[str, Resource]:
        """The ``which``-th live resource (``real``: of those holding a session that was not
        last sent as a dry run), by logical ID: a list the draws fixed."""
        names = [
            name
            for name, r in sorted(self.live.items())
            if not real or (r.held is not None and not r.sent.dry)
        ]
        logical = pick(names, which)
        return logical, self.live[logical]

    def settle(self, logical: str, was: Resource | None, new: Spec, answer: dict[str, Any]) -> None:
        """Record a successful Create/Update; a new physical ID gets CloudFormation's cleanup.
        Whether the resource holds a session, and which properties, follows from the draws
        (``new.dry``, ``was.held``); the physical ID and the number are EC2's answer."""
        physical = answer["PhysicalResourceId"]
        number = int(answer["Data"]["SessionNumber"])
        FIGURES["stateful: dry-run steps"] += new.dry
        FIGURES["stateful: steps with SessionNumber omitted"] += new.number is None
        if new.dry:
            assert answer["Data"]["DryRun"] == "true"
            if was is not None and was.held is not None:
                assert physical == was.physical  # a real session keeps its ID in a dry run
            held = was.held if was is not None else None
            number_held = was.number if was is not None and held is not None else None
        else:
            assert answer["Data"]["DryRun"] == "false" and physical.startswith("tms-")
            held, number_held = new, number
            assert new.number is None or number == new.number, (number, new)
            if was is not None and was.held is not None and physical == was.physical:
                # An omitted SessionNumber keeps the number the session has.
                assert new.number is not None or number == was.number, (number, was)
        if was is not None and physical != was.physical:
            self.ok(self.make("Delete", logical, was.sent, physical_id=was.physical))
        mode = was.mode if was is not None and physical == was.physical else None
        if held is not None and mode is None:
            mode = ALLOCATED if new.number is None else DECLARED
        self.live[logical] = Resource(new, held, physical, number_held, mode)

    # --- rules ---------------------------------------------------------------------------

    @precondition(lambda self: len(self.live) < len(LOGICALS))
    @rule(spec=specs, twice=st.booleans(), in_use=st.booleans())
    def create(self, spec: Spec, twice: bool, in_use: bool) -> None:
        logical = next(name for name in LOGICALS if name not in self.live)
        spec, refused = self.declare(logical, spec, in_use, move=True)
        body = self.make("Create", logical, spec)
        if refused:
            failed = self.refused(body)
            cleanup = self.make("Delete", logical, spec, physical_id=failed["PhysicalResourceId"])
            self.ok(cleanup)
            return
        answer = self.ok(body)
        if twice:
            self.redeliver(body, answer)
        self.settle(logical, None, spec, answer)

    @precondition(lambda self: self.live)
    @rule(which=PICK, change=specs, twice=st.booleans(), in_use=st.booleans())
    def update_in_place(self, which: int, change: Spec, twice: bool, in_use: bool) -> None:
        logical, was = self.pick(which)
        new, refused = self.declare(logical, replace(change, eni=was.sent.eni), in_use)
        body = self.make("Update", logical, new, physical_id=was.physical, old=was.sent)
        if refused:
            self.refused(body)
            self.rollback(logical, was, new)
            return
        answer = self.ok(body)
        # In place when EC2's session is on that interface (after a dry run that named another
        # interface, CloudFormation's properties may say otherwise: then it is replaced).
        if was.held is not None and (new.dry or was.held.eni == new.eni):
            assert answer["PhysicalResourceId"] == was.physical
        if twice:
            self.redeliver(body, answer)
        self.settle(logical, was, new, answer)

    @precondition(lambda self: self.live)
    @rule(which=PICK, change=specs, in_use=st.booleans())
    def update_that_replaces(self, which: int, change: Spec, in_use: bool) -> None:
        logical, was = self.pick(which)
        old = was.sent
        new = replace(change, eni=(old.eni + 1) % 3) if change.eni == old.eni else change
        new, refused = self.declare(logical, new, in_use)
        body = self.make("Update", logical, new, physical_id=was.physical, old=old)
        if refused:
            self.refused(body)
            self.rollback(logical, was, new)
            return
        answer = self.ok(body)
        if was.held is not None and not new.dry and was.held.eni != new.eni:
            assert answer["PhysicalResourceId"] != was.physical
            held = {s["TrafficMirrorSessionId"] for s in self.env.ec2.sessions()}
            assert {was.physical, answer["PhysicalResourceId"]} <= held  # old kept for rollback
        self.settle(logical, was, new, answer)  # with the cleanup phase

    @precondition(lambda self: self.live)
    @rule(which=PICK, change=specs, refused_by=st.sampled_from(["schema", "EC2"]))
    def failed_update_then_rollback(self, which: int, change: Spec, refused_by: str) -> None:
        logical, was = self.pick(which)
        physical, old = was.physical, was.sent
        bad = replace(change, dry=False).props(self.fx)
        if refused_by == "schema":
            bad["SessionNumber"] = "0"
        else:
            bad["TrafficMirrorFilterId"] = "tmf-0000000000000000"
        failed = self.send(self.make("Update", logical, bad, physical_id=physical, old=old))
        assert failed["Status"] == "FAILED", failed
        assert failed["PhysicalResourceId"] == physical, (failed, physical, self.live)
        self.rollback(logical, was, bad)
        FIGURES["stateful: rollbacks after a failed update"] += 1

    @rule(spec=specs)
    def failed_create_then_rollback(self, spec: Spec) -> None:
        bad = {**spec.props(self.fx), "PacketLength": "9000"}
        failed = self.send(self.make("Create", "MirrorBad", bad))
        assert failed["Status"] == "FAILED"
        self.ok(self.make("Delete", "MirrorBad", bad, physical_id=failed["PhysicalResourceId"]))
        FIGURES["stateful: rollbacks after a failed create"] += 1

    @precondition(lambda self: any(r.held for r in self.live.values()))
    @rule(which=PICK, change=specs)
    def deleted_outside_then_update(self, which: int, change: Spec) -> None:
        logical = pick([name for name, r in sorted(self.live.items()) if r.held], which)
        was = self.live[logical]
        client = self.env.ec2.client()
        client.delete_traffic_mirror_session(TrafficMirrorSessionId=was.physical)
        self.env.ec2.wait_visible()  # long before the Update, in an account (none: at once)
        new = replace(change, eni=was.sent.eni, dry=False, number=None)
        answer = self.ok(self.make("Update", logical, new, physical_id=was.physical, old=was.sent))
        assert answer["PhysicalResourceId"] != was.physical  # recreated, not stuck
        self.settle(logical, was, new, answer)  # cleanup: gone already

    def rollback(self, logical: str, was: Resource, failed: Spec | dict[str, Any]) -> None:
        """CloudFormation's rollback of a failed Update: the old properties again, sent while
        the stack is UPDATE_ROLLBACK_IN_PROGRESS. It must succeed, also back to a dry run that
        declared a number another session on the interface holds now (a dry run changes
        nothing: it is not checked again then)."""
        body = self.make("Update", logical, was.sent, physical_id=was.physical, old=failed)
        with STACKS.rolling_back(self.stack_id):
            answer = self.send(body)
        assert answer["Status"] == "SUCCESS", answer["Reason"]
        assert answer["PhysicalResourceId"] == was.physical
        if was.sent.dry and was.sent.number is not None:
            eni = was.sent.props(self.fx)["NetworkInterfaceId"]
            FIGURES["stateful: rollbacks to a dry run whose number was taken since"] += any(
                (s["NetworkInterfaceId"], s["SessionNumber"]) == (eni, was.sent.number)
                and s["TrafficMirrorSessionId"] != was.physical
                for s in self.env.ec2.sessions()
            )

    @precondition(lambda self: not self.live)
    @rule(first=specs, second=specs)
    def parallel_creates(self, first: Spec, second: Spec) -> None:
        """Both resources on one interface, numbers omitted, no DependsOn: CloudFormation
        invokes the function twice at once, in two Lambda environments. Which one wins which
        number differs from run to run; every ending must leave one session per resource on
        the interface and nothing else, with distinct numbers, each as its answer says."""
        wanted = {
            name: replace(spec, eni=first.eni, number=None, dry=False)
            for name, spec in zip(LOGICALS, (first, second), strict=True)
        }
        bodies = {name: self.make("Create", name, spec) for name, spec in wanted.items()}
        self.env.envs.invoke_together(list(bodies.values()))
        answers = {}
        for name, body in bodies.items():
            answer = self.env.receiver.wait_for(body["RequestId"])
            FIGURES["stateful: responses"] += 1
            assert answer["Status"] == "SUCCESS", answer["Reason"]
            answers[name] = answer
        eni = self.fx.sources[first.eni]
        here = [s for s in self.env.ec2.sessions() if s["NetworkInterfaceId"] == eni]
        owners = {
            name: [s for s in here if {"Key": LOGICAL_KEY, "Value": name} in s.get("Tags", [])]
            for name in LOGICALS
        }
        assert len(here) == len(LOGICALS) and all(len(o) == 1 for o in owners.values()), here
        for name, answer in answers.items():
            (session,) = owners[name]
            assert session["TrafficMirrorSessionId"] == answer["PhysicalResourceId"], name
            assert session["SessionNumber"] == int(answer["Data"]["SessionNumber"]), name
        assert len({s["SessionNumber"] for s in here}) == len(LOGICALS), here
        for name, answer in answers.items():
            self.settle(name, None, wanted[name], answer)
        FIGURES["stateful: parallel creates on one interface"] += 1

    @precondition(lambda self: any(r.held and not r.sent.dry for r in self.live.values()))
    @rule(which=PICK, change=specs, in_use=st.booleans())
    def replacement_rolled_back(self, which: int, change: Spec, in_use: bool) -> None:
        """A replacement succeeds, another resource fails, and CloudFormation rolls this one
        back with an Update naming the new session and the old properties, then deletes the
        new session in the cleanup. The original session must be the one left."""
        logical, was = self.pick(which, real=True)
        assert was.held is not None
        new = replace(change, eni=(was.held.eni + 1) % 3, dry=False)
        new, refused = self.declare(logical, new, in_use)
        body = self.make("Update", logical, new, physical_id=was.physical, old=was.sent)
        if refused:
            self.refused(body)
            self.rollback(logical, was, new)
            return
        moved = self.ok(body)["PhysicalResourceId"]
        assert moved != was.physical
        back = self.ok(self.make("Update", logical, was.sent, physical_id=moved, old=new))
        assert back["PhysicalResourceId"] == was.physical
        assert back["Data"]["SessionNumber"] == str(was.number)
        self.ok(self.make("Delete", logical, new, physical_id=moved))
        FIGURES["stateful: replacements rolled back"] += 1

    @precondition(lambda self: any(r.held and not r.sent.dry for r in self.live.values()))
    @rule(which=PICK, kept=st.integers(0, MAX_USER_TAGS), prefix=st.sampled_from("xy"))
    def tags_at_the_limit(self, which: int, kept: int, prefix: str) -> None:
        """The maximum of user tags, keeping ``kept`` of the current keys and renaming the
        rest: the session must never need more than EC2's 50 tags on the way."""
        logical, was = self.pick(which, real=True)
        current = [k for k, _ in was.sent.tags][:kept]
        fresh = (f"{prefix}{i}" for i in range(2 * MAX_USER_TAGS))
        keys = current + [k for k in fresh if k not in current][: MAX_USER_TAGS - len(current)]
        new = replace(was.sent, tags=tuple(sorted((k, "v") for k in keys)))
        answer = self.ok(self.make("Update", logical, new, physical_id=was.physical, old=was.sent))
        assert answer["PhysicalResourceId"] == was.physical
        self.settle(logical, was, new, answer)
        FIGURES["stateful: tag sets at the limit"] += 1

    @precondition(lambda self: self.live)
    @rule(which=PICK, twice=st.booleans())
    def delete(self, which: int, twice: bool) -> None:
        logical, was = self.pick(which)
        body = self.make("Delete", logical, was.sent, physical_id=was.physical)
        answer = self.ok(body)
        if twice:
            self.redeliver(body, answer)
        del self.live[logical]

    # --- the invariant -------------------------------------------------------------------

    @invariant()
    def ec2_holds_exactly_what_the_stack_believes(self) -> None:
        held = {s["TrafficMirrorSessionId"]: s for s in self.env.ec2.sessions()}
        believed = {r.physical: s for r in self.live.values() if (s := r.session()) is not None}
        owners = {r.physical: (name, r.mode) for name, r in self.live.items()}
        lost = set(believed) - set(held)
        orphaned = set(held) - set(believed)
        duplicated = {
            sid
            for sid in orphaned
            for spec in believed.values()
            if spec is not None and held[sid]["NetworkInterfaceId"] == self.fx.sources[spec.eni]
        }
        FIGURES["stateful: steps checked"] += 1
        FIGURES["stateful: sessions lost"] += len(lost)
        FIGURES["stateful: sessions orphaned"] += len(orphaned)
        FIGURES["stateful: sessions duplicated"] += len(duplicated)
        assert not lost and not orphaned, (lost, orphaned)
        for physical, spec in believed.items():
            session = held[physical]
            expected = spec.props(self.fx)
            for key in ("NetworkInterfaceId", "TrafficMirrorTargetId", "TrafficMirrorFilterId"):
                assert session[key] == expected[key], (key, session)
            assert session["SessionNumber"] == spec.number
            assert session.get("PacketLength") == spec.packet
            assert session.get("Description") == spec.desc
            if spec.vni is not None:
                assert session["VirtualNetworkId"] == spec.vni
            tags = {t["Key"]: t["Value"] for t in session.get("Tags", [])}
            logical, mode = owners[physical]
            assert tags == {
                **dict(spec.tags),
                MANAGED_BY_KEY: "traffic-mirror-provider",
                STACK_KEY: self.stack_id,
                LOGICAL_KEY: logical,
                NUMBER_KEY: mode,
            }, tags
        numbers = Counter((s["NetworkInterfaceId"], s["SessionNumber"]) for s in held.values())
        shared = sum(n - 1 for n in numbers.values())
        FIGURES["stateful: SessionNumbers shared on an interface"] += shared
        assert shared == 0, numbers

    @invariant()
    def the_drift_sweep_finds_nothing_and_every_record_is_a_live_session(self) -> None:
        # The sweep of a stack at rest: under a read lag (EMBEDDED_EC2_READ_LAG), once the
        # step's writes show (with none, at once); a sweep inside the lag of a Delete is
        # tests/integration/test_drift_lag.py's.
        self.env.ec2.wait_visible()
        # CloudFormation holds each live resource's physical ID (local/harness/stacks.py).
        STACKS.delete_stack(self.stack_id)
        for logical, r in self.live.items():
            STACKS.answered(self.stack_id, logical, "Create", r.physical, "Custom::Mirror")
        found = watch(Store("sessions"))
        sessions = {r.physical for r in self.live.values() if r.held is not None}
        FIGURES["stateful: drift sweeps"] += 1
        FIGURES["stateful: drift findings (false positives)"] += len(found.findings)
        assert [f.line() for f in found.findings] == []
        assert (found.checked, found.dropped, found.errors) == (len(sessions), 0, [])
        assert found.seen == len(sessions)


@pytest.fixture(scope="module")
def environments(embedded: EmbeddedEc2, receiver: ResponseReceiver) -> Iterator[LambdaEnvironments]:
    # The embedded EC2 answers a Create in milliseconds: a shorter wait for rivals suffices.
    with LambdaEnvironments(len(LOGICALS), env={"SETTLE_SECONDS": "0.3"}) as envs:
        yield envs


def test_cloudformation_lifecycles_keep_ec2_and_the_stack_in_agreement(
    embedded: EmbeddedEc2,
    handler: Handler,
    receiver: ResponseReceiver,
    environments: LambdaEnvironments,
) -> None:
    CloudFormationStack.env = Harness(embedded, handler, receiver, environments)
    run_state_machine_as_test(
        CloudFormationStack,
        settings=settings(
            max_examples=SEQUENCES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
