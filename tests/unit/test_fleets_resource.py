"""traffic_mirror.fleets.resource: a fleet's Create, Update and Delete around its pass: what is
checked and stored before anything is written, what a dry run leaves alone, what a failed new
fleet undoes, and when a deleted fleet's record goes (fake store, gateway and pass)."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.aws.store import Record
from traffic_mirror.cloudformation.request import Request, RequestType
from traffic_mirror.errors import ProviderError
from traffic_mirror.fleets import resource
from traffic_mirror.fleets.fleet import RESERVE_S, Fleet, Tally
from traffic_mirror.fleets.gateway import FleetGateway
from traffic_mirror.fleets.resource import fleet_actions, held_by_successors, remove_all
from traffic_mirror.ownership import Owner, fleet_id, is_dry_run_id

STACK = "arn:aws:cloudformation:us-east-1:1:stack/net/x"
OWNER = Owner(STACK, "Web")
FLEET_ID = fleet_id(OWNER, None, None)
PROPS: dict[str, Any] = {
    "AutoScalingGroupName": "web",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
}


class Log(list[tuple[Any, ...]]):
    """Every call the fakes saw, in order."""


class Store:
    def __init__(self, log: Log, records: list[Record] | None = None, fits: bool = True) -> None:
        self.log, self.stored, self.fits = log, records or [], fits

    def fitting(self, record: Record) -> str:
        self.log.append(("fitting", record.key))
        if not self.fits:
            raise ProviderError("The fleet's properties take 5000 bytes as JSON")
        return ""

    def put(self, record: Record) -> None:
        self.log.append(("put", record.key, record.deleting))

    def remove(self, key: str) -> None:
        self.log.append(("remove", key))

    def records(self) -> list[Record]:
        return self.stored


class Gateway:
    def __init__(self, log: Log, owned: list[str] | None = None) -> None:
        self.log, self.sessions = log, owned or []

    def check_selector(self, spec: object) -> None:
        self.log.append(("check_selector",))

    def check_target_and_filter(self, spec: object) -> None:
        self.log.append(("check_target_and_filter",))

    def zonal(self, spec: object) -> None:
        self.log.append(("zonal",))

    def owned(self, owner: Owner) -> list[Any]:
        return [{"TrafficMirrorSessionId": s} for s in self.sessions]

    def delete(self, session_id: str) -> bool:
        self.log.append(("delete", session_id))
        return True

    def until_read(self, ids: list[str], done: Any, within: float) -> list[str]:
        self.log.append(("until_read", *ids))
        return []


@pytest.fixture(autouse=True)
def bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The visibility bound (tests/conftest.py sets 0: then a pass waits for nothing)."""
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "5")


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def gateway(log: Log, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    ec2 = Gateway(log, owned=["tms-old"])
    monkeypatch.setattr(FleetGateway, "of", lambda g: ec2)
    return ec2


def passes(monkeypatch: pytest.MonkeyPatch, log: Log, fails: bool = False) -> None:
    def sync(ec2: Any, fleet: Fleet, **kwargs: Any) -> Tally:
        log.append(("sync", kwargs["generation"], kwargs.get("previous") is not None))
        if fails:  # after making one session
            kwargs["made"].append("tms-new")
            raise ProviderError("create traffic mirror session: refused")
        return Tally(selected=2, mirrored=2)

    monkeypatch.setattr(resource, "sync", sync)


def request(kind: RequestType = "Create", physical: str | None = None, **props: Any) -> Request:
    old = PROPS if kind == "Update" else None
    return Request(kind, STACK, "r-1", "Web", "", physical, {**PROPS, **props}, old)


def act(req: Request, store: Store, budget: float = float("inf")) -> Any:
    actions = fleet_actions(lambda: budget, store=lambda: store)  # type: ignore[arg-type,return-value]
    return actions[req.request_type](req, lambda placement: object())  # type: ignore[arg-type,return-value]


def test_a_create_checks_then_stores_the_fleet_before_its_pass(
    log: Log, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes(monkeypatch, log)
    outcome = act(request(), Store(log))
    assert outcome.physical_id == FLEET_ID
    assert outcome.data["InterfacesMirrored"] == "2"
    assert log == [
        ("fitting", FLEET_ID),  # too large a record fails before EC2 is asked anything
        ("check_selector",),
        ("check_target_and_filter",),
        ("zonal",),
        ("put", FLEET_ID, False),  # stored first: the reconciler finishes a cut-short pass
        ("sync", "r-1", False),
    ]


def test_a_record_too_large_fails_before_any_ec2_call(
    log: Log, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes(monkeypatch, log)
    with pytest.raises(ProviderError, match="5000 bytes"):
        act(request(), Store(log, fits=False))
    assert log == [("fitting", FLEET_ID)]


def test_a_dry_run_stores_nothing_and_answers_a_dry_run_id(
    log: Log, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes(monkeypatch, log)
    outcome = act(request(DryRun="true"), Store(log))
    assert is_dry_run_id(outcome.physical_id)
    assert outcome.data["DryRun"] == "true"
    assert not [c for c in log if c[0] in ("fitting", "put", "remove")]


def test_an_update_of_the_same_fleet_passes_its_previous_settings(
    log: Log, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes(monkeypatch, log)
    act(request("Update", FLEET_ID, PacketLength="128"), Store(log))
    assert ("sync", "r-1", True) in log


def test_a_new_fleet_whose_pass_fails_is_undone_sessions_and_record(
    log: Log, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes(monkeypatch, log, fails=True)
    with pytest.raises(ProviderError):
        act(request(), Store(log))
    after = log[log.index(("sync", "r-1", False)) + 1 :]
    # what its tags show, then what it made by ID (a read may not show it yet), then the record
    assert after == [
        ("delete", "tms-old"),
        ("delete", "tms-new"),  # made by the pass: a read may not show it yet
        ("until_read", "tms-old", "tms-new"),
        ("remove", FLEET_ID),
    ]


def test_an_existing_fleet_whose_update_fails_keeps_its_sessions(
    log: Log, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes(monkeypatch, log, fails=True)
    with pytest.raises(ProviderError):
        act(request("Update", FLEET_ID), Store(log))
    assert not [c for c in log if c[0] in ("delete", "remove")]


def test_deleting_a_dry_run_connects_to_nothing(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    def nowhere(g: Any) -> Any:
        raise AssertionError("no gateway for a dry run's Delete")

    monkeypatch.setattr(FleetGateway, "of", nowhere)
    assert act(request("Delete", "dryrun-0123456789abcdef"), Store(log)).physical_id.startswith(
        "dryrun-"
    )
    assert log == []


def test_a_delete_cut_short_marks_the_record_deleting_for_the_reconciler(
    log: Log, gateway: Gateway
) -> None:
    act(request("Delete", FLEET_ID), Store(log), budget=RESERVE_S - 1)
    assert log == [("put", FLEET_ID, True)]


def test_a_finished_delete_removes_every_session_waits_until_no_read_shows_them_then_the_record(
    log: Log, gateway: Gateway
) -> None:
    act(request("Delete", FLEET_ID), Store(log))
    assert log == [("delete", "tms-old"), ("until_read", "tms-old"), ("remove", FLEET_ID)]


def test_remove_all_leaves_sessions_a_successor_holds(log: Log) -> None:
    ec2 = Gateway(log, owned=["tms-1", "tms-2"])
    tally = remove_all(ec2, OWNER, keep={"tms-1"})  # type: ignore[arg-type]
    assert (tally.removed, log) == (1, [("delete", "tms-2"), ("until_read", "tms-2")])


def test_successors_are_live_fleets_of_the_same_owner_other_than_this_one(log: Log) -> None:
    asked: list[str | None] = []

    def gateway_for(spec: Any) -> Any:
        asked.append(spec.text("Region"))
        return Gateway(log, owned=[f"tms-{spec.text('Region')}"])

    records = [
        Record(FLEET_ID, OWNER, PROPS),  # this fleet
        Record("fleet-b", OWNER, {**PROPS, "Region": "eu-west-1"}),
        Record("fleet-c", OWNER, {**PROPS, "Region": "eu-west-2"}, deleting=True),
        Record("fleet-d", Owner(STACK, "Db"), {**PROPS, "Region": "eu-west-3"}),
    ]
    assert held_by_successors(records, OWNER, FLEET_ID, gateway_for) == {"tms-eu-west-1"}
    assert asked == ["eu-west-1"]


def test_the_rollback_of_a_failed_create_removes_what_its_pass_left_and_the_record(
    log: Log, gateway: Gateway
) -> None:
    failed = request("Delete", "create-failed-0123456789abcdef")
    assert act(failed, Store(log)).physical_id == "create-failed-0123456789abcdef"
    assert log == [("delete", "tms-old"), ("until_read", "tms-old"), ("remove", FLEET_ID)]


def test_a_delete_whose_properties_do_not_place_its_fleet_deletes_no_session(
    log: Log, gateway: Gateway
) -> None:
    # the ID names a fleet in eu-west-1; these properties place one in the home region
    act(request("Delete", fleet_id(OWNER, None, "eu-west-1")), Store(log))
    assert [c for c in log if c[0] == "delete"] == []
