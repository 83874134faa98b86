"""traffic_mirror.fleets.reconcile: which stored fleets a sweep or a launch works on, what it
hands the fleet's pass, and that one fleet's failure stops no other (the pass, the store and
the connections are fakes: no EC2, no SSM)."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.aws.store import Record
from traffic_mirror.fleets import reconcile
from traffic_mirror.fleets.fleet import Fleet, Tally
from traffic_mirror.fleets.gateway import FleetGateway
from traffic_mirror.fleets.reconcile import launched, sweep
from traffic_mirror.ownership import Owner

OWNER = Owner("arn:aws:cloudformation:us-east-1:111122223333:stack/net/x", "Web")
FLEET: dict[str, Any] = {
    "AutoScalingGroupName": "web",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
}


class Store:
    def __init__(self, *records: Record) -> None:
        self.stored = list(records)
        self.removed: list[str] = []
        self.pruned = 0

    def records(self) -> list[Record]:
        return self.stored

    def remove(self, key: str) -> None:
        self.removed.append(key)

    def prune(self) -> int:
        self.pruned += 1
        return 0


class Gateway:
    """What a launch asks of the fleet's gateway: the instance, as EC2 shows it."""

    def __init__(self, instances: list[Any]) -> None:
        self.found = instances
        self.asked: list[list[str] | None] = []

    def instances(self, spec: object, instance_ids: list[str] | None = None) -> list[Any]:
        self.asked.append(instance_ids)
        return self.found


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every fleet pass asked for (sync, remove_all), and the connections made."""
    made: list[dict[str, Any]] = []
    gateway = Gateway(
        [
            {
                "InstanceId": "i-1",
                "LaunchTime": "2026-12-07T10:00:00Z",
                "Tags": [{"Key": "aws:autoscaling:groupName", "Value": "web"}],
                "NetworkInterfaces": [
                    {"NetworkInterfaceId": "eni-b", "Attachment": {"DeviceIndex": 1}},
                    {"NetworkInterfaceId": "eni-a", "Attachment": {"DeviceIndex": 0}},
                ],
            }
        ]
    )

    def connector_for(record: Record | None) -> Any:
        made.append({"connect": record.key if record else None})
        return lambda placement: object()

    def sync(ec2: Any, fleet: Fleet, **kwargs: Any) -> Tally:
        if fleet.spec.text("AutoScalingGroupName") == "broken":
            raise RuntimeError("EC2 went away")
        made.append({"sync": fleet.owner.logical_id, **kwargs})
        return Tally(mirrored=2)

    def remove_all(ec2: Any, owner: Owner, budget: Any, keep: Any) -> Tally:
        made.append({"remove_all": owner.logical_id})
        return Tally(removed=1, unfinished=owner.logical_id == "Slow")

    monkeypatch.setattr(reconcile, "connector_for", connector_for)
    monkeypatch.setattr(reconcile, "sync", sync)
    monkeypatch.setattr(reconcile, "remove_all", remove_all)
    monkeypatch.setattr(reconcile, "held_by_successors", lambda *a: set())
    monkeypatch.setattr(FleetGateway, "of", lambda g: gateway)
    return made


def record(key: str, logical: str, deleting: bool = False, **props: Any) -> Record:
    return Record(key, Owner(OWNER.stack_id, logical), {**FLEET, **props}, deleting=deleting)


def test_one_fleets_failure_is_reported_and_the_others_still_swept(
    passes: list[dict[str, Any]],
) -> None:
    store = Store(
        record("fleet-1", "Broken", AutoScalingGroupName="broken"),
        record("fleet-2", "Bad", SessionNumber="x"),  # unreadable properties
        record("fleet-3", "Web"),
    )
    summary = sweep(store, generation="2026-12-07T10:10:00Z")  # type: ignore[arg-type]
    assert summary["fleet-1"] == {"error": "EC2 went away"}
    assert summary["fleet-2"]["error"].startswith("SessionNumber must be a whole number")
    assert summary["fleet-3"] == {"mirrored": 2, "skipped": 0, "removed": 0, "unfinished": False}
    assert {
        "sync": "Web",
        "generation": "2026-12-07T10:10:00Z",
        "budget": reconcile._unlimited,
    } in passes
    assert store.pruned == 1


def test_a_fleet_being_deleted_is_forgotten_only_once_its_sessions_are_all_gone(
    passes: list[dict[str, Any]],
) -> None:
    store = Store(
        record("fleet-1", "Done", deleting=True), record("fleet-2", "Slow", deleting=True)
    )
    sweep(store, generation="g")  # type: ignore[arg-type]
    assert store.removed == ["fleet-1"]
    assert not any("sync" in p for p in passes)


def test_a_launch_mirrors_every_interface_of_the_instance_under_the_launchs_generation(
    passes: list[dict[str, Any]],
) -> None:
    summary = launched(Store(record("fleet-1", "Web")), "i-1")  # type: ignore[arg-type]
    assert summary == {"fleet-1": {"mirrored": 2, "skipped": 0, "removed": 0, "unfinished": False}}
    assert passes[-1] == {
        "sync": "Web",
        "generation": "launch i-1 2026-12-07T10:00:00Z",  # the same for both launch events
        "only": ["eni-a", "eni-b"],
    }


def test_a_launch_the_fleets_selector_does_not_name_changes_nothing(
    passes: list[dict[str, Any]],
) -> None:
    summary = launched(Store(record("fleet-1", "Db", AutoScalingGroupName="db")), "i-1")  # type: ignore[arg-type]
    assert summary == {}
    assert not any("sync" in p for p in passes)


def test_a_launch_skips_fleets_being_deleted_or_placed_elsewhere_without_connecting(
    passes: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    store = Store(
        record("fleet-1", "Gone", deleting=True),
        record("fleet-2", "Member", RoleArn="arn:aws:iam::999988887777:role/r"),
        record("fleet-3", "Ireland", Region="eu-west-1"),
    )
    summary = launched(store, "i-1", where=("111122223333", "us-east-1"), home="111122223333")  # type: ignore[arg-type]
    assert summary == {}
    assert passes == []  # not even a role assumed
