"""The one place that touches crhelper: its dispatcher and timer, with its traps closed.

crhelper 2.0.12 (pinned; ``tests/unit/test_crhelper_contract.py`` fails naming the member if
an upgrade changes one this module relies on) routes Create/Update/Delete to a function and
arms a timer before the Lambda deadline. :class:`Responder` keeps that and answers each event
exactly once, promptly and safely. What it overrides or sets, and why:

- ``__init__`` called with ``sleep_on_delete=0`` (no 120 s sleep on Delete),
  ``log_level="WARNING"``, and ``AWS_SAM_LOCAL`` set around the call: without it crhelper
  builds lambda/events/logs clients for its polling mode at cold start, which we never use;
- the ``crhelper`` logger silenced: at DEBUG it logs the event and its pre-signed ResponseURL
  (a credential); the entry module logs structured JSON itself;
- ``answer`` (wraps ``__call__``): resets the once-only guard, forgets the previous event's URL,
  and keeps the parsed :class:`~traffic_mirror.cloudformation.request.Request` for the registered
  function;
- ``_set_timeout`` / ``_timeout``: the timer fires with a real margin (3 s, not 0.5 s) so the
  PUT still lands, and marks the event timed out: whatever the function made after that is
  undone (:attr:`Outcome.undo`), as FAILED was already sent;
- ``generate_physical_id``: a failed Create's ID is stable, short, never a session ID;
- ``_cfn_response`` / ``_send``: exactly one response per event, whichever of the timer or the
  function finishes first; Reasons keep their beginning (crhelper keeps the tail); the body
  stays under 4096 bytes; the PUT has a socket timeout, checks the HTTP status, retries a
  bounded number of times, and never logs the URL;
- crhelper's attributes read: ``Status``, ``Reason``, ``PhysicalResourceId``, ``StackId``,
  ``RequestId``, ``LogicalResourceId``, ``Data``, ``RequestType``, ``_context``,
  ``_response_url``, ``_timer``; its ``create``/``update``/``delete`` decorators register
  :meth:`Responder._dispatch` for all three.

Example::

    helper = Responder(handle=lambda request: Outcome("tms-0123"), on_sent=print_status)
    helper.answer(Request.parse(event), event, context)   # one PUT to event["ResponseURL"]
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from crhelper import CfnResource

from traffic_mirror.cloudformation.request import Outcome, Request
from traffic_mirror.cloudformation.response import ResponseNotSent, encode_body, put_response
from traffic_mirror.errors import fit
from traffic_mirror.ownership import failed_create_id

__all__ = ["Responder"]

_log = logging.getLogger(__name__)
Body = dict[str, Any]
OnSent = Callable[[Mapping[str, Any], Body], None]
Handle = Callable[[Request], Outcome]


class Responder(CfnResource):
    """crhelper's ``CfnResource`` that answers each event once, promptly and safely."""

    # Set by crhelper for each event; not in its type stubs.
    RequestType: str
    _context: Any
    _event: Mapping[str, Any]
    _response_url: str
    _timer: threading.Timer | None
    _sam_local: str | None

    def __init__(
        self, handle: Handle, on_sent: OnSent | None = None, margin_s: float = 3.0
    ) -> None:
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
        self._handle = handle
        self._on_sent = on_sent
        self._margin_s = margin_s
        self._lock = threading.Lock()
        self._responded = False
        self._request: Request | None = None
        self._undo: Callable[[], Any] | None = None
        for register in (self.create, self.update, self.delete):
            register(self._dispatch)

    def answer(self, request: Request, event: Mapping[str, Any], context: Any) -> None:
        """Handle one event (parsed as ``request``); exactly one response is sent for it."""
        with self._lock:
            self._responded = False
            self._undo = None
        self._request = request
        self._event, self._response_url = event, ""  # never answer a previous event's URL
        super().__call__(event, context)

    def _dispatch(self, _event: Mapping[str, Any], _context: Any) -> str:
        """crhelper's registered function: run the handler on the parsed request."""
        assert self._request is not None
        outcome = self._handle(self._request)
        with self._lock:  # decided in _send, under the same lock as the timer's answer
            self._undo = outcome.undo
        self.Data.update(outcome.data)
        return outcome.physical_id

    def generate_physical_id(self, event: Mapping[str, Any]) -> str:
        """The physical ID of a failed Create: stable, short, never a session ID."""
        assert self._request is not None
        return failed_create_id(self._request)

    def _set_timeout(self) -> None:
        remaining = self._context.get_remaining_time_in_millis() / 1000.0
        delay = max(remaining - min(self._margin_s, remaining * 0.25), 0.0)
        self._timer = threading.Timer(delay, self._timeout)
        self._timer.daemon = True
        self._timer.start()

    def _timeout(self) -> None:
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
        assert self._request is not None
        if self._request.physical_resource_id:  # never set on a Create (Request.parse)
            return self._request.physical_resource_id
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
            late, self._responded = self._responded, True
            undo = self._undo if late and status is None else None  # the function's own answer
        if late:
            _log.warning("late result dropped: this event was already answered")
            if undo is not None:
                # FAILED was already sent for this event: what it made now would be an orphan.
                _log.warning("undoing what was made after the timeout")
                undo()
            return
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
