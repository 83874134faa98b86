"""What a Describe of traffic mirror sessions or tags shows: lagged, filtered and paged as EC2.

Used by ``ec2sim`` (its module docstring has the whole picture). Three pieces:

- :class:`Lag`: the read lag. Every write to a session is kept as a *version* (when it becomes
  visible, and the session as it then is, or None once deleted); a lagged read shows, per
  session, the newest version whose time has come. A session whose last version is visible
  needs no history: the read takes moto's current state, so with no lag nothing is kept.
- :func:`describe_sessions`: DescribeTrafficMirrorSessions with the nine documented filters
  (moto lacks ``packet-length`` and ``virtual-network-id``), IDs, and MaxResults/NextToken.
- :func:`describe_tags`: DescribeTags with ``key``, ``value``, ``resource-id``,
  ``resource-type`` and ``tag:<key>``, paged, sessions' tags seen through the lag. It reads
  only the resources the filters can match: the named IDs, or the sessions for
  ``resource-type=traffic-mirror-session``, with one dict lookup per resource for an exact
  ``key``; it scans every tag only when asked for everything.
"""

from __future__ import annotations

import base64
import bisect
import json
import math
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

TRUTH_HEADER: Final = "X-Embedded-Ec2-Truth"
DEFAULT_PAGE: Final = 1000  # MaxResults omitted: the largest page EC2 accepts
PAGE_RANGE: Final = (5, 1000)
SESSION_TYPE: Final = "traffic-mirror-session"
SESSION_PREFIX: Final = "tms"

Where = tuple[str, str]  # (account, region): one moto backend
Snapshot = dict[str, Any]  # a session as DescribeTrafficMirrorSessions returns it
LagSetting = float | tuple[float, float]

# filter name -> (key in a session's dict, attribute of moto's session object)
SESSION_FIELDS: Final = {
    "description": ("Description", "description"),
    "network-interface-id": ("NetworkInterfaceId", "network_interface_id"),
    "owner-id": ("OwnerId", "owner_id"),
    "packet-length": ("PacketLength", "packet_length"),
    "session-number": ("SessionNumber", "session_number"),
    "traffic-mirror-filter-id": ("TrafficMirrorFilterId", "traffic_mirror_filter_id"),
    "traffic-mirror-session-id": ("TrafficMirrorSessionId", "id"),
    "traffic-mirror-target-id": ("TrafficMirrorTargetId", "traffic_mirror_target_id"),
    "virtual-network-id": ("VirtualNetworkId", "virtual_network_id"),
}


def parse_lag(text: str | None) -> LagSetting:
    """``EMBEDDED_EC2_READ_LAG``: "" or unset = 0, "1.5" = fixed seconds, "0-3" = a range."""
    text = (text or "").strip()
    if not text:
        return 0.0
    low, sep, high = text.partition("-")
    if sep:
        return check_lag((float(low), float(high)))
    return check_lag(float(text))


def check_lag(setting: LagSetting) -> LagSetting:
    """The setting itself, if it is one (seconds >= 0; a range low <= high)."""
    if isinstance(setting, tuple):
        low, high = (float(v) for v in setting)
        if not 0 <= low <= high:
            raise ValueError(f"read lag range must be 0 <= low <= high, not {setting!r}")
        return (low, high)
    if float(setting) < 0 or math.isnan(float(setting)):
        raise ValueError(f"read lag must be >= 0 seconds, not {setting!r}")
    return float(setting)


@dataclass
class Version:
    visible_at: float
    snapshot: Snapshot | None  # None: absent (before its Create, after its Delete)


@dataclass
class Lag:
    """The read lag and the versions of the sessions whose last write is not visible yet."""

    setting: LagSetting = 0.0
    history: dict[Where, dict[str, list[Version]]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def delay(self) -> float:
        if isinstance(self.setting, tuple):
            return random.uniform(*self.setting)  # noqa: S311 - not security
        return self.setting

    def wants(self, where: Where, session_id: str) -> bool:
        """Whether a write to this session must be kept (a lag is set, or one is pending)."""
        return bool(self.setting) or session_id in self.history.get(where, {})

    def record(
        self, where: Where, session_id: str, before: Snapshot | None, after: Snapshot | None
    ) -> None:
        """One write to a session: ``before`` as it was, ``after`` as it now is (or None)."""
        with self.lock:
            versions = self.history.get(where, {}).get(session_id)
            if not versions and not self.setting:
                return
            if not versions:
                versions = self.history.setdefault(where, {}).setdefault(session_id, [])
                versions.append(Version(-math.inf, before))
            versions.append(Version(time.monotonic() + self.delay(), after))

    def lagging(self, where: Where) -> dict[str, Snapshot | None]:
        """Sessions whose last write is not visible yet, as a read sees them now."""
        now = time.monotonic()
        seen: dict[str, Snapshot | None] = {}
        with self.lock:
            held = self.history.get(where, {})
            for session_id, versions in list(held.items()):
                if versions[-1].visible_at <= now:
                    del held[session_id]  # all visible: moto's state is the answer
                    continue
                seen[session_id] = next(
                    v.snapshot for v in reversed(versions) if v.visible_at <= now
                )
        return seen

    def settled_at(self) -> float:
        """When every write made so far shows (monotonic time; now or earlier: all do)."""
        with self.lock:
            return max(
                (v[-1].visible_at for held in self.history.values() for v in held.values()),
                default=-math.inf,
            )

    def clear(self, setting: LagSetting) -> None:
        with self.lock:
            self.history.clear()
            self.setting = setting


def truth_asked(response: Any) -> bool:
    """Whether the request carries the truth header (oracles: no lag)."""
    headers = getattr(response, "headers", None) or {}
    return str(headers.get(TRUTH_HEADER, "")).lower() in {"1", "true", "yes"}


def page_size(raw: Any) -> int:
    """MaxResults as EC2 takes it: 5-1000, or the default page when omitted."""
    if raw in (None, ""):
        return DEFAULT_PAGE
    try:
        size = int(raw)
    except (TypeError, ValueError):
        size = -1
    low, high = PAGE_RANGE
    if not low <= size <= high:
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Value ( {raw} ) for parameter maxResults is invalid. "
            f"Expecting a value between {low} and {high}.",
        )
    return size


def _encode(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _decode(token: str) -> list[Any]:
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        position = None
    if not isinstance(position, list):
        raise EC2ClientError("InvalidParameterValue", f"The token '{token}' is invalid.")
    return position


def _page(
    rows: list[tuple[list[Any], Any]], size: int, token: str | None
) -> tuple[list[Any], str | None]:
    """Rows sorted by position; the page after ``token``, and the token for the next one."""
    rows.sort(key=lambda row: row[0])
    start = bisect.bisect_right([row[0] for row in rows], _decode(token)) if token else 0
    chunk = rows[start : start + size]
    more = start + size < len(rows)
    return [item for _, item in chunk], (_encode(chunk[-1][0]) if more and chunk else None)


def _matcher(values: Iterable[str]) -> re.Pattern[str]:
    """EC2 filter values: any of them, ``*`` and ``?`` as wildcards."""
    parts = [re.escape(v).replace(r"\*", ".*").replace(r"\?", ".") for v in values]
    return re.compile("|".join(f"(?:{p})" for p in parts) or "(?!)", re.S)


def _wild(value: str) -> bool:
    return "*" in value or "?" in value


# ---------------------------------------------------------------- DescribeTrafficMirrorSessions


def _field(item: Any, name: str) -> Any:
    key, attr = SESSION_FIELDS[name]
    return item.get(key) if isinstance(item, dict) else getattr(item, attr)


def _visible_sessions(backend: Any, lag: Lag, truth: bool) -> Iterator[tuple[str, Any]]:
    """(id, moto session or snapshot) for every session a read sees."""
    lagging = {} if truth else lag.lagging((backend.account_id, backend.region_name))
    for session_id, session in list(backend.traffic_mirror_sessions.items()):
        if session_id not in lagging:
            yield session_id, session
    for session_id, snapshot in lagging.items():
        if snapshot is not None:
            yield session_id, snapshot


def describe_sessions(
    backend: Any,
    lag: Lag,
    order: dict[str, int],
    *,
    ids: list[str] | None,
    filters: dict[str, list[str]],
    max_results: Any,
    token: str | None,
    truth: bool,
) -> tuple[list[Snapshot], str | None]:
    """A page of sessions, in creation order; the NextToken for the next page (or None)."""
    size = page_size(max_results)
    wanted = set(ids or ())
    # a name EC2 does not document never gets here unless strict_filters is off: then, as
    # moto does, it is ignored
    tests = [(n, _matcher(v)) for n, v in filters.items() if n in SESSION_FIELDS]
    rows: list[tuple[list[Any], Any]] = []
    for session_id, item in _visible_sessions(backend, lag, truth):
        if wanted and session_id not in wanted:
            continue
        if all(
            (value := _field(item, name)) is not None and pattern.fullmatch(str(value))
            for name, pattern in tests
        ):
            rows.append(([order.get(session_id, 0), session_id], item))
    chosen, next_token = _page(rows, size, token)
    return [i if isinstance(i, dict) else i.to_dict() for i in chosen], next_token


# ------------------------------------------------------------------------------- DescribeTags


def _kind(resource_id: str) -> str:
    return str(EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), ""))


def _held_tags(
    backend: Any, lagging: dict[str, Snapshot | None], resource_id: str
) -> dict[str, str]:
    """A resource's tags as a read sees them (a session's through the lag; gone = none)."""
    if get_prefix(resource_id) == SESSION_PREFIX:
        if resource_id in lagging:
            snapshot = lagging[resource_id]
            return {t["Key"]: t["Value"] for t in (snapshot or {}).get("Tags", [])}
        if resource_id not in backend.traffic_mirror_sessions:
            return {}
    return dict(backend.tags.get(resource_id, {}))


def _candidates(
    backend: Any, lagging: dict[str, Snapshot | None], filters: dict[str, list[str]]
) -> Iterable[str]:
    """The resources the filters can match, without reading every resource when avoidable."""
    named = filters.get("resource-id")
    if named and not any(_wild(v) for v in named):
        return dict.fromkeys(named)
    kinds = filters.get("resource-type")
    if kinds and set(kinds) == {SESSION_TYPE}:
        return {**dict.fromkeys(backend.traffic_mirror_sessions), **dict.fromkeys(lagging)}
    return {**dict.fromkeys(list(backend.tags)), **dict.fromkeys(lagging)}


def describe_tags(
    backend: Any,
    lag: Lag,
    *,
    filters: dict[str, list[str]],
    max_results: Any,
    token: str | None,
    truth: bool,
) -> tuple[list[dict[str, str]], str | None]:
    """A page of tags, sorted by resource ID and key; the NextToken for the next one."""
    size = page_size(max_results)
    lagging = {} if truth else lag.lagging((backend.account_id, backend.region_name))
    keys = filters.get("key") or []
    exact_keys = keys if keys and not any(_wild(k) for k in keys) else None
    key_test = _matcher(keys) if keys else None
    value_test = _matcher(filters["value"]) if filters.get("value") else None
    id_test = _matcher(filters["resource-id"]) if filters.get("resource-id") else None
    kinds = set(filters.get("resource-type") or ())
    holds = [(n[len("tag:") :], _matcher(v)) for n, v in filters.items() if n.startswith("tag:")]
    rows: list[tuple[list[Any], Any]] = []
    for resource_id in _candidates(backend, lagging, filters):
        kind = _kind(resource_id)
        if (kinds and kind not in kinds) or (id_test and not id_test.fullmatch(resource_id)):
            continue
        held = _held_tags(backend, lagging, resource_id)
        if not all(k in held and p.fullmatch(held[k]) for k, p in holds):
            continue
        pairs = [(k, held[k]) for k in exact_keys if k in held] if exact_keys else held.items()
        for key, value in pairs:
            if key_test and not key_test.fullmatch(key):
                continue
            if value_test and not value_test.fullmatch(value):
                continue
            entry = {"ResourceId": resource_id, "ResourceType": kind, "Key": key, "Value": value}
            rows.append(([resource_id, key], entry))
    return _page(rows, size, token)
