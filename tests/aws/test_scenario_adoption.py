"""The README's migration from AWS::EC2::TrafficMirrorSession, step by step: the native
resource's session is retained, forgotten, then adopted by Custom::TrafficMirrorSession;
one session with the same ID, number and VXLAN ID throughout."""

from __future__ import annotations

import random
from typing import Any

import pytest

from local.aws.backend import Backend, eventually, sessions_on
from tests.aws.templates import basic, session, suite_tags, template
from traffic_mirror.sessions.adoption import ADOPTABLE_KEY

RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
#: A stack needs one resource while the session is in none of its resources (step 3).
PLACEHOLDER = {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}


def test_a_native_sessions_session_is_adopted_with_its_id_number_and_vxlan_id(
    aws: Backend,
) -> None:
    if not aws.allows_adoption:
        pytest.skip(f"{aws.provider_stack} was deployed without AllowAdoption=true")
    net = aws.network()
    vni = random.randint(1_000_000, 9_000_000)
    declared = basic(
        aws, net, SessionNumber=1, VirtualNetworkId=vni, Description="made by the native type"
    )
    native: dict[str, Any] = {"Type": "AWS::EC2::TrafficMirrorSession", "Properties": declared}
    outputs = {"NativeId": {"Ref": "Native"}}

    def the_one(session_id: str) -> dict[str, Any]:
        held = eventually(
            aws,
            lambda: sessions_on(aws, *net.sources),
            lambda s: [x["TrafficMirrorSessionId"] for x in s] == [session_id],
        )
        assert [s["TrafficMirrorSessionId"] for s in held] == [session_id], held
        assert (held[0]["SessionNumber"], held[0]["VirtualNetworkId"]) == (1, vni)
        return held[0]

    made = aws.deploy("adoption", template({**PLACEHOLDER, "Native": native}, **outputs))
    assert made.status == "CREATE_COMPLETE", made.reason
    session_id = made.outputs["NativeId"]
    the_one(session_id)

    # Step 2: Retain, and the owner's consent to adoption by this provider.
    tagged = {
        **native,
        **RETAIN,
        "Properties": {
            **declared,
            "Tags": suite_tags(aws, **{ADOPTABLE_KEY: aws.provider_stack}),
        },
    }
    step = aws.deploy("adoption", template({**PLACEHOLDER, "Native": tagged}, **outputs))
    assert step.status == "UPDATE_COMPLETE", step.reason
    the_one(session_id)

    # Step 3: removed from the template; CloudFormation forgets it, EC2 keeps it.
    step = aws.deploy("adoption", template(dict(PLACEHOLDER)))
    assert step.status == "UPDATE_COMPLETE", step.reason
    the_one(session_id)

    # Step 4: the custom resource adopts it, with Retain for this update.
    custom = {**session(aws, **declared, AdoptSessionId=session_id), **RETAIN}
    step = aws.deploy("adoption", template({**PLACEHOLDER, "WebMirror": custom}, "WebMirror"))
    assert step.status == "UPDATE_COMPLETE", step.reason
    assert step.outputs["WebMirrorId"] == session_id
    assert step.outputs["WebMirrorVni"] == str(vni)
    adopted = the_one(session_id)
    keys = {t["Key"] for t in adopted.get("Tags", [])}
    # Undeclared tags go, the adoptable one too, unless AWS's own (aws:cloudformation:*, which
    # CloudFormation puts on what it makes in a real account) are there: then none is removed.
    reserved = any(k.startswith("aws:") for k in keys)
    assert (ADOPTABLE_KEY in keys) == reserved, keys

    # Step 5: Retain removed; from now on deleting the stack deletes the session.
    custom = session(aws, **declared, AdoptSessionId=session_id)
    step = aws.deploy("adoption", template({**PLACEHOLDER, "WebMirror": custom}, "WebMirror"))
    assert step.status == "UPDATE_COMPLETE", step.reason
    the_one(session_id)

    assert aws.delete("adoption").status == "DELETE_COMPLETE"
    assert eventually(aws, lambda: sessions_on(aws, *net.sources), lambda s: not s) == []
