"""``make test-aws`` and ``make sweep-aws``: the acceptance suite in a real AWS account, and
the clean-up after a failed run (docs/real-aws.md).

Both refuse to start (exit 2, nothing created, no AWS call) unless AWS_TEST_ACCOUNT,
AWS_TEST_REGION and AWS_TEST_PROFILE name the account, region and profile, and both check
with STS that the profile is that account's before anything else. ``test`` then prints what
it will create and roughly what it costs and asks (AWS_TEST_YES=1: no question), deploys the
provider with ``sam build && sam deploy`` (or uses AWS_TEST_PROVIDER_STACK), runs tests/aws
with AWS_TEST_MODE=real, deletes everything of the run and fails if anything is left.

Exit status: 0 all passed and nothing left; 1 a scenario failed, something was left, or the
question was declined; 2 refused (variables, account, instance type).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from local.aws.backend import TAG_KEY
from local.aws.sweep import Clients, find, provider_name, sweep
from local.harness.lambda_loader import ROOT

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient
else:
    STSClient = Any

REQUIRED: Final = ("AWS_TEST_ACCOUNT", "AWS_TEST_REGION", "AWS_TEST_PROFILE")
EXAMPLE: Final = (
    "AWS_TEST_ACCOUNT=123456789012 AWS_TEST_REGION=eu-west-1 AWS_TEST_PROFILE=sandbox make test-aws"
)
#: Instance types the Traffic Mirroring limitations page lists as supported sources, with
#: their Linux on-demand price in USD per hour (us-east-1; other regions differ by up to
#: about a fifth). Not "Nitro": many Nitro families (M6i, C6i, M7i, ...) are not supported.
PRICES: Final = {"c5.large": 0.085, "m5.large": 0.096, "c5.xlarge": 0.17, "m5.xlarge": 0.192}
DEFAULT_TYPE: Final = "c5.large"
SESSION_HOUR: Final = 0.015  # USD per Traffic Mirroring session-hour
#: What one run holds, from the scenarios: rough, for the estimate printed before it starts.
RUN_MINUTES: Final = 45
FIXED_INSTANCES: Final = 2  # a source with two interfaces; a collector with two targets
GROUP_INSTANCES: Final = 3  # the fleet's group at its largest, for about a quarter of the run
SESSIONS: Final = 17  # sessions created over the run, each minutes old at most
Run = Callable[..., "subprocess.CompletedProcess[Any]"]
Ask = Callable[[str], str]


class Refused(Exception):
    """The command will not start; its message says why (exit 2)."""


@dataclass(frozen=True)
class Target:
    """The account, region and profile the operator named."""

    account: str
    region: str
    profile: str


def target_from(env: Mapping[str, str]) -> Target:
    """The named account, region and profile, or Refused listing what is missing."""
    missing = [k for k in REQUIRED if not env.get(k)]
    if missing:
        raise Refused(
            f"refusing to run against an AWS account nobody named: set {', '.join(missing)}"
            f" (for example: {EXAMPLE})"
        )
    if not re.fullmatch(r"\d{12}", env["AWS_TEST_ACCOUNT"]):
        raise Refused(
            f"AWS_TEST_ACCOUNT must be a 12-digit account ID: {env['AWS_TEST_ACCOUNT']!r}"
        )
    if not re.fullmatch(r"[a-z]{2,4}(-[a-z]+)+-\d{1,2}", env["AWS_TEST_REGION"]):
        raise Refused(f"AWS_TEST_REGION is not a region name: {env['AWS_TEST_REGION']!r}")
    return Target(env["AWS_TEST_ACCOUNT"], env["AWS_TEST_REGION"], env["AWS_TEST_PROFILE"])


def session_for(target: Target) -> boto3.Session:
    """A boto3 session with the named profile and region."""
    try:
        return boto3.Session(profile_name=target.profile, region_name=target.region)
    except BotoCoreError as exc:  # ProfileNotFound, say
        raise Refused(str(exc)) from exc


def default_sts(target: Target) -> STSClient:
    return session_for(target).client("sts")


def check_account(target: Target, sts: STSClient) -> str:
    """The caller's ARN, when the profile's credentials are the named account's."""
    try:
        identity = sts.get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        raise Refused(f"cannot ask STS who profile {target.profile} is: {exc}") from exc
    if identity["Account"] != target.account:
        raise Refused(
            f"profile {target.profile} is account {identity['Account']}, not the named "
            f"{target.account}: refusing to create anything"
        )
    return str(identity["Arn"])


def estimate(instance_type: str) -> dict[str, float]:
    """A run's rough cost in USD, by item."""
    hours = RUN_MINUTES / 60
    price = PRICES[instance_type]
    instances = price * (FIXED_INSTANCES * hours + GROUP_INSTANCES * hours / 4)
    sessions = SESSIONS * SESSION_HOUR  # each billed as a whole session-hour, at worst
    volumes = (FIXED_INSTANCES + GROUP_INSTANCES) * 8 * 0.08 / 730 * hours  # 8 GB gp3
    return {
        "instances": round(instances, 2),
        "sessions": round(sessions, 2),
        "volumes": round(volumes, 3),
        "total": round(instances + sessions + volumes, 2),
    }


def plan(target: Target, instance_type: str, provider: str, deploy: bool, run_id: str) -> str:
    """What a run creates and roughly costs, as printed before it asks."""
    cost = estimate(instance_type)
    provider_line = (
        f"  provider stack {provider} (sam build && sam deploy, AllowAdoption=true)"
        if deploy
        else f"  (the existing provider stack {provider}: not deployed, not deleted)"
    )
    return "\n".join(
        [
            f"The acceptance suite will create, in account {target.account}, region "
            f"{target.region} (profile {target.profile}), tagged {TAG_KEY}={run_id}:",
            provider_line,
            "  a VPC and a subnet (no internet gateway, no NAT)",
            f"  {FIXED_INSTANCES} {instance_type} instances (latest Amazon Linux 2023): a source "
            "with a second interface, a collector with two interface targets",
            "  two traffic mirror filters (no rules: nothing is actually mirrored)",
            f"  a launch template and an Auto Scaling group of 2, then {GROUP_INSTANCES}, "
            f"{instance_type}",
            f"  consumer stacks {TAG_KEY}-{run_id}-*, about {SESSIONS} sessions in all, "
            "a few at a time",
            "",
            f"It takes about {RUN_MINUTES} minutes and costs roughly ${cost['total']:.2f}: "
            f"instances ${cost['instances']:.2f} (${PRICES[instance_type]}/h on demand), "
            f"sessions ${cost['sessions']:.2f} (${SESSION_HOUR} per session-hour), "
            f"volumes ${cost['volumes']:.3f}; Lambda, CloudFormation and SSM standard "
            "parameters: next to nothing. SAM's artifacts stay in its managed S3 bucket.",
            "Everything is deleted at the end; make sweep-aws deletes what a failed run left.",
        ]
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    sts_for: Callable[[Target], STSClient] = default_sts,
    ask: Ask = input,
    run: Run = subprocess.run,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """``python -m local.aws test|sweep``; see the module doc for the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if env is None else env)
    stdout, stderr = out or sys.stdout, err or sys.stderr
    if args not in (["test"], ["sweep"]):
        print("usage: python -m local.aws test|sweep (make test-aws, make sweep-aws)", file=stderr)
        return 2
    try:
        target = target_from(environ)
        instance_type = environ.get("AWS_TEST_INSTANCE_TYPE") or DEFAULT_TYPE
        if instance_type not in PRICES:
            raise Refused(
                f"AWS_TEST_INSTANCE_TYPE {instance_type} is not one of {', '.join(PRICES)} "
                "(types the Traffic Mirroring limitations page lists as supported sources)"
            )
        who = check_account(target, sts_for(target))
    except Refused as refused:
        print(f"{args[0]}-aws: {refused}", file=stderr)
        return 2
    print(f"account {target.account} confirmed by STS ({who})", file=stdout)
    yes = environ.get("AWS_TEST_YES") == "1"
    if args == ["sweep"]:
        clients = Clients.of(session_for(target))
        return _sweep(clients, environ.get("AWS_TEST_RUN_ID"), yes, ask, stdout)
    run_id = "r" + secrets.token_hex(4)
    given = environ.get("AWS_TEST_PROVIDER_STACK", "")
    provider = given or provider_name(run_id)
    print(plan(target, instance_type, provider, not given, run_id), file=stdout)
    if not yes and ask("Create all this? [y/N] ").strip().lower() not in ("y", "yes"):
        print("nothing created", file=stdout)
        return 1
    return _test(
        target,
        session=session_for(target),
        instance_type=instance_type,
        run_id=run_id,
        provider=provider,
        deploy=not given,
        run=run,
        out=stdout,
    )


def _test(
    target: Target,
    *,
    session: boto3.Session,
    instance_type: str,
    run_id: str,
    provider: str,
    deploy: bool,
    run: Run,
    out: IO[str],
) -> int:
    clients = Clients.of(session)
    status = 1
    try:
        if deploy:
            _deploy_provider(target, provider, run_id, run)
        env = {
            **os.environ,
            "AWS_TEST_MODE": "real",
            "AWS_TEST_ACCOUNT": target.account,
            "AWS_TEST_REGION": target.region,
            "AWS_TEST_PROFILE": target.profile,
            "AWS_TEST_RUN_ID": run_id,
            "AWS_TEST_PROVIDER_STACK": provider,
            "AWS_TEST_INSTANCE_TYPE": instance_type,
        }
        command = [sys.executable, "-m", "pytest", "tests/aws", "-v", "--durations=0"]
        status = run(command, cwd=ROOT, env=env, check=False).returncode
    finally:
        print(f"\nDeleting everything of run {run_id}:", file=out)
        sweep(
            clients, run_id, include_provider=deploy, say=lambda line: print(f"  {line}", file=out)
        )
        left = find(clients, run_id, include_provider=deploy)
        for item in left:
            print(f"  LEFT: {item}", file=out)
        if left:
            print("something was left: run make sweep-aws", file=out)
            status = 1
        else:
            print("nothing of the run is left", file=out)
    return status


def _deploy_provider(target: Target, provider: str, run_id: str, run: Run) -> None:
    run(["make", "build"], cwd=ROOT, check=True)
    run(
        [
            str(ROOT / ".venv-sam" / "bin" / "sam"),
            "deploy",
            "--stack-name",
            provider,
            "--region",
            target.region,
            "--profile",
            target.profile,
            "--resolve-s3",
            "--s3-prefix",
            provider,
            "--capabilities",
            "CAPABILITY_IAM",
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--parameter-overrides",
            "AllowAdoption=true LogLevel=INFO LogRetentionInDays=1 Tracing=Disabled",
            "--tags",
            f"{TAG_KEY}={run_id}",
        ],
        cwd=ROOT,
        check=True,
    )


def _sweep(c: Clients, run_id: str | None, yes: bool, ask: Ask, out: IO[str]) -> int:
    found = find(c, run_id)
    if not found:
        print(f"nothing tagged {TAG_KEY} is left", file=out)
        return 0
    for item in found:
        print(f"  {item}", file=out)
    if not yes and ask(f"Delete these {len(found)}? [y/N] ").strip().lower() not in ("y", "yes"):
        print("nothing deleted", file=out)
        return 1
    sweep(c, run_id, say=lambda line: print(f"  {line}", file=out))
    left = find(c, run_id)
    for item in left:
        print(f"  LEFT: {item}", file=out)
    return 1 if left else 0
