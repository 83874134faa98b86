"""Validation: ``ResourceProperties`` in, a :class:`~traffic_mirror.sessions.schema.SessionSpec`
out.

Parsing turns the properties of a CloudFormation event (where every scalar arrives as a
string) into a spec by the schema table, or raises :class:`InvalidProperties` listing every
problem, each naming the property and the offending value. Previous properties are read
leniently (:func:`parse_previous`).

Example::

    >>> spec = parse({"NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1",
    ...               "TrafficMirrorFilterId": "tmf-1", "SessionNumber": "1"})
    >>> spec.values["SessionNumber"]
    1
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from typing import Final

from traffic_mirror.sessions.schema import (
    FIELDS,
    ID_PATTERN,
    IGNORED,
    INT_PATTERN,
    MANAGED_TAG_PREFIX,
    MAX_ID_LEN,
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_USER_TAGS,
    RESERVED_TAGS,
    SESSION,
    UNKNOWN,
    Field,
    Kind,
    Schema,
    SessionSpec,
    Unknown,
    Value,
)

__all__ = ["InvalidProperties", "parse", "parse_previous", "show"]


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
        if not INT_PATTERN.fullmatch(raw.strip()):
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
    if len(raw) > MAX_ID_LEN or not ID_PATTERN.fullmatch(raw):
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


def _unknown_names(props: Mapping[str, object], schema: Schema) -> list[str]:
    known = set(schema.names) | {"Tags"} | IGNORED
    problems = []
    for name in props:
        if name in known:
            continue
        close = difflib.get_close_matches(str(name), sorted(known - IGNORED), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"unknown property {show(name)}{hint}")
    return problems


def _cross_checks(props: Mapping[str, object], values: Mapping[str, object]) -> list[str]:
    """Rules that span properties: OwnerId is RoleArn's account, ExternalId needs RoleArn."""
    problems = []
    owner, role = values.get("OwnerId"), values.get("RoleArn")
    role_account = role.split(":")[4] if isinstance(role, str) else None
    if isinstance(owner, str) and role_account and role_account != owner:
        problems.append(
            f"OwnerId {show(owner)} is not the account of RoleArn ({role_account}); "
            "the session is created in the role's account"
        )
    adopt = values.get("AdoptSessionId")
    if isinstance(adopt, str) and not adopt.startswith("tms-"):
        problems.append(
            f"AdoptSessionId must be a traffic mirror session ID (tms-…), got {show(adopt)}"
        )
    if "ExternalId" in props and "RoleArn" not in props:
        problems.append("ExternalId is only used with RoleArn; add RoleArn or remove ExternalId")
    return problems


def _one_of(props: Mapping[str, object], schema: Schema) -> list[str]:
    given = [name for name in schema.one_of if name in props]
    if not schema.one_of or len(given) == 1:
        return []
    return [f"exactly one of {', '.join(schema.one_of)} is required, got {given or 'none'}"]


def _or(schema: Schema, name: str) -> str:
    instead = schema.required_unless.get(name)
    return f" (or {instead}, naming at least one)" if instead else ""


def parse(props: object, schema: Schema = SESSION) -> SessionSpec:
    """Validate ``ResourceProperties`` strictly; raise :class:`InvalidProperties` on any problem."""
    if not isinstance(props, Mapping):
        raise InvalidProperties([f"ResourceProperties must be a map, got {show(props)}"])
    problems = _unknown_names(props, schema) + _one_of(props, schema)
    values: dict[str, Value | Unknown] = {}
    lists: dict[str, tuple[str, ...]] = {}
    pairs: dict[str, dict[str, str]] = {}
    for f in schema.fields:
        if f.name not in props:
            if (instead := schema.required_unless.get(f.name)) is not None and props.get(instead):
                continue  # the other property stands in for it
            if f.required:
                problems.append(f"{f.name} is required" + _or(schema, f.name))
            continue
        try:
            if f.kind is Kind.IDS:
                lists[f.name] = id_list(f, props[f.name], _id)
            elif f.kind is Kind.PAIRS:
                pairs[f.name] = pair_list(f, props[f.name])
            else:
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
    return SessionSpec(values=values, tags=tags, lists=lists, pairs=pairs)


def parse_previous(props: object) -> SessionSpec:
    """Read an Update's ``OldResourceProperties`` leniently.

    They may hold values that never reached EC2 (a rolled-back Update sends the failed
    properties as "old"). A value that does not validate becomes :data:`UNKNOWN`, so the plan
    sends the new value again rather than trusting it.
    """
    if not isinstance(props, Mapping):
        return SessionSpec(values={f.name: UNKNOWN for f in FIELDS}, tags_known=False)
    values: dict[str, Value | Unknown] = {}
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


def id_list(f: Field, raw: object, one: Callable[[Field, object], str]) -> tuple[str, ...]:
    """A Kind.IDS value: a list of IDs, each checked by ``one``; repeats are dropped."""
    if not isinstance(raw, list):
        raise ValueError(f"{f.name} must be a list of IDs, got {str(raw)[:40]!r}")
    return tuple(dict.fromkeys(one(f, item) for item in raw))


def pair_list(f: Field, raw: object) -> dict[str, str]:
    """A Kind.PAIRS value: a non-empty list of {Key, Value} maps of strings."""
    items = raw if isinstance(raw, list) else []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"Key", "Value"}:
            break
        if not all(isinstance(v, str) and v for v in item.values()):
            break
    else:
        if items:
            return {str(i["Key"]): str(i["Value"]) for i in items}
    raise ValueError(f"{f.name} must be a non-empty list of {{Key, Value}} maps of strings")
