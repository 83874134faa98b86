"""crhelper's dispatcher with its traps closed: exactly one bounded, secret-free response.

crhelper 2.0.12 routes Create/Update/Delete to our functions and arms a timer before the
Lambda deadline. We keep that and change what it gets wrong for this product:

- no DEBUG logging of the event or the pre-signed ResponseURL (its logger is silenced; the
  entry module logs structured JSON itself);
- no 120 s sleep on Delete (``sleep_on_delete=0``);
- no lambda/events/logs clients at cold start (only its polling mode uses them);
- exactly one response per event, whichever of the timer or the function finishes first;
- the timer fires with a real margin, not 0.5 s, so the PUT still has time to land;
- Reasons keep their beginning (crhelper keeps the tail) and the body stays under 4096 bytes;
- the PUT has a socket timeout, checks the HTTP status and retries a bounded number of times.

Example::

    helper = Responder(on_sent=lambda event, body: print(body["Status"]))

    @helper.create
    def create(event, context):
        return "tms-0123456789abcdef0"

    helper(event, context)   # sends one PUT to event["ResponseURL"]
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from http.client import HTTPException, HTTPSConnection
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from crhelper import CfnResource

from mirror_session.errors import fit
from mirror_session.identity import failed_create_id

__all__ = ["MAX_BODY", "Responder", "ResponseNotSent", "encode_body", "put_response"]

MAX_BODY: Final = 4096
MAX_ID: Final = 1024
_log = logging.getLogger(__name__)
Body = dict[str, Any]
OnSent = Callable[[Mapping[str, Any], Body], None]


class ResponseNotSent(Exception):
    """Every attempt to PUT the response failed."""


def encode_body(body: Body) -> bytes:
    """JSON-encode a response within CloudFormation's limits: a physical ID of at most 1 KB,
    and a body of at most 4096 bytes (shrinking Reason, then Data, then echoed fields)."""
    body = {**body, "PhysicalResourceId": str(body.get("PhysicalResourceId", ""))[:MAX_ID]}
    raw = json.dumps(body).encode()
    if len(raw) <= MAX_BODY:
        return raw
    body = {**body, "Reason": fit(str(body.get("Reason", "")), 120)}
    raw = json.dumps(body).encode()
    if len(raw) <= MAX_BODY:
        return raw
    body.update(
        Status="FAILED",
        Data={},
        Reason="The response was larger than CloudFormation's 4096-byte limit.",
    )
    raw = json.dumps(body).encode()
    if len(raw) <= MAX_BODY:
        return raw
    # Only an ID CloudFormation never sends can get here (it sends at most 1 KB it got from
    # us); as the answer is FAILED, CloudFormation adopts no ID from it.
    for key in ("PhysicalResourceId", "LogicalResourceId", "StackId", "RequestId"):
        body[key] = str(body.get(key, ""))[:128] or "invalid"
    return json.dumps(body).encode()


def put_response(url: str, body: bytes, attempts: int = 5, timeout: float = 3.0) -> int:
    """PUT ``body`` to the pre-signed ``url``; retry on errors and non-2xx answers.

    The URL is a credential: it is never logged, only the attempt count and the error kind.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ResponseNotSent("ResponseURL is not an https URL")
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    context = ssl.create_default_context()
    error = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            conn = HTTPSConnection(parts.netloc, timeout=timeout, context=context)
            try:
                conn.request(
                    "PUT",
                    target,
                    body=body,
                    headers={"Content-Type": "", "Content-Length": str(len(body))},
                )
                status = conn.getresponse().status
            finally:
                conn.close()
            if 200 <= status < 300:
                return status
            error = f"HTTP {status}"
        except (OSError, HTTPException) as exc:
            error = type(exc).__name__
        _log.warning("response PUT failed", extra={"attempt": attempt, "error": error})
        if attempt < attempts:
            time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
    raise ResponseNotSent(f"after {attempts} attempts: {error}")


class Responder(CfnResource):
    """crhelper's ``CfnResource`` that answers each event once, promptly and safely."""

    # Set by crhelper for each event; not in its type stubs.
    RequestType: str
    _context: Any
    _event: Mapping[str, Any]
    _response_url: str
    _timer: threading.Timer | None
    _sam_local: str | None

    def __init__(self, on_sent: OnSent | None = None, margin_s: float = 3.0) -> None:
        # crhelper builds lambda/events/logs clients for its polling mode unless
        # AWS_SAM_LOCAL is set; we never poll, so skip that cold-start cost.
        previous = os.environ.get("AWS_SAM_LOCAL")
        os.environ["AWS_SAM_LOCAL"] = "true"
        try:
            super().__init__(log_level="WARNING", boto_level="ERROR", sleep_on_delete=0)
        finally:
            if previous is None:
                del os.environ["AWS_SAM_LOCAL"]
            else:
                os.environ["AWS_SAM_LOCAL"] = previous
        self._sam_local = previous
        # crhelper's own records are plain text, and at DEBUG carry the event and its URL.
        logging.getLogger("crhelper").setLevel(logging.CRITICAL)
        self._on_sent = on_sent
        self._margin_s = margin_s
        self._lock = threading.Lock()
        self._responded = False
        self.timed_out = False

    def __call__(self, event: Mapping[str, Any], context: Any) -> None:
        """Handle one event; exactly one response is sent for it."""
        with self._lock:
            self._responded = False
            self.timed_out = False
        self._event, self._response_url = event, ""  # never answer a previous event's URL
        super().__call__(event, context)

    def generate_physical_id(self, event: Mapping[str, Any]) -> str:
        """The physical ID of a failed Create: stable, short, never a session ID."""
        return failed_create_id(event)

    def _set_timeout(self) -> None:
        remaining = self._context.get_remaining_time_in_millis() / 1000.0
        delay = max(remaining - min(self._margin_s, remaining * 0.25), 0.0)
        self._timer = threading.Timer(delay, self._timeout)
        self._timer.daemon = True
        self._timer.start()

    def _timeout(self) -> None:
        self.timed_out = True
        self._send(
            "FAILED",
            f"{self.RequestType} timed out: EC2 did not answer before the function's time limit. "
            "Nothing was reported as changed; retry the stack operation.",
        )

    def _physical_id(self) -> str:
        """Ours if the function set one; else the event's (Update, Delete); else a placeholder.

        A Create never echoes an ID from the event: CloudFormation sends none, and whatever a
        caller put there is not something this provider created.
        """
        if self.PhysicalResourceId:
            return str(self.PhysicalResourceId)
        given = self._event.get("PhysicalResourceId")
        if self._event.get("RequestType") != "Create" and isinstance(given, str) and given:
            return given
        return self.generate_physical_id(self._event)

    def _cfn_response(self, event: Mapping[str, Any]) -> None:
        # crhelper's would echo the event's PhysicalResourceId even on Create; _send decides.
        self._send()

    def reject(self, event: Mapping[str, Any], reason: str) -> None:
        """Answer FAILED to an event too malformed for crhelper (called instead of it)."""
        given = event.get("PhysicalResourceId")
        body: Body = {
            "Status": "FAILED",
            "Reason": fit(reason),
            "PhysicalResourceId": given if isinstance(given, str) and given else "invalid-event",
            **{k: str(event.get(k, "")) for k in ("StackId", "RequestId", "LogicalResourceId")},
            "NoEcho": False,
            "Data": {},
        }
        self._deliver(event, body, str(event.get("ResponseURL", "")))

    def _deliver(self, event: Mapping[str, Any], body: Body, url: str) -> None:
        """The one way a response leaves: bounded body, bounded PUT, then ``on_sent``."""
        raw = encode_body(body)
        try:
            put_response(url, raw)
        except ResponseNotSent as exc:
            _log.error("response not delivered", extra={"error": str(exc)})
        if self._on_sent:
            self._on_sent(event, json.loads(raw))

    def _send(self, status: str | None = None, reason: str = "", send_response: Any = None) -> None:
        with self._lock:
            if self._responded:
                _log.warning("late result dropped: this event was already answered")
                return
            self._responded = True
        body: Body = {
            "Status": status or self.Status,
            "Reason": fit(str(reason if status else self.Reason)),
            "PhysicalResourceId": self._physical_id(),
            "StackId": self.StackId,
            "RequestId": self.RequestId,
            "LogicalResourceId": self.LogicalResourceId,
            "NoEcho": False,
            "Data": self.Data if (status or self.Status) == "SUCCESS" else {},
        }
        self._deliver(self._event, body, self._response_url)
