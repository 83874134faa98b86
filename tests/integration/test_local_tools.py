"""make demo and make invoke: the newcomer's first commands work, and fail when they should."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local import demo, fleet_demo
from local import invoke as invoke_module
from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.lambda_loader import ROOT, Handler, LambdaContext, load_handler, read_template
from local.harness.receiver import ResponseReceiver, put_json
from local.invoke import invoke, main

# The tools as users run them (no read lag, also in a suite run under one).
pytestmark = pytest.mark.usefixtures("without_read_lag")


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
    rows = [r for r in result.stdout.splitlines() if re.match(r"(ok |BAD)\s*\d+\. ", r)]
    assert len(rows) == 11 and all(r.startswith("ok  ") for r in rows), rows
    checks = [r for r in result.stdout.splitlines() if re.match(r"(ok |BAD)  [a-zA-Z]", r)]
    assert len(checks) == 4 and all(r.startswith("ok  ") for r in checks), checks
    assert re.search(
        r"sweep: field drift on tms-\w+ \(SecondSession\).* -> restored", result.stdout
    )
    assert re.search(
        r"sweep: field drift on tms-\w+ \(MirrorSession\).* -> reported", result.stdout
    )
    assert re.search(r"orphaned +tms-\w+ +retired/RetainedSession", result.stdout)
    assert "(exit status 1)" in result.stdout

    def row(title: str) -> str:
        return next(r for r in rows if f". {title} " in r)

    assert "FAILED   create-failed-" in row("Create with SessionNumber 40000")
    preflight = row("Second session: DryRun preflight")
    assert "SUCCESS  dryrun-" in preflight and "#2" in preflight  # number allocated
    assert "VNI=-  " in preflight  # not yet known: "-" as in every other empty cell
    deployed = row("Real deploy, SessionNumber omitted")
    assert "SUCCESS  tms-" in deployed and "#2" in deployed
    assert "reason: Invalid properties: SessionNumber must be between 1 and 32766" in result.stdout
    ref = next(line for line in result.stdout.splitlines() if "Ref MirrorSession" in line)
    att = next(line for line in result.stdout.splitlines() if "MirrorSession.Id " in line)
    assert ref.split("= ")[1].startswith("tms-") and ref.split("= ")[1] == att.split("= ")[1]
    vni = next(line for line in result.stdout.splitlines() if "VirtualNetworkId =" in line)
    assert vni.split("= ")[1].isdigit()
    lines = result.stdout.splitlines()
    outputs = next(i for i, line in enumerate(lines) if "Stack outputs" in line)
    assert "after step 4 " in lines[outputs]
    assert lines[outputs - 1] == row("Cleanup Delete of the old session")  # where it belongs
    assert lines[outputs + 4] == row("Create with SessionNumber 40000")
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
    assert "(answered by ProviderFunction, the function of its ResourceType; EC2 now holds 1" in (
        result.stdout
    )


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
    bad.write_text(sample("create.json").replace('"SessionNumber": "1"', '"SessionNumber": "0"'))
    result = run_module("local.invoke", str(bad))
    assert result.returncode == 1
    assert '"Status": "FAILED"' in result.stdout and "SessionNumber" in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("invoke: the provider answered FAILED: Invalid properties: Session")


def test_invoke_answers_an_event_with_a_literal_request_id(
    handler: Handler, receiver: ResponseReceiver, fx: Fixtures, tmp_path: Path
) -> None:
    literal = tmp_path / "literal-id.json"
    literal.write_text(sample("create.json").replace("{{RequestId}}", "my-own-request"))
    body = invoke(literal, handler, receiver, fx, io.StringIO())
    assert body["Status"] == "SUCCESS" and body["RequestId"] == "my-own-request"


def sample(name: str) -> str:
    return (ROOT / "events" / name).read_text()


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refusals happen before the embedded EC2, the receiver or the handler start: nothing is
    sent, so nothing can wait for an answer."""

    def started(*args: object) -> None:
        raise AssertionError("invoke started for an event it should have refused")

    for name in ("EmbeddedEc2", "ResponseReceiver", "load_handler"):
        monkeypatch.setattr(invoke_module, name, started)


def write(text: str | bytes) -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        path = tmp_path / "event.json"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    return make


BAD_EVENTS = {
    "missing file": (
        lambda tmp_path: tmp_path / "nope.json",
        "nope.json: no such file; give an event file, such as events/create.json",
    ),
    "directory": (lambda tmp_path: tmp_path, "is a directory; give one event file"),
    "not UTF-8": (write(b"\xff\xfe{}"), "cannot be read ("),
    "invalid JSON": (
        write(sample("create.json").replace('"Create",', '"Create"')),
        "invalid JSON at line 3, column 3: Expecting ',' delimiter; fix the JSON there",
    ),
    "empty file": (write(""), "invalid JSON at line 1, column 1: Expecting value"),
    "an array": (write("[]"), "holds an array, but an event is one JSON object"),
    "a string": (write('"Create"'), "holds a string, but an event is one JSON object"),
    "no ResponseURL": (
        write(sample("create.json").replace('"ResponseURL": "{{ResponseURL}}",', "")),
        'has no ResponseURL, so no answer could come back; write "ResponseURL": '
        '"{{ResponseURL}}" and invoke fills in its local HTTPS receiver',
    ),
    "ResponseURL not a string": (
        write(sample("create.json").replace('"{{ResponseURL}}"', "null")),
        "ResponseURL is not https (the provider answers only https)",
    ),
    "http ResponseURL": (
        write(sample("create.json").replace("{{ResponseURL}}", "http://localhost:8080/r")),
        "ResponseURL is not https (the provider answers only https)",
    ),
    "literal https ResponseURL": (
        write(sample("create.json").replace("{{ResponseURL}}", "https://s3/r?X-Amz-Signature=s")),
        "ResponseURL is a literal URL, so the answer would go there and not to invoke",
    ),
    "unknown placeholder": (
        write(sample("create.json").replace("{{TrafficMirrorTargetId}}", "{{TargetId}}")),
        "unknown placeholder {{TargetId}}; invoke fills in only NetworkInterfaceId,",
    ),
    "ResourceType of neither function": (
        write(sample("create.json").replace("Custom::TrafficMirrorSession", "Custom::Mirror")),
        'ResourceType is "Custom::Mirror"; invoke sends Custom::TrafficMirrorSession to '
        "ProviderFunction, Custom::TrafficMirrorFleet to FleetFunction (template.yaml)",
    ),
    "PhysicalResourceId without properties": (
        write(sample("delete.json").replace('"ResourceProperties"', '"Properties"')),
        "names {{PhysicalResourceId}} but has no ResourceProperties object",
    ),
}


@pytest.mark.usefixtures("nothing_starts")
@pytest.mark.parametrize(("make", "message"), BAD_EVENTS.values(), ids=BAD_EVENTS.keys())
def test_invoke_refuses_a_bad_event_file_with_exit_2_and_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], Path],
    message: str,
) -> None:
    path = make(tmp_path)
    assert main([str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"invoke: {path}: ") and message in err, err
    assert "X-Amz-Signature" not in err  # a literal URL may be a real, signed one


@pytest.mark.usefixtures("nothing_starts")
def test_invoke_refuses_a_file_it_may_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(self: Path, encoding: str | None = None) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refused)
    assert main([str(tmp_path / "secret.json")]) == 2
    assert "secret.json: cannot be read (Permission denied)" in capsys.readouterr().err


@pytest.mark.usefixtures("nothing_starts")
@pytest.mark.parametrize("argv", [[], ["events/create.json", "events/delete.json"]])
def test_invoke_usage_is_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("usage: python -m local.invoke EVENT_FILE")


def test_invoke_cli_refuses_invalid_json_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"RequestType": "Create",,}')
    result = run_module("local.invoke", str(bad))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"invoke: {bad}: invalid JSON at line 1, column 26: "
        "Expecting property name enclosed in double quotes; fix the JSON there\n"
    )


def demo_rows(out: str) -> list[str]:
    """The step rows of a demo's output (their details are indented)."""
    return [line for line in out.splitlines() if line[:4] in ("ok  ", "BAD ")]


def test_fleet_demo_keeps_ec2_and_the_stack_in_agreement_through_scaling() -> None:
    result = run_module("local.fleet_demo")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = demo_rows(result.stdout)
    assert len(rows) == 10 and all(r.startswith("ok  ") for r in rows), rows
    lines = result.stdout.splitlines()

    def details(step: str) -> str:
        at = next(i for i, line in enumerate(lines) if f". {step}" in line)
        return "\n".join(lines[at : at + 5])

    assert "writes: 3 Create" in details("Create the fleet") and "3 session(s)" in details(
        "Create the fleet"
    )
    assert "InterfacesMirrored 3 in total" in details("Create the fleet")
    assert "reconciler: created 1, removed 0, the new instance's 1 interface(s) mirrored" in (
        details("scale out to 4")
    )
    sweeps = [line for line in rows if ". the scheduled sweep" in line]
    assert "reconciler: created 1, removed 0, 4 interface(s) mirrored in total" in sweeps[0]
    assert "reconciler: created 0, removed 2, 2 interface(s) mirrored in total" in sweeps[1]
    assert "writes: 4 Modify" in details("filter changed in the template")
    assert "InterfacesMirrored 4 in total" in details("filter changed in the template")
    # Two zones, a collector each: nothing crosses a zone until zone b's leaves the list.
    assert "InterfacesCrossZone 0" in details("Create the fleet")
    assert "writes: 1 Modify" in details("zone b's collector leaves the list")
    assert "InterfacesCrossZone 1" in details("zone b's collector leaves the list")
    assert "EC2 holds 0 session(s) at the end" in result.stdout
    assert "in its last answer" not in result.stdout  # each count said once, where it changes
    assert re.search(r"reconciler: mirrored \d", result.stdout) is None  # never a bare count
    assert "X-Amz-Signature" not in result.stdout + result.stderr


def _reconciler_that_ignores_events(real: Handler) -> Handler:
    def ignored(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"ignored": event.get("detail-type")}

    return ignored


def _fleet_that_skips_updates(real: Handler) -> Handler:
    """Answers every Update SUCCESS without touching EC2; Create and Delete are real."""

    def handler(event: dict[str, Any], context: Any) -> None:
        if event["RequestType"] != "Update":
            real(event, context)
            return
        body = {key: event[key] for key in ("StackId", "RequestId", "LogicalResourceId")} | {
            "Status": "SUCCESS",
            "PhysicalResourceId": event["PhysicalResourceId"],
        }
        put_json(event["ResponseURL"], body)

    return handler


@pytest.mark.parametrize(
    ("function", "broken", "bad_row", "says"),
    [
        (
            "ReconcilerFunction",
            _reconciler_that_ignores_events,
            "BAD  3. scale out to 4, the launch event",
            "PROBLEM: EC2 writes {}, expected {'CreateTrafficMirrorSession': 1}",
        ),
        pytest.param(
            "FleetFunction",
            _fleet_that_skips_updates,
            "BAD  6. filter changed in the template (Update)",
            "PROBLEM: EC2 holds filters",
        ),
    ],
)
def test_fleet_demo_fails_when_a_step_leaves_ec2_and_the_stack_apart(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ec2: EmbeddedEc2,
    receiver: ResponseReceiver,
    function: str,
    broken: Callable[[Handler], Handler],
    bad_row: str,
    says: str,
) -> None:
    wanted = function

    def load(function: str = "ProviderFunction") -> Handler:
        handler = load_handler(function=function)
        return broken(handler) if function == wanted else handler

    monkeypatch.setattr(fleet_demo, "load_handler", load)
    assert fleet_demo.run(tmp_path / "log.jsonl", ec2, receiver) == 1
    out = capsys.readouterr().out
    rows = demo_rows(out)
    bad = next(i for i, r in enumerate(rows) if r.startswith(bad_row))
    assert all(r.startswith("ok  ") for r in rows[:bad]), rows  # the break, not before it
    assert says in out and "DEMO FAILED" in out, out


def test_migration_demo_plays_the_six_steps_and_shows_the_session_throughout() -> None:
    result = run_module("local.migration_demo")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    rows = demo_rows(result.stdout)
    titles = [r[4:].split("  ")[0] for r in rows]
    assert [t.split(".")[0] for t in titles[:7]] == ["1", "2", "3", "4a", "4b", "5", "6"]
    assert all(r.startswith("ok  ") for r in rows), rows
    assert "AllowAdoption=true" in titles[0] and "Retain removed" in titles[5]
    assert "(no event" not in result.stdout and "EC2 untouched" not in result.stdout
    for row in rows:  # every step says what it did: an answer, or what happens instead
        said = row[4:].split("  ", 1)[1].strip()
        assert said.startswith(("SUCCESS ", "no provider event: ", "no session event: ")), row
    session = re.search(r"session (tms-\w+)  #1  VNI (\d+)", result.stdout)
    assert session, result.stdout
    sid, vni = session.groups()
    shown = [line.strip() for line in lines if line.strip().startswith("session: ")]
    assert shown[:-1] == [f"session: {sid} #1 VNI {vni}"] * 8  # before, during and after
    assert shown[-1] == "session: none (deleted with the stack)"
    assert f"AdoptSessionId: {sid}" in result.stdout  # from tms-audit --adoptable, step 3
    assert lines[-1] == (
        f"checked: the same session ID ({sid}), the same SessionNumber (1) and the same VNI "
        f"({vni}) before, during and after adoption, and no gap: the session existed after "
        "every step and no second one was made"
    )


def test_invoke_cli_sends_a_fleet_event_to_the_fleet_function() -> None:
    result = run_module("local.invoke", "events/fleet-create.json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"].startswith("fleet-")
    assert body["Data"]["InterfacesMirrored"] == "2"
    assert "(answered by FleetFunction, the function of its ResourceType; EC2 now holds 2" in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("name", "function", "other_export"),
    [
        ("fleet-create.json", "ProviderFunction", "FleetServiceToken"),
        ("create.json", "FleetFunction", "ServiceToken"),
    ],
)
def test_an_event_for_the_other_function_fails_naming_its_service_token_export(
    receiver: ResponseReceiver,
    ec2: EmbeddedEc2,
    fx: Fixtures,
    name: str,
    function: str,
    other_export: str,
) -> None:
    """The sample event, delivered to the function of the other resource type (a template
    whose ServiceToken imports the wrong export): FAILED, saying which export to use, and
    EC2 untouched. The names match template.yaml's Outputs."""
    exports = {
        key: value["Export"]["Name"]["Sub"]
        for key, value in read_template()["Outputs"].items()
        if "Export" in value
    }
    assert exports["ServiceToken"] == "${AWS::StackName}-ServiceToken"
    assert exports["FleetServiceToken"] == "${AWS::StackName}-FleetServiceToken"
    with contextlib.redirect_stdout(io.StringIO()):
        wrong = load_handler(function=function)
    kind = json.loads(sample(name))["ResourceType"]
    served, own_export = {
        "ProviderFunction": ("Custom::TrafficMirrorSession", "ServiceToken"),
        "FleetFunction": ("Custom::TrafficMirrorFleet", "FleetServiceToken"),
    }[function]
    before = len(ec2.calls)
    body = invoke(ROOT / "events" / name, wrong, receiver, fx, io.StringIO())
    assert body["Status"] == "FAILED"
    assert body["Reason"] == (
        f"this event is for {kind}: its ServiceToken is the traffic-mirror-provider-"
        f"{other_export} export; this function serves {served} (traffic-mirror-provider-"
        f"{own_export})."
    )
    assert ec2.calls[before:] == []


def test_a_delete_for_the_other_function_is_answered_so_a_rollback_can_finish(
    receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures, handler: Handler, tmp_path: Path
) -> None:
    """The Create refused above leaves CloudFormation a Delete to send (its rollback); a
    FAILED Delete would hold the stack in ROLLBACK_FAILED, so it is answered as ever."""
    delete = json.loads(sample("fleet-create.json"))
    delete.update(RequestType="Delete", PhysicalResourceId="invalid-event")
    path = tmp_path / "wrong-function-delete.json"
    path.write_text(json.dumps(delete))
    body = invoke(path, handler, receiver, fx, io.StringIO())
    assert body["Status"] == "SUCCESS", body["Reason"]
