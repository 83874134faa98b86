"""Fleet definitions in SSM Parameter Store, under the provider's own path.

One standard-tier parameter per fleet, ``<FLEET_STORE_PATH>/<fleet id>`` (template.yaml sets
the path to ``/traffic-mirror-provider/<provider stack>/fleets``; the roles may read and
write only there). The value is JSON: the fleet's owner and its validated properties, under
4 KB. Create and Update write it, Delete removes it (or marks it ``deleting`` when it could
not finish: the reconciler then finishes the deletes and removes it), the reconciler reads
them all with GetParametersByPath.

Example::

    store = Store()
    store.put(Record("fleet-…", owner, props))
    for record in store.records(): ...
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError

from mirror_session.ec2 import CLIENT_CONFIG, TRANSPORT_ERRORS
from mirror_session.errors import ProviderError, explain
from mirror_session.identity import Owner, managed_by
from mirror_session.schema import IGNORED

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient
else:
    SSMClient = Any

__all__ = ["MAX_VALUE", "Record", "Store", "store_path"]

#: The standard tier's limit on a parameter's value.
MAX_VALUE: Final = 4096


def store_path() -> str:
    """The path fleets are kept under (FLEET_STORE_PATH, set by template.yaml)."""
    default = f"/traffic-mirror-provider/{managed_by()}/fleets"
    return os.environ.get("FLEET_STORE_PATH", default).rstrip("/")


@functools.cache
def ssm_client() -> SSMClient:
    """The SSM client in the function's own region and account, once per container."""
    return boto3.client("ssm", config=CLIENT_CONFIG)


@dataclass(frozen=True)
class Record:
    """A fleet as stored: its ID, owner and properties (as the template gave them)."""

    fleet_id: str
    owner: Owner
    properties: Mapping[str, Any] = field(default_factory=dict)
    deleting: bool = False

    def encode(self) -> str:
        """The parameter's value; a fleet too large for the store is refused with a Reason."""
        props = {k: v for k, v in self.properties.items() if k not in IGNORED}
        value = json.dumps(
            {
                "stack_id": self.owner.stack_id,
                "logical_id": self.owner.logical_id,
                "properties": props,
                "deleting": self.deleting,
            },
            separators=(",", ":"),
        )
        if len(value.encode()) > MAX_VALUE:
            raise ProviderError(
                f"The fleet's properties take {len(value.encode())} bytes as JSON; the store "
                f"keeps at most {MAX_VALUE}. Select by AutoScalingGroupName or InstanceTags "
                "rather than long ID lists."
            )
        return value

    @classmethod
    def decode(cls, fleet_id: str, value: str) -> Record:
        """A record from a parameter's value."""
        data = json.loads(value)
        owner = Owner(str(data["stack_id"]), str(data["logical_id"]))
        return cls(fleet_id, owner, dict(data["properties"]), bool(data.get("deleting")))


class Store:
    """Put, remove and list fleet records."""

    def __init__(self, ssm: SSMClient | None = None) -> None:
        self.ssm = ssm or ssm_client()
        self.path = store_path()

    def _run(self, verb: str, name: str, call: Any) -> Any:
        try:
            return call()
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            raise explain(verb, name, exc, subject="fleet record", service="SSM") from exc

    def put(self, record: Record) -> None:
        """Write (or overwrite) the fleet's record."""
        name = f"{self.path}/{record.fleet_id}"
        value = record.encode()
        self._run(
            "store",
            name,
            lambda: self.ssm.put_parameter(
                Name=name, Value=value, Type="String", Tier="Standard", Overwrite=True
            ),
        )

    def remove(self, fleet_id: str) -> None:
        """Remove the fleet's record; one already gone counts as removed."""
        name = f"{self.path}/{fleet_id}"
        try:
            self.ssm.delete_parameter(Name=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise explain("remove", name, exc, subject="fleet record", service="SSM") from exc

    def records(self) -> list[Record]:
        """Every fleet record under the path (all pages); unreadable ones are skipped."""
        pages = self.ssm.get_paginator("get_parameters_by_path")
        found = self._run(
            "read",
            self.path,
            lambda: [p for page in pages.paginate(Path=self.path) for p in page["Parameters"]],
        )
        records = []
        for parameter in found:
            try:
                name = str(parameter["Name"]).rsplit("/", 1)[-1]
                records.append(Record.decode(name, str(parameter["Value"])))
            except (ValueError, KeyError, TypeError):
                continue
        return records
