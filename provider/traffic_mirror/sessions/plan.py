"""The plan: old and new properties in, the exact EC2 writes out. Pure, no AWS.

Example::

    >>> from traffic_mirror.sessions.validation import parse
    >>> base = {"NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1",
    ...         "TrafficMirrorFilterId": "tmf-1", "SessionNumber": "1", "PacketLength": "64"}
    >>> new = dict(base, Description="web tier")
    >>> del new["PacketLength"]
    >>> p = plan_update(parse(base), parse(new))
    >>> p.modify
    Modify(changes={'Description': 'web tier'}, remove=('packet-length',))
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from traffic_mirror.sessions.schema import (
    FIELDS,
    FIELDS_BY_NAME,
    UNKNOWN,
    SessionSpec,
    Update,
    Value,
)

__all__ = [
    "Modify",
    "TagChanges",
    "TagWrite",
    "UpdatePlan",
    "create_params",
    "free_numbers",
    "plan_update",
    "tag_writes",
]

_NUMBER: Final = FIELDS_BY_NAME["SessionNumber"]
#: EC2's limit of tags on one resource.
EC2_MAX_TAGS: Final = 50


@dataclass(frozen=True)
class Modify:
    """One ModifyTrafficMirrorSession: the changed fields and the RemoveFields."""

    changes: dict[str, Value]
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagChanges:
    """CreateTags for ``put`` and DeleteTags for ``drop``, on the session."""

    put: dict[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagWrite:
    """One CreateTags (``put``) or DeleteTags (``drop``) call."""

    action: Literal["put", "drop"]
    tags: dict[str, str]


@dataclass(frozen=True)
class UpdatePlan:
    """What an Update writes to the session it holds.

    ``elsewhere_because``: the replacement properties (NetworkInterfaceId, RoleArn, Region)
    that changed, so the new properties place the session on another interface, account or
    region, where the held session is not. It only names them: whether the Update replaces
    is decided by reading that interface (:func:`traffic_mirror.sessions.resource._staying`:
    the resource's own session found there stays and is changed in place; none, a new one is
    made). Non-empty: no in-place writes are planned.
    """

    elsewhere_because: tuple[str, ...] = ()
    modify: Modify | None = None
    tags: TagChanges | None = None


def create_params(spec: SessionSpec) -> dict[str, Value]:
    """The CreateTrafficMirrorSession parameters for a spec (tags and token excluded)."""
    return {
        f.name: spec.values[f.name]  # type: ignore[misc]
        for f in FIELDS
        if f.sent_to_ec2 and spec.values.get(f.name, UNKNOWN) is not UNKNOWN
    }


def free_numbers(used: Iterable[int], count: int = 4) -> list[int]:
    """The ``count`` lowest SessionNumbers from 1 that ``used`` does not hold.

    >>> free_numbers([1, 3], 3)
    [2, 4, 5]
    """
    taken = set(used)
    free = (n for n in range(_NUMBER.low, _NUMBER.high + 1) if n not in taken)
    return [n for _, n in zip(range(count), free, strict=False)]


def tag_writes(
    current: Collection[str], change: TagChanges, limit: int = EC2_MAX_TAGS
) -> list[TagWrite]:
    """Order and split tag changes so the session never holds more than ``limit`` tags.

    First the new values of kept keys and as many new keys as fit, then DeleteTags, then the
    new keys that had to wait for room. ``current`` is the keys the session has now.

    >>> w = tag_writes(["a", "b"], TagChanges(put={"c": "1"}, drop=("a",)), limit=2)
    >>> [(x.action, sorted(x.tags)) for x in w]
    [('drop', ['a']), ('put', ['c'])]
    """
    have = set(current)
    updates = {k: v for k, v in change.put.items() if k in have}
    new = [k for k in change.put if k not in have]
    room = max(limit - len(have), 0)
    first = {**updates, **{k: change.put[k] for k in new[:room]}}
    later = {k: change.put[k] for k in new[room:]}
    drops = [k for k in change.drop if k in have and k not in change.put]
    writes = [TagWrite("put", first)] if first else []
    if drops:
        writes.append(TagWrite("drop", dict.fromkeys(drops, "")))
    if later:
        writes.append(TagWrite("put", later))
    return writes


def plan_update(old: SessionSpec, new: SessionSpec) -> UpdatePlan:
    """Diff previous and new properties into the fewest EC2 writes.

    A replacement field whose previous value is UNKNOWN does not force replacement: an
    invalid value never reached EC2, so the session still has the last valid one. A property
    left out in both (an allocated SessionNumber, say) is unchanged: no write.
    """
    elsewhere = tuple(
        f.name
        for f in FIELDS
        if f.update is Update.REPLACE
        and old.values.get(f.name) is not UNKNOWN
        and old.values.get(f.name) != new.values.get(f.name)
    )
    if elsewhere:
        return UpdatePlan(elsewhere_because=elsewhere)
    changes: dict[str, Value] = {}
    remove: list[str] = []
    for f in FIELDS:
        if f.update is not Update.IN_PLACE or not f.sent_to_ec2:
            continue
        before, after = old.values.get(f.name), new.values.get(f.name)
        if after is None:
            if before is not None and f.remove_as:
                remove.append(f.remove_as)
        elif before != after:
            changes[f.name] = after  # type: ignore[assignment]
    modify = Modify(changes, tuple(remove)) if changes or remove else None
    return UpdatePlan(modify=modify, tags=_tag_changes(old, new))


def _tag_changes(old: SessionSpec, new: SessionSpec) -> TagChanges | None:
    if not old.tags_known:
        return TagChanges(put=dict(new.tags)) if new.tags else None
    put = {k: v for k, v in new.tags.items() if old.tags.get(k) != v}
    drop = tuple(k for k in old.tags if k not in new.tags)
    return TagChanges(put, drop) if put or drop else None
