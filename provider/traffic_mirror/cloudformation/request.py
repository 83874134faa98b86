"""A CloudFormation custom resource event, parsed once at the entry, and the answer to it.

:class:`Request` mirrors the field names of Powertools' ``CloudFormationCustomResourceEvent``
(``utilities/data_classes``) as a frozen dataclass. It is not that class because importing
Powertools' data class package costs about 78 ms of cold start, its wrapper stays a mutable
dict, and its ``old_resource_properties`` answers ``{}`` when CloudFormation sent none, where
this provider must know the difference (no previous properties means: trust nothing). The
envelope check is the parser's job; nothing below the entry reads the raw event, and the
ResponseURL (a credential) is not part of the request at all.

Example::

    >>> r = Request.parse({"RequestType": "Create", "StackId": "arn:aws:cloudformation:"
    ...     "us-east-1:1:stack/net/x", "RequestId": "r1", "LogicalResourceId": "WebMirror",
    ...     "ResourceType": "Custom::TrafficMirrorSession", "ResourceProperties": {}})
    >>> r.request_type, r.stack_name, r.physical_resource_id
    ('Create', 'net', None)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

__all__ = ["REQUEST_TYPES", "MalformedEvent", "Outcome", "Request", "RequestType"]

RequestType = Literal["Create", "Update", "Delete"]
REQUEST_TYPES: Final = ("Create", "Update", "Delete")


class MalformedEvent(ValueError):
    """The event is not one CloudFormation sends; the message says why."""


def _shown(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Request:
    """The fields of a custom resource event that the provider acts on."""

    request_type: RequestType
    stack_id: str
    request_id: str
    logical_resource_id: str
    resource_type: str = ""
    physical_resource_id: str | None = None
    #: As sent (not yet validated: the schema does that, naming property and value).
    resource_properties: object = field(default_factory=dict)
    #: None when CloudFormation sent no previous properties.
    old_resource_properties: object = None

    @classmethod
    def parse(cls, event: object) -> Request:
        """The request in ``event``, or :class:`MalformedEvent` saying what is wrong."""
        if not isinstance(event, Mapping):
            raise MalformedEvent(f"the event must be a JSON object, got {type(event).__name__}")
        kind = event.get("RequestType")
        if kind not in REQUEST_TYPES:
            raise MalformedEvent(
                f"RequestType must be Create, Update or Delete, got {_shown(kind)}"
            )
        for key in ("StackId", "RequestId", "LogicalResourceId"):
            if not isinstance(event.get(key), str) or not event[key]:
                raise MalformedEvent(f"{key} is missing or not a string")
        physical = event.get("PhysicalResourceId")
        if kind != "Create" and not isinstance(physical, str):
            raise MalformedEvent("PhysicalResourceId is missing or not a string")
        return cls(
            request_type=cast(RequestType, kind),
            stack_id=event["StackId"],
            request_id=event["RequestId"],
            logical_resource_id=event["LogicalResourceId"],
            resource_type=str(event.get("ResourceType", "")),
            # A Create never carries an ID of ours: whatever a caller put there is ignored.
            physical_resource_id=physical if kind != "Create" else None,
            resource_properties=event.get("ResourceProperties"),
            old_resource_properties=event.get("OldResourceProperties"),
        )

    @property
    def stack_name(self) -> str:
        """The stack's name, from its ARN."""
        return stack_name_of(self.stack_id)


def stack_name_of(stack_id: str) -> str:
    """A stack's name, from its ARN (``arn:…:stack/<name>/<uuid>``).

    >>> stack_name_of("arn:aws:cloudformation:us-east-1:1:stack/net/abc")
    'net'
    """
    tail = stack_id.rsplit(":stack/", maxsplit=1)[-1]
    return tail.split("/", maxsplit=1)[0]


@dataclass(frozen=True)
class Outcome:
    """The answer for CloudFormation: the physical ID and ``Data`` (Fn::GetAtt).

    ``undo`` reverses what this event made, for when the answer could not be given in time:
    a FAILED answer was already sent, so what was made would be an orphan.
    """

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)
    undo: Callable[[], Any] | None = None
