"""``tms-audit``: drifted and orphaned traffic mirror sessions of one provider, in one account
and region, as a table or JSON; exits 1 when there is any finding (usable in a pipeline).

It runs the reconciler's own audit (:func:`traffic_mirror.fleets.reconcile.watch`) read-only: it
never restores and never drops a record. ``--delete-orphans`` deletes the orphans it lists
(those in the account and region it runs in), after a confirmation (or ``--yes``); drifted
sessions are never touched here.

    tms-audit --provider-stack traffic-mirror-provider --region eu-west-1
    tms-audit --json | jq '.findings[] | select(.kind == "orphaned")'
    tms-audit --delete-orphans            # asks first; --yes for scripts
    tms-audit --adoptable legacy-network  # the native sessions of a stack, as YAML to paste

``--adoptable STACK`` lists each ``AWS::EC2::TrafficMirrorSession`` of a stack with its session
ID and prints the ``Custom::TrafficMirrorSession`` that adopts it (AdoptSessionId filled in,
the session's properties as EC2 holds them), for the README's Migration steps.

Exit status: 0 nothing found, 1 findings, 2 the audit could not run (or was incomplete).
Credentials and endpoints come from the usual AWS variables and profiles.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from traffic_mirror.aws.connect import Placement
from traffic_mirror.aws.ec2 import Ec2Gateway, ec2_client
from traffic_mirror.aws.store import Store
from traffic_mirror.errors import ProviderError, error_code
from traffic_mirror.watch.audit import Audit, watch
from traffic_mirror.watch.drift import Finding

__all__ = ["main"]

COLUMNS = ("kind", "session", "owner", "field", "expected", "actual", "detail")
NATIVE = "AWS::EC2::TrafficMirrorSession"
ADOPTABLE_TAG = "traffic-mirror:adoptable"  # traffic_mirror.sessions.adoption.ADOPTABLE_KEY
EPILOG = """\
exit status:
  0  nothing found (with --adoptable: the stack's sessions were printed)
  1  findings (with --adoptable: the stack has no AWS::EC2::TrafficMirrorSession)
  2  could not audit: no region, no credentials, access refused, or an incomplete audit

region: --region, else AWS_REGION or AWS_DEFAULT_REGION, else your profile's region.
credentials: found as the AWS CLI finds them: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
  else the profile AWS_PROFILE names (or "default") from ~/.aws/credentials and ~/.aws/config
  (aws configure; for IAM Identity Center, aws sso login --profile NAME), else an instance
  or container role. The identity needs read access to the provider's SSM parameters,
  DescribeTrafficMirrorSessions and CloudFormation's DescribeStacks/ListStackResources.
"""
#: Error codes that mean the credentials themselves are not usable.
BAD_CREDENTIALS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthFailure",
    }
)
NO_REGION = (
    "no AWS region: pass --region (for example --region eu-west-1) or set AWS_REGION, "
    "or give your profile a region (aws configure set region eu-west-1)"
)
NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE to a profile of yours (create one with "
    "aws configure, or for IAM Identity Center run aws sso login --profile NAME), or set "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


class CannotAudit(Exception):
    """The command cannot run; the message is advice for the person at the terminal."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tms-audit",
        description="List drifted and orphaned traffic mirror sessions of one provider stack.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--provider-stack",
        default=os.environ.get("MANAGED_BY", "traffic-mirror-provider"),
        help="the provider stack's name (its managed-by marker); default %(default)s",
    )
    parser.add_argument("--region", help="the region to audit (default: your AWS configuration)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--delete-orphans", action="store_true", help="delete the orphans listed (asks first)"
    )
    parser.add_argument("--yes", action="store_true", help="do not ask before deleting")
    parser.add_argument(
        "--adoptable",
        metavar="STACK",
        help=f"list the {NATIVE} resources of STACK with their session IDs and print the "
        "Custom::TrafficMirrorSession to paste for each (no audit)",
    )
    return parser


def _row(finding: Finding) -> dict[str, str]:
    line = finding.line()
    stack = (line["stack"] or "").rsplit(":stack/", 1)[-1].split("/", 1)[0]
    owner = f"{stack}/{line['logical_id']}"
    return {k: owner if k == "owner" else str(line.get(k) or "-") for k in COLUMNS}


def table(found: Audit) -> str:
    """The findings as an aligned text table, with a summary line."""
    rows = [dict(zip(COLUMNS, (c.upper() for c in COLUMNS), strict=True))]
    rows += [_row(f) for f in found.findings]
    widths = {c: max(len(r[c]) for r in rows) for c in COLUMNS}
    lines = ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    summary = (
        f"{len(found.findings)} finding(s): {found.checked} recorded session(s) compared, "
        f"{found.seen} marked session(s) read"
    )
    return "\n".join([*(lines if found.findings else []), summary])


def _delete_orphans(
    found: Audit, ec2: Ec2Gateway, yes: bool, ask: Callable[[str], str], out: TextIO
) -> int:
    if found.errors:
        print("Nothing deleted: the audit was incomplete (see above).", file=out)
        return 0
    every = [f for f in found.findings if f.kind == "orphaned"]
    orphans = sorted({f.session_id for f in every if f.where == ec2.where})
    for elsewhere in sorted({f.where for f in every if f.where != ec2.where}):
        print(f"Not deleted here: orphans {elsewhere} (run with credentials there).", file=out)
    if not orphans:
        print("No orphans to delete here.", file=out)
        return 0
    prompt = f"Delete {len(orphans)} orphaned session(s) {ec2.where}? [y/N] "
    if not yes and ask(prompt).strip().lower() not in {"y", "yes"}:
        print("Nothing deleted.", file=out)
        return 0
    deleted = 0
    for sid in orphans:
        gone_before = not ec2.delete(sid)
        print(f"{sid}: {'already gone' if gone_before else 'deleted'}", file=out)
        deleted += not gone_before
    return deleted


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    ask: Callable[[str], str] = input,
) -> int:
    """Run the audit; print it; return the exit status."""
    args = _parser().parse_args(argv)
    saved = {k: os.environ.get(k) for k in ("MANAGED_BY", "AWS_DEFAULT_REGION")}
    os.environ["MANAGED_BY"] = args.provider_stack  # the marker and the store path follow it
    try:
        return _run(args, out or sys.stdout, ask)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def where_to_run() -> str:
    """The region the command runs in, once credentials are known to exist; CannotAudit,
    with what to do, when either is missing."""
    session = boto3.session.Session()
    region = session.region_name
    if not region:
        raise CannotAudit(NO_REGION)
    try:
        found = session.get_credentials()
    except BotoCoreError as exc:  # a profile that names a missing source, an SSO cache...
        raise CannotAudit(f"{NO_CREDENTIALS} ({exc})") from exc
    if found is None:
        raise CannotAudit(NO_CREDENTIALS)
    return region


def _about(cause: BaseException, exc: BaseException) -> str | None:
    """Advice for one exception of the chain that says something a person can act on."""
    if isinstance(cause, NoRegionError):
        return NO_REGION
    if isinstance(cause, NoCredentialsError):
        return NO_CREDENTIALS
    if error_code(cause) in BAD_CREDENTIALS:
        return (
            f"your AWS credentials were refused ({error_code(cause)}): they are expired "
            "or wrong. Renew them (aws sso login --profile NAME for IAM Identity Center) "
            "or pick another profile with AWS_PROFILE"
        )
    if isinstance(cause, BotoCoreError) and not isinstance(exc, ProviderError):
        return f"{cause}. Check your network (or proxy) and the region"
    return None


def advice(exc: BaseException) -> str:
    """What went wrong, for a person at a terminal (not the function's advice to a stack)."""
    chain: list[BaseException] = []
    at: BaseException | None = exc
    while at is not None and at not in chain:
        chain.append(at)
        at = at.__cause__ or at.__context__
    for cause in chain:
        if (said := _about(cause, exc)) is not None:
            return said
    if isinstance(exc, ProviderError):
        return exc.reason.replace(
            "Check the function's network route to", "Check your network (or proxy) route to"
        )
    if isinstance(exc, ClientError):
        return f"{error_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}"
    return str(exc)


def _run(args: argparse.Namespace, out: TextIO, ask: Callable[[str], str]) -> int:
    # The AWS CLI's order: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region
    # (botocore itself reads no AWS_REGION). Every client follows; main() restores it.
    if chosen := args.region or os.environ.get("AWS_REGION"):
        os.environ["AWS_DEFAULT_REGION"] = chosen
    try:
        region = where_to_run()
    except CannotAudit as exc:
        print(f"tms-audit: {exc}", file=sys.stderr)
        return 2
    if args.adoptable:
        return _adoptable(args.adoptable, args.provider_stack, region, out)
    package = logging.getLogger("traffic_mirror")
    level = package.level
    package.setLevel(logging.ERROR)  # the findings go to the table, not to a log
    try:
        store = Store("sessions", ssm=boto3.client("ssm", region_name=region))
        found = watch(store, restore=False, home=Placement(region=region))
        home = Ec2Gateway(ec2_client(region))
    except (ProviderError, BotoCoreError) as exc:
        print(f"tms-audit: {advice(exc)}", file=sys.stderr)
        return 2
    finally:
        package.setLevel(level)
    if args.json:
        body = {
            "findings": [f.line() for f in found.findings],
            "checked": found.checked,
            "seen": found.seen,
            "errors": found.errors,
        }
        print(json.dumps(body, indent=2), file=out)
    else:
        print(table(found), file=out)
        for error in found.errors:
            print(f"not audited: {error}", file=sys.stderr)
    if args.delete_orphans:
        try:
            _delete_orphans(found, home, args.yes, ask, out)
        except ProviderError as exc:
            print(f"tms-audit: {advice(exc)}", file=sys.stderr)
            return 2
    if found.errors:
        return 2
    return 1 if found.findings else 0


def _yaml(value: object) -> str:
    """A scalar as YAML: IDs and numbers plain, any other text double-quoted (JSON is YAML)."""
    text = str(value)
    plain = isinstance(value, int) or (
        text.replace("-", "").isalnum() and not text.isdigit() and text.lower() not in _WORDS
    )
    return text if plain else json.dumps(text)


_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "~"})


def _resource(logical: str, session: Mapping[str, Any], provider: str, stack: str) -> list[str]:
    """The Custom::TrafficMirrorSession that adopts ``session``, as template lines."""
    sid = str(session["TrafficMirrorSessionId"])
    tags = {str(t["Key"]): str(t["Value"]) for t in session.get("Tags", [])}
    lines = [
        f"  {logical}:  # was {NATIVE} in {stack}",
        "    Type: Custom::TrafficMirrorSession",
        "    DeletionPolicy: Retain  # for the adopting update; remove it afterwards (step 5)",
        "    UpdateReplacePolicy: Retain",
        "    Properties:",
        f"      ServiceToken: !ImportValue {provider}-ServiceToken",
        "      ServiceTimeout: 300",
        f"      AdoptSessionId: {sid}",
    ]
    for key in (
        "NetworkInterfaceId",
        "TrafficMirrorTargetId",
        "TrafficMirrorFilterId",
        "SessionNumber",
        "VirtualNetworkId",
        "PacketLength",
        "Description",
    ):
        if session.get(key) not in (None, ""):
            lines.append(f"      {key}: {_yaml(session[key])}")
    # aws: tags are AWS's own and cannot be declared; the adoptable tag has done its job.
    kept = {k: v for k, v in tags.items() if not k.startswith("aws:") and k != ADOPTABLE_TAG}
    if kept:
        lines.append("      Tags:")
        lines += [f"        - {{Key: {_yaml(k)}, Value: {_yaml(v)}}}" for k, v in kept.items()]
    return lines


def _adoptable(stack: str, provider: str, region: str, out: TextIO) -> int:
    try:
        return adoptable(stack, provider, region, out)
    except (ClientError, BotoCoreError) as exc:
        print(f"tms-audit: {advice(exc)}", file=sys.stderr)
        return 2


def adoptable(stack: str, provider: str, region: str, out: TextIO) -> int:
    """Print the stack's native sessions and the custom resources that adopt them."""
    cfn = boto3.client("cloudformation", region_name=region)
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
    native = {
        str(r["PhysicalResourceId"]): str(r["LogicalResourceId"])
        for page in pages
        for r in page["StackResourceSummaries"]
        if r["ResourceType"] == NATIVE and r.get("PhysicalResourceId")
    }
    if not native:
        print(f"{stack} has no {NATIVE} in {region}: nothing to adopt.", file=out)
        return 1
    ec2 = boto3.client("ec2", region_name=region)
    held: dict[str, Mapping[str, Any]] = {}
    for page in ec2.get_paginator("describe_traffic_mirror_sessions").paginate(
        TrafficMirrorSessionIds=sorted(native)
    ):
        held.update({str(s["TrafficMirrorSessionId"]): s for s in page["TrafficMirrorSessions"]})
    print(f"{NATIVE} resources of {stack} ({region}):", file=out)
    width = max(len(logical) for logical in native.values())
    for sid, logical in sorted(native.items(), key=lambda item: item[1]):
        found = held.get(sid)
        where = (
            f"{found['NetworkInterfaceId']} #{found['SessionNumber']} "
            f"VNI {found.get('VirtualNetworkId', '-')}"
            if found
            else "not found in EC2 (deleted outside the stack?)"
        )
        print(f"  {logical:<{width}}  {sid}  {where}", file=out)
    print(
        "\nPaste into the template that adopts them (README, Migration, step 4). The IDs are "
        "EC2's: put back any !Ref your template used.\nResources:",
        file=out,
    )
    for sid, logical in sorted(native.items(), key=lambda item: item[1]):
        if (found := held.get(sid)) is None:
            continue
        tags = {str(t["Key"]): str(t["Value"]) for t in found.get("Tags", [])}
        if tags.get(ADOPTABLE_TAG) != provider:
            print(
                f"  # first tag {logical} {ADOPTABLE_TAG}={provider} in {stack} (step 2)",
                file=out,
            )
        print("\n".join(_resource(logical, found, provider, stack)), file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
