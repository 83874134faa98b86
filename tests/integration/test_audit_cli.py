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
import yaml

from local.harness.by_hand import session_by_hand
from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.lambda_loader import _CfnLoader, read_template
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
    package = logging.getLogger("traffic_mirror")
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
    ec2.wait_visible()  # the drift made by hand shows, as it would by the next audit
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
    # The next audit, once the deletion shows (reads lag writes: one at once may still list it).
    ec2.wait_visible()
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


def test_help_names_the_exit_codes_and_how_credentials_are_found(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    for said in (
        "0  nothing found",
        "1  findings",
        "2  could not audit",
        "--region",
        "AWS_REGION",
        "AWS_PROFILE",
        "aws configure",
        "aws sso login",
        "--adoptable STACK",
    ):
        assert said in shown, said


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A terminal with no AWS configuration at all: no region, no profile, no keys."""
    for key in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role either


@pytest.mark.usefixtures("no_aws_configuration")
def test_without_a_region_it_names_the_option_and_the_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run()[0] == 2
    err = capsys.readouterr().err
    assert err.startswith("tms-audit: no AWS region: pass --region") and "AWS_REGION" in err
    assert "You must specify a region" not in err and err.count("\n") == 1


@pytest.mark.usefixtures("no_aws_configuration")
@pytest.mark.parametrize("region", [["--region", "eu-west-1"], []])
def test_without_credentials_it_names_profiles_not_lambda_advice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], region: list[str]
) -> None:
    if not region:
        monkeypatch.setenv("AWS_REGION", "eu-west-1")  # the variable counts like --region
    assert run(*region)[0] == 2
    err = capsys.readouterr().err
    assert err.startswith("tms-audit: no AWS credentials found: set AWS_PROFILE")
    assert "aws configure" in err and "aws sso login" in err
    assert "function" not in err and "network route" not in err


def test_refused_credentials_say_to_renew_them(
    ec2: EmbeddedEc2, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2.inject("*", "ExpiredToken", status=400, times=10, message="The token has expired.")
    try:
        assert run("--adoptable", "any")[0] == 2
    finally:
        ec2.clear_faults()
    err = capsys.readouterr().err
    assert "your AWS credentials were refused (ExpiredToken)" in err and "aws sso login" in err


def test_the_region_option_is_where_the_audit_runs(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    assert stack.create(props(fx))["Status"] == "SUCCESS"
    assert run("--region", "eu-west-1")[0] == 0  # nothing recorded there
    assert {p["@region"] for p in ec2.requests_since(0) if "@region" in p} >= {"eu-west-1"}
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"  # put back after the run


NATIVE = "AWS::EC2::TrafficMirrorSession"


@pytest.fixture
def legacy_stack(ec2: EmbeddedEc2, fx: Fixtures) -> dict[str, str]:
    """A stack named legacy-network with two native sessions (one tagged adoptable) and
    another resource; its session IDs by logical ID."""
    client = ec2.client()
    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/legacy-network/1-2-3"
    made = {}
    for logical, eni, tags in (
        (
            "WebMirror",
            fx.sources[0],
            {"traffic-mirror:adoptable": "traffic-mirror-provider", "team": "net sec"},
        ),
        ("DbMirror", fx.sources[1], {}),
    ):
        made[logical] = session_by_hand(
            client,
            interface=eni,
            target=fx.target_id,
            mirror_filter=fx.filter_ids[0],
            number=3,
            vni=4242,
            description=f"{logical}: all: TCP",
            tags=tags,
        )["TrafficMirrorSessionId"]
        STACKS.answered(stack_id, logical, "Create", made[logical], NATIVE)
    STACKS.answered(stack_id, "Collector", "Create", fx.target_id, "AWS::EC2::TrafficMirrorTarget")
    ec2.wait_visible()  # the native sessions were made long before: a read shows them
    return made


def test_adoptable_lists_the_native_sessions_and_prints_the_resources_to_paste(
    ec2: EmbeddedEc2, fx: Fixtures, legacy_stack: dict[str, str]
) -> None:
    before = len(ec2.calls)
    status, out = run("--adoptable", "legacy-network")
    assert status == 0, out
    assert ec2.writes(before) == []  # reads only
    web, db = legacy_stack["WebMirror"], legacy_stack["DbMirror"]
    listing = out.split("\n\n")[0].splitlines()
    assert listing[0] == f"{NATIVE} resources of legacy-network (us-east-1):"
    assert listing[1:] == [
        f"  DbMirror   {db}  {fx.sources[1]} #3 VNI 4242",
        f"  WebMirror  {web}  {fx.sources[0]} #3 VNI 4242",
    ]
    pasted = out[out.index("Resources:") :]
    template = yaml.load(pasted, Loader=_CfnLoader)
    resources = template["Resources"]
    assert set(resources) == {"WebMirror", "DbMirror"}  # not the target
    webmirror = resources["WebMirror"]
    assert webmirror["Type"] == "Custom::TrafficMirrorSession"
    assert webmirror["DeletionPolicy"] == "Retain"
    assert webmirror["Properties"] == {
        "ServiceToken": {"ImportValue": "traffic-mirror-provider-ServiceToken"},
        "ServiceTimeout": 300,
        "AdoptSessionId": web,
        "NetworkInterfaceId": fx.sources[0],
        "TrafficMirrorTargetId": fx.target_id,
        "TrafficMirrorFilterId": fx.filter_ids[0],
        "SessionNumber": 3,
        "VirtualNetworkId": 4242,
        "Description": "WebMirror: all: TCP",
        "Tags": [{"Key": "team", "Value": "net sec"}],  # not the adoptable tag: its job done
    }
    assert "Tags" not in resources["DbMirror"]["Properties"]
    # DbMirror is not yet tagged adoptable: said, with the step that does it.
    assert (
        "# first tag DbMirror traffic-mirror:adoptable=traffic-mirror-provider in "
        "legacy-network (step 2)" in out
    )
    assert "# first tag WebMirror" not in out


def test_adoptable_names_the_provider_stacks_export(legacy_stack: dict[str, str]) -> None:
    status, out = run("--adoptable", "legacy-network", "--provider-stack", "tmp-prod")
    assert status == 0 and "ServiceToken: !ImportValue tmp-prod-ServiceToken" in out
    export = read_template()["Outputs"]["ServiceToken"]["Export"]["Name"]
    assert export == {"Sub": "${AWS::StackName}-ServiceToken"}  # what the YAML imports


def test_adoptable_with_no_native_session_exits_one(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    assert stack.create(props(fx))["Status"] == "SUCCESS"  # a custom one: not native
    status, out = run("--adoptable", "mirror-demo")
    assert status == 1 and "mirror-demo has no AWS::EC2::TrafficMirrorSession" in out


def test_adoptable_of_a_stack_that_does_not_exist_exits_two(
    ec2: EmbeddedEc2, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--adoptable", "no-such-stack")[0] == 2
    assert "Stack with id no-such-stack does not exist" in capsys.readouterr().err


def test_the_installed_console_script_prints_the_adoptable_resources(
    ec2: EmbeddedEc2, legacy_stack: dict[str, str]
) -> None:
    script = Path(sys.executable).parent / "tms-audit"
    done = subprocess.run(
        [str(script), "--adoptable", "legacy-network"],
        check=False,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"AdoptSessionId: {legacy_stack['WebMirror']}" in done.stdout
