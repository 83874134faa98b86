"""What counts as held when the declared properties leave a field out: the NLB's whole-packet
PacketLength and an empty Description are no difference (else every sweep would write again);
any other value is one. Pure: sessions as EC2 answers them, specs as the schema parses them."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.sessions.converge import as_held
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
