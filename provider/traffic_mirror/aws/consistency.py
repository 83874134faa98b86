"""Reads that lag writes: EC2's API is eventually consistent.

EC2's developer guide ("Eventual consistency in the Amazon EC2 API"): a resource just created,
or a change just made (tags included), may be missing from the next Describe; callers retry
with backoff. So "not in this read" never means "gone" here until reads with backoff have
said so: :func:`until` reads again (0.25 s, doubling, at most 4 s apart) until the read shows
what the caller wrote, or :func:`visible_within` seconds have passed, and then returns the
last read either way; the caller decides what an unconfirmed read means.

Only the reads that follow a write of the provider's own pay for it: when a read already
shows what is expected, :func:`until` makes no further call.

Example::

    >>> reads = iter([[], [], ["tms-1"]])
    >>> until(lambda: next(reads), lambda seen: "tms-1" in seen, within=5, first_pause=0)
    ['tms-1']
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Final, TypeVar

__all__ = ["VISIBLE_WITHIN_S", "until", "visible_within"]

T = TypeVar("T")
#: How long the provider waits for its own write to show in Describe before it goes on
#: with what it sees (the sweep catches the rest). The VISIBLE_WITHIN_SECONDS environment
#: variable overrides it.
VISIBLE_WITHIN_S: Final = 20.0
FIRST_PAUSE_S: Final = 0.25
LONGEST_PAUSE_S: Final = 4.0


def visible_within() -> float:
    """:data:`VISIBLE_WITHIN_S`, or the VISIBLE_WITHIN_SECONDS environment variable."""
    return float(os.environ.get("VISIBLE_WITHIN_SECONDS", VISIBLE_WITHIN_S))


def until(
    read: Callable[[], T],
    shows: Callable[[T], bool],
    *,
    within: float | None = None,
    first: T | None = None,
    first_pause: float = FIRST_PAUSE_S,
) -> T:
    """``read()`` again with backoff until ``shows(result)``, for at most ``within`` seconds
    (:func:`visible_within` by default); the last result either way. ``first``: a read the
    caller already made (no call when it shows what is expected)."""
    result = read() if first is None else first
    deadline = time.monotonic() + (visible_within() if within is None else within)
    pause = first_pause
    while not shows(result):
        left = deadline - time.monotonic()
        if left <= 0:
            return result
        time.sleep(min(pause, left))
        pause = min(max(pause * 2, FIRST_PAUSE_S), LONGEST_PAUSE_S)
        result = read()
    return result
