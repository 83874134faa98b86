"""make demo and make invoke: the newcomer's first commands work, and fail when they should."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local import demo
from local.ec2sim import EmbeddedEc2, Fixtures
from local.invoke import invoke, main
from local.lambda_loader import ROOT, Handler, LambdaContext
from local.receiver import ResponseReceiver, put_json


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_plays_the_whole_lifecycle() -> None:
    result = run_module("local.demo")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line[:4] in ("ok  ", "BAD ")]
    assert len(rows) == 11 and all(r.startswith("ok  ") for r in rows), rows
    assert "FAILED   create-failed-" in rows[4]
    assert "SUCCESS  dryrun-" in rows[6] and "#2" in rows[6]  # preflight, number allocated
    assert "SUCCESS  tms-" in rows[7] and "#2" in rows[7]
    assert "reason: Invalid properties: SessionNumber must be between 1 and 32766" in result.stdout
    ref = next(line for line in result.stdout.splitlines() if "Ref MirrorSession" in line)
    att = next(line for line in result.stdout.splitlines() if "MirrorSession.Id " in line)
    assert ref.split("= ")[1].startswith("tms-") and ref.split("= ")[1] == att.split("= ")[1]
    vni = next(line for line in result.stdout.splitlines() if "VirtualNetworkId =" in line)
    assert vni.split("= ")[1].isdigit()
    assert "EC2 holds 0 session(s) at the end" in result.stdout
    assert "X-Amz-Signature" not in result.stdout + result.stderr


def test_demo_fails_when_ec2_and_cloudformation_disagree(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def liar(event: dict[str, Any], context: LambdaContext) -> None:
        """Answers SUCCESS to everything and touches no EC2."""
        put_json(
            event["ResponseURL"],
            {**event, "Status": "SUCCESS", "PhysicalResourceId": "tms-0123456789"},
        )

    monkeypatch.setattr(demo, "load_handler", lambda: liar)
    assert demo.run(tmp_path / "log.jsonl") == 1
    out = capsys.readouterr().out
    assert "BAD  1. Create" in out and "DEMO FAILED" in out


def test_invoke_cli_delivers_the_sample_create() -> None:
    result = run_module("local.invoke", "events/create.json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"].startswith("tms-")
    assert "(EC2 now holds 1 session(s))" in result.stdout


@pytest.mark.parametrize(
    ("name", "check"),
    [
        (
            "update.json",
            lambda s: s[0]["PacketLength"] == 128 and s[0]["Description"] == "web tier, DNS only",
        ),
        ("delete.json", lambda s: s == []),
        ("create-dry-run.json", lambda s: s == []),  # checked with EC2, nothing created
    ],
)
def test_invoke_sets_up_the_session_that_update_and_delete_name(
    handler: Handler,
    receiver: ResponseReceiver,
    ec2: EmbeddedEc2,
    fx: Fixtures,
    name: str,
    check: Any,
) -> None:
    body = invoke(ROOT / "events" / name, handler, receiver, fx, io.StringIO())
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert check(ec2.sessions())


def test_invoke_reports_failed_events_with_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        (ROOT / "events" / "create.json")
        .read_text()
        .replace('"SessionNumber": "1"', '"SessionNumber": "0"')
    )
    result = run_module("local.invoke", str(bad))
    assert result.returncode == 1
    assert '"Status": "FAILED"' in result.stdout and "SessionNumber" in result.stdout


def test_invoke_usage() -> None:
    assert main([]) == 2 and main(["no/such/file.json"]) == 2
