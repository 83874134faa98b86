"""The consumer templates the scenarios deploy (dicts: the same for both backends)."""

from __future__ import annotations

from typing import Any

from local.aws.backend import TAG_KEY, Backend, Network, service_token
from traffic_mirror.ownership import MANAGED_BY_KEY

Props = dict[str, Any]
#: The tag keys the provider adds to its sessions (not the user's).
PROVIDER_PREFIX = MANAGED_BY_KEY.split(":", 1)[0] + ":"


def suite_tags(aws: Backend, **more: str) -> list[dict[str, str]]:
    """Tags as a template lists them: the suite's, then ``more``."""
    return [
        {"Key": TAG_KEY, "Value": aws.run_id},
        *({"Key": k, "Value": v} for k, v in more.items()),
    ]


def session(aws: Backend, **props: Any) -> dict[str, Any]:
    """A Custom::TrafficMirrorSession resource."""
    return {
        "Type": "Custom::TrafficMirrorSession",
        "Properties": {"ServiceToken": service_token(aws), "ServiceTimeout": 300, **props},
    }


def basic(aws: Backend, net: Network, **props: Any) -> Props:
    """A session's required properties on the first source, plus the suite's tag."""
    return {
        "NetworkInterfaceId": net.sources[0],
        "TrafficMirrorTargetId": net.target_ids[0],
        "TrafficMirrorFilterId": net.filter_ids[0],
        "Tags": suite_tags(aws),
        **props,
    }


def template(resources: dict[str, Any], *sessions: str, **outputs: Any) -> dict[str, Any]:
    """A template with these resources; for each of ``sessions`` the outputs <L>Id (Ref),
    <L>Number and <L>Vni (Fn::GetAtt); plus ``outputs`` as given."""
    out: dict[str, Any] = {k: {"Value": v} for k, v in outputs.items()}
    for logical in sessions:
        out[f"{logical}Id"] = {"Value": {"Ref": logical}}
        out[f"{logical}Number"] = {"Value": {"Fn::GetAtt": [logical, "SessionNumber"]}}
        out[f"{logical}Vni"] = {"Value": {"Fn::GetAtt": [logical, "VirtualNetworkId"]}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "traffic mirror provider acceptance suite",
        "Resources": resources,
        "Outputs": out,
    }


def user_tags(session: dict[str, Any]) -> dict[str, str]:
    """A session's tags without the provider's own and AWS's (aws:)."""
    return {
        t["Key"]: t["Value"]
        for t in session.get("Tags", [])
        if not t["Key"].startswith((PROVIDER_PREFIX, "aws:"))
    }


def differences(session: dict[str, Any], props: Props) -> dict[str, tuple[Any, Any]]:
    """Where EC2's session differs from the declared properties: name -> (declared, held)."""
    found: dict[str, tuple[Any, Any]] = {}
    for key in ("NetworkInterfaceId", "TrafficMirrorTargetId", "TrafficMirrorFilterId"):
        if key in props and session.get(key) != props[key]:
            found[key] = (props[key], session.get(key))
    for key in ("SessionNumber", "PacketLength", "VirtualNetworkId"):
        if key in props and session.get(key) != int(props[key]):
            found[key] = (props[key], session.get(key))
    if "Description" in props and session.get("Description") != props["Description"]:
        found["Description"] = (props["Description"], session.get("Description"))
    if "Tags" in props:
        declared = {t["Key"]: t["Value"] for t in props["Tags"]}
        if user_tags(session) != declared:
            found["Tags"] = (declared, user_tags(session))
    return found
