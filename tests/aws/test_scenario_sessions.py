"""Custom::TrafficMirrorSession through CloudFormation: every property, in place and by
replacement; two sessions created at once on one interface; a replacement rolled back."""

from __future__ import annotations

import random
from typing import Any

from local.aws.backend import Backend, eventually, sessions_on
from tests.aws.templates import basic, differences, session, suite_tags, template


def by_id(aws: Backend, session_id: str) -> list[dict[str, Any]]:
    found = aws.ec2().describe_traffic_mirror_sessions(TrafficMirrorSessionIds=[session_id])
    return [dict(s) for s in found["TrafficMirrorSessions"]]


def settled_session(aws: Backend, session_id: str, props: dict[str, Any]) -> dict[str, Any]:
    """The session once EC2's reads show the declared properties (or the last reading)."""
    found = eventually(
        aws,
        lambda: by_id(aws, session_id),
        lambda held: len(held) == 1 and not differences(held[0], props),
    )
    assert len(found) == 1, found
    return found[0]


def ids_on(aws: Backend, *interfaces: str) -> set[str]:
    return {s["TrafficMirrorSessionId"] for s in sessions_on(aws, *interfaces)}


def test_a_session_with_every_property_updates_each_in_place_is_replaced_and_deleted(
    aws: Backend,
) -> None:
    net = aws.network()
    vni = random.randint(1_000_000, 9_000_000)
    props: dict[str, Any] = basic(
        aws,
        net,
        SessionNumber=5,
        PacketLength=100,
        VirtualNetworkId=vni,
        Description="acceptance: every property",
        Tags=suite_tags(aws, step="create"),
        OwnerId=aws.account,
        OnDrift="Report",
    )
    created = aws.deploy("lifecycle", template({"Mirror": session(aws, **props)}, "Mirror"))
    assert created.status == "CREATE_COMPLETE", created.reason
    session_id = created.outputs["MirrorId"]
    assert session_id.startswith("tms-")
    assert differences(settled_session(aws, session_id, props), props) == {}
    assert created.outputs["MirrorVni"] == str(vni)

    in_place: list[tuple[str, Any]] = [
        ("TrafficMirrorTargetId", net.target_ids[1]),
        ("TrafficMirrorFilterId", net.filter_ids[1]),
        ("SessionNumber", 6),
        ("PacketLength", 200),
        ("VirtualNetworkId", vni + 1),
        ("Description", "acceptance: changed in place"),
        ("Tags", suite_tags(aws, step="update")),
    ]
    for key, value in in_place:
        props = {**props, key: value}
        updated = aws.deploy("lifecycle", template({"Mirror": session(aws, **props)}, "Mirror"))
        assert updated.status == "UPDATE_COMPLETE", (key, updated.reason)
        assert updated.outputs["MirrorId"] == session_id, f"{key} replaced the session"
        held = settled_session(aws, session_id, props)
        assert differences(held, props) == {}, key

    props = {**props, "NetworkInterfaceId": net.sources[1]}
    replaced = aws.deploy("lifecycle", template({"Mirror": session(aws, **props)}, "Mirror"))
    assert replaced.status == "UPDATE_COMPLETE", replaced.reason
    new_id = replaced.outputs["MirrorId"]
    assert new_id != session_id
    left = eventually(aws, lambda: ids_on(aws, *net.sources), lambda ids: ids == {new_id})
    assert left == {new_id}, "the cleanup left the old session, or the new one is missing"
    assert differences(settled_session(aws, new_id, props), props) == {}

    assert aws.delete("lifecycle").status == "DELETE_COMPLETE"
    assert eventually(aws, lambda: ids_on(aws, *net.sources), lambda ids: not ids) == set()


def test_two_sessions_created_at_once_on_one_interface_without_numbers_get_distinct_ones(
    aws: Backend,
) -> None:
    net = aws.network()
    resources = {name: session(aws, **basic(aws, net)) for name in ("First", "Second")}
    created = aws.deploy("parallel", template(resources, "First", "Second"))
    assert created.status == "CREATE_COMPLETE", created.reason
    numbers = {created.outputs["FirstNumber"], created.outputs["SecondNumber"]}
    assert numbers == {"1", "2"}, created.outputs

    wanted = {created.outputs["FirstId"], created.outputs["SecondId"]}
    held = eventually(aws, lambda: sessions_on(aws, net.sources[0]), lambda s: len(s) == 2)
    assert {s["TrafficMirrorSessionId"] for s in held} == wanted
    assert sorted(s["SessionNumber"] for s in held) == [1, 2]  # what EC2 holds, too

    assert aws.delete("parallel").status == "DELETE_COMPLETE"
    assert eventually(aws, lambda: ids_on(aws, *net.sources), lambda ids: not ids) == set()


def test_a_replacement_rolled_back_by_another_resources_failure_leaves_the_original_alone(
    aws: Backend,
) -> None:
    net = aws.network()
    props = basic(aws, net, Description="acceptance: rolled back")
    created = aws.deploy("rollback", template({"Mirror": session(aws, **props)}, "Mirror"))
    assert created.status == "CREATE_COMPLETE", created.reason
    original = settled_session(aws, created.outputs["MirrorId"], props)

    failing = {
        "Mirror": session(aws, **{**props, "NetworkInterfaceId": net.sources[1]}),
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        # Nobody signals it: it times out after the replacement, and the stack rolls back.
        "NeverSignalled": {
            "Type": "AWS::CloudFormation::WaitCondition",
            "DependsOn": "Mirror",
            "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": "1"},
        },
    }
    rolled = aws.deploy("rollback", template(failing, "Mirror"))
    assert rolled.status == "UPDATE_ROLLBACK_COMPLETE", (rolled.status, rolled.reason)
    assert rolled.outputs["MirrorId"] == original["TrafficMirrorSessionId"]
    held = eventually(aws, lambda: sessions_on(aws, *net.sources), lambda s: len(s) == 1)
    assert [s["TrafficMirrorSessionId"] for s in held] == [original["TrafficMirrorSessionId"]]
    assert held[0]["NetworkInterfaceId"] == net.sources[0]
    assert held[0]["SessionNumber"] == original["SessionNumber"]
    assert held[0]["VirtualNetworkId"] == original["VirtualNetworkId"]

    assert aws.delete("rollback").status == "DELETE_COMPLETE"
    assert eventually(aws, lambda: ids_on(aws, *net.sources), lambda ids: not ids) == set()
