"""The answer's way out: a body within CloudFormation's limits, PUT to the pre-signed URL.

The URL is a credential: it is never logged, only the attempt count and the error kind.

Example::

    put_response(url, encode_body({"Status": "SUCCESS", "PhysicalResourceId": "tms-1", ...}))
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from http.client import HTTPException, HTTPSConnection
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from traffic_mirror.errors import fit

__all__ = ["MAX_BODY", "ResponseNotSent", "encode_body", "put_response"]

MAX_BODY: Final = 4096
MAX_ID: Final = 1024
_log = logging.getLogger(__name__)
Body = dict[str, Any]


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
