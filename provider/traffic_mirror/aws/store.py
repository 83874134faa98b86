"""What the stacks asked for, in SSM Parameter Store under the provider's own path.

Two kinds of record, one parameter each, named by the resource's physical ID:

- ``fleets``: ``<FLEET_STORE_PATH>/<fleet id>`` (template.yaml:
  ``/traffic-mirror-provider/<provider stack>/fleets``), Intelligent-Tiering, under 4 KB (a larger
  fleet is refused with a Reason). Create and Update write it, Delete removes it (or marks
  it ``deleting`` when it could not finish: the reconciler then finishes and removes it).
- ``sessions``: ``<SESSION_STORE_PATH>/<session id>`` (``…/sessions``), the desired state
  of each single session (:mod:`traffic_mirror.sessions.resource`), which the sweep compares with
  EC2
  (:mod:`traffic_mirror.watch.drift`). Intelligent-Tiering: a session whose tags take more than
  4 KB is kept in the advanced tier (up to 8 KB; AWS charges for advanced parameters).

A removed record is a tombstone (:data:`REMOVED`), not a deleted parameter: SSM asks callers
to wait 30 s before creating a parameter under a deleted name. The reconciler's sweep deletes
tombstones older than an hour (:meth:`Store.prune`).

The value is JSON: the owner, the properties as given (ServiceToken dropped), and for a
session the values EC2 or the provider assigned. The roles may read and write only their
own path; the reconciler reads a whole kind with GetParametersByPath.

Example::

    store = Store()                      # fleets; Store("sessions") for single sessions
    store.put(Record("fleet-…", owner, props))
    for record in store.records(): ...
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError

from traffic_mirror.aws.ec2 import CLIENT_CONFIG, TRANSPORT_ERRORS
from traffic_mirror.errors import ProviderError, explain
from traffic_mirror.ownership import Owner, managed_by
from traffic_mirror.sessions.schema import IGNORED

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient
else:
    SSMClient = Any

__all__ = ["KINDS", "MAX_VALUE", "REMOVED", "Record", "Store", "store_path"]
_log = logging.getLogger(__name__)

#: The standard tier's limit on a parameter's value; the advanced tier's.
MAX_VALUE: Final = 4096
MAX_ADVANCED: Final = 8192
#: Intelligent-Tiering for both kinds: standard while it fits and while the account has fewer
#: than 10,000 standard parameters (an explicit Standard then fails with
#: ParameterLimitExceeded), advanced otherwise; SSM never turns an advanced parameter back
#: into a standard one, which an explicit Standard would ask.
_TIER: Final = "Intelligent-Tiering"
#: A removed record's value (see :meth:`Store.remove`), and how old it is when pruned.
REMOVED: Final = '{"removed":true}'
TOMBSTONE_AGE_S: Final = 3600.0
#: Each kind of record, and the variable template.yaml sets its path in.
KINDS: Final = {"fleets": "FLEET_STORE_PATH", "sessions": "SESSION_STORE_PATH"}


def store_path(kind: str = "fleets") -> str:
    """The path records of ``kind`` are kept under (set by template.yaml)."""
    default = f"/traffic-mirror-provider/{managed_by()}/{kind}"
    return os.environ.get(KINDS[kind], default).rstrip("/")


@functools.cache
def ssm_client() -> SSMClient:
    """The SSM client in the function's own region and account, once per container."""
    return boto3.client("ssm", config=CLIENT_CONFIG)


@dataclass(frozen=True)
class Record:
    """A resource as stored: its physical ID (``key``), owner and properties (as the template
    gave them); for a session, the values assigned when omitted (SessionNumber, VNI)."""

    key: str
    owner: Owner
    properties: Mapping[str, Any] = field(default_factory=dict)
    deleting: bool = False
    assigned: Mapping[str, int] = field(default_factory=dict)
    #: When the store last wrote it (epoch seconds; None: not read from the store).
    written_at: float | None = None

    def written_within(self, seconds: float) -> bool:
        """Whether the record was written less than ``seconds`` ago: its resource was just
        created or updated, and EC2's reads may not show that yet."""
        return self.written_at is not None and time.time() - self.written_at < seconds

    def encode(self) -> str:
        """The parameter's value (JSON; its size is the store's to judge)."""
        props = {k: v for k, v in self.properties.items() if k not in IGNORED}
        data: dict[str, Any] = {
            "stack_id": self.owner.stack_id,
            "logical_id": self.owner.logical_id,
            "properties": props,
            "deleting": self.deleting,
        }
        if self.assigned:
            data["assigned"] = dict(self.assigned)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, key: str, value: str, written: object = None) -> Record:
        """A record from a parameter's value (``written``: its LastModifiedDate)."""
        data = json.loads(value)
        owner = Owner(str(data["stack_id"]), str(data["logical_id"]))
        assigned = {str(k): int(v) for k, v in dict(data.get("assigned", {})).items()}
        at = written.timestamp() if isinstance(written, datetime) else None
        return cls(key, owner, dict(data["properties"]), bool(data.get("deleting")), assigned, at)


class Store:
    """Put, remove and list the records of one kind (``fleets`` or ``sessions``)."""

    def __init__(self, kind: str = "fleets", ssm: SSMClient | None = None) -> None:
        self.kind = kind
        self.ssm = ssm or ssm_client()
        self.path = store_path(kind)
        self.tombstones: list[tuple[str, datetime]] = []

    def _run(self, verb: str, name: str, call: Any) -> Any:
        try:
            return call()
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            raise explain(
                verb, name, exc, subject=f"{self.kind[:-1]} record", service="SSM"
            ) from exc

    def put(self, record: Record) -> None:
        """Write (or overwrite) the record."""
        name = f"{self.path}/{record.key}"
        value = self.fitting(record)
        tier: Any = _TIER
        self._run(
            "store",
            name,
            lambda: self.ssm.put_parameter(
                Name=name, Value=value, Type="String", Tier=tier, Overwrite=True
            ),
        )

    def fitting(self, record: Record) -> str:
        """The record's value; fails with a Reason when the store cannot keep it (checked
        before anything is written)."""
        fleets = self.kind == "fleets"
        value = record.encode()
        size, limit = len(value.encode()), MAX_VALUE if fleets else MAX_ADVANCED
        if size > limit:
            raise ProviderError(
                f"The fleet's properties take {size} bytes as JSON; the store keeps at most "
                f"{limit}. Select by AutoScalingGroupName or InstanceTags rather than long ID "
                "lists."
                if fleets
                else f"The session's record takes {size} bytes as JSON; the store keeps at most "
                f"{limit} (its tags are too long to be watched for drift)."
            )
        return value

    def get(self, key: str) -> Record | None:
        """The record as stored now (None when there is none)."""
        name = f"{self.path}/{key}"
        try:
            found = self.ssm.get_parameter(Name=name)["Parameter"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise explain(
                "read", name, exc, subject=f"{self.kind[:-1]} record", service="SSM"
            ) from exc
        except TRANSPORT_ERRORS as exc:
            raise explain(
                "read", name, exc, subject=f"{self.kind[:-1]} record", service="SSM"
            ) from exc
        try:
            return Record.decode(key, str(found["Value"]), found.get("LastModifiedDate"))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: judged as records() judges it, not at all

    def remove(self, key: str) -> None:
        """Mark the record removed: its parameter is overwritten with :data:`REMOVED`, not
        deleted, since SSM asks callers to wait 30 s before creating a parameter under a
        deleted name (a fleet deleted and declared again under its fixed ID; a session record
        dropped by an oversized Update, then written by the next). :meth:`prune` deletes
        tombstones once they are old. Reads count a tombstone as no record."""
        name = f"{self.path}/{key}"
        self._run(
            "remove",
            name,
            lambda: self.ssm.put_parameter(
                Name=name, Value=REMOVED, Type="String", Tier=_TIER, Overwrite=True
            ),
        )

    def records(self) -> list[Record]:
        """Every record under the path (all pages); unreadable ones and tombstones are
        skipped (tombstones are remembered for :meth:`prune`)."""
        pages = self.ssm.get_paginator("get_parameters_by_path")
        found = self._run(
            "read",
            self.path,
            lambda: [p for page in pages.paginate(Path=self.path) for p in page["Parameters"]],
        )
        records = []
        self.tombstones = []
        for parameter in found:
            name = str(parameter["Name"])
            if parameter.get("Value") == REMOVED:
                modified = parameter.get("LastModifiedDate")
                if isinstance(modified, datetime):
                    self.tombstones.append((name, modified))
                continue
            try:
                value, written = str(parameter["Value"]), parameter.get("LastModifiedDate")
                records.append(Record.decode(name.rsplit("/", 1)[-1], value, written))
            except (ValueError, KeyError, TypeError):
                continue
        return records

    def prune(self, older_than_s: float = TOMBSTONE_AGE_S) -> int:
        """Delete the tombstones :meth:`records` saw that are older than ``older_than_s``
        (each read again first: a record written since is kept); how many were deleted. A
        failure is logged, never raised: a tombstone left is pruned by a later sweep."""
        now = datetime.now(UTC)
        pruned = 0
        for name, modified in self.tombstones:
            if (now - modified).total_seconds() < older_than_s:
                continue
            try:
                if self.ssm.get_parameter(Name=name)["Parameter"].get("Value") != REMOVED:
                    continue  # written again since the read
                self.ssm.delete_parameter(Name=name)
                pruned += 1
            except (ClientError, *TRANSPORT_ERRORS) as exc:
                _log.warning("tombstone not pruned", extra={"record": name, "reason": str(exc)})
        self.tombstones = []
        return pruned
