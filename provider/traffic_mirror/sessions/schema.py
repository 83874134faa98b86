"""The property schema of ``Custom::TrafficMirrorSession``: one declarative table.

Every property the resource accepts is listed once in :data:`FIELDS`, with its type, bounds,
whether it is required, whether it reaches EC2, whether EC2 or the provider assigns it when
omitted, and how a change is applied (in place, or by replacement). The one home of
per-property facts; :mod:`traffic_mirror.sessions.validation` turns ``ResourceProperties`` into a
:class:`SessionSpec` by it.

"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

__all__ = [
    "FIELDS",
    "FIELDS_BY_NAME",
    "IGNORED",
    "MANAGED_TAG_PREFIX",
    "MAX_USER_TAGS",
    "RESERVED_TAGS",
    "SESSION",
    "SESSION_FIELDS",
    "UNKNOWN",
    "Field",
    "Kind",
    "Schema",
    "SessionSpec",
    "Unknown",
    "Update",
    "Value",
]


class Kind(Enum):
    """The shape a property's value must have."""

    ID = "id"
    INT = "int"
    TEXT = "text"
    BOOL = "bool"
    IDS = "list of IDs"  # in SessionSpec.lists
    PAIRS = "list of {Key, Value}"  # in SessionSpec.pairs


class Update(Enum):
    """How a change to the property reaches EC2."""

    IN_PLACE = "in place"
    REPLACE = "replacement"
    PER_EVENT = "applies to each event, writes nothing"
    AT_CREATE = "read only when the resource is created"


@dataclass(frozen=True)
class Field:
    """One property: its EC2 name, type, bounds and update behaviour."""

    name: str
    kind: Kind
    required: bool = False
    update: Update = Update.IN_PLACE
    low: int = 0
    high: int = 0
    max_len: int = 0
    remove_as: str | None = None  # the ModifyTrafficMirrorSession RemoveFields name
    #: A session parameter sent to EC2 (False: it says how the provider acts).
    sent_to_ec2: bool = True
    #: Omitted, EC2 (VirtualNetworkId) or the provider (SessionNumber) picks a value, which the
    #: session keeps while the property stays omitted.
    assigned_when_omitted: bool = False
    pattern: re.Pattern[str] | None = None  # for TEXT: the whole value must match
    shape: str = ""  # for TEXT with a pattern: what a valid value looks like, for messages


_ROLE_ARN: Final = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
_EXTERNAL_ID: Final = re.compile(r"[\w+=,.@:/-]{2,1224}")
_REGION: Final = re.compile(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}")
_ACCOUNT: Final = re.compile(r"[0-9]{12}")


FIELDS: Final[tuple[Field, ...]] = (
    Field("NetworkInterfaceId", Kind.ID, required=True, update=Update.REPLACE),
    Field("TrafficMirrorTargetId", Kind.ID, required=True),
    Field("TrafficMirrorFilterId", Kind.ID, required=True),
    # Omitted: the provider allocates the lowest number free on the interface (allocation.py).
    Field("SessionNumber", Kind.INT, low=1, high=32766, assigned_when_omitted=True),
    Field("PacketLength", Kind.INT, low=1, high=8500, remove_as="packet-length"),
    Field(
        "VirtualNetworkId",
        Kind.INT,
        low=0,
        high=16_777_215,
        remove_as="virtual-network-id",
        assigned_when_omitted=True,
    ),
    Field("Description", Kind.TEXT, max_len=255, remove_as="description"),
    # The native resource's OwnerId: validated (and checked against RoleArn's account), never
    # sent: the owner is whichever account the provider's credentials (or RoleArn) belong to.
    Field(
        "OwnerId",
        Kind.TEXT,
        update=Update.PER_EVENT,
        max_len=64,
        sent_to_ec2=False,
        pattern=_ACCOUNT,
        shape="a 12-digit AWS account ID",
    ),
    # Beyond the native resource: how the provider acts, never sent as session parameters.
    # AdoptSessionId: the Create takes over this existing session instead of making one.
    Field("AdoptSessionId", Kind.ID, update=Update.AT_CREATE, sent_to_ec2=False),
    Field("DryRun", Kind.BOOL, update=Update.PER_EVENT, sent_to_ec2=False),
    Field(
        "RoleArn",
        Kind.TEXT,
        update=Update.REPLACE,
        max_len=2048,
        sent_to_ec2=False,
        pattern=_ROLE_ARN,
        shape="an IAM role ARN like arn:aws:iam::123456789012:role/Name",
    ),
    Field(
        "ExternalId",
        Kind.TEXT,
        update=Update.PER_EVENT,
        max_len=1224,
        sent_to_ec2=False,
        pattern=_EXTERNAL_ID,
        shape="2-1224 characters of letters, digits and _+=,.@:/-",
    ),
    Field(
        "Region",
        Kind.TEXT,
        update=Update.REPLACE,
        max_len=32,
        sent_to_ec2=False,
        pattern=_REGION,
        shape="a region name like eu-west-1",
    ),
    # What the scheduled sweep does when EC2 no longer holds what the stack declared
    # (traffic_mirror.watch.drift): Report (default) only logs and counts it; Restore puts it back.
    Field(
        "OnDrift",
        Kind.TEXT,
        update=Update.PER_EVENT,
        max_len=16,
        sent_to_ec2=False,
        pattern=re.compile("Report|Restore"),
        shape='"Report" or "Restore"',
    ),
)


@dataclass(frozen=True)
class Schema:
    """A resource type's properties: its fields, the names of which exactly one is given, and
    the required fields another given property makes optional (``{required: instead}``)."""

    fields: tuple[Field, ...]
    one_of: tuple[str, ...] = ()
    required_unless: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        """Every property name this schema accepts (Tags and CloudFormation's own aside)."""
        return frozenset(f.name for f in self.fields)


#: Custom::TrafficMirrorSession's schema (a fleet's is in :mod:`traffic_mirror.fleets.schema`).
SESSION: Final = Schema(FIELDS)
#: The session parameters EC2 takes and reports by these names.
SESSION_FIELDS: Final[tuple[Field, ...]] = tuple(f for f in FIELDS if f.sent_to_ec2)
FIELDS_BY_NAME: Final[Mapping[str, Field]] = {f.name: f for f in FIELDS}

#: Properties CloudFormation adds to every custom resource; they change nothing here.
IGNORED: Final[frozenset[str]] = frozenset({"ServiceToken", "ServiceTimeout"})

#: Tag keys under this prefix belong to the provider (managed-by, ownership, number mode).
MANAGED_TAG_PREFIX: Final = "traffic-mirror-provider:"
#: The provider's reserved tags on every session it creates (see traffic_mirror.ownership).
RESERVED_TAGS: Final = 4
#: EC2 allows 50 tags per session; the provider keeps four.
MAX_USER_TAGS: Final = 50 - RESERVED_TAGS
MAX_TAG_KEY: Final = 128
MAX_TAG_VALUE: Final = 256
MAX_ID_LEN: Final = 64
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
INT_PATTERN: Final = re.compile(r"[+-]?[0-9]{1,12}")


class Unknown:
    """Marks a previous value that could not be read; it never equals a real value."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()

Value = int | str


@dataclass(frozen=True)
class SessionSpec:
    """Validated properties: ``values`` keyed by EC2 parameter name, and user ``tags``.

    Optional properties that were not given are absent from ``values``. In a spec parsed from
    an Update's previous properties, a value that could not be read is :data:`UNKNOWN`.
    """

    values: Mapping[str, Value | Unknown]
    tags: Mapping[str, str] = field(default_factory=dict)
    tags_known: bool = True
    #: Kind.IDS properties, given or not (a fleet's selectors).
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Kind.PAIRS properties ({Key: Value}).
    pairs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def dry_run(self) -> bool:
        """DryRun was set (an unreadable previous value counts as set: it is not trusted)."""
        return self.values.get("DryRun", False) is not False

    def text(self, name: str) -> str | None:
        """A TEXT property's value; None when absent or unreadable."""
        value = self.values.get(name)
        return value if isinstance(value, str) else None
