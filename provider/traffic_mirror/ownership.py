"""Who a session belongs to, and the IDs and tokens that name it.

Every session the provider creates carries four reserved tags (prefix
``traffic-mirror-provider:``): ``managed-by`` (the provider stack, which the IAM conditions
key on), ``stack-id`` and ``logical-id`` (the owning stack resource), and ``session-number``
(``allocated`` when the provider chose the number, ``declared`` when the template did). The
ownership tags let a redelivered Create, a replacing Update and the rollback of a replacement
find the resource's own session instead of guessing from target and filter.

Example::

    >>> owner = Owner("arn:aws:cloudformation:us-east-1:1:stack/net/x", "WebMirror")
    >>> sorted(owner.tags(allocated=True))  # doctest: +NORMALIZE_WHITESPACE
    ['traffic-mirror-provider:logical-id', 'traffic-mirror-provider:managed-by',
     'traffic-mirror-provider:session-number', 'traffic-mirror-provider:stack-id']
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeGuard

from traffic_mirror.cloudformation.request import Request, stack_name_of
from traffic_mirror.sessions.schema import MANAGED_TAG_PREFIX, MAX_TAG_VALUE

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import TrafficMirrorSessionTypeDef as Session
else:
    Session = dict

__all__ = [
    "ALLOCATED",
    "DECLARED",
    "LOGICAL_KEY",
    "MANAGED_BY_KEY",
    "NUMBER_KEY",
    "STACK_KEY",
    "Owner",
    "client_token",
    "dry_run_id",
    "failed_create_id",
    "fleet_id",
    "fleet_token",
    "is_dry_run_id",
    "is_session_id",
    "managed_by",
    "number_mode",
    "tags_of",
]

MANAGED_BY_KEY: Final = f"{MANAGED_TAG_PREFIX}managed-by"
STACK_KEY: Final = f"{MANAGED_TAG_PREFIX}stack-id"
LOGICAL_KEY: Final = f"{MANAGED_TAG_PREFIX}logical-id"
NUMBER_KEY: Final = f"{MANAGED_TAG_PREFIX}session-number"
ALLOCATED: Final = "allocated"
DECLARED: Final = "declared"
_SESSION_ID: Final = re.compile(r"tms-[0-9a-f]{8,}")
_DRY_RUN_PREFIX: Final = "dryrun-"


def managed_by() -> str:
    """The managed-by marker's value: the provider stack's name (template.yaml sets it)."""
    return os.environ.get("MANAGED_BY", "traffic-mirror-provider")


def tags_of(session: Session) -> dict[str, str]:
    """A session's tags as a dict."""
    return {str(t.get("Key")): str(t.get("Value", "")) for t in session.get("Tags", [])}


def number_mode(session: Session) -> str:
    """``allocated`` or ``declared``; a session without the tag (made by hand, by the native
    resource or by an older provider) counts as declared: it is never asked to move."""
    return ALLOCATED if tags_of(session).get(NUMBER_KEY) == ALLOCATED else DECLARED


@dataclass(frozen=True)
class Owner:
    """The stack resource a session belongs to."""

    stack_id: str
    logical_id: str

    @classmethod
    def of(cls, request: Request) -> Owner:
        """The resource a request is for (tag values cut to EC2's maximum)."""
        return cls(request.stack_id[:MAX_TAG_VALUE], request.logical_resource_id[:MAX_TAG_VALUE])

    @classmethod
    def recorded_on(cls, session: Session) -> Owner | None:
        """The owner a session's tags name, or None when they name none."""
        tags = tags_of(session)
        return cls(tags[STACK_KEY], tags.get(LOGICAL_KEY, "")) if STACK_KEY in tags else None

    def ownership(self) -> dict[str, str]:
        """The ownership tags (the provider may add these to a session it manages)."""
        return {STACK_KEY: self.stack_id, LOGICAL_KEY: self.logical_id}

    def tags(self, *, allocated: bool) -> dict[str, str]:
        """Every reserved tag of a session this owner creates."""
        return {
            MANAGED_BY_KEY: managed_by(),
            **self.ownership(),
            NUMBER_KEY: ALLOCATED if allocated else DECLARED,
        }

    def owns(self, session: Session) -> bool:
        """True when the session is marked by this provider as this resource's."""
        tags = tags_of(session)
        return tags.get(MANAGED_BY_KEY) == managed_by() and all(
            tags.get(k) == v for k, v in self.ownership().items()
        )

    @property
    def stack_name(self) -> str:
        """The owning stack's name, from its ID."""
        return stack_name_of(self.stack_id)

    def describe(self) -> str:
        """``stack-name/LogicalId`` for messages."""
        return f"{self.stack_name}/{self.logical_id}"


def is_session_id(physical_id: object) -> TypeGuard[str]:
    """True for an ID this provider could have created (``tms-`` and hex)."""
    return isinstance(physical_id, str) and bool(_SESSION_ID.fullmatch(physical_id))


def client_token(request: Request, number: object = None) -> str:
    """A ClientToken fixed by the request (and the SessionNumber tried, when given).

    A redelivered event sends the same token for the same number, so EC2 answers with the
    session the first delivery made; another number gets another token, so trying the next
    free number after a refusal is never an IdempotentParameterMismatch.
    """
    parts = [request.stack_id, request.logical_resource_id, request.request_id]
    if number is not None:
        parts.append(f"#{number}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()  # 64 characters, EC2's max


def dry_run_id(request: Request) -> str:
    """The physical ID of a dry run: never a session ID, so Delete makes no EC2 call."""
    return f"{_DRY_RUN_PREFIX}{client_token(request)[:16]}"


def is_dry_run_id(physical_id: object) -> bool:
    """True for the physical ID of a dry run."""
    return isinstance(physical_id, str) and physical_id.startswith(_DRY_RUN_PREFIX)


def failed_create_id(request: Request) -> str:
    """The physical ID of a failed Create: stable, short, never a session ID."""
    return f"create-failed-{client_token(request)[:16]}"


def fleet_id(owner: Owner, role_arn: str | None, region: str | None) -> str:
    """A fleet's physical ID: fixed by its owner and placement, resembling no EC2 ID.

    >>> fleet_id(Owner("arn:aws:cloudformation:us-east-1:1:stack/net/x", "Web"), None, None)
    'fleet-9ce8adfec6fcd560a7ef'
    """
    parts = [owner.stack_id, owner.logical_id, role_arn or "", region or ""]
    return "fleet-" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def fleet_token(fleet: str, interface: str, number: int, generation: str) -> str:
    """A fleet session's ClientToken: per fleet, interface, number tried and generation (the
    event, or the sweep: a vanished session is re-created under a fresh token)."""
    text = "\n".join([fleet, interface, f"#{number}", generation])
    return hashlib.sha256(text.encode()).hexdigest()
