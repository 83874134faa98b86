"""``tms-audit`` against the embedded EC2: sessions made through the provider's handler, drift
and orphans made by hand, then the command as an operator runs it (in-process through
``main``, and once as the console script the project installs)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.receiver import ResponseReceiver
from local.harness.stacks import STACKS
from tests.conftest import props
from tms_audit.cli import main


@pytest.fixture(autouse=True)
def provider_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """main() sets MANAGED_BY (and AWS_DEFAULT_REGION) and quiets the package's logger, as the
    command's own process may; all three are put back after each test."""
    monkeypatch.setenv("MANAGED_BY", "traffic-mirror-provider")
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    package = logging.getLogger("mirror_session")
    level = package.level
    yield
    package.setLevel(level)


def run(*argv: str, answer: str = "") -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out, ask=lambda prompt: answer)
    return status, out.getvalue()


@pytest.fixture
def drifted_and_orphaned(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures, receiver: ResponseReceiver
) -> tuple[str, str]:
    """One session whose filter was changed by hand, one whose stack is gone."""
    drifted = stack.create(props(fx))["PhysicalResourceId"]
    ec2.client().modify_traffic_mirror_session(
        TrafficMirrorSessionId=drifted, TrafficMirrorFilterId=fx.filter_ids[1]
    )
    gone = CustomResource(stack.handler, receiver, logical_id="Gone")
    orphan = gone.create(props(fx, NetworkInterfaceId=fx.sources[1]))["PhysicalResourceId"]
    STACKS.delete_stack(gone.stack_id)
    return drifted, orphan


def test_a_healthy_account_prints_no_finding_and_exits_zero(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    assert stack.create(props(fx))["Status"] == "SUCCESS"
    status, out = run()
    assert status == 0
    assert out.strip() == "0 finding(s): 1 recorded session(s) compared, 1 marked session(s) read"


def test_findings_are_listed_as_a_table_and_the_exit_status_is_one(
    ec2: EmbeddedEc2, fx: Fixtures, drifted_and_orphaned: tuple[str, str]
) -> None:
    drifted, orphan = drifted_and_orphaned
    before = len(ec2.calls)
    status, out = run()
    assert status == 1
    header, *rows, summary = out.strip().splitlines()
    assert header.split() == ["KIND", "SESSION", "OWNER", "FIELD", "EXPECTED", "ACTUAL", "DETAIL"]
    assert sorted(r.split()[:2] for r in rows) == sorted([["field", drifted], ["orphaned", orphan]])
    field_row = next(r for r in rows if r.startswith("field"))
    assert fx.filter_ids[0] in field_row and fx.filter_ids[1] in field_row
    assert "mirror-demo/MirrorSession" in field_row
    assert summary.startswith("2 finding(s)")
    assert ec2.writes(before) == []  # read-only: drift is never restored here


def test_json_output_carries_every_field_of_each_finding(
    ec2: EmbeddedEc2, drifted_and_orphaned: tuple[str, str]
) -> None:
    drifted, orphan = drifted_and_orphaned
    status, out = run("--json")
    body = json.loads(out)
    assert status == 1
    by_kind = {f["kind"]: f for f in body["findings"]}
    assert by_kind["field"]["session"] == drifted
    assert by_kind["field"]["field"] == "TrafficMirrorFilterId"
    assert by_kind["orphaned"]["session"] == orphan
    assert by_kind["orphaned"]["detail"] == "its stack or resource no longer exists"
    assert (body["checked"], body["seen"]) == (2, 2)


def test_delete_orphans_asks_first_and_deletes_nothing_when_refused(
    ec2: EmbeddedEc2, drifted_and_orphaned: tuple[str, str]
) -> None:
    before = len(ec2.calls)
    status, out = run("--delete-orphans", answer="n")
    assert status == 1 and "Nothing deleted." in out
    assert ec2.writes(before) == [] and len(ec2.sessions()) == 2


def test_delete_orphans_with_yes_deletes_only_the_orphan(
    ec2: EmbeddedEc2, drifted_and_orphaned: tuple[str, str]
) -> None:
    drifted, orphan = drifted_and_orphaned
    status, out = run("--delete-orphans", "--yes")
    assert f"{orphan}: deleted" in out
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [drifted]
    status, out = run()
    assert status == 1 and "orphaned" not in out  # the drift stays, reported


def test_another_provider_stacks_sessions_are_not_this_ones(
    ec2: EmbeddedEc2, drifted_and_orphaned: tuple[str, str]
) -> None:
    status, out = run("--provider-stack", "someone-else")
    assert status == 0 and out.startswith("0 finding(s)")


def test_the_installed_console_script_runs_the_same_audit(
    ec2: EmbeddedEc2, drifted_and_orphaned: tuple[str, str]
) -> None:
    script = Path(sys.executable).parent / "tms-audit"
    assert script.is_file(), "make venv installs the project (pip install -e .)"
    env = {**os.environ, "MANAGED_BY": "traffic-mirror-provider"}
    done = subprocess.run(
        [str(script), "--json"], check=False, capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert {f["kind"] for f in json.loads(done.stdout)["findings"]} == {"field", "orphaned"}
