"""What counts as held when the declared properties leave a field out: the NLB's whole-packet
PacketLength and an empty Description are no difference (else every sweep would write again);
any other value is one. Pure: sessions as EC2 answers them, specs as the schema parses them."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.sessions.converge import as_held, as_last_written
from traffic_mirror.sessions.plan import plan_update
from traffic_mirror.sessions.validation import parse

DECLARED = {
    "NetworkInterfaceId": "eni-1",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
    "SessionNumber": "1",
}


def held(**extra: Any) -> dict[str, Any]:
    return {
        "TrafficMirrorSessionId": "tms-1",
        "NetworkInterfaceId": "eni-1",
        "TrafficMirrorTargetId": "tmt-1",
        "TrafficMirrorFilterId": "tmf-1",
        "SessionNumber": 1,
        **extra,
    }


@pytest.mark.parametrize("extra", [{"PacketLength": 8500}, {"Description": ""}, {}])
def test_values_that_mean_none_are_no_difference(extra: dict[str, Any]) -> None:
    new = parse(DECLARED)
    assert plan_update(as_held(held(**extra), new), new).modify is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("extra", "removed"),
    [({"PacketLength": 128}, "packet-length"), ({"Description": "by hand"}, "description")],
)
def test_any_other_value_is_removed(extra: dict[str, Any], removed: str) -> None:
    new = parse(DECLARED)
    modify = plan_update(as_held(held(**extra), new), new).modify  # type: ignore[arg-type]
    assert modify is not None and modify.remove == (removed,)


def test_a_declared_value_is_always_compared() -> None:
    new = parse({**DECLARED, "PacketLength": "8500"})
    modify = plan_update(as_held(held(PacketLength=100), new), new).modify  # type: ignore[arg-type]
    assert modify is not None and modify.changes == {"PacketLength": 8500}


def test_a_last_write_of_8500_is_removed_when_the_new_settings_omit_it() -> None:
    """``PacketLength: 8500`` cuts jumbo frames on an interface or Gateway Load Balancer
    target; omitted mirrors whole packets. An Update from one to the other writes, though the
    read (8500) alone would count as no difference: only an NLB reports 8500 for omitted."""
    new = parse(DECLARED)
    last = parse({**DECLARED, "PacketLength": "8500"})
    base = as_last_written(as_held(held(PacketLength=8500), new), last, new)  # type: ignore[arg-type]
    modify = plan_update(base, new).modify
    assert modify is not None and modify.remove == ("packet-length",)


def test_a_last_write_that_meant_something_else_is_written_back_even_when_not_yet_read() -> None:
    """The rollback right after an Update: the read still shows the rollback's own value,
    but the last write asked for 128, so the omitted PacketLength is written (removed)."""
    new = parse(DECLARED)
    last = parse({**DECLARED, "PacketLength": "128"})
    base = as_last_written(as_held(held(), new), last, new)  # type: ignore[arg-type]
    modify = plan_update(base, new).modify
    assert modify is not None and modify.remove == ("packet-length",)
