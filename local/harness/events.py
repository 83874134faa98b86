"""Custom resource events in the exact shape CloudFormation sends, and one custom resource
that CloudFormation would send them for.

Example::

    resource = CustomResource(handler, receiver)     # in a new stack (its stack_id)
    created = resource.create({"NetworkInterfaceId": "eni-1", ...})   # the response body
    resource.update({... new properties ...})
    resource.delete()
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.harness.lambda_loader import Handler, LambdaContext
from local.harness.receiver import ResponseReceiver
from local.harness.stacks import STACKS

REGION = "us-east-1"
ACCOUNT = "123456789012"
SERVICE_TOKEN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:traffic-mirror-provider"
Props = Mapping[str, Any]


def new_stack_id(name: str = "mirror-demo") -> str:
    """A CloudFormation stack ARN."""
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{uuid.uuid4()}"


def event(
    request_type: str,
    response_url: str,
    props: Props,
    *,
    stack_id: str,
    logical_id: str = "MirrorSession",
    request_id: str | None = None,
    physical_id: str | None = None,
    old_props: Props | None = None,
    resource_type: str = "Custom::TrafficMirrorSession",
) -> dict[str, Any]:
    """One event as CloudFormation delivers it (ServiceToken included in the properties)."""
    body: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": SERVICE_TOKEN,
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": request_id or str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": {"ServiceToken": SERVICE_TOKEN, **props},
    }
    if physical_id is not None:
        body["PhysicalResourceId"] = physical_id
    if old_props is not None:
        body["OldResourceProperties"] = {"ServiceToken": SERVICE_TOKEN, **old_props}
    return body


def properties(
    values: Mapping[str, object], tags: Iterable[tuple[str, str]] = ()
) -> dict[str, Any]:
    """ResourceProperties as CloudFormation sends them: every scalar a string, the properties
    a template leaves out (None) absent, Tags as a list of {Key, Value}.

    >>> properties({"SessionNumber": 1, "Description": None}, [("team", "net")])
    {'SessionNumber': '1', 'Tags': [{'Key': 'team', 'Value': 'net'}]}
    """
    out: dict[str, Any] = {k: str(v) for k, v in values.items() if v is not None}
    if listed := [{"Key": k, "Value": v} for k, v in tags]:
        out["Tags"] = listed
    return out


def render(template: Path | str, values: Mapping[str, str]) -> dict[str, Any]:
    """Load an event file and fill its ``{{placeholders}}`` from ``values``."""
    text = Path(template).read_text() if isinstance(template, Path) else template
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    rendered: dict[str, Any] = json.loads(text)
    return rendered


@dataclass
class CustomResource:
    """Plays CloudFormation for one custom resource: remembers its physical ID and properties."""

    handler: Handler
    receiver: ResponseReceiver
    logical_id: str = "MirrorSession"
    stack_id: str = field(default_factory=new_stack_id)  # the stack it belongs to
    timeout_s: float = 30.0
    physical_id: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    resource_type: str = "Custom::TrafficMirrorSession"

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """Invoke the handler with one event; return the response CloudFormation received
        (and, on SUCCESS, hold its physical ID as CloudFormation would: local.harness.stacks)."""
        self.handler(copy.deepcopy(body), LambdaContext(timeout_s=self.timeout_s))
        response = self.receiver.wait_for(body["RequestId"], timeout=self.timeout_s + 10)
        if response.get("Status") == "SUCCESS":
            STACKS.answered(
                self.stack_id,
                self.logical_id,
                body["RequestType"],
                str(response.get("PhysicalResourceId")),
                self.resource_type,
            )
        return response

    def make(self, kind: str, props: Props, **kw: Any) -> dict[str, Any]:
        """Build (not send) an event for this resource, answered at its own URL."""
        rid = str(uuid.uuid4())
        return event(
            kind,
            self.receiver.url_for(rid),
            props,
            stack_id=self.stack_id,
            logical_id=self.logical_id,
            request_id=rid,
            resource_type=self.resource_type,
            **kw,
        )

    def create(self, props: Props) -> dict[str, Any]:
        """Create; on SUCCESS the resource remembers its physical ID and properties."""
        response = self.send(self.make("Create", props))
        if response["Status"] == "SUCCESS":
            self.physical_id, self.props = response["PhysicalResourceId"], dict(props)
        return response

    def update(self, props: Props) -> dict[str, Any]:
        """Update from the remembered properties to ``props``."""
        assert self.physical_id is not None, "create first"
        response = self.send(
            self.make("Update", props, physical_id=self.physical_id, old_props=self.props)
        )
        if response["Status"] == "SUCCESS":
            self.physical_id, self.props = response["PhysicalResourceId"], dict(props)
        return response

    def rollback(self, failed: Props) -> dict[str, Any]:
        """CloudFormation's rollback of a failed Update to ``failed``: an Update back to the
        remembered properties, sent while the stack is ``UPDATE_ROLLBACK_IN_PROGRESS``."""
        assert self.physical_id is not None, "create first"
        body = self.make("Update", self.props, physical_id=self.physical_id, old_props=failed)
        with STACKS.rolling_back(self.stack_id):
            return self.send(body)

    def delete(self, physical_id: str | None = None) -> dict[str, Any]:
        """Delete the remembered resource (or ``physical_id``, as in a cleanup Delete)."""
        pid = physical_id or self.physical_id
        assert pid is not None
        return self.send(self.make("Delete", self.props, physical_id=pid))
