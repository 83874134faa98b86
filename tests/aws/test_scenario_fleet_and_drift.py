"""Custom::TrafficMirrorFleet over an Auto Scaling group that scales out, and a session
changed by hand that the reconciler's sweep puts back (OnDrift: Restore)."""

from __future__ import annotations

from typing import Any

from local.aws.backend import Backend, eventually, service_token, sessions_on
from tests.aws.templates import basic, differences, session, template


def one_each(held: list[dict[str, Any]], interfaces: list[str]) -> bool:
    return sorted(s["NetworkInterfaceId"] for s in held) == sorted(interfaces)


def test_a_fleet_mirrors_each_instance_once_and_the_sweep_mirrors_a_scale_out(
    aws: Backend,
) -> None:
    net = aws.network()
    group = aws.create_group("fleet", 2)
    try:
        before = sorted(aws.group_interfaces(group, 2).values())
        fleet = {
            "Type": "Custom::TrafficMirrorFleet",
            "Properties": {
                "ServiceToken": service_token(aws, "FleetServiceToken"),
                "ServiceTimeout": 900,
                "AutoScalingGroupName": group,
                "TrafficMirrorTargetId": net.target_ids[0],
                "TrafficMirrorFilterId": net.filter_ids[0],
            },
        }
        outputs = {
            "Vni": {"Fn::GetAtt": ["Fleet", "VirtualNetworkId"]},
            "Mirrored": {"Fn::GetAtt": ["Fleet", "InterfacesMirrored"]},
        }
        created = aws.deploy("fleet", template({"Fleet": fleet}, **outputs))
        assert created.status == "CREATE_COMPLETE", created.reason
        assert created.outputs["Mirrored"] == "2"
        held = eventually(aws, lambda: sessions_on(aws, *before), lambda s: one_each(s, before))
        assert one_each(held, before), held
        assert {str(s["VirtualNetworkId"]) for s in held} == {created.outputs["Vni"]}

        aws.scale_group(group, 3)
        after = sorted(aws.group_interfaces(group, 3).values())
        aws.sweep()  # (in a real account the launch event may have done it already)
        held = eventually(aws, lambda: sessions_on(aws, *after), lambda s: one_each(s, after))
        assert one_each(held, after), held
        assert {str(s["VirtualNetworkId"]) for s in held} == {created.outputs["Vni"]}

        assert aws.delete("fleet").status == "DELETE_COMPLETE"
        assert eventually(aws, lambda: sessions_on(aws, *after), lambda s: not s) == []
    finally:
        aws.delete("fleet")
        aws.delete_group(group)


def test_a_session_changed_by_hand_is_put_back_by_the_sweep_when_on_drift_is_restore(
    aws: Backend,
) -> None:
    net = aws.network()
    props = basic(aws, net, Description="acceptance: declared", OnDrift="Restore")
    created = aws.deploy("drift", template({"Mirror": session(aws, **props)}, "Mirror"))
    assert created.status == "CREATE_COMPLETE", created.reason
    session_id = created.outputs["MirrorId"]

    def read() -> dict[str, Any]:
        found = aws.ec2().describe_traffic_mirror_sessions(TrafficMirrorSessionIds=[session_id])
        return dict(found["TrafficMirrorSessions"][0])

    aws.ec2().modify_traffic_mirror_session(
        TrafficMirrorSessionId=session_id,
        TrafficMirrorFilterId=net.filter_ids[1],
        Description="changed by hand",
    )
    drifted = eventually(aws, read, lambda s: s.get("Description") == "changed by hand")
    assert set(differences(drifted, props)) == {"TrafficMirrorFilterId", "Description"}

    aws.sweep()
    restored = eventually(aws, read, lambda s: not differences(s, props))
    assert differences(restored, props) == {}
    assert restored["TrafficMirrorSessionId"] == session_id

    assert aws.delete("drift").status == "DELETE_COMPLETE"
    assert eventually(aws, lambda: sessions_on(aws, *net.sources), lambda s: not s) == []
