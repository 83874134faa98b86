"""SessionNumbers on one interface: read, allocate, and settle distinct under concurrency.

CloudFormation creates resources in parallel, each in its own Lambda environment, so two
sessions may pick one number on one interface at once. Whether EC2 refuses a number already
used there is not documented; this module is correct either way:

- **EC2 refuses it**: the interface is read again; if another session holds the number now,
  the next free one is tried (a declared number fails, naming the holder).
- **EC2 accepts it**: after creating, the provider waits :data:`SETTLE_SECONDS` and reads the
  interface again. Sessions sharing the number are ordered (seen before creating first, then
  declared, then by ID); the first keeps it, every other one's own process moves it
  (allocated: one Modify to a free number, distinct by rank) or removes it and fails
  (declared). Each process moves only its own. The rule itself is :func:`decide`, pure.

The wait makes "each process sees the others" true: one that finishes without seeing a rival
read the interface SETTLE_SECONDS after its own Create landed, so the rival's landed later;
that rival saw it before creating (it is older and wins), or took longer than SETTLE_SECONDS
from read to Create (it yields to every session it did not see before creating).

Reads lag writes (:mod:`traffic_mirror.aws.consistency`). The wait therefore counts from the read
that first shows the process's own session as written; under the same lag, rivals that landed
earlier show by then too, and a read's blind spot (the lag) counts into "took longer". Where
lags differ or outlast the bound, the sweep finds numbers shared on an interface.

Example::

    view = read(ec2, "eni-1")
    view.number_for(params)     # the declared number, or the lowest free one
    session = place(ec2, view, params, tags, token_for)
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from traffic_mirror.aws.consistency import until
from traffic_mirror.aws.ec2 import Ec2Gateway, TrafficMirrorSessionTypeDef
from traffic_mirror.errors import (
    PER_INTERFACE_LIMIT,
    InterfaceFull,
    NotFound,
    NotSupported,
    ProviderError,
    QuotaReached,
    Refused,
    Throttled,
)
from traffic_mirror.ownership import DECLARED, Owner, number_mode
from traffic_mirror.sessions.plan import Modify, free_numbers
from traffic_mirror.sessions.schema import Value

__all__ = ["SESSIONS_PER_INTERFACE", "SETTLE_SECONDS", "Interface", "check_place", "place"]
__all__ += ["Decision", "Keep", "Move", "Yield", "decide", "read", "settle", "settle_wait"]

Session = TrafficMirrorSessionTypeDef
#: EC2 allows this many sessions per source interface.
SESSIONS_PER_INTERFACE: Final = 3
PER: Final = SESSIONS_PER_INTERFACE
#: How long after its Create a process reads the interface again to find rivals: longer
#: than a Create normally takes. The environment variable SETTLE_SECONDS overrides it.
SETTLE_SECONDS: Final = 1.0
#: Bounded rounds of move-and-check before giving up with a clear Reason.
MAX_ROUNDS: Final = 6
#: Failures that reading the interface again cannot explain: they answer at once.
_NOT_A_CLASH: Final = (NotFound, Refused, Throttled, NotSupported, QuotaReached)
_log = logging.getLogger(__name__)


def _may_be_a_clash(exc: ProviderError) -> bool:
    """Whether reading the interface again could explain EC2's refusal (a number taken: what
    EC2 answers for one is not documented, so any refusal but these kinds may be one)."""
    return exc.code is not None and not isinstance(exc, _NOT_A_CLASH)


def _number(session: Session) -> int:
    return int(session.get("SessionNumber", 0))


def _id(session: Session) -> str:
    return str(session["TrafficMirrorSessionId"])


@dataclass(frozen=True)
class Interface:
    """A source interface's sessions as one Describe saw them, and when it was made."""

    name: str
    sessions: Sequence[Session]
    read_at: float = field(default_factory=time.monotonic)

    def get(self, session_id: str) -> Session | None:
        """The session with this ID, if it is on the interface."""
        return next((s for s in self.sessions if _id(s) == session_id), None)

    def owned(self, owner: Owner) -> Session | None:
        """The owner's own session on this interface, if any."""
        return next((s for s in self.sessions if owner.owns(s)), None)

    def holder(self, number: int, besides: str = "") -> Session | None:
        """A session other than ``besides`` that uses ``number``."""
        return next((s for s in self.sessions if _number(s) == number and _id(s) != besides), None)

    def free(self) -> int | None:
        """The lowest unused number; None when the interface sources its maximum."""
        if len(self.sessions) >= SESSIONS_PER_INTERFACE:
            return None
        return free_numbers(_number(s) for s in self.sessions)[0]

    def full(self, verb: str = "allocate a SessionNumber on") -> ProviderError:
        """The Reason for a full interface, naming its sessions."""
        names = ", ".join(f"{_id(s)} (#{s.get('SessionNumber')})" for s in self.sessions)
        return InterfaceFull(
            f"{verb} {self.name}: it already sources {len(self.sessions)} sessions, the EC2 "
            f"maximum: {names}. Remove one, or mirror another interface.",
            PER_INTERFACE_LIMIT,
        )

    def number_for(self, params: Mapping[str, Value]) -> int:
        """The number a Create with ``params`` uses here: the declared one, or the lowest
        free; fails as the Create must (a full interface, a declared number another holds)."""
        declared = "SessionNumber" in params
        free = self.free()
        if free is None:
            raise self.full("mirror" if declared else "allocate a SessionNumber on")
        number = int(params["SessionNumber"]) if declared else free
        if declared and (holder := self.holder(number)) is not None:
            raise self.taken(number, holder)
        return number

    def taken(self, number: int, holder: Session) -> ProviderError:
        """The Reason for a declared number that another session holds, naming its owner."""
        owner = Owner.recorded_on(holder)
        whose = f", {owner.describe()}" if owner else ""
        return ProviderError(
            f"use SessionNumber {number} on {self.name}: {_id(holder)} (#{number}{whose}) "
            "already uses it. "
            "Give another SessionNumber, or omit it to have the lowest free one allocated."
        )


def read(ec2: Ec2Gateway, interface: str) -> Interface:
    """One paginated Describe of the interface's sessions."""
    started = time.monotonic()
    return Interface(interface, ec2.on_interface(interface), started)


TokenFor = Callable[[int], str]


def place(
    ec2: Ec2Gateway,
    view: Interface,
    params: Mapping[str, Value],
    tags: Mapping[str, str],
    token_for: TokenFor,
    *,
    settled: bool = True,
) -> Session:
    """Create a session on ``view.name`` with a number no other session there holds.

    ``params`` without SessionNumber: the lowest free number is allocated. ``tags`` carry the
    owner's reserved tags. ``settled=False``: as created, a batch settles it (:func:`settle`).
    """
    for _ in range(MAX_ROUNDS):
        number = view.number_for(params)
        try:
            made = ec2.create({**params, "SessionNumber": number}, tags, token_for(number))
        except ProviderError as exc:
            if not _may_be_a_clash(exc):
                raise
            again = _explained(ec2, view.name, number)
            if again.holder(number) is None and len(again.sessions) < PER:
                raise  # not the number, nor a full interface: EC2's own reason stands
            _log.info("number taken meanwhile", extra={"interface": view.name, "number": number})
            view = again
            continue
        if not settled:
            return made
        try:
            return settle(ec2, made, view)
        except ProviderError:
            # Made by this event, which answers FAILED: the rollback Delete names no session.
            with contextlib.suppress(ProviderError):
                ec2.delete(str(made["TrafficMirrorSessionId"]))
            raise
    raise ProviderError(
        f"allocate a SessionNumber on {view.name}: other sessions kept taking the free numbers "
        f"({MAX_ROUNDS} tries). Retry the stack operation."
    )


def _explained(ec2: Ec2Gateway, interface: str, number: int) -> Interface:
    """A read after a refused Create that shows why, if a number taken or a full interface is
    why. The session that took it shows within the same bound as any write
    (:func:`~traffic_mirror.aws.consistency.visible_within`); a refusal for another reason
    therefore fails only after that bound, so a race is never failed as EC2's own refusal."""
    return until(
        lambda: read(ec2, interface),
        lambda v: v.holder(number) is not None or len(v.sessions) >= PER,
    )


def _seen(
    ec2: Ec2Gateway,
    interface: str,
    made: Session,
    written: float,
    wait: float,
    *,
    first: Interface | None = None,
) -> tuple[Interface, float]:
    """A read of the interface that shows ``made`` as written, and how long that took to
    show. Reads lag writes (:mod:`~traffic_mirror.aws.consistency`): once this session shows,
    rivals written before it show after the same wait as without lag. Unseen within the
    bound: the read as it is (the sweep finds a number shared meanwhile)."""
    now = first or read(ec2, interface)
    if _shows(now, made):
        return now, 0.0
    now = until(lambda: read(ec2, interface), lambda v: _shows(v, made), first=now)
    lag = time.monotonic() - written
    if not _shows(now, made):
        _log.warning("own session not yet visible", extra={"session": _id(made), "lag": lag})
        return now, lag
    time.sleep(wait)
    return read(ec2, interface), lag


def _shows(view: Interface, made: Session) -> bool:
    held = view.get(_id(made))
    return held is not None and _number(held) == _number(made)


@dataclass(frozen=True)
class Keep:
    """The own session keeps its number."""


@dataclass(frozen=True)
class Move:
    """The own (allocated) session moves to the free number ``to``."""

    to: int


@dataclass(frozen=True)
class Yield:
    """The own (declared) session is deleted, and the event fails naming the session ``to``."""

    to: str


Decision = Keep | Move | Yield


def decide(
    mine: Session,
    sessions: Sequence[Session],
    *,
    seen_before: Collection[str],
    twins: Collection[str] = (),
    late: bool = False,
) -> Decision:
    """Whether ``mine`` keeps its number, moves, or yields: the rule of the module doc, pure.

    ``sessions``: the interface as read after the wait; ``seen_before``: the IDs the read
    that chose the number showed; ``twins``: the owner's own other sessions there (settled
    apart, never ranked); ``late``: more than the wait passed between that read and the
    Create showing, so rivals not seen before may have landed first. Sessions sharing the
    number rank: seen before, then declared, then the lowest ID. The first keeps it unless
    it is ``mine``, late, with an unseen rival; a declared one yields to the first (to a
    rival, when it is the first); an allocated one moves to the free number its rank picks
    (the first ranks last), distinct for each as every process ranks alike.

    >>> def s(sid, number, mode="allocated"):
    ...     tags = [{"Key": "traffic-mirror-provider:session-number", "Value": mode}]
    ...     return {"TrafficMirrorSessionId": sid, "SessionNumber": number, "Tags": tags}
    >>> a, b = s("tms-a", 1), s("tms-b", 1)
    >>> decide(a, [a, b], seen_before=[])
    Keep()
    >>> decide(b, [a, b], seen_before=[])
    Move(to=2)
    >>> decide(s("tms-a", 1, "declared"), [s("tms-a", 1, "declared"), b], seen_before=["tms-b"])
    Yield(to='tms-b')
    """
    mine_id = _id(mine)
    skip = {mine_id, *twins}
    rivals = [s for s in sessions if _number(s) == _number(mine) and _id(s) not in skip]
    if not rivals:
        return Keep()
    group = sorted(
        [mine, *rivals],
        key=lambda s: (_id(s) not in seen_before, number_mode(s) != DECLARED, _id(s)),
    )
    keeper = _id(group[0])
    unseen = [s for s in rivals if _id(s) not in seen_before]
    if keeper == mine_id and not (late and unseen):
        return Keep()
    if number_mode(mine) == DECLARED:
        return Yield(keeper if keeper != mine_id else _id(rivals[0]))
    # Distinct targets for every member of the group, as every process ranks it alike.
    rank = [_id(s) for s in group[1:]] + [keeper]
    return Move(free_numbers(_number(s) for s in sessions)[rank.index(mine_id)])


def settle_wait() -> float:
    """:data:`SETTLE_SECONDS`, or the SETTLE_SECONDS environment variable."""
    return float(os.environ.get("SETTLE_SECONDS", SETTLE_SECONDS))


def settle(
    ec2: Ec2Gateway,
    made: Session,
    before: Interface,
    *,
    created_at: float | None = None,
    one_per: Owner | None = None,
    after: Interface | None = None,
    gone_within: float | None = None,
) -> Session:
    """Make sure no other session on the interface shares ``made``'s number; see module doc.

    ``before``: the read that chose the number. ``created_at`` (a batch): when the Create
    returned; the caller has waited :func:`settle_wait` since the batch's last Create.
    ``one_per`` (a fleet): of sessions this owner's passes made on the interface at once, the
    lowest ID keeps it, the others are deleted (never the lowest: never none). ``after`` (a
    batch): the interface as read after the wait (read by the page). ``gone_within``: how
    long a session it deletes may be read until gone (a fleet's budget). Returns the session
    kept, as EC2 holds it.
    """
    mine = _id(made)
    wait = settle_wait()
    for round_ in range(MAX_ROUNDS):
        at = created_at if round_ == 0 else None
        written = time.monotonic() if at is None else at
        if at is None:
            time.sleep(wait)
        first = after if round_ == 0 else None
        now, lag = _seen(ec2, before.name, made, written, wait, first=first)
        # Unseen rivals may have landed up to ``lag`` before the read that chose the number.
        late = written - before.read_at + lag > wait
        twins = sorted(_id(s) for s in now.sessions if one_per is not None and one_per.owns(s))
        if twins and twins[0] != mine and now.get(twins[0]) is not None:
            ec2.delete_until_gone(mine, gone_within)  # a twin of the same owner keeps it
            return now.get(twins[0]) or made
        # The owner's own twins are settled above, never ranked (``decide``).
        current = now.get(mine) or made
        decision = decide(
            current,
            now.sessions,
            seen_before={_id(s) for s in before.sessions},
            twins=twins,
            late=late,
        )
        if isinstance(decision, Keep):
            return current
        if isinstance(decision, Yield):
            ec2.delete_until_gone(mine, gone_within)
            raise now.taken(_number(current), now.get(decision.to) or current)
        _log.info(
            "moving an allocated session off a shared number",
            extra={"session": mine, "from": _number(current), "to": decision.to},
        )
        try:
            made = ec2.modify(mine, Modify({"SessionNumber": decision.to}))
        except ProviderError as exc:
            if not _may_be_a_clash(exc):
                raise
        before = now
    raise ProviderError(
        f"allocate a SessionNumber on {before.name}: sessions created at the same time kept "
        f"sharing numbers ({MAX_ROUNDS} rounds); {mine} was left as it is. Retry the stack "
        "operation."
    )


def check_place(
    ec2: Ec2Gateway,
    view: Interface,
    params: Mapping[str, Value],
    tags: Mapping[str, str],
    token_for: TokenFor,
) -> int:
    """What a dry run does instead of :func:`~traffic_mirror.sessions.allocation.place`: the number
    the
    Create would use on ``view`` (failing as the Create would: a full interface, a declared
    number another session holds), then the Create checked with EC2 (DryRun). Returns the
    number; EC2's refusal (UnauthorizedOperation, a NotFound) raises as for a real Create."""
    number = view.number_for(params)
    ec2.check_create({**params, "SessionNumber": number}, tags, token_for(number))
    return number
