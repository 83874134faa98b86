"""What a scenario may ask of an AWS, real or embedded: the interface both backends implement.

Example::

    stack = backend.deploy("lifecycle", template)          # create, or update if it exists
    assert stack.status == "CREATE_COMPLETE", stack.reason
    session_id = stack.outputs["SessionId"]
    backend.ec2().describe_traffic_mirror_sessions(...)      # assertions with raw EC2
    backend.delete("lifecycle")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
else:
    EC2Client = Any

#: Everything the suite makes carries this tag, its value the run's ID (make sweep-aws finds
#: leftovers by it); stacks are named with PREFIX too.
TAG_KEY: Final = "tms-acceptance"
PREFIX: Final = "tms-acceptance"
Template = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Network:
    """What the scenarios mirror: two source interfaces (on a supported instance), two
    interface targets and two filters, in the suite's own VPC and subnet."""

    vpc_id: str
    subnet_id: str
    sources: tuple[str, str]
    target_ids: tuple[str, str]
    filter_ids: tuple[str, str]


@dataclass(frozen=True)
class Stack:
    """A stack as CloudFormation describes it after an operation ended."""

    name: str
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)  # logical ID -> physical ID
    reason: str = ""  # the first failure CloudFormation reported, if any


class Backend(Protocol):
    """An AWS account and region the scenarios run against."""

    mode: str  # "embedded" or "real"
    run_id: str
    region: str
    account: str
    provider_stack: str  # its exports are <provider_stack>-ServiceToken / -FleetServiceToken
    patience_s: float  # how long an assertion waits for EC2's reads to catch up
    allows_adoption: bool  # the provider was deployed with AllowAdoption=true

    def network(self) -> Network:
        """The suite's network; made on first use (embedded: fresh for every scenario)."""
        ...

    def ec2(self) -> EC2Client:
        """A raw EC2 client for assertions, probes and changes made by hand."""
        ...

    def deploy(
        self, name: str, template: Template, parameters: Mapping[str, str] | None = None
    ) -> Stack:
        """Create the stack ``name`` (or update it if it exists) and wait until it settles;
        a failed operation is returned (its status and reason), never raised."""
        ...

    def delete(self, name: str) -> Stack:
        """Delete the stack ``name`` and wait; status DELETE_COMPLETE when it is gone."""
        ...

    def sweep(self) -> None:
        """Run the reconciler's scheduled sweep once (fleets made true, drift audited)."""
        ...

    def create_group(self, name: str, size: int) -> str:
        """An Auto Scaling group of ``size`` instances in the suite's subnet, tagged; its name
        as AWS knows it (the other group methods take that name)."""
        ...

    def scale_group(self, name: str, size: int) -> None:
        """Set the group's desired capacity."""
        ...

    def group_interfaces(self, name: str, size: int) -> dict[str, str]:
        """Wait until the group has ``size`` running instances; instance ID -> primary ENI."""
        ...

    def delete_group(self, name: str) -> None:
        """Delete the group and its instances (and its launch template or configuration)."""
        ...

    def close(self) -> None:
        """Delete the network and everything else the backend made."""
        ...


def service_token(backend: Backend, kind: str = "ServiceToken") -> dict[str, str]:
    """The ServiceToken as a consumer stack writes it: the provider stack's export."""
    return {"Fn::ImportValue": f"{backend.provider_stack}-{kind}"}


def sessions_on(backend: Backend, *interfaces: str) -> list[dict[str, Any]]:
    """Every session EC2 holds now on these interfaces (one filtered, paginated Describe)."""
    pages = (
        backend.ec2()
        .get_paginator("describe_traffic_mirror_sessions")
        .paginate(Filters=[{"Name": "network-interface-id", "Values": list(interfaces)}])
    )
    return [dict(s) for page in pages for s in page["TrafficMirrorSessions"]]


def eventually(
    backend: Backend, read: Callable[[], T], ok: Callable[[T], bool], every_s: float = 2.0
) -> T:
    """``read()`` until ``ok`` holds or ``backend.patience_s`` has passed; the last reading
    (EC2's Describe may lag a write: real EC2 is eventually consistent, the embedded is not)."""
    deadline = time.monotonic() + backend.patience_s
    while True:
        value = read()
        if ok(value) or time.monotonic() >= deadline:
            return value
        time.sleep(every_s)
