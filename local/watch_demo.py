"""The part of ``make demo`` after the deploy: the reconciler's scheduled sweep finds drift
(restoring the session whose OnDrift is Restore, reporting the other), and ``tms-audit`` lists
an orphan, then deletes it. Returns the number of surprises."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import IO, Any

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource, new_stack_id
from local.harness.fleets import scheduled_event
from local.harness.lambda_loader import LambdaContext, load_handler
from local.harness.receiver import ResponseReceiver
from local.harness.stacks import STACKS
from tms_audit.cli import main as tms_audit


def _findings(log_path: Path, since: int) -> list[dict[str, Any]]:
    """The finding lines the function logged since byte ``since`` of its log."""
    with log_path.open() as log:
        log.seek(since)
        lines = [json.loads(x) for x in log if x.startswith("{") and '"kind"' in x]
    return [x for x in lines if str(x.get("message", "")).startswith("session ")]


def _check(ok: bool, text: str) -> int:
    print(f"{'ok ' if ok else 'BAD'}  {text}")
    return 0 if ok else 1


def _audit(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = tms_audit(list(argv), out=out, ask=lambda prompt: "")
    return status, out.getvalue()


def watch(
    ec2: EmbeddedEc2,
    *,
    rx: ResponseReceiver,
    reported: CustomResource,
    restored: CustomResource,
    fx: Fixtures,
    log: IO[str],
    log_path: Path,
) -> int:
    """Drift by hand, one sweep, one orphan, the command; see the module doc."""
    print("\nAfter the deploy: the reconciler's scheduled sweep and tms-audit")
    live = {s["TrafficMirrorSessionId"] for s in ec2.sessions()}
    if not {reported.physical_id, restored.physical_id} <= live:
        return _check(False, "nothing to watch: the stack's sessions are not in EC2")
    client = ec2.client()
    declared = restored.props["TrafficMirrorFilterId"]
    other = next(f for f in fx.filter_ids if f != declared)
    client.modify_traffic_mirror_session(
        TrafficMirrorSessionId=str(restored.physical_id), TrafficMirrorFilterId=other
    )
    client.modify_traffic_mirror_session(
        TrafficMirrorSessionId=str(reported.physical_id), Description="changed in the console"
    )
    ec2.wait_visible()  # the console's changes show in EC2's reads before the sweep runs
    print(f"  by hand: {restored.logical_id}'s filter and {reported.logical_id}'s description")
    with contextlib.redirect_stdout(log):
        reconciler = load_handler(function="ReconcilerFunction")
        log.flush()
        mark = log_path.stat().st_size
        reconciler(scheduled_event(), LambdaContext(timeout_s=60))
        log.flush()
    for f in _findings(log_path, mark):
        print(
            f"  sweep: {f['kind']} drift on {f['session']} ({f['logical_id']}): {f['field']} "
            f"declared {f['expected']!r}, found {f['actual']!r} -> {f['action']}"
        )
    held = {s["TrafficMirrorSessionId"]: s for s in ec2.sessions()}
    surprises = _check(
        held[restored.physical_id]["TrafficMirrorFilterId"] == declared,
        f"{restored.logical_id} (OnDrift: Restore) is back on its declared filter",
    )
    surprises += _check(
        held[reported.physical_id].get("Description") == "changed in the console",
        f"{reported.logical_id} (OnDrift: Report, the default) is reported, left as found",
    )

    retained = CustomResource(
        reported.handler, rx, logical_id="RetainedSession", stack_id=new_stack_id("retired")
    )
    with contextlib.redirect_stdout(log):
        orphan = retained.create(
            {
                "NetworkInterfaceId": fx.sources[2],
                "TrafficMirrorTargetId": fx.target_id,
                "TrafficMirrorFilterId": fx.filter_ids[0],
            }
        )["PhysicalResourceId"]
    STACKS.delete_stack(retained.stack_id)
    print(f"\n  another stack made {orphan}, then was deleted with it retained: an orphan")
    print("  $ tms-audit")
    status, out = _audit()
    print("\n".join(f"    {line}" for line in out.rstrip().splitlines()))
    print(f"    (exit status {status})")
    surprises += _check(status == 1 and f"orphaned  {orphan}" in out, "the orphan is listed")
    print("  $ tms-audit --delete-orphans --yes")
    status, out = _audit("--delete-orphans", "--yes")
    print("\n".join(f"    {line}" for line in out.rstrip().splitlines()[-1:]))
    surprises += _check(
        orphan not in {s["TrafficMirrorSessionId"] for s in ec2.sessions()},
        "the orphan is deleted; the drifted session is not touched",
    )
    return surprises
