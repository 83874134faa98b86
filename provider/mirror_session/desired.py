"""The desired state of single sessions, recorded so that drift can be seen (CloudFormation's
drift detection skips custom resources).

Create and Update record what the stack asked for (the properties as given, the owner, and
the SessionNumber and VNI assigned when those were omitted) under the session's ID in the
``sessions`` store; Delete removes the record. A dry run records nothing. The scheduled sweep
(:mod:`mirror_session.audit`) reads them all and compares each with EC2.

Example::

    remember(Store("sessions"), request, outcome)   # after a real Create or Update
    desired_of(record).values["SessionNumber"]      # 1, as allocated
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from mirror_session.errors import ProviderError
from mirror_session.identity import Owner, is_session_id
from mirror_session.request import Outcome, Request
from mirror_session.schema import FIELDS, SessionSpec, Value
from mirror_session.store import Record, Store
from mirror_session.validation import parse

__all__ = ["ASSIGNED", "desired_of", "forget", "remember"]

#: Values EC2 or the provider picks when the property is omitted; recorded as assigned.
ASSIGNED: Final = tuple(f.name for f in FIELDS if f.assigned_when_omitted)
_log = logging.getLogger(__name__)


def remember(store: Store, request: Request, outcome: Outcome) -> None:
    """Record the session's desired state (not for a dry run: nothing was made).

    A record that cannot be kept (too large even for the advanced tier: tags near EC2's
    limits) is removed instead, so that no older record describes the session: it works,
    and is logged as not watched. A store that refuses the write fails a Create (what it made
    is undone); an Update then removes the older record, or fails if it cannot (its
    rollback makes the older properties true again).
    """
    props = request.resource_properties
    if not isinstance(props, Mapping) or not is_session_id(outcome.physical_id):
        return
    assigned = {k: int(outcome.data[k]) for k in ASSIGNED if str(outcome.data.get(k)).isdigit()}
    record = Record(outcome.physical_id, Owner.of(request), props, assigned=assigned)
    try:
        store.put(record)
    except ProviderError as exc:
        if exc.source != "provider" and request.request_type == "Create":
            raise
        store.remove(record.key)
        _log.warning(
            "session not watched for drift",
            extra={"session": outcome.physical_id, "reason": exc.reason},
        )


def forget(store: Store, physical_id: str | None) -> None:
    """Remove the session's record (none kept counts as removed)."""
    if is_session_id(physical_id):
        store.remove(physical_id)


def desired_of(record: Record) -> SessionSpec:
    """The session as its stack declared it: the recorded properties, with the values
    assigned at Create in place of the omitted ones."""
    spec = parse(record.properties)
    values: dict[str, Value] = {k: v for k, v in spec.values.items() if isinstance(v, int | str)}
    for name, value in record.assigned.items():
        values.setdefault(name, value)
    return SessionSpec(values=values, tags=spec.tags)
