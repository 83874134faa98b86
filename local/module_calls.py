"""``python -m local.module_calls``: how far a request travels through the provider's modules.

Counts, for three flows run against the embedded EC2, the calls from one provider module into
another (a call inside a module is not counted; a call into boto3, crhelper or Powertools is
not either), the modules the flow passes through, and its stays: the runs of consecutive
calls in one module, with how many return to a module already left. The flows:

- a Create with SessionNumber omitted, through ProviderFunction's handler;
- an Update of its Description, through the same handler;
- the scheduled sweep (ReconcilerFunction) over that session and a fleet of two instances.

What it measures is the code's shape, not its speed: the figures are the same on any machine.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from local.harness.ec2sim import EmbeddedEc2
from local.harness.events import CustomResource
from local.harness.fleets import create_group, scheduled_event
from local.harness.lambda_loader import ROOT, LambdaContext, load_handler
from local.harness.receiver import ResponseReceiver

PROVIDER = ROOT / "provider"


def _module(path: str) -> str | None:
    """A provider module's path under provider/, or None outside it."""
    try:
        return Path(path).resolve().relative_to(PROVIDER).as_posix()
    except ValueError:
        return None


@dataclass
class Trace:
    """The calls between provider modules during one flow."""

    calls: int = 0
    modules: set[str] = field(default_factory=set)
    path: list[str] = field(default_factory=list)  # the module of each call, in order

    def profile(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        callee = _module(frame.f_code.co_filename)
        if callee is None:
            return
        self.modules.add(callee)
        caller = frame.f_back
        while caller is not None and _module(caller.f_code.co_filename) is None:
            caller = caller.f_back  # through a library (crhelper calling back in, say)
        if caller is not None and _module(caller.f_code.co_filename) != callee:
            self.calls += 1
            self.path.append(callee)

    def stays(self) -> tuple[int, int]:
        """(runs of calls in one module, runs that return to a module already left)."""
        runs = [m for n, m in enumerate(self.path) if n == 0 or self.path[n - 1] != m]
        returns = sum(m in runs[:n] for n, m in enumerate(runs))
        return len(runs), returns


@contextlib.contextmanager
def traced() -> Iterator[Trace]:
    trace = Trace()
    sys.setprofile(trace.profile)
    try:
        yield trace
    finally:
        sys.setprofile(None)


def _row(name: str, run: Callable[[], object]) -> str:
    with contextlib.redirect_stdout(io.StringIO()), traced() as trace:
        run()
    stays, returns = trace.stays()
    return f"{name:<34} {trace.calls:>6} {len(trace.modules):>8} {stays:>6} {returns:>8}"


def main() -> int:
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"  # the figures only
    with EmbeddedEc2() as ec2, ResponseReceiver() as rx:
        fx = ec2.fixtures()
        session = CustomResource(load_handler(), rx)
        fleet = CustomResource(
            load_handler(function="FleetFunction"),
            rx,
            logical_id="WebFleet",
            resource_type="Custom::TrafficMirrorFleet",
        )
        reconciler = load_handler(function="ReconcilerFunction")
        props = {
            "NetworkInterfaceId": fx.sources[0],
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[0],
        }
        print(f"{'flow':<34} {'calls':>6} {'modules':>8} {'stays':>6} {'returns':>8}")
        print(_row("Create, SessionNumber omitted", lambda: session.create(props)))
        print(_row("Update, Description", lambda: session.update({**props, "Description": "b"})))
        create_group(ec2, fx.subnet_id, 2)
        with contextlib.redirect_stdout(io.StringIO()):
            fleet.create(
                {
                    "AutoScalingGroupName": "web",
                    "TrafficMirrorTargetId": fx.target_id,
                    "TrafficMirrorFilterId": fx.filter_ids[0],
                }
            )
        print(
            _row(
                "Sweep: 1 session, a fleet of 2",
                lambda: reconciler(scheduled_event(), LambdaContext(timeout_s=300)),
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
