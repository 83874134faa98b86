"""``tms-audit``: drifted and orphaned traffic mirror sessions of one provider, in one account
and region, as a table or JSON; exits 1 when there is any finding (usable in a pipeline).

It runs the reconciler's own audit (:func:`mirror_session.reconcile.watch`) read-only: it
never restores and never drops a record. ``--delete-orphans`` deletes the orphans it lists
(those in the account and region it runs in), after a confirmation (or ``--yes``); drifted
sessions are never touched here.

    tms-audit --provider-stack traffic-mirror-provider --region eu-west-1
    tms-audit --json | jq '.findings[] | select(.kind == "orphaned")'
    tms-audit --delete-orphans            # asks first; --yes for scripts

Exit status: 0 nothing found, 1 findings, 2 the audit could not run (or was incomplete).
Credentials and endpoints come from the usual AWS variables and profiles.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

import boto3
from botocore.exceptions import BotoCoreError

from mirror_session.audit import Audit
from mirror_session.drift import Finding
from mirror_session.ec2 import Ec2Gateway, ec2_client
from mirror_session.errors import ProviderError
from mirror_session.placement import Placement
from mirror_session.reconcile import watch
from mirror_session.store import Store

__all__ = ["main"]

COLUMNS = ("kind", "session", "owner", "field", "expected", "actual", "detail")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tms-audit",
        description="List drifted and orphaned traffic mirror sessions of one provider stack.",
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
    saved = os.environ.get("MANAGED_BY")
    os.environ["MANAGED_BY"] = args.provider_stack  # the marker and the store path follow it
    try:
        return _run(args, out or sys.stdout, ask)
    finally:
        if saved is None:
            os.environ.pop("MANAGED_BY", None)
        else:
            os.environ["MANAGED_BY"] = saved


def _run(args: argparse.Namespace, out: TextIO, ask: Callable[[str], str]) -> int:
    package = logging.getLogger("mirror_session")
    level = package.level
    package.setLevel(logging.ERROR)  # the findings go to the table, not to a log
    try:
        store = Store("sessions", ssm=boto3.client("ssm", region_name=args.region))
        found = watch(store, restore=False, home=Placement(region=args.region))
        home = Ec2Gateway(ec2_client(args.region))
    except (ProviderError, BotoCoreError) as exc:
        reason = exc.reason if isinstance(exc, ProviderError) else str(exc)
        print(f"tms-audit: {reason}", file=sys.stderr)
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
            print(f"tms-audit: {exc.reason}", file=sys.stderr)
            return 2
    if found.errors:
        return 2
    return 1 if found.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
