"""An embedded EC2 for tests and the demo: moto on loopback, made to behave like real EC2.

moto 5.2.5 models traffic mirror sessions but differs from EC2 where it matters to a custom
resource (see shared/reference/ec2-traffic-mirror-sessions.md). This layer, built once here
and used everywhere, closes those gaps inside moto:

- ClientToken idempotency (same token + same parameters = same session; other parameters =
  ``IdempotentParameterMismatch``);
- ``InvalidTrafficMirrorSessionId.NotFound`` on Modify and Delete of a missing session;
- interface, target and filter must exist (their real NotFound codes);
- the 3-sessions-per-interface limit (``TrafficMirrorSessionsPerInterfaceLimitExceeded``);
- a VirtualNetworkId assigned when omitted, and again when removed with RemoveFields;
- RemoveFields honoured; Describe shows tags changed after creation;
- a resource's tags looked up by its ID: moto scans every tag of every resource for each one,
  which makes Describe quadratic (12 s for a sweep of a 1,000-instance fleet); the answers
  are the same;
- a SessionNumber already used on the interface: real EC2's answer is not documented, so
  both are played (``duplicate_numbers``): ``"accept"`` (moto's way, the default) or
  ``"refuse"`` (``InvalidParameterValue`` on Create and Modify).

It also sits in front of moto at the HTTP layer (a WSGI wrapper) to count every EC2 call
by action and to inject faults there: an EC2 error code with its HTTP status, or a delay.

moto's STS is served on the same endpoint: AssumeRole hands out credentials that moto maps to
the role's account, so calls made with them land in that account's EC2 (``account=`` below).

Example::

    with EmbeddedEc2() as ec2:           # sets AWS_ENDPOINT_URL_EC2 while it runs
        fx = ec2.fixtures()              # VPC, subnet, ENIs, a target and filters
        ec2.inject("CreateTrafficMirrorSession", "RequestLimitExceeded", status=503, times=2)
        ...
        ec2.calls                        # ['CreateTrafficMirrorSession', ...]
"""

from __future__ import annotations

import io
import os
import random
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import boto3
from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.traffic_mirrors import TrafficMirrorSession
from moto.ec2.responses.traffic_mirrors import TrafficMirrors
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.iam.models import get_account_id_from
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

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


@dataclass
class _Realism:
    """The state real EC2 keeps and moto does not (ClientTokens)."""

    tokens: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    duplicate_numbers: str = "accept"  # or "refuse"


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
            seen, session_id = _REALISM.tokens[key]
            if seen != fingerprint:
                raise _err(
                    "IdempotentParameterMismatch",
                    "The client token you have provided is associated with a resource that "
                    "is already deleted or has different parameters.",
                )
            session = backend.traffic_mirror_sessions.get(session_id)
            if session is not None:
                return ActionResult(
                    {"TrafficMirrorSession": session.to_dict(), "ClientToken": token}
                )
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
        if token:
            _REALISM.tokens[key] = (fingerprint, session.id)
    return ActionResult({"TrafficMirrorSession": session.to_dict(), "ClientToken": token})


def _modify(self: Any) -> ActionResult:
    self.error_on_dryrun()
    backend = self.ec2_backend
    session = _session(backend, self._get_param("TrafficMirrorSessionId"))
    _require_target_and_filter(
        backend, self._get_param("TrafficMirrorTargetId"), self._get_param("TrafficMirrorFilterId")
    )
    with _REALISM.lock:  # the check and the change at once, as EC2 would
        return _apply_modify(self, backend, session)


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
    session_id = self._get_param("TrafficMirrorSessionId")
    _session(self.ec2_backend, session_id)
    self.ec2_backend.delete_traffic_mirror_session(traffic_mirror_session_id=session_id)
    return ActionResult({"TrafficMirrorSessionId": session_id})


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
    TrafficMirrors.create_traffic_mirror_session = _create  # type: ignore[method-assign]
    TrafficMirrors.modify_traffic_mirror_session = _modify  # type: ignore[method-assign]
    TrafficMirrors.delete_traffic_mirror_session = _delete  # type: ignore[method-assign]
    TrafficMirrorSession.to_dict = _to_dict_live_tags  # type: ignore[method-assign]
    TaggedEC2Resource.get_tags = _tags_by_id  # type: ignore[method-assign]


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


class _HttpLayer:
    """WSGI wrapper in front of moto: counts calls by action, injects faults."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.calls: list[str] = []
        self.targets: list[str] = []  # JSON-protocol calls (SSM): X-Amz-Target, e.g. AmazonSSM.…
        self.params: list[dict[str, str]] = []
        self.faults: list[Fault] = []
        self.injected: dict[str, int] = {}
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
    def injected(self) -> dict[str, int]:
        """Faults that fired since start, by kind (reset() keeps these)."""
        with self.http.lock:
            return dict(self.http.injected)

    def clear_faults(self) -> None:
        """Forget faults that have not fired yet."""
        with self.http.lock:
            self.http.faults.clear()

    def client(self, region: str | None = None, account: str | None = None) -> EC2Client:
        """A boto3 EC2 client for the embedded endpoint (fixtures and assertions).

        With ``account``, its credentials come from moto's STS for a role in that account.
        """
        region = region or self.region
        if account is None:
            return boto3.client("ec2", region_name=region, endpoint_url=self.endpoint)
        sts = boto3.client("sts", region_name=self.region, endpoint_url=self.endpoint)
        role = f"arn:aws:iam::{account}:role/embedded-fixtures"
        creds = sts.assume_role(RoleArn=role, RoleSessionName="fixtures")["Credentials"]
        return boto3.client(
            "ec2",
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    def sessions(
        self, region: str | None = None, account: str | None = None
    ) -> list[dict[str, Any]]:
        """Every traffic mirror session EC2 holds now (in the region and account)."""
        client = self.client(region, account)
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
        """Empty every moto backend and forget tokens, faults and counted calls."""
        url = f"{self.endpoint}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - loopback only
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
        with _REALISM.lock:
            _REALISM.tokens.clear()
            _REALISM.duplicate_numbers = "accept"
        STACKS.clear()
        with self.http.lock:
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
