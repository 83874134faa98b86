"""Settle's rule, as a table: after a Create, does this process's session keep its
SessionNumber, move (allocated: to a free number, by rank) or yield (declared: to the session
named)? Sessions that share a number rank: seen before, then declared, then the lowest ID."""

from __future__ import annotations

import doctest
import time
from collections.abc import Collection
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.fakes import RecordingGateway
from traffic_mirror.aws import consistency
from traffic_mirror.aws.ec2 import TrafficMirrorSessionTypeDef as Session
from traffic_mirror.errors import ProviderError
from traffic_mirror.ownership import ALLOCATED, DECLARED, NUMBER_KEY
from traffic_mirror.sessions import allocation
from traffic_mirror.sessions.allocation import Decision, Keep, Move, Yield, decide


def session(sid: str, number: int, mode: str | None = ALLOCATED) -> Session:
    """A session as a Describe shows it; ``mode`` None: no number tag (made by hand)."""
    found = Session(TrafficMirrorSessionId=sid, SessionNumber=number, Tags=[])
    if mode is not None:
        found["Tags"] = [{"Key": NUMBER_KEY, "Value": mode}]
    return found


@dataclass(frozen=True)
class Row:
    """One scenario: the own session, the interface as read after the wait, the facts."""

    mine: Session
    others: tuple[Session, ...]
    seen_before: Collection[str] = ()
    twins: Collection[str] = ()
    late: bool = False

    def decision(self) -> Decision:
        return decide(
            self.mine,
            [self.mine, *self.others],
            seen_before=self.seen_before,
            twins=self.twins,
            late=self.late,
        )


A, B, C = "tms-a", "tms-b", "tms-c"  # IDs in ascending order

TABLE: dict[str, tuple[Row, Decision]] = {
    "alone on the interface, the session keeps its number": (
        Row(session(B, 1), ()),
        Keep(),
    ),
    "others on other numbers leave the session its number": (
        Row(session(B, 1), (session(A, 2), session(C, 3))),
        Keep(),
    ),
    "the owner's own twin on the number is not a rival": (
        Row(session(B, 1), (session(A, 1),), twins=[A, B]),
        Keep(),
    ),
    "of two unseen allocated sessions the lowest ID keeps the number": (
        Row(session(A, 1), (session(B, 1),)),
        Keep(),
    ),
    "of two unseen allocated sessions the higher ID moves to the lowest free number": (
        Row(session(B, 1), (session(A, 1),)),
        Move(to=2),
    ),
    "a move skips numbers other sessions hold": (
        Row(session(B, 1), (session(A, 1), session(C, 2))),
        Move(to=3),
    ),
    "a rival seen before creating keeps the number, even with a higher ID": (
        Row(session(A, 1), (session(C, 1),), seen_before=[C]),
        Move(to=2),
    ),
    "a declared session keeps the number before an allocated one with a lower ID": (
        Row(session(B, 1, DECLARED), (session(A, 1),)),
        Keep(),
    ),
    "an allocated session moves for a declared one with a higher ID": (
        Row(session(A, 1), (session(B, 1, DECLARED),)),
        Move(to=2),
    ),
    "a session without the number tag counts as declared": (
        Row(session(A, 1), (session(B, 1, None),)),
        Move(to=2),
    ),
    "seen before outranks declared": (
        Row(session(A, 1, DECLARED), (session(B, 1),), seen_before=[B]),
        Yield(to=B),
    ),
    "a declared session yields to a declared one with a lower ID, naming it": (
        Row(session(B, 1, DECLARED), (session(A, 1, DECLARED),)),
        Yield(to=A),
    ),
    "a declared session yields to the keeper, not to the first rival listed": (
        Row(session(C, 1, DECLARED), (session(B, 1, DECLARED), session(A, 1, DECLARED))),
        Yield(to=A),
    ),
    "a late keeper with a rival it did not see yields when declared, naming that rival": (
        Row(session(A, 1, DECLARED), (session(B, 1),), late=True),
        Yield(to=B),
    ),
    "a late keeper with a rival it did not see moves when allocated, ranking last": (
        Row(session(A, 1), (session(B, 1), session(C, 1)), late=True),
        Move(to=4),
    ),
    "a late keeper whose rivals were all seen before keeps the number": (
        Row(session(A, 1), (session(B, 1),), seen_before=[A, B], late=True),
        Keep(),
    ),
    "lateness does not matter to a session that is not the keeper": (
        Row(session(B, 1), (session(A, 1),), late=True),
        Move(to=2),
    ),
}


@pytest.mark.parametrize("scenario", list(TABLE))
def test_settle_decides_each_scenario_by_the_rule(scenario: str) -> None:
    row, expected = TABLE[scenario]
    assert row.decision() == expected


def test_every_process_of_a_shared_number_ranks_alike_so_moves_land_on_distinct_numbers() -> None:
    shared = [session(A, 1), session(B, 1), session(C, 1), session("tms-d", 2)]
    decisions = {
        str(s["TrafficMirrorSessionId"]): decide(s, shared, seen_before=[]) for s in shared[:3]
    }
    assert decisions == {A: Keep(), B: Move(to=3), C: Move(to=4)}


def test_the_same_inputs_give_the_same_decision_whatever_the_read_order() -> None:
    sessions = [session(C, 1), session(A, 1, DECLARED), session(B, 1)]
    mine = sessions[2]
    assert {
        decide(mine, order, seen_before=[C])
        for order in (sessions, sessions[::-1], sessions[1:] + sessions[:1])
    } == {Move(to=3)}  # C keeps it (seen before); A ranks next, so B takes the second


def test_the_rule_s_docstring_examples_run() -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(allocation.decide, "decide", globs=vars(allocation)):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0 and attempted >= 4


class Yielding(RecordingGateway):
    """Deletes recorded; a read by ID still shows a deleted session ``lag`` more times."""

    def __init__(self, lag: int) -> None:
        super().__init__()
        self.lag = lag

    def delete(self, session_id: str) -> bool:
        self.calls.append(("delete", session_id))
        return True

    def by_ids(self, ids: Any, ident: str) -> list[Any]:
        self.calls.append(("read", *ids))
        self.lag -= 1
        return [session(i, 5) for i in ids] if self.lag >= 0 else []


def test_a_declared_session_that_yields_answers_once_reads_no_longer_show_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reads lag writes: the next event on the interface (a fleet's pass, another Create) must
    read the number as held by the rival only, not by the session that yielded."""
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "5")
    monkeypatch.setattr(consistency, "time", SimpleNamespace(monotonic=time.monotonic, sleep=id))
    rival, mine = session("tms-a", 5, DECLARED), session("tms-b", 5, DECLARED)
    before = allocation.Interface("eni-1", [rival], read_at=time.monotonic())
    after = allocation.Interface("eni-1", [rival, mine])
    ec2 = Yielding(lag=1)
    with pytest.raises(ProviderError, match="use SessionNumber 5 on eni-1: tms-a"):
        allocation.settle(ec2, mine, before, created_at=time.monotonic(), after=after)
    assert ec2.calls == [("delete", "tms-b"), ("read", "tms-b"), ("read", "tms-b")]
