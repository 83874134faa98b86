"""traffic_mirror.cloudformation.crhelper_adapter: crhelper driven for real, with the PUT
recorded instead of sent: exactly one answer per event, the physical ID each case gets, the
Reason's beginning kept, and a late result undone once the timer has answered FAILED.
(tests/unit/test_crhelper_contract.py checks the crhelper members this relies on.)"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest

from traffic_mirror.cloudformation import crhelper_adapter
from traffic_mirror.cloudformation.crhelper_adapter import Responder
from traffic_mirror.cloudformation.request import Outcome, Request
from traffic_mirror.errors import ProviderError
from traffic_mirror.ownership import failed_create_id, is_session_id

URL = "https://cloudformation-custom-resource-response.example/signed?X-Amz-Signature=s"
EVENT: dict[str, Any] = {
    "RequestType": "Create",
    "StackId": "arn:aws:cloudformation:us-east-1:1:stack/net/x",
    "RequestId": "r-1",
    "LogicalResourceId": "WebMirror",
    "ResourceType": "Custom::TrafficMirrorSession",
    "ResourceProperties": {},
    "ResponseURL": URL,
}


class Context:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    puts: list[tuple[str, dict[str, Any]]] = []

    def put_response(url: str, body: bytes) -> int:
        puts.append((url, json.loads(body)))
        return 200

    monkeypatch.setattr(crhelper_adapter, "put_response", put_response)
    return puts


def answer(handle: Any, event: dict[str, Any] = EVENT, seconds: float = 300) -> list[Any]:
    notified: list[Any] = []
    responder = Responder(handle=handle, on_sent=lambda e, body: notified.append(body))
    responder.answer(Request.parse(event), event, Context(seconds))
    return notified


def test_a_success_is_answered_once_with_the_outcomes_id_and_data(
    sent: list[tuple[str, dict[str, Any]]],
) -> None:
    notified = answer(lambda request: Outcome("tms-0123456789abcdef0", {"SessionNumber": "1"}))
    ((url, body),) = sent
    assert url == URL
    assert (body["Status"], body["PhysicalResourceId"], body["Data"]) == (
        "SUCCESS",
        "tms-0123456789abcdef0",
        {"SessionNumber": "1"},
    )
    assert notified == [body]


def test_a_failed_create_gets_a_stable_non_session_id_never_one_from_the_event(
    sent: list[tuple[str, dict[str, Any]]],
) -> None:
    def refuse(request: Request) -> Outcome:
        raise ProviderError("create traffic mirror session: " + "detail " * 60)

    event = {**EVENT, "PhysicalResourceId": "tms-0123456789abcdef0"}  # a caller's, not ours
    answer(refuse, event)
    ((_, body),) = sent
    assert body["Status"] == "FAILED"
    assert body["PhysicalResourceId"] == failed_create_id(Request.parse(event))
    assert not is_session_id(body["PhysicalResourceId"])
    assert body["Reason"].startswith("create traffic mirror session: detail")  # head kept
    assert body["Data"] == {}


def test_a_failed_update_keeps_the_resources_physical_id(
    sent: list[tuple[str, dict[str, Any]]],
) -> None:
    def refuse(request: Request) -> Outcome:
        raise ProviderError("modify traffic mirror session: refused")

    answer(refuse, {**EVENT, "RequestType": "Update", "PhysicalResourceId": "tms-0abc12345"})
    assert sent[0][1]["PhysicalResourceId"] == "tms-0abc12345"


def test_a_result_after_the_timer_answered_is_dropped_and_undone(
    sent: list[tuple[str, dict[str, Any]]],
) -> None:
    undone = threading.Event()

    def slow(request: Request) -> Outcome:
        time.sleep(0.6)  # past the timer (0.3 s left, a quarter of it kept as margin)
        return Outcome("tms-0123456789abcdef0", undo=undone.set)

    answer(slow, seconds=0.3)
    assert [body["Status"] for _, body in sent] == ["FAILED"]
    assert sent[0][1]["Reason"].startswith("Create timed out")
    assert undone.is_set()


def test_a_rejected_event_is_answered_failed_with_a_placeholder_id(
    sent: list[tuple[str, dict[str, Any]]],
) -> None:
    Responder(handle=lambda request: Outcome("x")).reject(
        {**EVENT, "RequestType": "Bogus"}, "Malformed request: RequestType must be Create, ..."
    )
    ((url, body),) = sent
    assert (url, body["Status"], body["PhysicalResourceId"]) == (URL, "FAILED", "invalid-event")


def test_crhelpers_own_logger_is_silenced_it_would_log_the_url() -> None:
    Responder(handle=lambda request: Outcome("x"))
    assert logging.getLogger("crhelper").getEffectiveLevel() == logging.CRITICAL
