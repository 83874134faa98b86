"""``make invoke EVENT=events/create.json``: one event to the handler, like ``sam local invoke``
without Docker. Prints the response body CloudFormation would receive; exits 1 on FAILED.

Example::

    python -m local.invoke events/update.json
"""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

from local.ec2sim import EmbeddedEc2, Fixtures
from local.events import Stack, render
from local.lambda_loader import Handler, load_handler
from local.receiver import ResponseReceiver


def placeholders(fx: Fixtures) -> dict[str, str]:
    """Values for an event file's ``{{placeholders}}``, from the embedded fixtures."""
    return {
        "NetworkInterfaceId": fx.sources[0],
        "SecondNetworkInterfaceId": fx.sources[1],
        "TrafficMirrorTargetId": fx.target_id,
        "TrafficMirrorFilterId": fx.filter_ids[0],
        "SecondTrafficMirrorFilterId": fx.filter_ids[1],
    }


def invoke(
    path: Path, handler: Handler, rx: ResponseReceiver, fx: Fixtures, log: TextIO
) -> dict[str, Any]:
    """Render ``path``, create its session first if it names ``{{PhysicalResourceId}}``,
    deliver it, and return the response body."""
    text = path.read_text()
    values = placeholders(fx)
    cloudformation = Stack(handler, rx)
    if "{{PhysicalResourceId}}" in text:
        probe = render(text, {**values, "ResponseURL": "https://x", "RequestId": "x"})
        setup_props = probe.get("OldResourceProperties") or probe["ResourceProperties"]
        cloudformation.stack = probe["StackId"]
        cloudformation.logical_id = probe["LogicalResourceId"]
        with contextlib.redirect_stdout(log):
            created = cloudformation.send(cloudformation.make("Create", setup_props))
        print(f"(set up: Create answered {created['Status']} {created['PhysicalResourceId']})")
        values["PhysicalResourceId"] = created["PhysicalResourceId"]
    rid = str(uuid.uuid4())
    event = render(text, {**values, "RequestId": rid, "ResponseURL": rx.url_for(rid)})
    with contextlib.redirect_stdout(log):
        return cloudformation.send(event)


def main(argv: list[str]) -> int:
    """Entry point; returns the exit code."""
    if len(argv) != 1 or not Path(argv[0]).is_file():
        print("usage: python -m local.invoke EVENT_FILE   (for example events/create.json)")
        return 2
    log = sys.stderr  # the function's JSON log lines, apart from the response on stdout
    with EmbeddedEc2() as ec2, ResponseReceiver() as rx:
        fx = ec2.fixtures()
        with contextlib.redirect_stdout(log):
            handler = load_handler()
        body = invoke(Path(argv[0]), handler, rx, fx, log)
        print(json.dumps(body, indent=2))
        print(f"(EC2 now holds {len(ec2.sessions())} session(s))")
    return 0 if body["Status"] == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
