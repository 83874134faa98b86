"""make bench's lookup rows, at 50 sessions with pages of 20 and 15 IDs a read (so every way
takes several calls): every strategy finds the same sessions, each makes the calls its way's
pages and chunks of IDs come to, and a strategy that loses a page is reported as a problem
(make bench then exits 1). No timing is judged here."""

from __future__ import annotations

from typing import Any

import pytest

from local import bench_lookup
from local.harness.ec2sim import EmbeddedEc2
from traffic_mirror.aws import ec2 as ec2_layer
from traffic_mirror.fleets import gateway as inventory

BY_TAGS = "DescribeTags + by ID"


@pytest.fixture(autouse=True)
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    # 50 sessions: the fleet's 30, then 10 of other provider stacks and 10 made by hand
    for name, value in (("SIZES", (50,)), ("FLEET", 30), ("RUNS", 1)):
        monkeypatch.setattr(bench_lookup, name, value)
    monkeypatch.setattr(bench_lookup, "OTHERS_MANAGED_PERCENT", 50)
    monkeypatch.setattr(inventory, "PAGE", 20)  # read at each call, by the provider too
    monkeypatch.setattr(inventory, "VALUES_PER_FILTER", 15)
    monkeypatch.setattr(ec2_layer, "VALUES_PER_FILTER", 15)  # Ec2Gateway.by_ids reads it there


def _rows(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (size,) = results["sizes"]
    return {row["lookup"]: row for row in size["rows"]}


def test_both_ways_find_the_same_sessions_in_the_calls_their_pages_come_to(
    ec2: EmbeddedEc2,
) -> None:
    results, problems = bench_lookup.run(ec2)
    assert problems == []
    size = results["sizes"][0]
    assert (size["account_sessions"], size["fleet_sessions"], size["provider_sessions"]) == (
        50,
        30,
        40,
    )
    rows = _rows(results)
    # DescribeTags: one tag a session, 20 a page; then 15 IDs a read. Every page: 50 / 20.
    by_tags = {
        "a fleet's sessions": {"DescribeTags": 2, "DescribeTrafficMirrorSessions": 2},
        "every session of the provider": {"DescribeTags": 2, "DescribeTrafficMirrorSessions": 3},
    }
    every_page = {"DescribeTrafficMirrorSessions": 3}
    for lookup, wanted in (("a fleet's sessions", 30), ("every session of the provider", 40)):
        row = rows[lookup]
        assert row["answers_agree"], lookup
        assert row["wanted"] == wanted
        strategies = row["strategies"]
        assert {s["found"] for s in strategies.values()} == {wanted}
        assert {s["way"] for s in strategies.values()} == {BY_TAGS, "unfiltered pages"}
        for name, s in strategies.items():
            assert s["ec2_calls"] == (by_tags[lookup] if s["way"] == BY_TAGS else every_page), name
        assert row["floor"].startswith("bare boto3")
        assert strategies[row["floor"]]["ratio"] == 1.0
    assert ec2.sessions() == []  # nothing left for the rows after these
    table = "\n".join(bench_lookup.rows(results))
    assert "| a fleet's sessions: 30 of 50 in the account | provider: FleetGateway.owned" in table


def test_a_strategy_that_loses_a_page_is_a_problem_the_bench_reports(
    ec2: EmbeddedEc2, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = inventory.FleetGateway.every

    def first_page_lost(self: inventory.FleetGateway) -> list[Any]:
        return real(self)[inventory.PAGE :]

    monkeypatch.setattr(inventory.FleetGateway, "every", first_page_lost)
    results, problems = bench_lookup.run(ec2)
    lost = [p for p in problems if " answered " in p]
    # The strategies reading every page through the gateway, whatever the provider's choice:
    # FleetGateway.every for the fleet's sessions, and managed() if it reads every page.
    fleet = "a fleet's sessions, 50 sessions in the account: FleetGateway.every + Owner.owns"
    assert any(p.startswith(f"{fleet} answered ") and " missing, 0 extra" in p for p in lost)
    assert not any("bare boto3" in p for p in problems)  # the floors are not to blame
    assert not all(row["answers_agree"] for row in _rows(results).values())


def test_a_floor_that_loses_its_last_page_is_reported_and_not_taken_as_the_floor(
    ec2: EmbeddedEc2, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bench_lookup.Lookup.raw_pages

    def last_page_lost(self: bench_lookup.Lookup) -> list[Any]:
        every = real(self)
        return every[: len(every) - len(every) % inventory.PAGE]  # 50: pages of 20, 20, 10

    monkeypatch.setattr(bench_lookup.Lookup, "raw_pages", last_page_lost)
    results, problems = bench_lookup.run(ec2)
    assert problems
    assert all("bare boto3, all pages answered " in p for p in problems)
    for row in _rows(results).values():
        assert row["floor"] == "bare boto3, by tags"
        assert row["strategies"]["bare boto3, all pages"]["right"] is False
