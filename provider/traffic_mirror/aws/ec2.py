"""The thin EC2 layer: performs planned calls and translates their errors.

Clients are plain boto3, so ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_EC2`` point them at a
local stand-in; there is no endpoint code here. One client per region per container.

Example::

    ec2 = Ec2Gateway(ec2_client())
    session = ec2.create(params, tags, client_token="...")
    ec2.delete(session["TrafficMirrorSessionId"])
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from traffic_mirror.aws.consistency import until, visible_within
from traffic_mirror.errors import (
    DRY_RUN_OK,
    DryRunIgnored,
    ProviderError,
    SessionGone,
    error_code,
    explain,
)
from traffic_mirror.sessions.plan import Modify, TagWrite
from traffic_mirror.sessions.schema import Value

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import TagTypeDef, TrafficMirrorSessionTypeDef
else:
    EC2Client = TagTypeDef = Any
    TrafficMirrorSessionTypeDef = dict

__all__ = ["CLIENT_CONFIG", "SESSION_TYPE", "Ec2Gateway", "TrafficMirrorSessionTypeDef"]
__all__ += ["VALUES_PER_FILTER", "ec2_client"]

#: Throttling (RequestLimitExceeded) is retried by botocore's standard mode with backoff.
#: Socket timeouts are short enough that a hung call fails well inside the Lambda timeout;
#: the adapter's timer is the last guard.
CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=15,
    user_agent_extra="traffic-mirror-provider",
)
SESSION_TYPE: Final = "traffic-mirror-session"
#: Values in one filter of one Describe call: 200, the most EC2 takes in one filter.
VALUES_PER_FILTER: Final = 200
T = TypeVar("T")
_log = logging.getLogger(__name__)
#: Failures other than an EC2 error code: network, timeouts, an answer that is not EC2's.
TRANSPORT_ERRORS: Final = (BotoCoreError, ResponseParserError)


@functools.cache
def ec2_client(region: str | None = None) -> EC2Client:
    """The EC2 client for ``region`` (default: the function's), created once per container."""
    return boto3.client("ec2", region_name=region, config=CLIENT_CONFIG)


def _tag_list(tags: Mapping[str, str]) -> list[TagTypeDef]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _ident(params: Mapping[str, Value]) -> str:
    return f"{params.get('NetworkInterfaceId')} #{params.get('SessionNumber')}"


def _create_args(
    params: Mapping[str, Value], tags: Mapping[str, str], client_token: str
) -> dict[str, Any]:
    return {
        **params,
        "TagSpecifications": [{"ResourceType": SESSION_TYPE, "Tags": _tag_list(tags)}],
        "ClientToken": client_token,
    }


def _modify_args(session_id: str, change: Modify) -> dict[str, Any]:
    args: dict[str, Any] = dict(change.changes, TrafficMirrorSessionId=session_id)
    if change.remove:
        args["RemoveFields"] = list(change.remove)
    return args


def _allowed(call: Callable[[], object]) -> Callable[[], None]:
    """Wrap a DryRun call: EC2's DryRunOperation error is its "you may" answer."""

    def attempt() -> None:
        try:
            call()
        except ClientError as exc:
            if error_code(exc) == DRY_RUN_OK:
                return
            raise
        raise DryRunIgnored("EC2 did not honour DryRun and performed the call; nothing was kept")

    return attempt


class Ec2Gateway:
    """Create, modify, tag, find and delete traffic mirror sessions; errors become reasons."""

    def __init__(
        self,
        client: EC2Client,
        account: str | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.account = account  # given when reached through RoleArn
        #: The role's keys (through RoleArn), for other services' clients in that account.
        self.credentials: Mapping[str, str] = credentials or {}

    @property
    def where(self) -> str:
        """Where this gateway looks, for Reasons: the account (when known) and the region."""
        account = f"account {self.account}" if self.account else "this account"
        return f"in {account}, region {self.region}"

    @property
    def region(self) -> str:
        """The region the client talks to."""
        return str(self.client.meta.region_name)

    @property
    def partition(self) -> str:
        """The region's partition (aws, aws-cn, aws-us-gov), as the client resolved it."""
        return str(self.client.meta.partition)

    def _call(
        self,
        verb: str,
        ident: str,
        call: Callable[[], T],
        if_gone: T | None = None,
        ids: Mapping[str, Value] | None = None,
    ) -> T:
        """Run one EC2 call; a failure becomes a ProviderError whose message is the Reason and
        whose class is its kind (:func:`~traffic_mirror.errors.failure`). ``if_gone`` is
        returned for a missing session (:class:`~traffic_mirror.errors.SessionGone`) instead of
        failing; ``ids`` are the call's parameters, to name a missing one."""
        try:
            return call()
        except ClientError as exc:
            failed = explain(verb, ident, exc, where=self.where, ids=ids)
            if if_gone is not None and isinstance(failed, SessionGone):
                return if_gone
            raise failed from exc
        except TRANSPORT_ERRORS as exc:
            raise explain(verb, ident, exc, where=self.where) from exc

    def create(
        self, params: Mapping[str, Value], tags: Mapping[str, str], client_token: str
    ) -> TrafficMirrorSessionTypeDef:
        """One CreateTrafficMirrorSession; the same token returns the same session again."""
        args = _create_args(params, tags, client_token)
        answer = self._call(
            "create",
            _ident(params),
            lambda: self.client.create_traffic_mirror_session(**args),
            ids=params,
        )
        return answer["TrafficMirrorSession"]

    def check_create(
        self, params: Mapping[str, Value], tags: Mapping[str, str], client_token: str
    ) -> None:
        """CreateTrafficMirrorSession with DryRun: returns when EC2 says it would succeed."""
        args = _create_args(params, tags, client_token)

        def attempt() -> None:
            made = self.client.create_traffic_mirror_session(**args, DryRun=True)
            self.delete(made["TrafficMirrorSession"]["TrafficMirrorSessionId"])  # never seen

        self._call("dry-run create", _ident(params), _allowed(attempt), ids=params)

    def modify(self, session_id: str, change: Modify) -> TrafficMirrorSessionTypeDef:
        """One ModifyTrafficMirrorSession with only the changed fields and RemoveFields."""
        args = _modify_args(session_id, change)
        answer = self._call(
            "modify",
            session_id,
            lambda: self.client.modify_traffic_mirror_session(**args),
            ids=change.changes,
        )
        return answer["TrafficMirrorSession"]

    def check_modify(self, session_id: str, change: Modify) -> None:
        """ModifyTrafficMirrorSession with DryRun: returns when EC2 says it would succeed."""
        args = _modify_args(session_id, change)
        self._call(
            "dry-run modify",
            session_id,
            _allowed(lambda: self.client.modify_traffic_mirror_session(**args, DryRun=True)),
        )

    def retag(self, session_id: str, writes: list[TagWrite]) -> None:
        """CreateTags and DeleteTags in the planned order (see :func:`plan.tag_writes`)."""
        for verb, call in self._tag_calls(session_id, writes, dry_run=False):
            self._call(verb, session_id, call)

    def check_retag(self, session_id: str, writes: list[TagWrite]) -> None:
        """The same tag calls with DryRun: returns when EC2 says they would succeed."""
        for verb, call in self._tag_calls(session_id, writes, dry_run=True):
            self._call(f"dry-run {verb}", session_id, _allowed(call))

    def _tag_calls(
        self, session_id: str, writes: list[TagWrite], *, dry_run: bool
    ) -> list[tuple[str, Callable[[], object]]]:
        return [self._tag_call(session_id, write, dry_run=dry_run) for write in writes]

    def _tag_call(
        self, session_id: str, write: TagWrite, *, dry_run: bool
    ) -> tuple[str, Callable[[], object]]:
        if write.action == "put":
            tags = _tag_list(write.tags)
            put = self.client.create_tags
            return "tag", lambda: put(Resources=[session_id], Tags=tags, DryRun=dry_run)
        keys: list[TagTypeDef] = [{"Key": k} for k in write.tags]
        drop = self.client.delete_tags
        return "untag", lambda: drop(Resources=[session_id], Tags=keys, DryRun=dry_run)

    def on_interface(self, interface_id: str) -> list[TrafficMirrorSessionTypeDef]:
        """Every session whose source is ``interface_id`` (all pages)."""
        pages = self.client.get_paginator("describe_traffic_mirror_sessions")
        return self._call(
            "describe",
            f"on {interface_id}",
            lambda: [
                session
                for page in pages.paginate(
                    Filters=[{"Name": "network-interface-id", "Values": [interface_id]}]
                )
                for session in page["TrafficMirrorSessions"]
            ],
        )

    def on_interfaces(self, interfaces: list[str]) -> dict[str, list[TrafficMirrorSessionTypeDef]]:
        """The sessions of many interfaces, by interface: one paginated Describe per
        :data:`VALUES_PER_FILTER` interfaces (a fleet's pass reads by the page, not per
        interface)."""
        pages = self.client.get_paginator("describe_traffic_mirror_sessions")
        found: dict[str, list[TrafficMirrorSessionTypeDef]] = {eni: [] for eni in interfaces}
        for i in range(0, len(interfaces), VALUES_PER_FILTER):
            chunk = interfaces[i : i + VALUES_PER_FILTER]
            sessions = self._call(
                "describe",
                f"on {len(chunk)} interfaces",
                lambda chunk=chunk: [  # type: ignore[misc]
                    session
                    for page in pages.paginate(
                        Filters=[{"Name": "network-interface-id", "Values": chunk}],
                        PaginationConfig={"PageSize": 1000},
                    )
                    for session in page["TrafficMirrorSessions"]
                ],
            )
            for session in sessions:
                found.setdefault(str(session.get("NetworkInterfaceId")), []).append(session)
        return found

    def find(self, session_id: str) -> TrafficMirrorSessionTypeDef | None:
        """The session with this ID, or None when EC2 no longer has it."""
        nothing: list[TrafficMirrorSessionTypeDef] = []
        found = self._call(
            "describe",
            session_id,
            lambda: self.client.describe_traffic_mirror_sessions(
                TrafficMirrorSessionIds=[session_id]
            ).get("TrafficMirrorSessions", nothing),
            if_gone=nothing,
        )
        return found[0] if found else None

    def delete(self, session_id: str) -> bool:
        """One DeleteTrafficMirrorSession. False when the session was already gone."""
        return self._call(
            "delete",
            session_id,
            lambda: bool(
                self.client.delete_traffic_mirror_session(TrafficMirrorSessionId=session_id)
            ),
            if_gone=False,
        )

    def by_ids(self, ids: Sequence[str], ident: str) -> list[TrafficMirrorSessionTypeDef]:
        """The sessions with these IDs that EC2 shows (one gone meanwhile is simply absent)."""
        pages = self.client.get_paginator("describe_traffic_mirror_sessions")
        chunks = [
            list(ids[i : i + VALUES_PER_FILTER]) for i in range(0, len(ids), VALUES_PER_FILTER)
        ]
        return self._call(
            "describe",
            ident,
            lambda: [
                session
                for chunk in chunks
                for page in pages.paginate(
                    Filters=[{"Name": "traffic-mirror-session-id", "Values": chunk}]
                )
                for session in page["TrafficMirrorSessions"]
            ],
        )

    def until_read(
        self,
        ids: Sequence[str],
        done: Callable[[TrafficMirrorSessionTypeDef], bool],
        within: float,
    ) -> list[str]:
        """Read these sessions by ID again, with backoff, until each one a read shows is
        ``done`` (one just deleted: until no read shows it), for at most ``within`` seconds;
        the IDs not done then (none, as a rule). Reads lag writes
        (:mod:`traffic_mirror.aws.consistency`)."""
        if not ids:
            return []

        def left(seen: list[TrafficMirrorSessionTypeDef]) -> list[str]:
            return [str(s["TrafficMirrorSessionId"]) for s in seen if not done(s)]

        shown = until(
            lambda: self.by_ids(ids, "just written"), lambda s: not left(s), within=within
        )
        return left(shown)

    def delete_until_gone(self, session_id: str, within: float | None = None) -> bool:
        """:meth:`delete`, then the session read by ID until no read shows it, for at most
        ``within`` seconds (:func:`~traffic_mirror.aws.consistency.visible_within` by default;
        a fleet's pass passes what its budget allows). Reads lag writes: the next event on the
        interface, a fleet's pass or another resource's Create, then reads its number free,
        not held by a session already deleted. No read when the bound is 0 or the session was
        already gone (not this call's Delete). Best effort: a read that fails, or a session
        still shown after the bound, is logged (``delete not shown yet``); the Delete itself
        succeeded. False when already gone."""
        deleted = self.delete(session_id)
        within = visible_within() if within is None else within
        if not deleted or within <= 0:
            return deleted
        try:
            shown = self.until_read([session_id], lambda _: False, within)
            reason = f"a read still shows it after {within:g} s" if shown else ""
        except ProviderError as exc:
            reason = exc.reason
        if reason:
            _log.warning("delete not shown yet", extra={"session": session_id, "reason": reason})
        return deleted
