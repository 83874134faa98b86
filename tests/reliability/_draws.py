"""What the stateful machines draw, and the one rule they keep: a step draws only from fixed
strategies, and a precondition reads only model state that earlier draws fixed.

Hypothesis replays a sequence (to check a failure, to shrink it) by feeding it the same draws
and expects each step to ask for the same draws again. Outcomes of races (which of two Lambda
environments won a SessionNumber, whether a racing Create left a session) and what EC2
answered (physical IDs, numbers it assigned) may differ on the replay. A precondition or a
``sampled_from`` over a list that such outcomes shape would then ask for other draws, and
hypothesis gives up with ``FlakyStrategyDefinition``. So a step that needs "one of these" draws
an index (:data:`PICK`) and takes :func:`pick` of a list whose members the draws fixed (logical
IDs created, instances launched); outcomes are checked where they happen and only recorded as
values later checks compare with.

Example::

    @rule(which=PICK)
    def delete(self, which: int) -> None:
        logical = pick(sorted(self.live), which)   # the logical IDs the draws created
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")

#: Which element of a list a step picks (modulo its length): a fixed strategy, whatever the
#: list holds; shrinks towards the first.
PICK: Final = st.integers(0, 1 << 10)


def pick(items: Sequence[T], index: int) -> T:
    """The ``index``-th item, counting round."""
    return items[index % len(items)]
