"""Where a session lives: the account (through ``RoleArn``) and the region it is managed in.

Without ``RoleArn`` and ``Region`` the provider uses its own credentials and region. With
``RoleArn`` it assumes that role (STS AssumeRole, ``ExternalId`` when given) under a session
name built from the stack and the logical ID, so CloudTrail in the member account shows which
stack resource made each call. With ``Region`` it talks to EC2 in that region.

Example::

    connect = Connector(Owner.of(request))
    sessions = connect(Placement.of(spec))   # the EC2 gateway for the role's account and region
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError, UnknownRegionError

from traffic_mirror.aws.ec2 import CLIENT_CONFIG, TRANSPORT_ERRORS, Ec2Gateway, ec2_client
from traffic_mirror.errors import ProviderError, explain
from traffic_mirror.ownership import Owner
from traffic_mirror.sessions.schema import SessionSpec

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient
else:
    STSClient = Any

__all__ = ["Connector", "Placement", "role_session_name", "sts_client"]

_log = logging.getLogger(__name__)
#: The shortest lifetime STS grants; an event lasts at most the function's timeout.
CREDENTIAL_SECONDS: Final = 900
_NAME_MAX: Final = 64  # RoleSessionName: 2-64 of [\w+=,.@-]
_NAME_UNSAFE: Final = re.compile(r"[^\w+=,.@-]")


@dataclass(frozen=True)
class Placement:
    """The account (by role) and region a session is managed in; None means the provider's."""

    role_arn: str | None = None
    external_id: str | None = None
    region: str | None = None

    @classmethod
    def of(cls, spec: SessionSpec) -> Placement:
        """The placement properties of a parsed spec (unreadable values count as absent)."""
        return cls(spec.text("RoleArn"), spec.text("ExternalId"), spec.text("Region"))


@functools.cache
def sts_client() -> STSClient:
    """The STS client in the function's region, created once per container."""
    return boto3.client("sts", config=CLIENT_CONFIG)


def role_session_name(owner: Owner | None) -> str:
    """``<stack name>.<logical ID>`` of the resource the calls are for (none: the provider's
    own sweep, ``reconciler.sweep``), cut to STS's 64 characters with a hash kept for clarity.

    >>> role_session_name(Owner("arn:aws:cloudformation:us-east-1:1:stack/net/abc", "WebMirror"))
    'net.WebMirror'
    """
    stack, logical = (
        ("reconciler", "sweep") if owner is None else (owner.stack_name, owner.logical_id)
    )
    name = _NAME_UNSAFE.sub("-", f"{stack or 'stack'}.{logical}")
    if len(name) <= _NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: _NAME_MAX - 9]}-{digest}"


@functools.cache
def _partition_of(region: str) -> str | None:
    """The partition of a region name by botocore's partition rules, None if it has none."""
    try:
        return str(boto3.session.Session().get_partition_for_region(region))
    except UnknownRegionError:
        return None


class Connector:
    """Builds the :class:`Ec2Gateway` for a placement, for one resource's calls (``owner``;
    None: the provider's own sweep)."""

    def __init__(self, owner: Owner | None) -> None:
        self.owner = owner

    def __call__(self, placement: Placement) -> Ec2Gateway:
        """The EC2 gateway in the placement's account and region; a refusal becomes the Reason."""
        home = ec2_client()
        region = placement.region or str(home.meta.region_name)
        partition = str(home.meta.partition)
        if placement.region and (other := _partition_of(region)) != partition:
            raise ProviderError(
                f"Region {region} is in partition {other or 'none known'}, and this provider "
                f"runs in {partition}: give a region of {partition}."
            )
        if placement.role_arn is None:
            return Ec2Gateway(ec2_client(placement.region))
        if placement.role_arn.split(":")[1] != partition:
            raise ProviderError(
                f"RoleArn {placement.role_arn} is not in partition {partition}, where this "
                "provider runs: use a role of this partition."
            )
        credentials = self._assume(placement.role_arn, placement.external_id)
        keys = {
            "aws_access_key_id": str(credentials["AccessKeyId"]),
            "aws_secret_access_key": str(credentials["SecretAccessKey"]),
            "aws_session_token": str(credentials["SessionToken"]),
        }
        client = boto3.client(
            "ec2",
            region_name=region,
            config=CLIENT_CONFIG,
            aws_access_key_id=keys["aws_access_key_id"],
            aws_secret_access_key=keys["aws_secret_access_key"],
            aws_session_token=keys["aws_session_token"],
        )
        return Ec2Gateway(client, account=placement.role_arn.split(":")[4], credentials=keys)

    def _assume(self, role_arn: str, external_id: str | None) -> Mapping[str, Any]:
        args: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": role_session_name(self.owner),
            "DurationSeconds": CREDENTIAL_SECONDS,
        }
        if external_id is not None:
            args["ExternalId"] = external_id
        try:
            credentials = sts_client().assume_role(**args)["Credentials"]
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            raise explain("assume", role_arn, exc, subject="role", service="STS") from exc
        # For audit: which role, under which session name (CloudTrail's in the member account).
        _log.info(
            "assumed role",
            extra={"role_arn": role_arn, "role_session_name": args["RoleSessionName"]},
        )
        return credentials
