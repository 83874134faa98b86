"""CloudFormation's side of the custom resources the harness plays: which physical ID each
stack resource holds, answered as ``DescribeStacks`` and ``ListStackResources`` on the
embedded endpoint.

moto cannot run our custom resources through its CloudFormation, so this stand-in is fed by
the harness's :class:`~local.harness.events.CustomResource` exactly as CloudFormation learns
it: a SUCCESS to a Create or Update records the physical ID in the answer, a SUCCESS to the
Delete of the current physical ID removes the resource, a cleanup Delete of an old one
changes nothing. :meth:`Stacks.delete_stack` removes a whole stack (a stack deleted while
its session was retained, or whose Delete failed). The embedded endpoint answers with the
real XML shape, and for an unknown stack with CloudFormation's ``ValidationError``
("Stack with id … does not exist").

Example::

    STACKS.delete_stack(resource.stack_id)   # the session is now an orphan
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape

__all__ = ["STACKS", "Stacks"]

_NS: Final = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


@dataclass(frozen=True)
class _Resource:
    physical_id: str
    resource_type: str
    status: str


class Stacks:
    """Stack ID -> logical ID -> what CloudFormation holds; thread-safe."""

    def __init__(self) -> None:
        self._stacks: dict[str, dict[str, _Resource]] = {}
        self._status: dict[str, str] = {}
        self._lock = threading.Lock()

    def answered(
        self, stack_id: str, logical_id: str, request: str, physical: str, resource_type: str
    ) -> None:
        """CloudFormation got SUCCESS for ``request`` (Create, Update or Delete)."""
        with self._lock:
            resources = self._stacks.setdefault(stack_id, {})
            held = resources.get(logical_id)
            if request == "Delete":
                if held is not None and held.physical_id == physical:
                    del resources[logical_id]
                return
            status = "CREATE_COMPLETE" if request == "Create" else "UPDATE_COMPLETE"
            resources[logical_id] = _Resource(physical, resource_type, status)

    def set_status(self, stack_id: str, logical_id: str, status: str) -> None:
        """Put a resource in ``status`` (e.g. UPDATE_IN_PROGRESS while a test acts)."""
        with self._lock:
            held = self._stacks[stack_id][logical_id]
            self._stacks[stack_id][logical_id] = _Resource(
                held.physical_id, held.resource_type, status
            )

    def set_stack_status(self, stack_id: str, status: str) -> None:
        """Put the stack in ``status`` (e.g. UPDATE_COMPLETE_CLEANUP_IN_PROGRESS)."""
        with self._lock:
            self._status[stack_id] = status

    @contextlib.contextmanager
    def rolling_back(self, stack_id: str) -> Iterator[None]:
        """The stack's update rolling back while the block runs (its rollback's events are
        sent then); ``UPDATE_ROLLBACK_COMPLETE`` after."""
        self.set_stack_status(stack_id, "UPDATE_ROLLBACK_IN_PROGRESS")
        try:
            yield
        finally:
            self.set_stack_status(stack_id, "UPDATE_ROLLBACK_COMPLETE")

    def delete_stack(self, stack_id: str) -> None:
        """The whole stack is gone."""
        with self._lock:
            self._stacks.pop(stack_id, None)
            self._status.pop(stack_id, None)

    def clear(self) -> None:
        """Forget every stack."""
        with self._lock:
            self._stacks.clear()
            self._status.clear()

    def describe_stacks(self, stack_name: str) -> tuple[int, bytes]:
        """The HTTP status and body of ``DescribeStacks`` for one stack."""
        with self._lock:
            if stack_name not in self._stacks:
                return 400, _error(f"Stack with id {stack_name} does not exist")
            status = self._status.get(stack_name, "UPDATE_COMPLETE")
        name = stack_name.split(":stack/", 1)[-1].split("/", 1)[0]
        body = (
            f'<DescribeStacksResponse xmlns="{_NS}"><DescribeStacksResult><Stacks><member>'
            f"<StackId>{escape(stack_name)}</StackId><StackName>{escape(name)}</StackName>"
            "<CreationTime>2026-01-01T00:00:00Z</CreationTime>"
            f"<StackStatus>{status}</StackStatus>"
            "</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>"
            "00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>"
            "</DescribeStacksResponse>"
        )
        return 200, body.encode()

    def _named(self, stack_name: str) -> dict[str, _Resource] | None:
        """A stack by its ID or, as CloudFormation also accepts, by its name."""
        if stack_name in self._stacks:
            return self._stacks[stack_name]
        for stack_id, resources in self._stacks.items():
            if stack_id.split(":stack/", 1)[-1].split("/", 1)[0] == stack_name:
                return resources
        return None

    def list_stack_resources(self, stack_name: str) -> tuple[int, bytes]:
        """The HTTP status and body of ``ListStackResources`` (one page), for a stack ID or
        name."""
        with self._lock:
            found = self._named(stack_name)
            if found is None:
                return 400, _error(f"Stack with id {stack_name} does not exist")
            members = "".join(
                "<member>"
                f"<LogicalResourceId>{escape(logical)}</LogicalResourceId>"
                f"<PhysicalResourceId>{escape(r.physical_id)}</PhysicalResourceId>"
                f"<ResourceType>{escape(r.resource_type)}</ResourceType>"
                "<LastUpdatedTimestamp>2026-01-01T00:00:00Z</LastUpdatedTimestamp>"
                f"<ResourceStatus>{r.status}</ResourceStatus>"
                "</member>"
                for logical, r in found.items()
            )
        body = (
            f'<ListStackResourcesResponse xmlns="{_NS}"><ListStackResourcesResult>'
            f"<StackResourceSummaries>{members}</StackResourceSummaries>"
            "</ListStackResourcesResult><ResponseMetadata><RequestId>"
            "00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>"
            "</ListStackResourcesResponse>"
        )
        return 200, body.encode()


def _error(message: str) -> bytes:
    return (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>ValidationError</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ).encode()


#: The one CloudFormation of the process (the embedded endpoint answers from it).
STACKS: Final = Stacks()
