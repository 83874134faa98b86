"""Fakes the unit tests of the session modules share: a session as DescribeTrafficMirrorSessions
returns it, and an EC2 gateway that answers one interface's sessions from a list and records
the calls made. Each test module subclasses the gateway with the writes its module makes."""

from __future__ import annotations

from typing import Any

from traffic_mirror.aws.ec2 import Ec2Gateway


def described(
    sid: str = "tms-1",
    *,
    number: int = 1,
    tags: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A session on eni-1 mirroring to tmt-1 through tmf-1 (VNI 7), as EC2 describes it;
    ``fields`` add to or replace what EC2 returns, ``tags`` become its Tags list."""
    session: dict[str, Any] = {
        "TrafficMirrorSessionId": sid,
        "NetworkInterfaceId": "eni-1",
        "TrafficMirrorTargetId": "tmt-1",
        "TrafficMirrorFilterId": "tmf-1",
        "SessionNumber": number,
        "VirtualNetworkId": 7,
        **fields,
    }
    session["Tags"] = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    return session


class RecordingGateway(Ec2Gateway):
    """The gateway's interface read, answered from ``sessions`` and recorded in ``calls``."""

    def __init__(self, sessions: list[Any] | None = None) -> None:
        super().__init__(client=None)  # type: ignore[arg-type]
        self.sessions = sessions or []
        self.calls: list[tuple[Any, ...]] = []

    @property
    def region(self) -> str:
        return "us-east-1"

    @property
    def partition(self) -> str:
        return "aws"

    def on_interface(self, interface_id: str) -> list[Any]:
        self.calls.append(("describe", interface_id))
        return self.sessions
