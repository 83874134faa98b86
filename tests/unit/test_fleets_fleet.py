"""traffic_mirror.fleets.fleet: one pass making a fleet true: which held sessions are kept,
put back or removed, which interfaces get a Create, what is skipped rather than failed, and
where the budget stops it (a fake gateway; the session machinery it reuses is recorded)."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.errors import ProviderError, failure
from traffic_mirror.fleets import fleet as fleet_module
from traffic_mirror.fleets.fleet import RESERVE_S, Fleet, sync
from traffic_mirror.fleets.schema import FLEET
from traffic_mirror.ownership import NUMBER_KEY, Owner, fleet_token
from traffic_mirror.sessions.validation import parse

OWNER = Owner("arn:aws:cloudformation:us-east-1:1:stack/net/x", "Web")
PROPS: dict[str, Any] = {
    "AutoScalingGroupName": "web",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
}


def make(**props: Any) -> Fleet:
    return Fleet(parse({**PROPS, **props}, schema=FLEET), OWNER)


def held(sid: str, eni: str, vni: int = 7) -> dict[str, Any]:
    tags = OWNER.tags(allocated=True)
    return {
        "TrafficMirrorSessionId": sid,
        "NetworkInterfaceId": eni,
        "SessionNumber": 1,
        "VirtualNetworkId": vni,
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


class Gateway:
    """The fleet's reads, from lists; deletes recorded."""

    def __init__(self, interfaces: list[str], sessions: list[Any]) -> None:
        self.selected, self.sessions = interfaces, sessions
        self.types = {"eni-c": "m6i.large"}
        self.deleted: list[str] = []
        self.awaited: list[list[str]] = []  # the IDs each pass waited for (deleted, changed)

    def interfaces(self, spec: object) -> list[str]:
        return self.selected

    def owned(self, owner: Owner) -> list[Any]:
        return self.sessions

    def zonal(self, spec: object) -> None:
        return None

    def on_interfaces(self, page: list[str]) -> dict[str, list[Any]]:
        return {eni: [s for s in self.sessions if s["NetworkInterfaceId"] == eni] for eni in page}

    def delete(self, session_id: str) -> bool:
        self.deleted.append(session_id)
        return True

    def until_read(self, ids: list[str], done: Any, within: float) -> list[str]:
        self.awaited.append(list(ids))
        self.done, self.within = done, within
        return []


@pytest.fixture(autouse=True)
def bound(monkeypatch: pytest.MonkeyPatch) -> float:
    """The visibility bound (tests/conftest.py sets 0: then a pass waits for nothing)."""
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "5")
    return 5.0


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """put_back, place and settle as the pass calls them (place refuses eni-c and eni-x)."""
    seen: list[tuple[Any, ...]] = []

    def put_back(ec2: Any, session: Any, new: Any, owner: Owner, **kwargs: Any) -> Any:
        seen.append(("put_back", session["TrafficMirrorSessionId"], new.values))
        return session

    def place(ec2: Any, view: Any, params: Any, tags: Any, token_for: Any, **kw: Any) -> Any:
        seen.append(("place", view.name, dict(params), dict(tags), token_for(1)))
        if view.name == "eni-c":
            raise failure("refused", "NetworkInterfaceNotSupported", "EC2")
        if view.name == "eni-x":
            raise failure("refused", "UnauthorizedOperation", "EC2")
        return {"TrafficMirrorSessionId": f"tms-{view.name}", "VirtualNetworkId": 9}

    def settle(ec2: Any, made: Any, view: Any, **kwargs: Any) -> Any:
        seen.append(("settle", made["TrafficMirrorSessionId"]))
        return made

    monkeypatch.setattr(fleet_module, "put_back", put_back)
    monkeypatch.setattr(fleet_module, "place", place)
    monkeypatch.setattr(fleet_module, "settle", settle)
    monkeypatch.setattr(fleet_module, "settle_wait", lambda: 0.0)
    return seen


def test_held_sessions_are_put_back_and_missing_interfaces_created_then_settled(
    calls: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway(["eni-a", "eni-b"], [held("tms-a", "eni-a", vni=7)])
    tally = sync(ec2, make(), generation="r-1")  # type: ignore[arg-type]
    fleet = make()
    assert calls == [
        ("put_back", "tms-a", fleet.session_spec("eni-a", 7).values),
        (
            "place",
            "eni-b",
            # the fleet's settings and the VNI its sessions share; no selector sent to EC2
            {
                "NetworkInterfaceId": "eni-b",
                "TrafficMirrorTargetId": "tmt-1",
                "TrafficMirrorFilterId": "tmf-1",
                "VirtualNetworkId": 7,
            },
            OWNER.tags(allocated=True),  # no SessionNumber declared: allocated
            fleet_token(fleet.id, "eni-b", 1, "r-1"),
        ),
        ("settle", "tms-eni-b"),  # after the one wait, not per Create
    ]
    assert (tally.selected, tally.mirrored, tally.removed, tally.made) == (2, 2, 0, ["tms-eni-b"])


def test_sessions_of_interfaces_no_longer_selected_and_second_sessions_are_removed(
    calls: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway(
        ["eni-a"], [held("tms-2", "eni-a"), held("tms-1", "eni-a"), held("tms-9", "eni-z")]
    )
    tally = sync(ec2, make(), generation="g")  # type: ignore[arg-type]
    assert ec2.deleted == ["tms-2", "tms-9"]  # the lowest ID on an interface is kept
    assert ec2.awaited == [["tms-2", "tms-9", "tms-1"]]  # until reads show the Deletes and tms-1
    assert tally.removed == 2
    assert [c[:2] for c in calls] == [("put_back", "tms-1")]


def test_a_pass_waits_until_no_read_shows_its_deletes_and_every_read_shows_its_changes(
    calls: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway(["eni-a"], [held("tms-1", "eni-a"), held("tms-9", "eni-z")])
    tally = sync(ec2, make(Description="new"), generation="g")  # type: ignore[arg-type]
    assert ec2.awaited == [["tms-9", "tms-1"]]
    assert not ec2.done(held("tms-9", "eni-z"))  # a deleted session is never done, only absent
    assert not ec2.done(held("tms-1", "eni-a"))  # as it was: the Description not shown yet
    assert ec2.done({**held("tms-1", "eni-a"), **tally.written["tms-1"].values})
    assert ec2.within == 5.0


def test_a_held_session_already_as_declared_is_not_waited_for(
    calls: list[tuple[Any, ...]],
) -> None:
    fleet = make()
    shown = {**held("tms-1", "eni-a"), **fleet.session_spec("eni-a", 7).values}
    ec2 = Gateway(["eni-a"], [shown])
    sync(ec2, fleet, generation="g")  # type: ignore[arg-type]
    assert ec2.awaited == []  # nothing written: a true fleet's pass makes no extra read


def test_the_wait_stops_at_the_budgets_reserve_and_is_skipped_without_time_left(
    calls: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway([], [held("tms-9", "eni-z")])
    left = iter([RESERVE_S + 10, RESERVE_S + 2])  # the Delete's check, then the wait's
    sync(ec2, make(), generation="g", budget=lambda: next(left))  # type: ignore[arg-type]
    assert (ec2.awaited, ec2.within) == ([["tms-9"]], 2.0)
    ec2 = Gateway([], [held("tms-9", "eni-z")])
    left = iter([RESERVE_S + 10, RESERVE_S])
    sync(ec2, make(), generation="g", budget=lambda: next(left))  # type: ignore[arg-type]
    assert (ec2.deleted, ec2.awaited) == (["tms-9"], [])


def test_a_pass_that_fails_after_deleting_still_waits_for_its_deletes(
    calls: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway(["eni-x"], [held("tms-9", "eni-z")])  # eni-x: place raises, not skippable
    with pytest.raises(ProviderError):
        sync(ec2, make(), generation="g")  # type: ignore[arg-type]
    assert ec2.awaited == [["tms-9"]]  # a rollback right after must not read it as held


def test_a_launch_pass_removes_nothing_and_touches_only_its_interfaces(
    calls: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway(["eni-a", "eni-b"], [held("tms-9", "eni-z")])
    sync(ec2, make(), generation="launch", only=["eni-b"])  # type: ignore[arg-type]
    assert (ec2.deleted, ec2.awaited) == ([], [])  # nothing deleted, nothing to wait for
    assert [c[:2] for c in calls] == [("place", "eni-b"), ("settle", "tms-eni-b")]


def test_a_dry_run_counts_what_it_would_remove_and_deletes_nothing(
    calls: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway([], [held("tms-9", "eni-z")])
    tally = sync(ec2, make(DryRun="true"), generation="g")  # type: ignore[arg-type]
    assert (ec2.deleted, tally.removed, ec2.awaited) == ([], 1, [])


def test_an_interface_ec2_will_not_mirror_is_skipped_naming_its_type_and_the_rest_go_on(
    calls: list[tuple[Any, ...]],
) -> None:
    tally = sync(Gateway(["eni-b", "eni-c"], []), make(), generation="g")  # type: ignore[arg-type]
    assert (tally.mirrored, tally.skipped) == (1, 1)
    assert tally.reasons == ["eni-c: m6i.large refused"]


def test_a_refusal_that_is_not_about_one_interface_fails_the_pass(
    calls: list[tuple[Any, ...]],
) -> None:
    with pytest.raises(ProviderError) as info:
        sync(Gateway(["eni-x"], []), make(), generation="g")  # type: ignore[arg-type]
    assert info.value.code == "UnauthorizedOperation"


def test_with_too_little_time_left_no_create_is_started_and_the_pass_says_unfinished(
    calls: list[tuple[Any, ...]],
) -> None:
    tally = sync(
        Gateway(["eni-b"], []),  # type: ignore[arg-type]
        make(),
        generation="g",
        budget=lambda: RESERVE_S - 1,
    )
    assert tally.unfinished
    assert calls == []


def test_a_declared_number_and_vni_are_the_fleets_for_every_session(
    calls: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway(["eni-b"], [held("tms-a", "eni-a", vni=3)])  # eni-a no longer selected
    tally = sync(ec2, make(SessionNumber="4", VirtualNetworkId="12"), generation="g")  # type: ignore[arg-type]
    (place,) = [c for c in calls if c[0] == "place"]
    assert place[2]["SessionNumber"] == 4
    assert place[2]["VirtualNetworkId"] == 12
    assert place[3][NUMBER_KEY] == "declared"
    assert tally.vni == 12


def test_the_fleet_id_follows_its_placement() -> None:
    assert make().id != make(Region="eu-west-1").id
    assert make().id == make(PacketLength="100").id


def test_a_removal_left_for_lack_of_time_marks_the_pass_unfinished(
    calls: list[tuple[Any, ...]],
) -> None:
    ec2 = Gateway([], [held("tms-9", "eni-z")])
    tally = sync(ec2, make(), generation="g", budget=lambda: RESERVE_S - 1)  # type: ignore[arg-type]
    assert ec2.deleted == []  # not started: too little time (this holds)
    assert tally.unfinished


def test_what_settle_deletes_is_read_back_only_within_the_budget_above_the_reserve(
    calls: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session settle deletes (a yield, a twin) is read until gone: never into the reserve."""
    within: list[float] = []

    def settle(ec2: Any, made: Any, view: Any, **kwargs: Any) -> Any:
        within.append(kwargs["gone_within"])
        return made

    monkeypatch.setattr(fleet_module, "settle", settle)
    sync(Gateway(["eni-b"], []), make(), generation="g", budget=lambda: RESERVE_S + 3)  # type: ignore[arg-type]
    sync(Gateway(["eni-b"], []), make(), generation="g")  # type: ignore[arg-type]
    assert within == [3.0, 5.0]  # what the budget leaves; else the visibility bound
