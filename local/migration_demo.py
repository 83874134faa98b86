"""``make demo-migration``: the README's six Migration steps, played against an embedded EC2.

A session made by ``AWS::EC2::TrafficMirrorSession`` (``WebMirror`` in the stack
``legacy-network``) moves to ``Custom::TrafficMirrorSession``: adoption allowed on the
provider (1), the native resource retained and tagged adoptable (2), removed from the
template (3, after ``tms-audit --adoptable`` printed the resource to paste), declared as a
custom resource that adopts it (4, a dry run first), its Retain removed (5), adoption turned
off again (6); then an update in place and the stack's deletion. A step that sends no event
to the provider says what it does instead. After every step it prints the session as EC2
holds it and checks what the migration promises: one session, with the same ID,
SessionNumber and VXLAN ID, mirroring the whole time. Exits 1 on any surprise.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.harness.ec2sim import EmbeddedEc2
from local.harness.events import CustomResource, new_stack_id
from local.harness.iam_policies import role_policies
from local.harness.lambda_loader import ROOT, load_handler, read_template
from local.harness.receiver import ResponseReceiver
from local.harness.stacks import STACKS
from tms_audit.cli import main as tms_audit

PROVIDER = "traffic-mirror-provider"  # the provider stack's name (its managed-by marker)
ADOPTABLE = "traffic-mirror:adoptable"
NATIVE = "AWS::EC2::TrafficMirrorSession"
ADOPT_SID = "AdoptUnmarkedSessions"  # the statement AllowAdoption adds to the roles


@dataclass
class Step:
    """One Migration step: what it does, and what EC2 must hold afterwards."""

    title: str
    act: Callable[[], str]  # does it; returns what it did, in words
    gone: bool = False  # the session is deleted by this step (the stack's deletion)


def adoption_statement(allow: str) -> str:
    """Whether ProviderRole (template.yaml) and MemberRole (examples/member-role.yaml) carry
    the adoption statement for AllowAdoption=``allow``, as CloudFormation renders them."""
    held = []
    for path, role in (
        (ROOT / "template.yaml", "ProviderRole"),
        (ROOT / "examples" / "member-role.yaml", "MemberRole"),
    ):
        policies = role_policies(read_template(path), role, {"AllowAdoption": allow})
        sids = {s.get("Sid") for doc in policies.values() for s in doc["Statement"]}
        held.append(ADOPT_SID in sids)
    if all(held):
        return f"ProviderRole and MemberRole gain {ADOPT_SID} (ec2:CreateTags, their 4 tags only)"
    if not any(held):
        return f"ProviderRole and MemberRole lose {ADOPT_SID}"
    return f"ProviderRole and MemberRole disagree on {ADOPT_SID}: {held}"


def main() -> int:
    """Play the migration; print each step and the session after it; 0 when every promise
    held."""
    failures = 0
    with EmbeddedEc2() as ec2, ResponseReceiver() as rx:
        with contextlib.redirect_stdout(io.StringIO()):
            handler = load_handler()
        fx = ec2.fixtures()
        client = ec2.client()
        native = client.create_traffic_mirror_session(
            NetworkInterfaceId=fx.sources[0],
            TrafficMirrorTargetId=fx.target_id,
            TrafficMirrorFilterId=fx.filter_ids[0],
            SessionNumber=1,
            Description="made by AWS::EC2::TrafficMirrorSession",
        )["TrafficMirrorSession"]
        ec2.wait_visible()  # the native stack's session, long there when the migration starts
        sid, vni = native["TrafficMirrorSessionId"], native["VirtualNetworkId"]
        legacy = new_stack_id("legacy-network")
        STACKS.answered(legacy, "WebMirror", "Create", sid, NATIVE)
        print(f"before: {NATIVE} WebMirror in stack legacy-network")
        print(f"        session {sid}  #1  VNI {vni}\n")
        declared = {
            "NetworkInterfaceId": fx.sources[0],
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[0],
            "SessionNumber": "1",
            "Description": "made by AWS::EC2::TrafficMirrorSession",
            "AdoptSessionId": sid,
        }
        custom = CustomResource(handler, rx, logical_id="WebMirror", stack_id=legacy)

        def answered(body: dict[str, Any]) -> str:
            if body["Status"] != "SUCCESS":
                raise RuntimeError(f"answered {body['Status']}: {body.get('Reason')}")
            return f"{body['Status']} {body['PhysicalResourceId']}"

        def tag() -> str:
            client.create_tags(Resources=[sid], Tags=[{"Key": ADOPTABLE, "Value": PROVIDER}])
            ec2.wait_visible()  # the stack update that tags it completes before the next
            return (
                f"no provider event: CloudFormation tags the session {ADOPTABLE}={PROVIDER} "
                "in place (CreateTags); Retain is CloudFormation's own"
            )

        def forget() -> str:
            out = io.StringIO()
            status = tms_audit(["--adoptable", "legacy-network"], out=out)
            shown = [line for line in out.getvalue().splitlines() if sid in line][:2]
            STACKS.answered(legacy, "WebMirror", "Delete", sid, NATIVE)
            lines = [
                "no provider event: CloudFormation forgets the session, and Retain keeps it",
                f"first, $ tms-audit --adoptable legacy-network (exit {status}) prints:",
                *(f"  {line.strip()}" for line in shown),
            ]
            return "\n       ".join(lines)

        steps = [
            Step(
                "1. AllowAdoption=true, provider (member role)",
                lambda: f"no session event: a provider update; {adoption_statement('true')}",
            ),
            Step("2. native resource: Retain, adoptable tag", tag),
            Step("3. native resource removed from the template", forget),
            Step(
                "4a. custom resource, DryRun: the preflight",
                lambda: answered(
                    custom.send(custom.make("Create", {**declared, "DryRun": "true"}))
                ),
            ),
            Step(
                "4b. custom resource adopts the session",
                lambda: answered(custom.create(declared)),
            ),
            Step(
                "5. Retain removed from the custom resource",
                lambda: (
                    "no provider event: a DeletionPolicy is CloudFormation's own; deleting "
                    "WebMirror now deletes the session"
                ),
            ),
            Step(
                "6. AllowAdoption=false again (optional)",
                lambda: f"no session event: a provider update; {adoption_statement('false')}",
            ),
            Step(
                "later: an update in place",
                lambda: answered(
                    custom.update({**declared, "Description": "managed by the stack"})
                ),
            ),
            Step("later: the stack is deleted", lambda: answered(custom.delete()), gone=True),
        ]
        for step in steps:
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # the function's log lines
                    said = step.act()
                problem = None
            except Exception as exc:  # noqa: BLE001 - a step that breaks is a broken promise
                said, problem = f"raised {type(exc).__name__}", str(exc)
            held = ec2.sessions()
            now = [
                f"{s['TrafficMirrorSessionId']} #{s['SessionNumber']} VNI {s['VirtualNetworkId']}"
                for s in held
            ]
            if step.gone:
                problem = problem or (f"{len(held)} session(s) left" if held else None)
            elif [
                (s["TrafficMirrorSessionId"], s["SessionNumber"], s["VirtualNetworkId"])
                for s in held
            ] != [(sid, 1, vni)]:
                problem = problem or f"EC2 holds {now or 'no session'}, not {sid} #1 VNI {vni}"
            failures += problem is not None
            print(f"{'ok ' if problem is None else 'BAD'} {step.title:<46} {said}")
            print(f"       session: {', '.join(now) or 'none (deleted with the stack)'}")
            if problem:
                print(f"       PROBLEM: {problem}")
        creates = len(ec2.requests("CreateTrafficMirrorSession")) - 1  # after the native one
        failures += creates != 0
        print(f"\nCreateTrafficMirrorSession calls after the native one: {creates}")
    if failures:
        print(f"MIGRATION FAILED: {failures} promise(s) broken")
        return 1
    print(
        f"checked: the same session ID ({sid}), the same SessionNumber (1) and the same VNI "
        f"({vni}) before, during and after adoption, and no gap: the session existed after "
        "every step and no second one was made"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
