"""``make demo``: the whole custom resource lifecycle against an embedded EC2, no AWS account.

Delivers real CloudFormation events, in the order CloudFormation sends them, to the handler
loaded from template.yaml; responses land on a local HTTPS receiver. After every step it checks
that EC2 holds exactly the sessions CloudFormation would believe exist. Exits 1 on any surprise.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.lambda_loader import ROOT, handler_location, load_handler
from local.harness.receiver import ResponseReceiver
from local.watch_demo import watch


@dataclass
class Step:
    """One event CloudFormation would send, and what must come of it."""

    title: str
    expect: str  # SUCCESS or FAILED
    send: Callable[[], dict[str, Any]]
    live: Callable[[], set[str]]  # the session IDs CloudFormation believes exist afterwards
    outputs: bool = False  # the stack's outputs are shown right after this step
    watch: bool = False  # then the reconciler's sweep and tms-audit (local/watch_demo.py)


def _row(n: int, step: Step, body: dict[str, Any], ms: float, ok: bool) -> str:
    data = body.get("Data") or {}
    # An empty attribute (a dry run has no VNI yet) shows as "-", like an absent one.
    keys = f"VNI={data.get('VirtualNetworkId') or '-':<9} #{data.get('SessionNumber') or '-':<3}"
    mark = "ok " if ok else "BAD"
    line = (
        f"{mark}{n:>3}. {step.title:<38} {body['Status']:<8} "
        f"{body['PhysicalResourceId']:<32} {keys} {ms:7.1f} ms"
    )
    if body.get("Reason"):
        line += f"\n       reason: {body['Reason']}"
    return line


def build_steps(
    main: CustomResource, bad: CustomResource, extra: CustomResource, fx: Fixtures
) -> list[Step]:
    """One session's lifecycle (create, update in place, a replacing update and its cleanup, a
    failed create and its rollback), then a second session's DryRun preflight and its real
    deploy with an allocated number, and the stack's deletion, as CloudFormation drives them."""
    props = {
        "NetworkInterfaceId": fx.sources[0],
        "TrafficMirrorTargetId": fx.target_id,
        "TrafficMirrorFilterId": fx.filter_ids[0],
        "SessionNumber": "1",
        "Description": "web tier, all TCP",
        "Tags": [{"Key": "team", "Value": "netsec"}],
    }
    state: dict[str, str] = {}

    def create() -> dict[str, Any]:
        return main.create(props)

    def update_in_place() -> dict[str, Any]:
        return main.update(
            {
                **props,
                "Description": "web tier, DNS only",
                "TrafficMirrorFilterId": fx.filter_ids[1],
            }
        )

    def update_replace() -> dict[str, Any]:
        state["old"] = str(main.physical_id)
        return main.update({**main.props, "NetworkInterfaceId": fx.sources[1]})

    def cleanup_old() -> dict[str, Any]:
        return main.delete(state["old"])

    def bad_create() -> dict[str, Any]:
        body = bad.create({**props, "NetworkInterfaceId": fx.sources[2], "SessionNumber": "40000"})
        state["bad"] = body["PhysicalResourceId"]
        return body

    def rollback_delete() -> dict[str, Any]:
        return bad.delete(state["bad"])

    def preflight() -> dict[str, Any]:
        second = {k: v for k, v in props.items() if k != "SessionNumber"}  # allocated
        second["OnDrift"] = "Restore"  # the sweep puts it back if changed by hand
        body = extra.create({**second, "NetworkInterfaceId": fx.sources[1], "DryRun": "true"})
        state["dry"] = body["PhysicalResourceId"]
        return body

    def deploy_for_real() -> dict[str, Any]:
        return extra.update({k: v for k, v in extra.props.items() if k != "DryRun"})

    def cleanup_dry_run() -> dict[str, Any]:
        return extra.delete(state["dry"])

    def final_delete() -> dict[str, Any]:
        return main.delete()

    def final_delete_extra() -> dict[str, Any]:
        return extra.delete()

    def current() -> set[str]:
        return {str(main.physical_id)}

    def with_extra() -> set[str]:
        return {str(main.physical_id), str(extra.physical_id)}

    def only_extra() -> set[str]:
        return {str(extra.physical_id)}

    def replaced_pair() -> set[str]:
        return {state["old"], str(main.physical_id)}

    return [
        Step("Create", "SUCCESS", create, current),
        Step("Update in place (description, filter)", "SUCCESS", update_in_place, current),
        Step("Update that replaces (new interface)", "SUCCESS", update_replace, replaced_pair),
        # CloudFormation's update is complete once the old session is cleaned up.
        Step("Cleanup Delete of the old session", "SUCCESS", cleanup_old, current, outputs=True),
        Step("Create with SessionNumber 40000", "FAILED", bad_create, current),
        Step("Rollback Delete of the failed Create", "SUCCESS", rollback_delete, current),
        Step("Second session: DryRun preflight", "SUCCESS", preflight, current),
        Step("Real deploy, SessionNumber omitted", "SUCCESS", deploy_for_real, with_extra),
        Step("Cleanup Delete of the dry run", "SUCCESS", cleanup_dry_run, with_extra, watch=True),
        Step("Delete MirrorSession (stack deleted)", "SUCCESS", final_delete, only_extra),
        Step("Delete SecondSession (stack deleted)", "SUCCESS", final_delete_extra, set),
    ]


LOG = ROOT / "build" / "demo-function-log.jsonl"


def run(log_path: Path = LOG) -> int:
    """Run the demo; return the process exit code.

    The function's own output (JSON log lines and EMF metrics, as CloudWatch would receive
    them) goes to ``log_path`` so the rows stay readable.
    """
    print("Setting up (no AWS account needed):")
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        EmbeddedEc2() as ec2,
        ResponseReceiver() as rx,
        log_path.open("w") as log,
    ):
        print(f"  embedded EC2 (moto, realistic)  {ec2.endpoint}")
        print(f"  CloudFormation response receiver https://localhost:{rx.port}")
        fx = ec2.fixtures()
        print(f"  network                         {fx.vpc_id}, {fx.subnet_id}")
        print(f"  source interfaces               {', '.join(fx.sources)}")
        print(f"  target, filters                 {fx.target_id}, {', '.join(fx.filter_ids)}")
        code_dir, spec = handler_location()
        with contextlib.redirect_stdout(log):  # the logger binds its stream at import
            handler = load_handler()
        print(f"  handler                         {spec} from {code_dir.name}/ (template.yaml)")
        print(f"  ready in {(time.monotonic() - started) * 1000:.0f} ms\n")

        main = CustomResource(handler, rx, logical_id="MirrorSession")
        bad = CustomResource(handler, rx, logical_id="BadSession", stack_id=main.stack_id)
        extra = CustomResource(handler, rx, logical_id="SecondSession", stack_id=main.stack_id)
        failures = 0
        print("Lifecycle, as CloudFormation sends it:")
        steps = build_steps(main, bad, extra, fx)
        for n, step in enumerate(steps, start=1):
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(log):
                body = step.send()
            ms = (time.perf_counter() - t0) * 1000
            live = {s["TrafficMirrorSessionId"] for s in ec2.sessions()}
            expected = step.live()
            ok = body["Status"] == step.expect and live == expected
            failures += not ok
            print(_row(n, step, body, ms, ok))
            if live != expected:
                print(f"       EC2 holds {sorted(live)}, CloudFormation expects {sorted(expected)}")
            if step.outputs:
                show_outputs(n, {"Ref": main.physical_id, **main_data(main, rx)})
            if step.watch:
                failures += watch(
                    ec2, rx=rx, reported=main, restored=extra, fx=fx, log=log, log_path=log_path
                )
                print("\nThe stack is deleted:")
        remaining = ec2.sessions()
        lines = log_path.read_text().count("\n")
        print(f"\nEC2 holds {len(remaining)} session(s) at the end; CloudFormation expects 0.")
        print(f"The function's {lines} log and metric lines (JSON): {_shown(log_path)}")
    if failures or remaining:
        print(f"\nDEMO FAILED: {failures} step(s) differed from CloudFormation's expectation.")
        return 1
    elapsed = time.monotonic() - started
    print(f"\nAll {len(steps)} steps behaved as CloudFormation expects ({elapsed:.1f} s).")
    return 0


def show_outputs(step: int, outputs: dict[str, Any]) -> None:
    """The stack's outputs as they stand after ``step`` (printed right under its row)."""
    print(f"       Stack outputs after step {step} (the update complete):")
    print(f"         Ref MirrorSession                         = {outputs.get('Ref')}")
    print(f"         Fn::GetAtt MirrorSession.Id               = {outputs.get('Id')}")
    print(f"         Fn::GetAtt MirrorSession.VirtualNetworkId = {outputs.get('VirtualNetworkId')}")


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main_data(stack: CustomResource, rx: ResponseReceiver) -> dict[str, Any]:
    """The Data of the last SUCCESS that carried attributes for ``stack``'s resource."""
    for received in reversed(rx.received):
        body = received.body
        if body["LogicalResourceId"] == stack.logical_id and body.get("Data"):
            data: dict[str, Any] = body["Data"]
            return data
    return {}


if __name__ == "__main__":
    sys.exit(run())
