"""traffic_mirror.wiring: the time budget and tracing switch the three entries share."""

from __future__ import annotations

import math
from typing import Any

from traffic_mirror import wiring


class Context:
    """A Lambda context whose remaining time runs down between questions."""

    def __init__(self, *millis: int) -> None:
        self.left = list(millis)

    def get_remaining_time_in_millis(self) -> int:
        return self.left.pop(0)


def test_remaining_asks_the_context_each_time_in_seconds() -> None:
    left = wiring.remaining(Context(30_000, 1_500))
    assert left() == 30.0
    assert left() == 1.5  # not the first answer cached


def test_outside_lambda_the_budget_is_unbounded() -> None:
    assert math.isinf(wiring.remaining(object())())


def test_with_tracing_off_the_handler_is_returned_unwrapped() -> None:
    def handler(event: dict[str, Any], context: Any) -> Any:
        return None

    assert not wiring.TRACING  # the unit suite runs with the template's default: off
    assert wiring.traced(handler) is handler
