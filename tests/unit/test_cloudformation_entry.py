"""traffic_mirror.cloudformation.entry: what reaches the lifecycle, what is rejected before it
(and with which Reason), and how every failure becomes one readable Reason (a fake responder:
no crhelper thread, no PUT)."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.aws.connect import Connector
from traffic_mirror.cloudformation.entry import FLEET_TYPE, SESSION_TYPE, run, serve
from traffic_mirror.cloudformation.request import Outcome, Request
from traffic_mirror.errors import ProviderError, failure
from traffic_mirror.ownership import Owner
from traffic_mirror.sessions.validation import InvalidProperties

STACK = "arn:aws:cloudformation:us-east-1:1:stack/net/x"
REQUEST = Request("Create", STACK, "r-1", "WebMirror", SESSION_TYPE)
EVENT: dict[str, Any] = {
    "RequestType": "Create",
    "StackId": STACK,
    "RequestId": "r-1",
    "LogicalResourceId": "WebMirror",
    "ResourceType": SESSION_TYPE,
    "ResourceProperties": {},
    "ResponseURL": "https://cloudformation-custom-resource-response.example/signed",
}


class Responder:
    """The crhelper adapter's two ways out, recorded."""

    def __init__(self) -> None:
        self.rejected: list[str] = []
        self.answered: list[Request] = []

    def reject(self, event: object, reason: str) -> None:
        self.rejected.append(reason)

    def answer(self, request: Request, event: object, context: object) -> None:
        self.answered.append(request)


def served(event: dict[str, Any], serves: str = SESSION_TYPE) -> Responder:
    responder = Responder()
    serve(responder, event, None, serves)  # type: ignore[arg-type]
    return responder


def failing(exc: Exception) -> dict[str, Any]:
    def action(request: Request, connect: Connector) -> Outcome:
        raise exc

    return {"Create": action}


def test_the_lifecycle_gets_a_connector_for_the_requests_resource() -> None:
    seen: list[Connector] = []

    def create(request: Request, connect: Connector) -> Outcome:
        seen.append(connect)
        return Outcome("tms-1")

    assert run({"Create": create}, REQUEST).physical_id == "tms-1"
    assert seen[0].owner == Owner(STACK, "WebMirror")


def test_invalid_properties_become_one_reason_listing_every_problem() -> None:
    problems = ['SessionNumber must be a whole number, got "x"', 'unknown property "Foo"']
    with pytest.raises(ProviderError) as info:
        run(failing(InvalidProperties(problems)), REQUEST)
    assert info.value.reason == f"Invalid properties: {'; '.join(problems)}"


def test_a_provider_error_passes_through_with_its_code_and_source() -> None:
    refusal = failure("create traffic mirror session: ...", "UnauthorizedOperation", "EC2")
    with pytest.raises(ProviderError) as info:
        run(failing(refusal), REQUEST)
    assert info.value is refusal


def test_an_unexpected_error_is_reported_by_kind_and_request_id_not_by_its_message() -> None:
    with pytest.raises(ProviderError) as info:
        run(failing(KeyError("secret-detail")), REQUEST)
    assert info.value.reason == (
        "Internal error (KeyError) in the provider; its log has the details under RequestId r-1."
    )
    assert info.value.source == "provider"


@pytest.mark.parametrize("url", [None, "http://example.com/x", "ftp://x"])
def test_an_event_with_no_https_response_url_is_neither_answered_nor_rejected(
    url: str | None,
) -> None:
    responder = served({**EVENT, "ResponseURL": url})
    assert (responder.rejected, responder.answered) == ([], [])


def test_a_malformed_event_is_rejected_saying_what_is_wrong() -> None:
    responder = served({k: v for k, v in EVENT.items() if k != "StackId"})
    assert responder.rejected == ["Malformed request: StackId is missing or not a string."]
    assert responder.answered == []


def test_a_create_for_the_other_resource_type_is_rejected_naming_both_exports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MANAGED_BY", "tmp")
    responder = served({**EVENT, "ResourceType": FLEET_TYPE})
    assert responder.rejected == [
        f"this event is for {FLEET_TYPE}: its ServiceToken is the tmp-FleetServiceToken "
        f"export; this function serves {SESSION_TYPE} (tmp-ServiceToken)."
    ]


def test_a_delete_for_the_other_resource_type_is_still_answered() -> None:
    event = {**EVENT, "RequestType": "Delete", "PhysicalResourceId": "fleet-1"}
    responder = served({**event, "ResourceType": SESSION_TYPE}, serves=FLEET_TYPE)
    assert responder.rejected == []
    assert [r.request_type for r in responder.answered] == ["Delete"]


def test_a_resource_type_of_neither_kind_is_answered_by_the_function_it_reached() -> None:
    responder = served({**EVENT, "ResourceType": "Custom::Mirror"})
    assert responder.rejected == []
    assert responder.answered[0].resource_type == "Custom::Mirror"
