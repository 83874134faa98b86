"""An embedded EC2 for tests and the demo: moto on loopback, made to behave like real EC2.

moto 5.2.5 models traffic mirror sessions but differs from EC2 where it matters to a custom
resource (see shared/reference/ec2-traffic-mirror-sessions.md and documented-behaviour.md).
This layer, built once here and used everywhere, closes those gaps inside moto. It is strict
by default: where EC2 documents a refusal or a delay, the embedded EC2 refuses or delays too.

- ClientToken as EC2 documents it ("Ensuring idempotency"): the same token with the same
  parameters returns the original result, the session as first returned, even after that
  session was deleted (no new session is made); the same token with other parameters is
  ``IdempotentParameterMismatch``;
- ``InvalidTrafficMirrorSessionId.NotFound`` on Modify and Delete of a missing session;
- interface, target and filter must exist (their real NotFound codes);
- the 3-sessions-per-interface limit (``TrafficMirrorSessionsPerInterfaceLimitExceeded``);
- a VirtualNetworkId assigned when omitted, and again when removed with RemoveFields;
- RemoveFields honoured; Describe shows tags changed after creation; a deleted session's tags
  are gone (moto keeps them);
- a resource's tags looked up by its ID: moto scans every tag of every resource for each one,
  which makes Describe quadratic (12 s for a sweep of a 1,000-instance fleet); the answers
  are the same;
- a SessionNumber already used on the interface: real EC2's answer is not documented, so
  both are played (``duplicate_numbers``): ``"accept"`` (moto's way, the default) or
  ``"refuse"`` (``InvalidParameterValue`` on Create and Modify);
- **documented filter names only** (``strict_filters``, default True): for the Describe
  actions in ``documented.DOCUMENTED_FILTERS`` (sessions, targets, filters, tags, instances,
  network interfaces) a filter name the API reference does not list is answered as EC2 does,
  HTTP 400 ``InvalidParameterValue`` "The filter 'X' is invalid", by the HTTP layer without
  asking moto (which would ignore the name and return everything). ``tag:<key>`` is valid
  only where documented: not on DescribeTrafficMirrorSessions, ...Targets or ...Filters;
- DescribeTrafficMirrorSessions with all nine documented filters (moto lacks
  ``packet-length`` and ``virtual-network-id``), ``TrafficMirrorSessionIds``, and paging:
  ``MaxResults`` 5-1000 (else ``InvalidParameterValue``), 1000 a page when omitted, in
  creation order, with an opaque ``NextToken``. A session ID that does not exist, or whose
  Create is not visible yet, is simply absent from the answer (moto's answer; EC2's for
  Describe by an unknown ID is not documented);
- DescribeTags with ``key``, ``value``, ``resource-id``, ``resource-type`` and ``tag:<key>``
  (a resource holding that tag: all its tags), ``MaxResults`` 5-1000 / ``NextToken``, sorted
  by resource ID and key, reading only the resources the filters name (sessions for
  ``resource-type=traffic-mirror-session``), not every tag of every resource;
- **read lag** (``read_lag``; default 0, or ``EMBEDDED_EC2_READ_LAG`` at reset(): "1.5" for
  fixed seconds, "0-3" for a uniform range drawn per write): every write to a session (Create,
  Modify, Delete, CreateTags/DeleteTags on it) becomes visible to DescribeTrafficMirrorSessions
  (by ID and by filter) and to DescribeTags only that long after it happened. Until then they
  show the session as it was before the write: absent before its Create is visible, present
  after its Delete, old fields and tags after a Modify or tag change. Each write is kept as a
  version (visible_at, the session then or None); a read shows per session the newest version
  whose time has come (``ec2views.Lag``). Writes themselves (Modify, Delete, CreateTags by ID,
  the per-interface limit, duplicate numbers, ClientToken) act on the true state, unlagged.

**The truth, for oracles.** ``sessions()`` and ``client(truth=True)`` read past the lag: their
requests carry the header ``X-Embedded-Ec2-Truth: 1`` (``ec2views.TRUTH_HEADER``, added by a
botocore ``before-sign`` hook), which the patched Describe calls honour. Tests and demos assert
what EC2 really holds through these; the provider never sends the header.

It also sits in front of moto at the HTTP layer (a WSGI wrapper) to count every EC2 call
by action, to refuse undocumented filter names, and to inject faults there: an EC2 error code
with its HTTP status, or a delay.

moto's STS is served on the same endpoint: AssumeRole hands out credentials that moto maps to
the role's account, so calls made with them land in that account's EC2 (``account=`` below).

Example::

    with EmbeddedEc2() as ec2:           # sets AWS_ENDPOINT_URL_EC2 while it runs
        fx = ec2.fixtures()              # VPC, subnet, ENIs, a target and filters
        ec2.inject("CreateTrafficMirrorSession", "RequestLimitExceeded", status=503, times=2)
        ec2.read_lag = (0.5, 2.0)        # reads see each session write 0.5-2 s late
        ...
        ec2.calls                        # ['CreateTrafficMirrorSession', ...]
        ec2.sessions()                   # what EC2 holds now, past the lag
"""

from __future__ import annotations

import functools
import io
import itertools
import os
import random
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import boto3
from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.traffic_mirrors import TrafficMirrorSession
from moto.ec2.responses.tags import TagResponse
from moto.ec2.responses.traffic_mirrors import TrafficMirrors
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.iam.models import get_account_id_from
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local.harness.documented import DOCUMENTED_FILTERS, is_documented
from local.harness.ec2views import (
    SESSION_PREFIX,
    TRUTH_HEADER,
    Lag,
    LagSetting,
    Snapshot,
    check_lag,
    describe_sessions,
    describe_tags,
    parse_lag,
    truth_asked,
)
from local.harness.stacks import STACKS

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
else:
    EC2Client = Any

WRITE_ACTIONS: Final = frozenset(
    {
        "CreateTrafficMirrorSession",
        "ModifyTrafficMirrorSession",
        "DeleteTrafficMirrorSession",
        "CreateTags",
        "DeleteTags",
    }
)
SESSIONS_PER_INTERFACE: Final = 3
ENV_KEYS: Final = (
    "AWS_ENDPOINT_URL_EC2",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_AUTO_SCALING",
    "AWS_ENDPOINT_URL_CLOUDFORMATION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "VISIBLE_WITHIN_SECONDS",
)
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


@dataclass
class Fault:
    """What to do to the next ``times`` calls of ``action`` ("*" for any).

    ``code``: answer this EC2 error with ``status`` instead of calling moto. ``delay_s``: stall
    before handling. ``after_s``: let moto do the work, then stall the reply (a client that dies
    meanwhile never learns the outcome). ``drop``: close the connection without an answer;
    with ``after_s`` too, only after moto did the work (the request took effect, the answer
    was lost).
    """

    action: str
    code: str | None = None
    status: int = 400
    delay_s: float = 0.0
    times: int = 1
    after_s: float = 0.0
    drop: bool = False
    message: str = "injected by the embedded EC2"
    skip: int = 0  # let this many matching calls through first

    @property
    def kind(self) -> str:
        """A label for the figures: the code, or what was done to the connection."""
        if self.code:
            return self.code
        if self.drop:
            return "dropped connection"
        return "stalled reply" if self.after_s else "stalled request"


@dataclass
class Fixtures:
    """Prerequisites a session needs, created in the embedded EC2."""

    vpc_id: str
    subnet_id: str
    sources: list[str]  # ENIs to mirror
    target_eni: str
    target_id: str
    filter_ids: list[str]


LAG_ENV: Final = "EMBEDDED_EC2_READ_LAG"


def default_read_lag() -> LagSetting:
    """The read lag reset() restores: ``EMBEDDED_EC2_READ_LAG`` ("1.5", "0-3"), else 0."""
    return parse_lag(os.environ.get(LAG_ENV))


@dataclass
class _Realism:
    """The state real EC2 keeps and moto does not: ClientTokens (with the first answer),
    the order sessions were created in (for paging), and the read lag's versions."""

    tokens: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    duplicate_numbers: str = "accept"  # or "refuse"
    order: dict[str, int] = field(default_factory=dict)
    sequence: Iterator[int] = field(default_factory=itertools.count)
    lag: Lag = field(default_factory=lambda: Lag(default_read_lag()))


_REALISM = _Realism()
_PATCHED: dict[str, Any] = {}


def _err(code: str, message: str) -> EC2ClientError:
    return EC2ClientError(code, message)


def _fresh_vni(backend: Any) -> int:
    used = {s.virtual_network_id for s in backend.traffic_mirror_sessions.values()}
    while (vni := random.randint(1, 16_777_215)) in used:  # noqa: S311 - not security
        continue
    return vni


def _session(backend: Any, session_id: str | None) -> Any:
    session = backend.traffic_mirror_sessions.get(session_id or "")
    if session is None:
        raise _err(
            "InvalidTrafficMirrorSessionId.NotFound",
            f"The traffic mirror session '{session_id}' does not exist.",
        )
    return session


def _require_target_and_filter(backend: Any, target: str | None, mirror_filter: str | None) -> None:
    if target is not None and target not in backend.traffic_mirror_targets:
        raise _err(
            "InvalidTrafficMirrorTargetId.NotFound",
            f"The traffic mirror target '{target}' does not exist.",
        )
    if mirror_filter is not None and mirror_filter not in backend.traffic_mirror_filters:
        raise _err(
            "InvalidTrafficMirrorFilterId.NotFound",
            f"The traffic mirror filter '{mirror_filter}' does not exist.",
        )


DUPLICATE_NUMBERS: Final = ("accept", "refuse")


def _refuse_duplicate(backend: Any, eni: str, number: int | None, besides: str = "") -> None:
    """In "refuse" mode, a number another session on the interface holds is an error."""
    if _REALISM.duplicate_numbers != "refuse" or number is None:
        return
    for other in backend.traffic_mirror_sessions.values():
        if (
            other.network_interface_id == eni
            and other.session_number == number
            and other.id != besides
        ):
            raise _err(
                "InvalidParameterValue",
                f"The session number {number} is already in use on network interface {eni}.",
            )


def _create(self: Any) -> ActionResult:
    self.error_on_dryrun()
    backend = self.ec2_backend
    params = {
        k: v for k, v in self.querystring.items() if k not in {"ClientToken", "Action", "Version"}
    }
    fingerprint = repr(sorted(params.items()))
    token = self._get_param("ClientToken")
    key = (backend.account_id, backend.region_name, token)
    with _REALISM.lock:
        if token and key in _REALISM.tokens:
            seen, first = _REALISM.tokens[key]
            if seen != fingerprint:
                raise _err(
                    "IdempotentParameterMismatch",
                    "The client token you have provided is associated with a resource that "
                    "is already deleted or has different parameters.",
                )
            # EC2 "Ensuring idempotency": the original result, even once the session is gone
            return ActionResult({"TrafficMirrorSession": dict(first), "ClientToken": token})
        eni = self._get_param("NetworkInterfaceId")
        backend.get_network_interface(eni)  # InvalidNetworkInterfaceID.NotFound
        target = self._get_param("TrafficMirrorTargetId")
        mirror_filter = self._get_param("TrafficMirrorFilterId")
        _require_target_and_filter(backend, target, mirror_filter)
        on_eni = [
            s for s in backend.traffic_mirror_sessions.values() if s.network_interface_id == eni
        ]
        if len(on_eni) >= SESSIONS_PER_INTERFACE:
            raise _err(
                "TrafficMirrorSessionsPerInterfaceLimitExceeded",
                f"The network interface '{eni}' already has the maximum number of sessions.",
            )
        _refuse_duplicate(backend, eni, self._get_int_param("SessionNumber"))
        vni = self._get_int_param("VirtualNetworkId")
        session = backend.create_traffic_mirror_session(
            network_interface_id=eni,
            traffic_mirror_target_id=target,
            traffic_mirror_filter_id=mirror_filter,
            session_number=self._get_int_param("SessionNumber"),
            packet_length=self._get_int_param("PacketLength"),
            virtual_network_id=_fresh_vni(backend) if vni is None else vni,
            description=self._get_param("Description"),
            tag_specifications=self._get_param("TagSpecifications"),
            client_token=token,
        )
        result = session.to_dict()
        if token:
            _REALISM.tokens[key] = (fingerprint, result)
        _REALISM.order[session.id] = next(_REALISM.sequence)
        _record(backend, session.id, None, lambda: dict(result))
    return ActionResult({"TrafficMirrorSession": result, "ClientToken": token})


def _where(backend: Any) -> tuple[str, str]:
    return (backend.account_id, backend.region_name)


def _record(
    backend: Any, session_id: str, before: Snapshot | None, after: Callable[[], Snapshot | None]
) -> None:
    """Keep one write to a session for the read lag (nothing when no lag is pending)."""
    if _REALISM.lag.wants(_where(backend), session_id):
        _REALISM.lag.record(_where(backend), session_id, before, after())


def _snapshot(backend: Any, session_id: str) -> Snapshot | None:
    """The session as it is now, if the read lag needs it (None when it does not, or gone)."""
    if not _REALISM.lag.wants(_where(backend), session_id):
        return None
    session = backend.traffic_mirror_sessions.get(session_id)
    return None if session is None else dict(session.to_dict())


def _modify(self: Any) -> ActionResult:
    self.error_on_dryrun()
    backend = self.ec2_backend
    session = _session(backend, self._get_param("TrafficMirrorSessionId"))
    _require_target_and_filter(
        backend, self._get_param("TrafficMirrorTargetId"), self._get_param("TrafficMirrorFilterId")
    )
    with _REALISM.lock:  # the check and the change at once, as EC2 would
        before = _snapshot(backend, session.id)
        result = _apply_modify(self, backend, session)
        _record(backend, session.id, before, lambda: dict(session.to_dict()))
        return result


def _apply_modify(self: Any, backend: Any, session: Any) -> ActionResult:
    _refuse_duplicate(
        backend,
        session.network_interface_id,
        self._get_int_param("SessionNumber"),
        besides=session.id,
    )
    for param, attr in (
        ("TrafficMirrorTargetId", "traffic_mirror_target_id"),
        ("TrafficMirrorFilterId", "traffic_mirror_filter_id"),
        ("Description", "description"),
    ):
        if (value := self._get_param(param)) is not None:
            setattr(session, attr, value)
    for param, attr in (
        ("PacketLength", "packet_length"),
        ("SessionNumber", "session_number"),
        ("VirtualNetworkId", "virtual_network_id"),
    ):
        if (number := self._get_int_param(param)) is not None:
            setattr(session, attr, number)
    for removed in self._get_param("RemoveFields") or []:
        if removed == "virtual-network-id":
            session.virtual_network_id = _fresh_vni(backend)
        else:
            setattr(session, removed.replace("-", "_"), None)
    return ActionResult({"TrafficMirrorSession": session.to_dict()})


def _delete(self: Any) -> ActionResult:
    self.error_on_dryrun()
    backend = self.ec2_backend
    session_id = self._get_param("TrafficMirrorSessionId")
    with _REALISM.lock:
        _session(backend, session_id)
        before = _snapshot(backend, session_id)
        backend.delete_traffic_mirror_session(traffic_mirror_session_id=session_id)
        backend.tags.pop(session_id, None)  # moto keeps a deleted session's tags; EC2 does not
        _record(backend, session_id, before, lambda: None)
    return ActionResult({"TrafficMirrorSessionId": session_id})


def _tagging(original: str) -> Callable[[Any], ActionResult]:
    """CreateTags / DeleteTags, with the sessions among the resources kept for the read lag."""

    def tag_write(self: Any) -> ActionResult:
        backend = self.ec2_backend
        ids = [
            i
            for i in self._get_param("Resources", []) or []
            if isinstance(i, str) and i.startswith(f"{SESSION_PREFIX}-")
        ]
        with _REALISM.lock:
            before = {i: _snapshot(backend, i) for i in ids}
            answer: ActionResult = _PATCHED[original](self)
            for i in ids:
                if i in backend.traffic_mirror_sessions:
                    _record(backend, i, before[i], functools.partial(_snapshot, backend, i))
        return answer

    return tag_write


def _describe_sessions(self: Any) -> ActionResult:
    self.error_on_dryrun()
    sessions, token = describe_sessions(
        self.ec2_backend,
        _REALISM.lag,
        _REALISM.order,
        ids=self._get_param("TrafficMirrorSessionIds"),
        filters=self._filters_from_querystring(),
        max_results=self._get_param("MaxResults"),
        token=self._get_param("NextToken"),
        truth=truth_asked(self),
    )
    result: dict[str, Any] = {"TrafficMirrorSessions": sessions}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def _describe_tags(self: Any) -> ActionResult:
    self.error_on_dryrun()
    tags, token = describe_tags(
        self.ec2_backend,
        _REALISM.lag,
        filters=self._filters_from_querystring(),
        max_results=self._get_param("MaxResults"),
        token=self._get_param("NextToken"),
        truth=truth_asked(self),
    )
    result: dict[str, Any] = {"Tags": tags}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def _to_dict_live_tags(self: Any) -> dict[str, Any]:
    result: dict[str, Any] = _PATCHED["to_dict"](self)
    result["Tags"] = [{"Key": t["key"], "Value": t["value"]} for t in self.get_tags()]
    return result


def _tags_by_id(self: Any) -> list[dict[str, str]]:
    """moto's ``describe_tags(filters={"resource-id": [id]})``, by a dict lookup."""
    if not self.id:
        return []
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    held = self.ec2_backend.tags.get(self.id, {})
    return [
        {"resource_id": self.id, "key": k, "value": v, "resource_type": kind}
        for k, v in list(held.items())
    ]


def install_realism() -> None:
    """Patch moto (once per process) so sessions behave like real EC2."""
    if _PATCHED:
        return
    _PATCHED["create"] = TrafficMirrors.create_traffic_mirror_session
    _PATCHED["modify"] = TrafficMirrors.modify_traffic_mirror_session
    _PATCHED["delete"] = TrafficMirrors.delete_traffic_mirror_session
    _PATCHED["to_dict"] = TrafficMirrorSession.to_dict
    _PATCHED["get_tags"] = TaggedEC2Resource.get_tags
    _PATCHED["describe"] = TrafficMirrors.describe_traffic_mirror_sessions
    _PATCHED["create_tags"] = TagResponse.create_tags
    _PATCHED["delete_tags"] = TagResponse.delete_tags
    _PATCHED["describe_tags"] = TagResponse.describe_tags
    TrafficMirrors.create_traffic_mirror_session = _create  # type: ignore[method-assign]
    TrafficMirrors.modify_traffic_mirror_session = _modify  # type: ignore[method-assign]
    TrafficMirrors.delete_traffic_mirror_session = _delete  # type: ignore[method-assign]
    TrafficMirrorSession.to_dict = _to_dict_live_tags  # type: ignore[method-assign]
    TaggedEC2Resource.get_tags = _tags_by_id  # type: ignore[method-assign]
    TrafficMirrors.describe_traffic_mirror_sessions = _describe_sessions  # type: ignore[method-assign]
    TagResponse.create_tags = _tagging("create_tags")  # type: ignore[method-assign,assignment]
    TagResponse.delete_tags = _tagging("delete_tags")  # type: ignore[method-assign,assignment]
    TagResponse.describe_tags = _describe_tags  # type: ignore[method-assign]


def _error_xml(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>"
        "<RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
    ).encode()


_CREDENTIAL: Final = re.compile(r"Credential=(?P<key>[^/]+)/[^/]+/(?P<region>[^/]+)/")


def _signed_for(authorization: str) -> dict[str, str]:
    """Where a request lands, as moto decides it: the account of its access key, its region."""
    found = _CREDENTIAL.search(authorization)
    if not found:
        return {}
    return {"@account": get_account_id_from(found["key"]), "@region": found["region"]}


_FILTER_NAME: Final = re.compile(r"Filter\.\d+\.Name")


def _undocumented_filter(action: str, query: dict[str, str]) -> str | None:
    """The first filter name in the request that EC2 does not document for ``action``."""
    for key, name in query.items():
        if _FILTER_NAME.fullmatch(key) and not is_documented(action, name):
            return name
    return None


def _tell_truth(request: Any, **_: Any) -> None:
    """botocore hook: mark the request as an oracle's, which the read lag does not delay."""
    request.headers[TRUTH_HEADER] = "1"


class _HttpLayer:
    """WSGI wrapper in front of moto: counts calls by action, injects faults, and refuses
    filter names EC2 does not document (``strict_filters``)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.calls: list[str] = []
        self.targets: list[str] = []  # JSON-protocol calls (SSM): X-Amz-Target, e.g. AmazonSSM.…
        self.params: list[dict[str, str]] = []
        self.faults: list[Fault] = []
        self.injected: dict[str, int] = {}
        self.strict_filters = True
        self.lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        query = {k: v[0] for k, v in parse_qs(raw.decode(errors="replace")).items()}
        query.update(_signed_for(environ.get("HTTP_AUTHORIZATION", "")))
        action = query.get("Action", "")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        fault = None
        with self.lock:
            if target:
                self.targets.append(target)
            if action:
                self.calls.append(action)
                self.params.append(query)
            for f in self.faults:
                if f.action in (action, "*") and f.times > 0 and f.skip > 0:
                    f.skip -= 1
                    break
                if f.action in (action, "*") and f.times > 0:
                    f.times -= 1
                    fault = f
                    self.injected[f.kind] = self.injected.get(f.kind, 0) + 1
                    break
        if fault and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault and fault.drop:
            if fault.after_s:
                list(self.app(environ, lambda *a, **k: None))  # the work is done, then lost
                time.sleep(fault.after_s)
            connection = environ["werkzeug.socket"]
            connection.shutdown(socket.SHUT_RDWR)  # the client sees the connection drop
            start_response("500 Dropped", [("Content-Length", "0")])
            return []
        if fault and fault.after_s and not fault.drop:
            answer = list(self.app(environ, start_response))  # moto has done the work
            time.sleep(fault.after_s)
            return answer
        if fault and fault.code:
            body = _error_xml(fault.code, fault.message)
            start_response(
                f"{fault.status} Injected",
                [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]
        refused = (
            _undocumented_filter(action, query)
            if self.strict_filters and action in DOCUMENTED_FILTERS
            else None
        )
        if refused is not None:  # as EC2 answers, and without asking moto (which ignores it)
            body = _error_xml("InvalidParameterValue", f"The filter '{refused}' is invalid")
            start_response(
                "400 Bad Request",
                [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if action in ("ListStackResources", "DescribeStacks"):  # CloudFormation, as played
            respond = (
                STACKS.list_stack_resources
                if action == "ListStackResources"
                else STACKS.describe_stacks
            )
            status, body = respond(query.get("StackName", ""))
            start_response(
                f"{status} {'OK' if status == 200 else 'Bad Request'}",
                [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return self.app(environ, start_response)


def tagged_sessions(client: EC2Client, tags: dict[str, str]) -> list[dict[str, Any]]:
    """Sessions holding every one of ``tags``, read the documented way (DescribeTrafficMirror
    Sessions has no ``tag:`` filter): DescribeTags by ``resource-type``, ``key`` and ``value``
    of one tag, then DescribeTrafficMirrorSessions by those IDs, the other tags checked on the
    answer. For the benchmarks' bare-boto3 floors."""
    (key, value), *others = tags.items()
    pages = client.get_paginator("describe_tags").paginate(
        Filters=[
            {"Name": "resource-type", "Values": ["traffic-mirror-session"]},
            {"Name": "key", "Values": [key]},
            {"Name": "value", "Values": [value]},
        ],
        PaginationConfig={"PageSize": 1000},
    )
    ids = [t["ResourceId"] for page in pages for t in page["Tags"]]
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), 1000):
        answer = client.describe_traffic_mirror_sessions(
            TrafficMirrorSessionIds=ids[start : start + 1000]
        )
        for session in answer["TrafficMirrorSessions"]:
            held = {t["Key"]: t["Value"] for t in session.get("Tags", [])}
            if all(held.get(k) == v for k, v in others):
                found.append(dict(session))
    return found


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """No access log: callers read ``EmbeddedEc2.calls`` instead."""


class EmbeddedEc2:
    """moto on a free loopback port, with realism and an HTTP fault layer; see module doc."""

    region: Final = "us-east-1"

    def __init__(self) -> None:
        install_realism()
        self.http = _HttpLayer(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def endpoint(self) -> str:
        """The http://127.0.0.1:PORT URL that AWS_ENDPOINT_URL_EC2 is set to."""
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def calls(self) -> list[str]:
        """Every EC2 action received so far, in order."""
        with self.http.lock:
            return list(self.http.calls)

    @property
    def json_calls(self) -> list[str]:
        """Every JSON-protocol call received so far (SSM's), as ``Service.Operation``."""
        with self.http.lock:
            return list(self.http.targets)

    def requests(self, action: str) -> list[dict[str, str]]:
        """The query parameters of every ``action`` call received so far, plus where it
        landed: ``@account`` (of its access key, as moto decides) and ``@region``."""
        with self.http.lock:
            return [p for p in self.http.params if p.get("Action") == action]

    def requests_since(self, since: int = 0) -> list[dict[str, str]]:
        """The query parameters of every call from ``calls[since]`` on, with ``@account`` and
        ``@region`` as in :meth:`requests`."""
        with self.http.lock:
            return list(self.http.params[since:])

    def writes(self, since: int = 0) -> list[str]:
        """The write actions among ``calls[since:]``."""
        return [c for c in self.calls[since:] if c in WRITE_ACTIONS]

    def inject(
        self,
        action: str,
        code: str | None = None,
        *,
        status: int = 400,
        times: int = 1,
        delay_s: float = 0.0,
        after_s: float = 0.0,
        drop: bool = False,
        message: str = Fault.message,
        skip: int = 0,
    ) -> None:
        """Make the next ``times`` calls of ``action`` misbehave (after letting ``skip`` of them
        through); see :class:`Fault`."""
        with self.http.lock:
            self.http.faults.append(
                Fault(action, code, status, delay_s, times, after_s, drop, message, skip)
            )

    @property
    def duplicate_numbers(self) -> str:
        """What EC2 does with a SessionNumber already used on the interface: "accept" or
        "refuse" (reset() goes back to "accept")."""
        return _REALISM.duplicate_numbers

    @duplicate_numbers.setter
    def duplicate_numbers(self, mode: str) -> None:
        assert mode in DUPLICATE_NUMBERS, mode
        with _REALISM.lock:
            _REALISM.duplicate_numbers = mode

    @property
    def strict_filters(self) -> bool:
        """Refuse filter names EC2 does not document, as EC2 does (``InvalidParameterValue``,
        "The filter 'X' is invalid"); False lets moto ignore them. reset() sets True."""
        return self.http.strict_filters

    @strict_filters.setter
    def strict_filters(self, strict: bool) -> None:
        with self.http.lock:
            self.http.strict_filters = strict

    @property
    def read_lag(self) -> LagSetting:
        """Seconds before a write to a session shows in DescribeTrafficMirrorSessions and
        DescribeTags: a float (fixed) or ``(low, high)`` (uniform, drawn per write). Writes
        already made keep the lag they were given. reset() restores :func:`default_read_lag`."""
        return _REALISM.lag.setting

    @read_lag.setter
    def read_lag(self, setting: LagSetting) -> None:
        checked = check_lag(setting)
        with _REALISM.lag.lock:
            _REALISM.lag.setting = checked

    def wait_visible(self) -> float:
        """Sleep until every session write made so far shows in Describe (a test's setup made
        by hand, before the provider is asked); the seconds waited."""
        left = max(_REALISM.lag.settled_at() - time.monotonic(), 0.0)
        time.sleep(left)
        return left

    @property
    def injected(self) -> dict[str, int]:
        """Faults that fired since start, by kind (reset() keeps these)."""
        with self.http.lock:
            return dict(self.http.injected)

    def clear_faults(self) -> None:
        """Forget faults that have not fired yet."""
        with self.http.lock:
            self.http.faults.clear()

    def client(
        self, region: str | None = None, account: str | None = None, *, truth: bool = False
    ) -> EC2Client:
        """A boto3 EC2 client for the embedded endpoint (fixtures and assertions).

        With ``account``, its credentials come from moto's STS for a role in that account.
        With ``truth``, its reads bypass the read lag (for oracles: what EC2 really holds).
        """
        region = region or self.region
        if account is None:
            client = boto3.client("ec2", region_name=region, endpoint_url=self.endpoint)
        else:
            sts = boto3.client("sts", region_name=self.region, endpoint_url=self.endpoint)
            role = f"arn:aws:iam::{account}:role/embedded-fixtures"
            creds = sts.assume_role(RoleArn=role, RoleSessionName="fixtures")["Credentials"]
            client = boto3.client(
                "ec2",
                region_name=region,
                endpoint_url=self.endpoint,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
        if truth:
            client.meta.events.register("before-sign.ec2.*", _tell_truth)
        return client

    def sessions(
        self, region: str | None = None, account: str | None = None
    ) -> list[dict[str, Any]]:
        """Every traffic mirror session EC2 holds now (in the region and account), past any
        read lag: the truth, for oracles."""
        client = self.client(region, account, truth=True)
        pages = client.get_paginator("describe_traffic_mirror_sessions").paginate()
        return [dict(s) for page in pages for s in page["TrafficMirrorSessions"]]

    def fixtures(
        self, sources: int = 3, region: str | None = None, account: str | None = None
    ) -> Fixtures:
        """Create a VPC, subnet, source ENIs, a target ENI with its target, and two filters."""
        ec2 = self.client(region, account)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        enis = [
            ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
            for _ in range(sources + 1)
        ]
        target = ec2.create_traffic_mirror_target(
            NetworkInterfaceId=enis[-1], Description="collector"
        )["TrafficMirrorTarget"]["TrafficMirrorTargetId"]
        filters = [
            ec2.create_traffic_mirror_filter(Description=d)["TrafficMirrorFilter"][
                "TrafficMirrorFilterId"
            ]
            for d in ("all-tcp", "dns-only")
        ]
        return Fixtures(vpc, subnet, enis[:-1], enis[-1], target, filters)

    def reset(self) -> None:
        """Empty every moto backend and forget tokens, faults and counted calls; back to
        strict filters and the default read lag."""
        url = f"{self.endpoint}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - loopback only
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
        with _REALISM.lock:
            _REALISM.tokens.clear()
            _REALISM.duplicate_numbers = "accept"
            _REALISM.order.clear()
            _REALISM.lag.clear(default_read_lag())
        STACKS.clear()
        with self.http.lock:
            self.http.strict_filters = True
            self.http.faults.clear()
            self.http.calls.clear()
            self.http.targets.clear()
            self.http.params.clear()

    def start(self) -> EmbeddedEc2:
        """Serve on 127.0.0.1 (free port); point AWS_ENDPOINT_URL_EC2 and _STS at it."""
        self._server = make_server(
            "127.0.0.1", 0, self.http, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._saved_env = {k: os.environ.get(k) for k in ENV_KEYS}
        os.environ.update(
            AWS_ENDPOINT_URL_EC2=self.endpoint,
            AWS_ENDPOINT_URL_STS=self.endpoint,
            AWS_ENDPOINT_URL_SSM=self.endpoint,  # the fleet store
            AWS_ENDPOINT_URL_AUTO_SCALING=self.endpoint,  # fixtures' Auto Scaling groups
            AWS_ENDPOINT_URL_CLOUDFORMATION=self.endpoint,  # who claims a session (stacks.py)
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN="testing",
            AWS_DEFAULT_REGION=self.region,
            AWS_REGION=self.region,
        )
        # How long the provider waits for its writes to show (traffic_mirror.aws.consistency):
        # unless a suite says, what this EC2's reads really lag by, plus a second; with no
        # lag, 0 (the production 20 s would only delay the demo's sweep judging the writes).
        lag = self.read_lag
        longest = max(lag) if isinstance(lag, tuple) else lag
        os.environ.setdefault("VISIBLE_WITHIN_SECONDS", str(longest + 1.0) if longest else "0")
        return self

    def stop(self) -> None:
        """Stop serving and restore the environment."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> EmbeddedEc2:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
