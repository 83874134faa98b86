"""traffic_mirror.aws.consistency: reads again with backoff until a write shows, never longer."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from traffic_mirror.aws import consistency
from traffic_mirror.aws.consistency import until, visible_within


class Clock:
    """time.monotonic and time.sleep for the module, advanced only by sleeping."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(consistency, "time", SimpleNamespace(monotonic=c.monotonic, sleep=c.sleep))
    return c


def test_a_read_given_that_already_shows_the_write_costs_no_call(clock: Clock) -> None:
    def read() -> list[str]:
        raise AssertionError("no read should be made")

    assert until(read, lambda seen: "tms-1" in seen, within=5, first=["tms-1"]) == ["tms-1"]
    assert clock.pauses == []


def test_pauses_double_from_a_quarter_second_and_stop_at_four(clock: Clock) -> None:
    reads: Iterator[list[str]] = iter([[]] * 7 + [["tms-1"]])
    seen = until(lambda: next(reads), lambda s: "tms-1" in s, within=60)
    assert seen == ["tms-1"]
    assert clock.pauses == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_gives_up_at_the_deadline_with_the_last_read_and_no_pause_past_it(clock: Clock) -> None:
    count = 0

    def read() -> int:
        nonlocal count
        count += 1
        return count

    assert until(read, lambda n: n > 100, within=1.0) == 4  # 0.25 + 0.5 + 0.25 (cut) = 1.0 s
    assert clock.pauses == [0.25, 0.5, 0.25]
    assert clock.now == 1.0


def test_visible_within_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISIBLE_WITHIN_SECONDS", raising=False)
    assert visible_within() == consistency.VISIBLE_WITHIN_S
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "2.5")
    assert visible_within() == 2.5


def test_with_no_time_allowed_a_lagging_read_is_returned_at_once(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "0")
    assert until(lambda: [], bool) == []
    assert clock.pauses == []
