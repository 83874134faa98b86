"""Sessions made by hand: outside the provider, with one raw ``CreateTrafficMirrorSession``,
as an operator, another tool, an older provider or a native ``AWS::EC2::TrafficMirrorSession``
would. Every such session a test or the harness makes is made here, each choice named: the
interface, target, filter and number; the description, VXLAN ID and packet length; the tags;
whether it carries this provider's marks (and whose); a client token.

Nothing here waits for the session to show in EC2's reads (they lag writes): the caller does,
with ``tests.conftest.by_hand`` or :meth:`EmbeddedEc2.wait_visible`, unless when it shows is
the point (a race, the read lag itself).

Example::

    with by_hand(ec2) as client:
        sid = session_by_hand(
            client, interface=fx.sources[0], target=fx.target_id,
            mirror_filter=fx.filter_ids[0], number=1,
            marks=ProviderMarks(Owner(stack_id, "WebFleet")),
        )["TrafficMirrorSessionId"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from traffic_mirror.ownership import MANAGED_BY_KEY, Owner, managed_by

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import CreateTrafficMirrorSessionRequestTypeDef

__all__ = ["ProviderMarks", "session_by_hand"]


@dataclass(frozen=True)
class ProviderMarks:
    """The tags this provider writes on its sessions, imitated: its managed-by marker and,
    with an ``owner``, that owner's stack and logical ID and the number's mode (``allocated``
    or declared). With no owner, the marker alone: a session of a provider from before the
    ownership tags."""

    owner: Owner | None = None
    allocated: bool = False

    def tags(self) -> dict[str, str]:
        if self.owner is None:
            return {MANAGED_BY_KEY: managed_by()}
        return self.owner.tags(allocated=self.allocated)


def session_by_hand(
    client: EC2Client,
    *,
    interface: str,
    target: str,
    mirror_filter: str,
    number: int,
    description: str | None = None,
    vni: int | None = None,
    packet_length: int | None = None,
    tags: Mapping[str, str] | None = None,
    marks: ProviderMarks | None = None,
    client_token: str | None = None,
) -> dict[str, Any]:
    """One session made with ``client``, as Create answered it. What is None is not sent (EC2
    then assigns a VXLAN ID, mirrors whole packets, has no description). ``tags`` are the
    session's own; ``marks`` adds this provider's after them (None: not the provider's)."""
    request: CreateTrafficMirrorSessionRequestTypeDef = {
        "NetworkInterfaceId": interface,
        "TrafficMirrorTargetId": target,
        "TrafficMirrorFilterId": mirror_filter,
        "SessionNumber": number,
    }
    if description is not None:
        request["Description"] = description
    if vni is not None:
        request["VirtualNetworkId"] = vni
    if packet_length is not None:
        request["PacketLength"] = packet_length
    if client_token is not None:
        request["ClientToken"] = client_token
    every = {**(tags or {}), **(marks.tags() if marks else {})}
    if every:
        request["TagSpecifications"] = [
            {
                "ResourceType": "traffic-mirror-session",
                "Tags": [{"Key": k, "Value": v} for k, v in every.items()],
            }
        ]
    return dict(client.create_traffic_mirror_session(**request)["TrafficMirrorSession"])
