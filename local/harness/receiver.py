"""A local HTTPS server that plays CloudFormation's pre-signed S3 response URL.

crhelper (and our responder) speak HTTPS only, so the receiver serves TLS with a throwaway
CA from ``trustme``; ``SSL_CERT_FILE`` makes the provider's default SSL context trust it.

Example::

    with ResponseReceiver() as rx:
        url = rx.url_for("req-1")       # https://localhost:PORT/req-1?X-Amz-Signature=...
        ...                              # invoke the handler with ResponseURL=url
        body = rx.wait_for("req-1")      # the JSON body that was PUT
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import trustme


@dataclass
class Received:
    """One PUT as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    size: int
    arrived: float = field(default_factory=time.monotonic)


@dataclass
class _State:
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0  # answer this many PUTs with HTTP 500 before accepting
    failed: int = 0  # PUTs answered with 500 so far
    cond: threading.Condition = field(default_factory=threading.Condition)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_PUT(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        state = self.server.state
        with state.cond:
            if state.fail_next > 0:
                state.fail_next -= 1
                state.failed += 1
                self.send_response(500)
                self.end_headers()
                return
            state.received.append(
                Received(urlsplit(self.path).path, dict(self.headers), json.loads(raw), len(raw))
            )
            state.cond.notify_all()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what arrived, not access logs."""


class _Server(ThreadingHTTPServer):
    state: _State
    daemon_threads = True


def put_json(url: str, body: dict[str, Any]) -> None:
    """PUT a JSON body to a receiver URL (a stand-in handler answering, in tests)."""
    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(
        parts.netloc, timeout=5, context=ssl.create_default_context()
    )
    conn.request("PUT", f"{parts.path}?{parts.query}", body=json.dumps(body).encode())
    conn.getresponse().read()
    conn.close()


class ResponseReceiver:
    """HTTPS receiver on a free loopback port; trusted via SSL_CERT_FILE while it runs."""

    def __init__(self) -> None:
        self._ca = trustme.CA()
        cert = self._ca.issue_cert("localhost", "127.0.0.1")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State()
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)  # noqa: SIM115
        self._ca.cert_pem.write_to_path(self._ca_file.name)
        self._previous_ca: str | None = None

    @property
    def port(self) -> int:
        """The loopback port the receiver listens on."""
        return int(self._server.server_address[1])

    @property
    def received(self) -> list[Received]:
        """Every PUT accepted so far, in arrival order."""
        return list(self._server.state.received)

    @property
    def failed_puts(self) -> int:
        """PUTs answered with HTTP 500 so far."""
        return self._server.state.failed

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` PUTs with HTTP 500 (S3 having a bad moment)."""
        self._server.state.fail_next = count

    def url_for(self, request_id: str) -> str:
        """A pre-signed-looking URL; its signature must never appear in a log."""
        return (
            f"https://localhost:{self.port}/cfn-response/{request_id}"
            f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=sig{request_id.replace('-', '')}"
        )

    def for_request(self, request_id: str) -> list[Received]:
        """The PUTs that answered ``request_id``."""
        return [r for r in self.received if r.path.endswith(f"/{request_id}")]

    def wait_for(self, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Block until ``request_id`` has been answered; return the body."""
        deadline = time.monotonic() + timeout
        state = self._server.state
        with state.cond:
            while not self.for_request(request_id):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no response for {request_id}")
                state.cond.wait(left)
        return self.for_request(request_id)[0].body

    def start(self) -> ResponseReceiver:
        """Start serving and make this process trust the receiver's CA."""
        self._thread.start()
        self._previous_ca = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = self._ca_file.name
        return self

    def stop(self) -> None:
        """Stop serving and restore SSL_CERT_FILE."""
        self._server.shutdown()
        self._server.server_close()
        if self._previous_ca is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = self._previous_ca
        os.unlink(self._ca_file.name)

    def __enter__(self) -> ResponseReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
