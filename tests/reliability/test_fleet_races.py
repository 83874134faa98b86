"""Two passes over one fleet at the same moment, each in its own Lambda environment: a sweep and
the launch event of a new instance, two sweeps (one outlasting the schedule), an Update of the
fleet and a sweep. The issue asks that reconciler, stack events and single sessions never
produce a duplicate session; with an interface missing its session, both passes see it
missing and both create one (their ClientTokens differ: each pass has its own generation).
After the settle wait each sees the other's, and the lowest ID keeps the interface
(``allocation.settle(one_per=...)``): one session, never none.

The Creates are stalled half a second at the embedded EC2 (``inject(delay_s=...)``), so that
both passes have looked before either session exists, whatever the machine's load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.harness.by_hand import ProviderMarks, session_by_hand
from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.environments import LambdaEnvironments
from local.harness.events import CustomResource, new_stack_id
from local.harness.fleets import GROUP, autoscaling, primaries, running_event, scheduled_event
from local.harness.lambda_loader import LambdaContext
from local.harness.receiver import ResponseReceiver
from tests.integration.test_fleet import FLEET_HANDLER, fleet_props, group, sweep
from tests.reliability._fleet_model import Clock
from traffic_mirror.aws.ec2 import Ec2Gateway, ec2_client
from traffic_mirror.ownership import Owner
from traffic_mirror.sessions.allocation import Interface, settle

SETTLE_S = "0.3"  # every party waits the same for rivals (SETTLE_SECONDS)


@pytest.fixture(scope="module")
def reconcilers(embedded: EmbeddedEc2, receiver: ResponseReceiver) -> Iterator[LambdaEnvironments]:
    env = {"SETTLE_SECONDS": SETTLE_S}
    with LambdaEnvironments(2, env=env, function="ReconcilerFunction") as envs:
        yield envs


def a_new_instance_unmirrored(ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource) -> str:
    """A fleet of one instance, then a second launched (its event not yet delivered)."""
    (first,) = group(ec2, fx, 1)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    autoscaling(ec2).set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=2)
    (new,) = set(primaries(ec2)) - {first}
    return new


def by_interface(ec2: EmbeddedEc2) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for s in ec2.sessions():
        found.setdefault(s["NetworkInterfaceId"], []).append(s)
    return found


def instance_of(ec2: EmbeddedEc2, eni: str) -> str:
    found = ec2.client().describe_network_interfaces(NetworkInterfaceIds=[eni])
    return str(found["NetworkInterfaces"][0]["Attachment"]["InstanceId"])


def race(
    ec2: EmbeddedEc2, reconcilers: LambdaEnvironments, kinds: tuple[str, str], instance: str
) -> None:
    clock = Clock()
    events = [
        running_event(instance, clock.tick()) if kind == "launch" else scheduled_event(clock.tick())
        for kind in kinds
    ]
    ec2.inject("CreateTrafficMirrorSession", delay_s=0.5, times=2)
    reconcilers.invoke_together(events)


@pytest.mark.parametrize("kinds", [("sweep", "launch"), ("sweep", "sweep")], ids=" and ".join)
def test_two_reconciler_passes_at_once_leave_one_fleet_session_on_a_new_interface(
    ec2: EmbeddedEc2,
    fx: Fixtures,
    fleet: CustomResource,
    reconcilers: LambdaEnvironments,
    kinds: tuple[str, str],
) -> None:
    new = a_new_instance_unmirrored(ec2, fx, fleet)
    race(ec2, reconcilers, kinds, instance_of(ec2, new))
    held = by_interface(ec2)[new]
    assert len(held) == 1, [(s["TrafficMirrorSessionId"], s["SessionNumber"]) for s in held]


def test_a_fleet_update_and_a_sweep_at_once_leave_one_session_on_an_interface_missing_it(
    ec2: EmbeddedEc2,
    fx: Fixtures,
    fleet: CustomResource,
    reconcilers: LambdaEnvironments,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group(ec2, fx, 2)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    gone = ec2.sessions()[0]
    ec2.client().delete_traffic_mirror_session(
        TrafficMirrorSessionId=gone["TrafficMirrorSessionId"]
    )
    monkeypatch.setenv("SETTLE_SECONDS", SETTLE_S)  # this process plays FleetFunction
    update = fleet.make(
        "Update",
        fleet_props(fx, Description="web tier"),
        physical_id=fleet.physical_id,
        old_props=fleet.props,
    )
    stack = threading.Thread(target=lambda: FLEET_HANDLER(update, LambdaContext(timeout_s=60)))
    ec2.inject("CreateTrafficMirrorSession", delay_s=0.5, times=2)
    stack.start()
    reconcilers.invoke_together([scheduled_event(Clock().tick())], lead_s=0.0)
    stack.join(timeout=60)
    assert fleet.receiver.wait_for(update["RequestId"])["Status"] == "SUCCESS"
    held = by_interface(ec2)[gone["NetworkInterfaceId"]]
    assert len(held) == 1, [(s["TrafficMirrorSessionId"], s["SessionNumber"]) for s in held]


def test_after_two_passes_at_once_and_the_next_sweep_every_interface_has_one_session(
    ec2: EmbeddedEc2, fx: Fixtures, fleet: CustomResource, reconcilers: LambdaEnvironments
) -> None:
    new = a_new_instance_unmirrored(ec2, fx, fleet)
    race(ec2, reconcilers, ("sweep", "launch"), instance_of(ec2, new))
    numbers = [s["SessionNumber"] for s in by_interface(ec2)[new]]
    assert len(numbers) == len(set(numbers))  # whatever the count, never one number twice
    sweep()
    held = by_interface(ec2)
    assert sorted(held) == primaries(ec2)
    assert all(len(sessions) == 1 for sessions in held.values()), held


def test_twins_on_a_declared_number_leave_exactly_the_lowest_even_when_its_pass_was_slow(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """Two passes of one fleet that declares SessionNumber 1 both made a session on the
    interface (EC2 accepting the shared number); the pass holding the lower ID was slow (read
    to Create longer than the wait). Both settle reads see both twins (a barrier in front of
    the real Describe): the lower must stay, the other go; never both gone."""
    owner = Owner(new_stack_id("races"), "WebFleet")
    client = ec2.client()
    made = sorted(
        (
            session_by_hand(
                client,
                interface=fx.sources[0],
                target=fx.target_id,
                mirror_filter=fx.filter_ids[0],
                number=1,
                marks=ProviderMarks(owner, allocated=False),  # as the fleet's passes made them
            )
            for _ in range(2)
        ),
        key=lambda s: s["TrafficMirrorSessionId"],
    )
    barrier = threading.Barrier(2)

    class BothSeeBoth(Ec2Gateway):
        def on_interface(self, interface_id: str) -> list[Any]:
            found = super().on_interface(interface_id)
            barrier.wait(timeout=10)
            return found

    now = time.monotonic()
    slow = Interface(fx.sources[0], [], read_at=now - 5.0)  # the lower ID's pass: slow
    fast = Interface(fx.sources[0], [], read_at=now)
    outcome: dict[str, str] = {}

    def run(name: str, session: Any, before: Interface) -> None:
        try:
            kept = settle(BothSeeBoth(ec2_client()), session, before, created_at=now, one_per=owner)
            outcome[name] = str(kept["TrafficMirrorSessionId"])
        except Exception as exc:  # noqa: BLE001 - the test reports what each pass did
            outcome[name] = f"raised {exc}"

    threads = [
        threading.Thread(target=run, args=("lower", made[0], slow)),
        threading.Thread(target=run, args=("higher", made[1], fast)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    lower = made[0]["TrafficMirrorSessionId"]
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [lower], outcome
    assert outcome == {"lower": lower, "higher": lower}
