"""traffic_mirror.ownership: who a session belongs to, and the IDs and tokens that name it."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.cloudformation.request import Request
from traffic_mirror.ownership import (
    LOGICAL_KEY,
    MANAGED_BY_KEY,
    NUMBER_KEY,
    STACK_KEY,
    Owner,
    client_token,
    dry_run_id,
    failed_create_id,
    fleet_id,
    fleet_token,
    is_dry_run_id,
    is_session_id,
    number_mode,
)

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/net/1111"
REQUEST = Request("Create", STACK, "r-1", "WebMirror")


def session(**tags: str) -> Any:
    return {
        "TrafficMirrorSessionId": "tms-1",
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


def test_an_owner_owns_only_sessions_with_the_managed_by_marker_and_both_its_tags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MANAGED_BY", "tmp-prod")
    owner = Owner(STACK, "WebMirror")
    mine = owner.tags(allocated=True)
    assert owner.owns(session(**mine))
    assert not owner.owns(session(**{**mine, MANAGED_BY_KEY: "tmp-test"}))
    assert not owner.owns(session(**{**mine, LOGICAL_KEY: "DbMirror"}))
    assert not owner.owns(session(**{k: v for k, v in mine.items() if k != STACK_KEY}))


def test_a_session_without_the_number_tag_counts_as_declared() -> None:
    assert number_mode(session()) == "declared"
    assert number_mode(session(**{NUMBER_KEY: "allocated"})) == "allocated"
    assert number_mode(session(**{NUMBER_KEY: "whatever"})) == "declared"


def test_the_recorded_owner_needs_the_stack_tag() -> None:
    assert Owner.recorded_on(session(**{LOGICAL_KEY: "WebMirror"})) is None
    assert Owner.recorded_on(session(**{STACK_KEY: STACK})) == Owner(STACK, "")


def test_an_owner_from_a_request_is_cut_to_ec2s_tag_value_limit() -> None:
    owner = Owner.of(Request("Create", STACK + "x" * 300, "r", "L" * 300))
    assert len(owner.stack_id) == 256
    assert len(owner.logical_id) == 256


def test_the_token_depends_on_the_request_and_the_number_tried() -> None:
    again = Request("Create", STACK, "r-1", "WebMirror", physical_resource_id="other")
    assert client_token(REQUEST, 3) == client_token(again, 3)  # a redelivery
    assert client_token(REQUEST, 3) != client_token(REQUEST, 4)
    assert client_token(REQUEST) != client_token(Request("Create", STACK, "r-2", "WebMirror"))
    assert len(client_token(REQUEST, 32766)) == 64  # EC2's maximum ClientToken length


def test_dry_run_and_failed_create_ids_are_never_session_ids() -> None:
    for physical in (dry_run_id(REQUEST), failed_create_id(REQUEST)):
        assert not is_session_id(physical)
    assert is_dry_run_id(dry_run_id(REQUEST))
    assert not is_dry_run_id(failed_create_id(REQUEST))


@pytest.mark.parametrize(
    ("physical", "expected"),
    [
        ("tms-0123456789abcdef0", True),
        ("tms-01234567", True),
        ("tms-0123456", False),  # shorter than any EC2 ID
        ("tms-0123456789ABCDEF0", False),
        ("tmt-0123456789abcdef0", False),
        (" tms-0123456789abcdef0", False),
        (None, False),
    ],
)
def test_session_ids_are_tms_and_lowercase_hex(physical: object, expected: bool) -> None:
    assert is_session_id(physical) is expected


def test_a_fleet_id_changes_with_its_placement() -> None:
    owner = Owner(STACK, "Web")
    ids = {
        fleet_id(owner, None, None),
        fleet_id(owner, "arn:aws:iam::2:role/r", None),
        fleet_id(owner, None, "eu-west-1"),
    }
    assert len(ids) == 3
    assert all(i.startswith("fleet-") and len(i) == 26 for i in ids)


def test_a_fleet_token_is_fresh_per_generation() -> None:
    assert fleet_token("fleet-1", "eni-1", 1, "ev-1") != fleet_token("fleet-1", "eni-1", 1, "sweep")
    assert fleet_token("fleet-1", "eni-1", 1, "ev-1") == fleet_token("fleet-1", "eni-1", 1, "ev-1")
