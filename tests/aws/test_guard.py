"""make test-aws and make sweep-aws refuse to touch an account nobody named, or one the
profile does not belong to: exit 2, before any call that could create something."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from typing import Any, NoReturn

import boto3
import pytest
from botocore.stub import Stubber

from local.aws.cli import PRICES, SESSION_HOUR, Target, estimate, main
from local.harness.lambda_loader import ROOT

NAMED = {
    "AWS_TEST_ACCOUNT": "123456789012",
    "AWS_TEST_REGION": "eu-west-1",
    "AWS_TEST_PROFILE": "sandbox",
}


def never(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError(f"called although the command had to stop first: {args}")


def sts_saying(account: str) -> tuple[Any, Stubber]:
    """An STS client whose GetCallerIdentity answers ``account`` (and nothing else)."""
    sts = boto3.client(
        "sts", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(sts)
    stubber.add_response(
        "get_caller_identity",
        {
            "UserId": "AIDAEXAMPLE",
            "Account": account,
            "Arn": f"arn:aws:iam::{account}:user/tester",
        },
    )
    stubber.activate()
    return sts, stubber


def run_main(argv: list[str], env: dict[str, str], **kw: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    kw.setdefault("sts_for", never)
    kw.setdefault("run", never)
    kw.setdefault("ask", never)
    status = main(argv, env=env, out=out, err=err, **kw)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["test", "sweep"])
def test_without_the_three_variables_the_command_exits_2_naming_them_and_calls_nothing(
    command: str,
) -> None:
    status, out, err = run_main([command], {})
    assert status == 2
    assert "AWS_TEST_ACCOUNT, AWS_TEST_REGION, AWS_TEST_PROFILE" in err
    assert out == ""


def test_a_missing_variable_is_named_alone() -> None:
    env = {k: v for k, v in NAMED.items() if k != "AWS_TEST_PROFILE"}
    status, _, err = run_main(["test"], env)
    assert status == 2
    assert "set AWS_TEST_PROFILE " in err


@pytest.mark.parametrize(
    ("key", "value"), [("AWS_TEST_ACCOUNT", "12345"), ("AWS_TEST_REGION", "Ireland")]
)
def test_a_malformed_account_or_region_is_refused_before_sts(key: str, value: str) -> None:
    status, _, err = run_main(["test"], {**NAMED, key: value})
    assert status == 2 and key in err


def test_a_profile_of_another_account_is_refused_with_exit_2_and_nothing_runs() -> None:
    sts, stubber = sts_saying("999999999999")
    status, out, err = run_main(["test"], NAMED, sts_for=lambda target: sts)
    assert status == 2
    assert "profile sandbox is account 999999999999, not the named 123456789012" in err
    assert "will create" not in out  # not even the plan
    stubber.assert_no_pending_responses()


def test_an_instance_type_traffic_mirroring_does_not_support_is_refused() -> None:
    status, _, err = run_main(["test"], {**NAMED, "AWS_TEST_INSTANCE_TYPE": "m6i.large"})
    assert status == 2
    assert "m6i.large is not one of" in err


def test_the_named_account_sees_the_plan_and_its_cost_and_declining_creates_nothing() -> None:
    sts, stubber = sts_saying("123456789012")
    asked: list[str] = []

    def decline(question: str) -> str:
        asked.append(question)
        return "n"

    status, out, _ = run_main(["test"], NAMED, sts_for=lambda target: sts, ask=decline)
    assert status == 1 and asked
    assert "account 123456789012 confirmed by STS" in out
    assert "2 c5.large instances" in out
    assert f"${SESSION_HOUR} per session-hour" in out
    assert f"roughly ${estimate('c5.large')['total']:.2f}" in out
    assert "tms-acceptance=r" in out
    assert out.rstrip().endswith("nothing created")
    stubber.assert_no_pending_responses()


def test_the_estimate_adds_up_and_grows_with_the_instance_price() -> None:
    small, large = estimate("c5.large"), estimate("m5.xlarge")
    for cost in (small, large):
        parts = cost["instances"] + cost["sessions"] + cost["volumes"]
        assert cost["total"] == pytest.approx(parts, abs=0.02)  # each part rounded
    assert large["instances"] > small["instances"] > 0
    assert set(PRICES) >= {"c5.large", "m5.large"}
    assert Target("1", "r", "p").profile == "p"


def test_make_test_aws_without_the_variables_exits_2_and_the_command_itself_exits_2() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Were anything to reach for AWS, it would find neither credentials nor an endpoint.
    env.update(AWS_CONFIG_FILE="/nonexistent", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    made = subprocess.run(
        ["make", "--no-print-directory", "test-aws"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 2
    assert "refusing to run against an AWS account nobody named" in made.stderr
    direct = subprocess.run(
        [sys.executable, "-m", "local.aws", "test"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert direct.returncode == 2, direct.stderr
    assert direct.stdout == ""
