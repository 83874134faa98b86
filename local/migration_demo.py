"""``make demo-migration``: the README's Migration steps, played against an embedded EC2.

A session made by ``AWS::EC2::TrafficMirrorSession`` is retained, removed from the template,
then adopted by ``Custom::TrafficMirrorSession`` (``AdoptSessionId``), updated and finally
deleted with the stack. After every step it checks what the migration promises: one session,
with the same ID, SessionNumber and VXLAN ID, mirroring the whole time. Exits 1 on any surprise.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable
from typing import Any

from local.harness.ec2sim import EmbeddedEc2
from local.harness.events import CustomResource
from local.harness.lambda_loader import load_handler
from local.harness.receiver import ResponseReceiver

Check = Callable[[list[dict[str, Any]]], str | None]


def main() -> int:
    """Play the migration; print one line per step; 0 when every promise held."""
    failures = 0
    with EmbeddedEc2() as ec2, ResponseReceiver() as rx:
        with contextlib.redirect_stdout(io.StringIO()):
            handler = load_handler()
        fx = ec2.fixtures()
        native = ec2.client().create_traffic_mirror_session(
            NetworkInterfaceId=fx.sources[0],
            TrafficMirrorTargetId=fx.target_id,
            TrafficMirrorFilterId=fx.filter_ids[0],
            SessionNumber=1,
            Description="made by AWS::EC2::TrafficMirrorSession",
            # Step 2 tags it as adoptable by this provider, with DeletionPolicy: Retain.
            TagSpecifications=[
                {
                    "ResourceType": "traffic-mirror-session",
                    "Tags": [
                        {"Key": "traffic-mirror:adoptable", "Value": "traffic-mirror-provider"}
                    ],
                }
            ],
        )["TrafficMirrorSession"]
        sid, vni = native["TrafficMirrorSessionId"], native["VirtualNetworkId"]
        print(f"the native resource's session: {sid}  #1  VNI={vni}\n")
        declared = {
            "NetworkInterfaceId": fx.sources[0],
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[0],
            "SessionNumber": "1",
            "Description": "made by AWS::EC2::TrafficMirrorSession",
            "AdoptSessionId": sid,
        }
        custom = CustomResource(handler, rx, logical_id="WebMirror")

        def unchanged(held: list[dict[str, Any]]) -> str | None:
            if [s["TrafficMirrorSessionId"] for s in held] != [sid]:
                return f"EC2 holds {[s['TrafficMirrorSessionId'] for s in held]}, not [{sid}]"
            if held[0]["SessionNumber"] != 1 or held[0]["VirtualNetworkId"] != vni:
                return "the SessionNumber or VXLAN ID changed"
            return None

        steps: list[tuple[str, Callable[[], dict[str, Any] | None], Check]] = [
            ("2. Retain + adoptable tag on the native resource", lambda: None, unchanged),
            ("3. native resource removed from the template", lambda: None, unchanged),
            (
                "4a. custom resource, DryRun: the preflight",
                lambda: custom.send(custom.make("Create", {**declared, "DryRun": "true"})),
                unchanged,
            ),
            ("4b. custom resource adopts the session", lambda: custom.create(declared), unchanged),
            (
                "later: an update in place",
                lambda: custom.update({**declared, "Description": "managed by the stack"}),
                unchanged,
            ),
            (
                "later: the stack is deleted",
                custom.delete,
                lambda held: None if held == [] else f"{len(held)} session(s) left",
            ),
        ]
        for title, act, check in steps:
            with contextlib.redirect_stdout(io.StringIO()):  # the function's log lines
                answer = act()
            status = answer["Status"] if answer else "-"
            problem = check(ec2.sessions())
            if answer and answer["Status"] != "SUCCESS":
                problem = f"answered {answer['Status']}: {answer.get('Reason')}"
            failures += problem is not None
            physical = answer["PhysicalResourceId"] if answer else "(no event: EC2 untouched)"
            mark = "ok " if problem is None else "BAD"
            print(f"{mark} {title:<50} {status:<8} {physical}")
            if problem:
                print(f"    {problem}")
        creates = len(ec2.requests("CreateTrafficMirrorSession"))
        print(f"\nCreateTrafficMirrorSession calls after the native one: {creates - 1}")
        failures += creates != 1
    print("migration promises held" if not failures else f"{failures} promise(s) broken")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
