"""The property schema of ``Custom::TrafficMirrorSession``: one declarative table.

Every property the resource accepts is listed once in :data:`FIELDS`, with its type, bounds,
whether it is required, and how a change is applied (in place, or by replacement). Parsing
turns the ``ResourceProperties`` of a CloudFormation event (where every scalar arrives as a
string) into a :class:`SessionSpec`, or raises :class:`InvalidProperties` listing every problem,
each naming the property and the offending value.

Example::

    >>> spec = parse({"NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1",
    ...               "TrafficMirrorFilterId": "tmf-1", "SessionNumber": "1"})
    >>> spec.values["SessionNumber"]
    1
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

__all__ = [
    "FIELDS",
    "FIELDS_BY_NAME",
    "IGNORED",
    "MANAGED_TAG_PREFIX",
    "MAX_USER_TAGS",
    "SESSION_FIELDS",
    "UNKNOWN",
    "Field",
    "InvalidProperties",
    "Kind",
    "SessionSpec",
    "Update",
    "parse",
    "parse_previous",
    "show",
]


class Kind(Enum):
    """The shape a property's value must have."""

    ID = "id"
    INT = "int"
    TEXT = "text"
    BOOL = "bool"


class Update(Enum):
    """How a change to the property reaches EC2."""

    IN_PLACE = "in place"
    REPLACE = "replacement"
    PER_EVENT = "applies to each event, writes nothing"


@dataclass(frozen=True)
class Field:
    """One property: its EC2 name, type, bounds and update behaviour."""

    name: str
    kind: Kind
    required: bool
    update: Update
    low: int = 0
    high: int = 0
    max_len: int = 0
    remove_as: str | None = None  # the ModifyTrafficMirrorSession RemoveFields name
    ec2: bool = True  # a session parameter sent to EC2 (False: how the provider acts)
    pattern: re.Pattern[str] | None = None  # for TEXT: the whole value must match
    shape: str = ""  # for TEXT with a pattern: what a valid value looks like, for messages


_ROLE_ARN: Final = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
_EXTERNAL_ID: Final = re.compile(r"[\w+=,.@:/-]{2,1224}")
_REGION: Final = re.compile(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}")


FIELDS: Final[tuple[Field, ...]] = (
    Field("NetworkInterfaceId", Kind.ID, True, Update.REPLACE),
    Field("TrafficMirrorTargetId", Kind.ID, True, Update.IN_PLACE),
    Field("TrafficMirrorFilterId", Kind.ID, True, Update.IN_PLACE),
    # Omitted: the provider allocates the lowest number free on the interface (resource.py).
    Field("SessionNumber", Kind.INT, False, Update.IN_PLACE, low=1, high=32766),
    Field(
        "PacketLength",
        Kind.INT,
        False,
        Update.IN_PLACE,
        low=1,
        high=8500,
        remove_as="packet-length",
    ),
    Field(
        "VirtualNetworkId",
        Kind.INT,
        False,
        Update.IN_PLACE,
        low=0,
        high=16_777_215,
        remove_as="virtual-network-id",
    ),
    Field("Description", Kind.TEXT, False, Update.IN_PLACE, max_len=255, remove_as="description"),
    # Beyond the native resource: how the provider acts, never sent as session parameters.
    Field("DryRun", Kind.BOOL, False, Update.PER_EVENT, ec2=False),
    Field(
        "RoleArn",
        Kind.TEXT,
        False,
        Update.REPLACE,
        max_len=2048,
        ec2=False,
        pattern=_ROLE_ARN,
        shape="an IAM role ARN like arn:aws:iam::123456789012:role/Name",
    ),
    Field(
        "ExternalId",
        Kind.TEXT,
        False,
        Update.PER_EVENT,
        max_len=1224,
        ec2=False,
        pattern=_EXTERNAL_ID,
        shape="2-1224 characters of letters, digits and _+=,.@:/-",
    ),
    Field(
        "Region",
        Kind.TEXT,
        False,
        Update.REPLACE,
        max_len=32,
        ec2=False,
        pattern=_REGION,
        shape="a region name like eu-west-1",
    ),
)
#: The session parameters EC2 takes and reports by these names.
SESSION_FIELDS: Final[tuple[Field, ...]] = tuple(f for f in FIELDS if f.ec2)
FIELDS_BY_NAME: Final[Mapping[str, Field]] = {f.name: f for f in FIELDS}

#: Properties CloudFormation adds or the native resource accepts that change nothing here.
#: OwnerId is accepted for drop-in compatibility with AWS::EC2::TrafficMirrorSession; the
#: owner is whichever account the provider's credentials (or RoleArn) belong to.
IGNORED: Final[frozenset[str]] = frozenset({"ServiceToken", "ServiceTimeout", "OwnerId"})

#: Tag keys under this prefix belong to the provider (managed-by, ownership, number mode).
MANAGED_TAG_PREFIX: Final = "traffic-mirror-provider:"
#: The provider's reserved tags on every session it creates (see mirror_session.identity).
RESERVED_TAGS: Final = 4
#: EC2 allows 50 tags per session; the provider keeps four.
MAX_USER_TAGS: Final = 50 - RESERVED_TAGS
MAX_TAG_KEY: Final = 128
MAX_TAG_VALUE: Final = 256
MAX_ID_LEN: Final = 64
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_INT_RE: Final = re.compile(r"[+-]?[0-9]{1,12}")
_OWNER_RE: Final = re.compile(r"[0-9]{12}")


class _Unknown:
    """Marks a previous value that could not be read; it never equals a real value."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()

Value = int | str


@dataclass(frozen=True)
class SessionSpec:
    """Validated properties: ``values`` keyed by EC2 parameter name, and user ``tags``.

    Optional properties that were not given are absent from ``values``. In a spec parsed from
    an Update's previous properties, a value that could not be read is :data:`UNKNOWN`.
    """

    values: Mapping[str, Value | _Unknown]
    tags: Mapping[str, str] = field(default_factory=dict)
    tags_known: bool = True

    @property
    def dry_run(self) -> bool:
        """DryRun was set (an unreadable previous value counts as set: it is not trusted)."""
        return self.values.get("DryRun", False) is not False

    def text(self, name: str) -> str | None:
        """A TEXT property's value; None when absent or unreadable."""
        value = self.values.get(name)
        return value if isinstance(value, str) else None


class InvalidProperties(ValueError):
    """The properties break the schema; ``problems`` says how, one line per property."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def show(value: object, limit: int = 40) -> str:
    """Render a user value for a message: JSON-ish, quoted, and cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # pragma: no cover - circular structures cannot arrive as JSON
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(f: Field, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"{f.name} must be a whole number, got {show(raw)}")
    if isinstance(raw, str):
        if not _INT_RE.fullmatch(raw.strip()):
            raise ValueError(f"{f.name} must be a whole number, got {show(raw)}")
        raw = int(raw.strip())
    if not f.low <= raw <= f.high:
        raise ValueError(f"{f.name} must be between {f.low} and {f.high}, got {show(raw)}")
    return raw


def _text(f: Field, raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"{f.name} must be a string, got {show(raw)}")
    if len(raw) > f.max_len:
        raise ValueError(f"{f.name} must be at most {f.max_len} characters, got {len(raw)}")
    if f.pattern and not f.pattern.fullmatch(raw):
        raise ValueError(f"{f.name} must be {f.shape}, got {show(raw)}")
    return raw


def _bool(f: Field, raw: object) -> bool:
    """CloudFormation sends YAML true/false as the strings "true"/"false"."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in {"true", "false"}:
        return raw.strip().lower() == "true"
    raise ValueError(f'{f.name} must be "true" or "false", got {show(raw)}')


def _id(f: Field, raw: object) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"{f.name} must be a non-empty ID string, got {show(raw)}")
    if len(raw) > MAX_ID_LEN or not _ID_RE.fullmatch(raw):
        raise ValueError(
            f"{f.name} must be an EC2 ID (letters, digits and '-', at most {MAX_ID_LEN}), "
            f"got {show(raw)}"
        )
    return raw


_CONVERT: Final[dict[Kind, Callable[[Field, object], Value]]] = {
    Kind.INT: _int,
    Kind.TEXT: _text,
    Kind.ID: _id,
    Kind.BOOL: _bool,
}


def _tags(raw: object) -> dict[str, str]:
    if not isinstance(raw, list):
        raise ValueError(f"Tags must be a list of {{Key, Value}} maps, got {show(raw)}")
    if len(raw) > MAX_USER_TAGS:
        raise ValueError(
            f"Tags has {len(raw)} entries; at most {MAX_USER_TAGS} are allowed "
            f"(EC2 allows 50 and the provider keeps {RESERVED_TAGS} for its managed-by and "
            "ownership tags)"
        )
    tags: dict[str, str] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"Key", "Value"}:
            raise ValueError(
                f"Tags[{i}] must be a map with exactly Key and Value, got {show(item)}"
            )
        key, value = item["Key"], item["Value"]
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_KEY:
            raise ValueError(f"Tags[{i}].Key must be 1-{MAX_TAG_KEY} characters, got {show(key)}")
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE:
            raise ValueError(
                f"Tags[{i}].Value must be a string of at most {MAX_TAG_VALUE} characters, "
                f"got {show(value)}"
            )
        if key.lower().startswith("aws:"):
            raise ValueError(f"Tags[{i}].Key {show(key)} uses the reserved prefix 'aws:'")
        if key.startswith(MANAGED_TAG_PREFIX):
            raise ValueError(
                f"Tags[{i}].Key {show(key)} uses the provider's reserved prefix "
                f"'{MANAGED_TAG_PREFIX}'"
            )
        if key in tags:
            raise ValueError(f"Tags[{i}].Key {show(key)} appears more than once")
        tags[key] = value
    return tags


def _unknown_names(props: Mapping[str, object]) -> list[str]:
    known = set(FIELDS_BY_NAME) | {"Tags"} | IGNORED
    problems = []
    for name in props:
        if name in known:
            continue
        close = difflib.get_close_matches(str(name), sorted(known - IGNORED), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"unknown property {show(name)}{hint}")
    return problems


def _cross_checks(props: Mapping[str, object], values: Mapping[str, object]) -> list[str]:
    """Rules that span properties: OwnerId's shape and account, ExternalId needs RoleArn."""
    problems = []
    owner = props.get("OwnerId")
    role = values.get("RoleArn")
    role_account = role.split(":")[4] if isinstance(role, str) else None
    if isinstance(owner, str | int) and not _OWNER_RE.fullmatch(str(owner)):
        problems.append(f"OwnerId must be a 12-digit AWS account ID, got {show(owner)}")
    elif isinstance(owner, str | int) and role_account and role_account != str(owner):
        problems.append(
            f"OwnerId {show(str(owner))} is not the account of RoleArn ({role_account}); "
            "the session is created in the role's account"
        )
    if "ExternalId" in props and "RoleArn" not in props:
        problems.append("ExternalId is only used with RoleArn; add RoleArn or remove ExternalId")
    return problems


def parse(props: object) -> SessionSpec:
    """Validate ``ResourceProperties`` strictly; raise :class:`InvalidProperties` on any problem."""
    if not isinstance(props, Mapping):
        raise InvalidProperties([f"ResourceProperties must be a map, got {show(props)}"])
    problems = _unknown_names(props)
    values: dict[str, Value | _Unknown] = {}
    for f in FIELDS:
        if f.name not in props:
            if f.required:
                problems.append(f"{f.name} is required")
            continue
        try:
            values[f.name] = _CONVERT[f.kind](f, props[f.name])
        except ValueError as exc:
            problems.append(str(exc))
    tags: dict[str, str] = {}
    try:
        tags = _tags(props.get("Tags", []))
    except ValueError as exc:
        problems.append(str(exc))
    problems.extend(_cross_checks(props, values))
    if problems:
        raise InvalidProperties(problems)
    return SessionSpec(values=values, tags=tags)


def parse_previous(props: object) -> SessionSpec:
    """Read an Update's ``OldResourceProperties`` leniently.

    They may hold values that never reached EC2 (a rolled-back Update sends the failed
    properties as "old"). A value that does not validate becomes :data:`UNKNOWN`, so the plan
    sends the new value again rather than trusting it.
    """
    if not isinstance(props, Mapping):
        return SessionSpec(values={f.name: UNKNOWN for f in FIELDS}, tags_known=False)
    values: dict[str, Value | _Unknown] = {}
    for f in FIELDS:
        if f.name in props:
            try:
                values[f.name] = _CONVERT[f.kind](f, props[f.name])
            except ValueError:
                values[f.name] = UNKNOWN
    try:
        return SessionSpec(values=values, tags=_tags(props.get("Tags", [])))
    except ValueError:
        return SessionSpec(values=values, tags_known=False)
