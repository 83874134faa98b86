"""traffic_mirror.sessions.resource: a session's Create, Update and Delete around the session
machinery: what is called and what is not (a Delete that needs no EC2 call, a redelivered
Create that makes no second session), and how the record for the drift sweep is kept or given
up (fake gateway and store; allocation and converge recorded)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from traffic_mirror.aws import consistency
from traffic_mirror.aws.store import Record
from traffic_mirror.cloudformation.request import Outcome, Request, RequestType
from traffic_mirror.errors import ProviderError, failure
from traffic_mirror.ownership import Owner
from traffic_mirror.sessions import resource
from traffic_mirror.sessions.resource import desired_of, recorded, remember

from .fakes import RecordingGateway

STACK = "arn:aws:cloudformation:us-east-1:1:stack/net/x"
OWNER = Owner(STACK, "WebMirror")
SID = "tms-0123456789abcdef0"
PROPS: dict[str, Any] = {
    "NetworkInterfaceId": "eni-1",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
}


def request(
    kind: RequestType = "Create", physical: str | None = None, props: Any = None, old: Any = None
) -> Request:
    return Request(kind, STACK, "r-1", "WebMirror", "", physical, props or PROPS, old)


class Gateway(RecordingGateway):
    def delete(self, session_id: str) -> bool:
        self.calls.append(("delete", session_id))
        return True


class Store:
    def __init__(self, refuse: ProviderError | None = None) -> None:
        self.refuse = refuse
        self.log: list[tuple[str, Any]] = []

    def put(self, record: Record) -> None:
        if self.refuse:
            raise self.refuse
        self.log.append(("put", record))

    def remove(self, key: str) -> None:
        self.log.append(("remove", key))


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    kept = Store()
    monkeypatch.setattr(resource, "Store", lambda kind: kept)
    return kept


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """place and converge, recorded; place makes a session numbered 1 with VNI 7."""
    calls: list[tuple[Any, ...]] = []

    def place(ec2: Any, view: Any, params: Any, tags: Any, token_for: Any, **kw: Any) -> Any:
        calls.append(("place", view.name, dict(params), dict(tags)))
        return {"TrafficMirrorSessionId": SID, **params, "SessionNumber": 1, "VirtualNetworkId": 7}

    def converge(ec2: Any, view: Any, held: Any, **kw: Any) -> Any:
        calls.append(("converge", held["TrafficMirrorSessionId"]))
        return held

    monkeypatch.setattr(resource, "place", place)
    monkeypatch.setattr(resource, "converge", converge)
    return calls


def test_a_create_places_an_allocated_session_and_can_undo_it(
    made: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway()
    outcome = resource.create(request(), lambda placement: ec2)
    assert made == [("place", "eni-1", PROPS, OWNER.tags(allocated=True))]
    assert outcome.physical_id == SID
    assert outcome.undo is not None
    outcome.undo()
    assert ec2.calls[-1] == ("delete", SID)


def test_a_redelivered_create_takes_back_the_resources_own_session_and_makes_none(
    made: list[tuple[Any, ...]],
) -> None:
    own = {
        "TrafficMirrorSessionId": SID,
        **PROPS,
        "SessionNumber": 1,
        "Tags": [{"Key": k, "Value": v} for k, v in OWNER.tags(allocated=True).items()],
    }
    outcome = resource.create(request(), lambda placement: Gateway([own]))
    assert made == [("converge", SID)]
    assert outcome.undo is None  # it was not made by this delivery: never deleted to undo


def test_a_create_with_adopt_session_id_adopts_instead(
    made: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resource, "adopt", lambda request, spec, ec2: Outcome(SID))
    props = {**PROPS, "AdoptSessionId": SID}
    assert resource.create(request(props=props), lambda p: Gateway()).physical_id == SID
    assert made == []


@pytest.mark.parametrize("physical", ["dryrun-0123456789abcdef", "create-failed-0123", ""])
def test_deleting_what_was_never_a_session_makes_no_call(physical: str, store: Store) -> None:
    def nowhere(placement: Any) -> Any:
        raise AssertionError("no EC2 gateway needed")

    assert resource.delete(request("Delete", physical), nowhere).physical_id == physical
    assert store.log == []


def test_a_delete_reads_its_properties_leniently_and_removes_the_record(store: Store) -> None:
    ec2 = Gateway()
    bad = {**PROPS, "SessionNumber": "not a number", "Region": 7}
    resource.delete(request("Delete", SID, props=bad), lambda placement: ec2)
    assert ec2.calls == [("delete", SID)]
    assert store.log == [("remove", SID)]


def test_a_delete_whose_record_cannot_be_removed_still_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refusing(Store):
        def remove(self, key: str) -> None:
            raise ProviderError("remove session record: AccessDeniedException", source="SSM")

    monkeypatch.setattr(resource, "Store", lambda kind: Refusing())
    assert resource.delete(request("Delete", SID), lambda p: Gateway()).physical_id == SID


class Lagging(Gateway):
    """Reads by ID that still show the deleted session ``reads`` times."""

    def __init__(self, reads: int) -> None:
        super().__init__()
        self.reads = reads

    def by_ids(self, ids: Any, ident: str) -> list[Any]:
        self.calls.append(("read", *ids))
        self.reads -= 1
        return [{"TrafficMirrorSessionId": i} for i in ids] if self.reads >= 0 else []


@pytest.fixture
def bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "5")
    monkeypatch.setattr(consistency, "time", SimpleNamespace(monotonic=time.monotonic, sleep=id))


@pytest.mark.usefixtures("bound", "store")
def test_a_delete_answers_once_reads_no_longer_show_the_session() -> None:
    ec2 = Lagging(reads=2)
    resource.delete(request("Delete", SID), lambda placement: ec2)
    assert ec2.calls == [("delete", SID), ("read", SID), ("read", SID), ("read", SID)]


def test_a_create_records_the_values_ec2_assigned() -> None:
    store = Store()
    outcome = Outcome(SID, {"SessionNumber": "1", "VirtualNetworkId": "7", "Id": SID})
    remember(store, request(), outcome)  # type: ignore[arg-type]
    ((verb, record),) = store.log
    assert (verb, record.key, dict(record.assigned)) == (
        "put",
        SID,
        {"SessionNumber": 1, "VirtualNetworkId": 7},
    )


def test_a_record_too_large_to_keep_is_removed_and_the_event_goes_on() -> None:
    store = Store(refuse=ProviderError("The session's record takes 9000 bytes"))
    remember(store, request(), Outcome(SID))  # type: ignore[arg-type]
    assert store.log == [("remove", SID)]


def test_a_store_refusing_an_update_removes_the_older_record_instead() -> None:
    store = Store(refuse=failure("store: ThrottlingException", "ThrottlingException", "SSM"))
    remember(store, request("Update", SID, old=PROPS), Outcome(SID))  # type: ignore[arg-type]
    assert store.log == [("remove", SID)]


def test_a_store_refusing_a_create_fails_it_and_undoes_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refusal = failure("store: AccessDeniedException", "AccessDeniedException", "SSM")
    monkeypatch.setattr(resource, "Store", lambda kind: Store(refuse=refusal))
    undone: list[str] = []
    action = recorded(lambda req, connect: Outcome(SID, undo=lambda: undone.append(SID)))
    with pytest.raises(ProviderError) as info:
        action(request(), lambda p: Gateway())
    assert info.value is refusal
    assert undone == [SID]


def test_a_dry_run_is_not_recorded(store: Store) -> None:
    action = recorded(lambda req, connect: Outcome("dryrun-1", {"DryRun": "true"}))
    action(request(), lambda p: Gateway())
    assert store.log == []


def test_the_desired_state_fills_omitted_values_with_the_assigned_ones_only() -> None:
    record = Record(
        SID,
        OWNER,
        {**PROPS, "VirtualNetworkId": "12"},
        assigned={"SessionNumber": 2, "VirtualNetworkId": 99},
    )
    values = desired_of(record).values
    assert (values["SessionNumber"], values["VirtualNetworkId"]) == (2, 12)
