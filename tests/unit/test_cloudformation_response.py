"""traffic_mirror.cloudformation.response: a body within CloudFormation's limits, and a PUT
that never shows the pre-signed URL."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from traffic_mirror.cloudformation import response
from traffic_mirror.cloudformation.response import (
    MAX_BODY,
    ResponseNotSent,
    encode_body,
    put_response,
)

BODY: dict[str, Any] = {
    "Status": "SUCCESS",
    "Reason": "ok",
    "PhysicalResourceId": "tms-1",
    "StackId": "arn:aws:cloudformation:us-east-1:1:stack/net/x",
    "RequestId": "r-1",
    "LogicalResourceId": "WebMirror",
    "Data": {"SessionNumber": "1"},
}


def test_a_body_within_the_limit_is_sent_as_given() -> None:
    assert json.loads(encode_body(BODY)) == BODY


def test_a_long_reason_is_cut_first_and_the_status_kept() -> None:
    sent = json.loads(encode_body({**BODY, "Status": "FAILED", "Reason": "r" * 5000}))
    assert sent["Status"] == "FAILED"
    assert len(sent["Reason"]) <= 120
    assert sent["Data"] == BODY["Data"]


def test_data_too_large_turns_a_success_into_a_failure_saying_why() -> None:
    raw = encode_body({**BODY, "Data": {f"k{i}": "v" * 100 for i in range(50)}})
    sent = json.loads(raw)
    assert len(raw) <= MAX_BODY
    assert sent["Status"] == "FAILED"
    assert sent["Data"] == {}
    assert "4096-byte limit" in sent["Reason"]


def test_the_physical_id_is_cut_to_one_kilobyte() -> None:
    sent = json.loads(encode_body({**BODY, "PhysicalResourceId": "p" * 2000}))
    assert len(sent["PhysicalResourceId"]) == 1024


def test_even_oversized_echoed_fields_give_a_body_within_the_limit() -> None:
    raw = encode_body({**BODY, "StackId": "s" * 5000, "RequestId": "q" * 5000})
    assert len(raw) <= MAX_BODY
    assert json.loads(raw)["Status"] == "FAILED"


def test_a_url_that_is_not_https_is_refused_without_a_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def connect(*args: object, **kwargs: object) -> None:
        raise AssertionError("no connection should be made")

    monkeypatch.setattr(response, "HTTPSConnection", connect)
    with pytest.raises(ResponseNotSent, match="not an https URL"):
        put_response("http://example.com/signed?X-Amz-Signature=abc", b"{}")


class Answer:
    def __init__(self, status: int) -> None:
        self.status = status


class Connection:
    """HTTPSConnection's stand-in: answers from a script, records what was sent."""

    script: ClassVar[list[int | OSError]] = []
    sent: ClassVar[list[tuple[str, str, dict[str, str]]]] = []

    def __init__(self, netloc: str, **kwargs: object) -> None:
        self.netloc = netloc

    def request(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> None:
        Connection.sent.append((method, target, headers))
        step = Connection.script.pop(0)
        if isinstance(step, OSError):
            raise step
        self.status = step

    def getresponse(self) -> Answer:
        return Answer(self.status)

    def close(self) -> None:
        pass


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> type[Connection]:
    monkeypatch.setattr(response, "HTTPSConnection", Connection)
    monkeypatch.setattr(response, "time", SimpleNamespace(sleep=lambda s: None))
    Connection.sent = []
    return Connection


def test_retries_errors_and_non_2xx_answers_until_one_succeeds(
    conn: type[Connection], caplog: pytest.LogCaptureFixture
) -> None:
    conn.script = [ConnectionResetError(), 500, 200]
    url = "https://bucket.example/path/to?X-Amz-Signature=secret"
    with caplog.at_level(logging.WARNING):
        assert put_response(url, b"{}") == 200
    assert [s[:2] for s in conn.sent] == [("PUT", "/path/to?X-Amz-Signature=secret")] * 3
    # CloudFormation's pre-signed URL is signed for no content type
    assert conn.sent[0][2] == {"Content-Type": "", "Content-Length": "2"}
    assert "secret" not in caplog.text
    assert [r.__dict__.get("error") for r in caplog.records] == ["ConnectionResetError", "HTTP 500"]


def test_after_the_last_attempt_the_error_kind_is_reported(conn: type[Connection]) -> None:
    conn.script = [403, 403, 403]
    with pytest.raises(ResponseNotSent, match="after 3 attempts: HTTP 403"):
        put_response("https://bucket.example/p?sig=secret", b"{}", attempts=3)
