"""traffic_mirror.cloudformation.request: the envelope check, naming what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.cloudformation.request import MalformedEvent, Request

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/net/1111-2222"
EVENT: dict[str, Any] = {
    "RequestType": "Update",
    "StackId": STACK,
    "RequestId": "r-1",
    "LogicalResourceId": "WebMirror",
    "ResourceType": "Custom::TrafficMirrorSession",
    "PhysicalResourceId": "tms-0123456789abcdef0",
    "ResourceProperties": {"SessionNumber": "1"},
    "ResponseURL": "https://cloudformation-custom-resource-response.example/secret",
}


def refused(**changes: Any) -> str:
    event = {**EVENT, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del event[key]
    with pytest.raises(MalformedEvent) as info:
        Request.parse(event)
    return str(info.value)


def test_previous_properties_absent_stay_none_not_an_empty_map() -> None:
    assert Request.parse(EVENT).old_resource_properties is None
    sent = Request.parse({**EVENT, "OldResourceProperties": {}})
    assert sent.old_resource_properties == {}


def test_a_create_ignores_any_physical_id_it_carries() -> None:
    r = Request.parse({**EVENT, "RequestType": "Create"})
    assert r.physical_resource_id is None


@pytest.mark.parametrize("kind", ["Update", "Delete"])
def test_update_and_delete_need_a_physical_id(kind: str) -> None:
    assert refused(RequestType=kind, PhysicalResourceId=None) == (
        "PhysicalResourceId is missing or not a string"
    )


@pytest.mark.parametrize("key", ["StackId", "RequestId", "LogicalResourceId"])
@pytest.mark.parametrize("bad", [None, "", 7])
def test_each_identifying_field_must_be_a_non_empty_string(key: str, bad: object) -> None:
    assert refused(**{key: bad}) == f"{key} is missing or not a string"


def test_an_unknown_request_type_is_named_and_cut_short() -> None:
    message = refused(RequestType="x" * 100)
    assert message.startswith("RequestType must be Create, Update or Delete, got 'xxx")
    assert message.endswith("…")
    assert len(message) < 100


def test_a_non_object_event_is_refused_by_its_type() -> None:
    with pytest.raises(MalformedEvent, match="must be a JSON object, got list"):
        Request.parse([EVENT])


def test_the_response_url_is_not_part_of_the_request() -> None:
    assert "secret" not in repr(Request.parse(EVENT))


def test_stack_name_is_read_from_the_arn() -> None:
    assert Request.parse(EVENT).stack_name == "net"
