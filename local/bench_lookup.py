"""``make bench``, the lookup rows: two documented ways to find sessions, measured against each
other at BENCH_LOOKUP_SIZES (1,000 and 10,000, EC2's limit) sessions in the account.

DescribeTrafficMirrorSessions documents no ``tag:`` filter, so sessions are found by their
tags in one of two ways (issue 19: "choose by measuring both"):

- **DescribeTags + by ID**: DescribeTags (``resource-type``, ``key``, ``value``; pages of
  1,000 tags), then DescribeTrafficMirrorSessions with the ``traffic-mirror-session-id``
  filter, 200 IDs a call;
- **unfiltered pages**: every session of the account (pages of 1,000), kept or dropped here.

Two lookups, each both ways:

- **a fleet's sessions**: a fleet owning BENCH_LOOKUP_FLEET (1,000) sessions of the account.
  The provider's ``FleetGateway.owned(owner)`` against ``FleetGateway.every()`` filtered here
  with ``Owner.owns``;
- **every session of the provider** (the sweep): ``FleetGateway.managed()`` against
  ``FleetGateway.tagged(managed-by)`` then ``FleetGateway.by_ids``.

The account: the fleet's sessions, then the rest, BENCH_LOOKUP_OTHERS_MANAGED_PERCENT (50) %
of them the provider's (other stacks' fleets) and the others not (no provider tag: made by
hand or by another tool), all mixed in creation order. Every session carries the tags the
provider sets (``identity.Owner.tags``), three sessions per interface.

Seeding: creating 10,000 sessions through the API would take over a minute here (measured:
4.9 ms a Create at 600 sessions, growing with the account, and 6.2 ms an interface; 3,334
interfaces are needed), so the sessions and interfaces are made in moto's backend, in
process (under a second for 10,000), as the embedded EC2's Create makes them: the tags in
moto's tag table (DescribeTags), the place in the creation order (paging) and a version for
the read lag (none kept when there is no lag); then a wait until reads show them all.

Floor: the cheapest bare boto3 way to the same answer on the same endpoint: both ways written
by hand with the same request shapes (documented filters and page sizes), the faster one's
median. Reported per strategy: EC2 calls by action, wall time (median of BENCH_LOOKUP_RUNS,
interleaved), ratio to the floor. Problems (``make bench`` exits 1): a strategy answering
other sessions than the account holds for the lookup, or making other calls than its way's
formula (pages and chunks of IDs).

Run alone: ``.venv/bin/python -m local.bench_lookup`` (prints the table and updates the
``lookup`` entry of build/bench.json).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends

from local.harness.ec2sim import _REALISM, EmbeddedEc2, _record
from local.harness.events import new_stack_id
from local.harness.lambda_loader import ROOT, load_handler

if TYPE_CHECKING:
    from types import ModuleType

    from mypy_boto3_ec2 import EC2Client

    from traffic_mirror.fleets.gateway import FleetGateway
    from traffic_mirror.ownership import Owner
else:
    EC2Client = Any


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.replace(" ", "").split(",") if s)


SIZES = _sizes(os.environ.get("BENCH_LOOKUP_SIZES", "1000,10000"))
FLEET = int(os.environ.get("BENCH_LOOKUP_FLEET", "1000"))
RUNS = int(os.environ.get("BENCH_LOOKUP_RUNS", "5"))
OTHERS_MANAGED_PERCENT = int(os.environ.get("BENCH_LOOKUP_OTHERS_MANAGED_PERCENT", "50"))
OTHER_STACKS: Final = 9
SESSIONS_PER_INTERFACE: Final = 3
TAGS: Final = "DescribeTags"
SESSIONS: Final = "DescribeTrafficMirrorSessions"
BY_TAGS: Final = "DescribeTags + by ID"
PAGES: Final = "unfiltered pages"
RAW_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 8})  # the provider's
RESULTS: Final = ROOT / "build" / "bench.json"

Session = Mapping[str, Any]


@dataclass
class Account:
    """What the seeded account holds: every session, the fleet's, the provider's."""

    size: int
    owner: Owner
    every: set[str] = field(default_factory=set)
    fleet: set[str] = field(default_factory=set)
    managed: set[str] = field(default_factory=set)
    seed_s: float = 0.0


@dataclass
class Lookup:
    """What the strategies need: the provider's gateway and modules, a bare client."""

    gateway: FleetGateway
    raw: EC2Client
    inventory: ModuleType
    identity: ModuleType
    owner: Owner

    def tag_filters(self, key: str, value: str) -> list[Any]:
        return [
            {"Name": "resource-type", "Values": ["traffic-mirror-session"]},
            {"Name": "key", "Values": [key]},
            {"Name": "value", "Values": [value]},
        ]

    def raw_by_tags(self, key: str, value: str) -> list[Session]:
        """Bare boto3: DescribeTags, then the sessions by ID (documented filter, 200 a call)."""
        pages = self.raw.get_paginator("describe_tags").paginate(
            Filters=self.tag_filters(key, value),
            PaginationConfig={"PageSize": self.inventory.PAGE},
        )
        ids = sorted({t["ResourceId"] for page in pages for t in page["Tags"]})
        per = int(self.inventory.VALUES_PER_FILTER)
        found: list[Session] = []
        for start in range(0, len(ids), per):  # one page each: 200 IDs, 1,000 a page
            answer = self.raw.describe_traffic_mirror_sessions(
                Filters=[{"Name": "traffic-mirror-session-id", "Values": ids[start : start + per]}]
            )
            found += answer["TrafficMirrorSessions"]
        return found

    def raw_pages(self) -> list[Session]:
        """Bare boto3: every session of the account, all pages."""
        pages = self.raw.get_paginator("describe_traffic_mirror_sessions").paginate(
            PaginationConfig={"PageSize": self.inventory.PAGE}
        )
        return [s for page in pages for s in page["TrafficMirrorSessions"]]


def _tags(session: Session) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in session.get("Tags", [])}


def _marked(look: Lookup, session: Session) -> bool:
    return bool(_tags(session).get(look.identity.MANAGED_BY_KEY) == look.identity.managed_by())


def _owned(look: Lookup, session: Session) -> bool:
    tags, owner = _tags(session), look.owner
    return _marked(look, session) and (
        tags.get(look.identity.STACK_KEY),
        tags.get(look.identity.LOGICAL_KEY),
    ) == (owner.stack_id, owner.logical_id)


Run = Callable[[Lookup], Iterable[Session]]


@dataclass(frozen=True)
class Strategy:
    """One way to a lookup's answer: its label, its way (None: whatever the provider does,
    told by its calls) and whether it is bare boto3 (a floor candidate)."""

    name: str
    way: str | None
    raw: bool
    run: Run


def fleet_strategies() -> list[Strategy]:
    """A fleet's sessions: the provider's ``owned``, the other way, both by hand."""
    return [
        Strategy("provider: FleetGateway.owned", None, False, lambda k: k.gateway.owned(k.owner)),
        Strategy(
            "FleetGateway.every + Owner.owns",
            PAGES,
            False,
            lambda k: [s for s in k.gateway.every() if k.owner.owns(s)],
        ),
        Strategy(
            "bare boto3, by tags",
            BY_TAGS,
            True,
            lambda k: [
                s for s in k.raw_by_tags(k.identity.STACK_KEY, k.owner.stack_id) if _owned(k, s)
            ],
        ),
        Strategy(
            "bare boto3, all pages",
            PAGES,
            True,
            lambda k: [s for s in k.raw_pages() if _owned(k, s)],
        ),
    ]


def sweep_strategies() -> list[Strategy]:
    """Every session of the provider: its ``managed``, the other way, both by hand."""

    def tagged_then_ids(k: Lookup) -> list[Session]:
        ids = k.gateway.tagged(k.identity.MANAGED_BY_KEY, k.identity.managed_by())
        return [s for s in k.gateway.by_ids(ids, "managed") if _marked(k, s)]

    return [
        Strategy("provider: FleetGateway.managed", None, False, lambda k: k.gateway.managed()),
        Strategy("FleetGateway.tagged + by_ids", BY_TAGS, False, tagged_then_ids),
        Strategy(
            "bare boto3, by tags",
            BY_TAGS,
            True,
            lambda k: [
                s
                for s in k.raw_by_tags(k.identity.MANAGED_BY_KEY, k.identity.managed_by())
                if _marked(k, s)
            ],
        ),
        Strategy(
            "bare boto3, all pages",
            PAGES,
            True,
            lambda k: [s for s in k.raw_pages() if _marked(k, s)],
        ),
    ]


def expected_calls(way: str, wanted: int, account: int, inventory: ModuleType) -> dict[str, int]:
    """The calls a way makes: DescribeTags pages (one tag a session) and chunks of IDs, or
    every page of the account (an empty answer is one call too)."""
    page, per = int(inventory.PAGE), int(inventory.VALUES_PER_FILTER)
    if way == BY_TAGS:
        calls = {TAGS: max(1, math.ceil(wanted / page))}
        if wanted:
            calls[SESSIONS] = math.ceil(wanted / per)
        return calls
    return {SESSIONS: max(1, math.ceil(account / page))}


# ------------------------------------------------------------------------------------- seeding


def _backend(ec2: EmbeddedEc2, target_id: str) -> Any:
    backend = ec2_backends[DEFAULT_ACCOUNT_ID][ec2.region]
    assert target_id in backend.traffic_mirror_targets, "fixtures in another backend"
    return backend


def seed(ec2: EmbeddedEc2, size: int, identity: ModuleType) -> Account:
    """``size`` sessions in the account (the fleet's FLEET first in number, mixed in creation
    order with the provider's other sessions and ones it does not manage); see module doc."""
    t0 = time.perf_counter()
    fx = ec2.fixtures(sources=1)
    client = ec2.client()
    cidr = "10.0.64.0/18"  # room for 16,000 interfaces
    subnet_id = client.create_subnet(VpcId=fx.vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
    backend = _backend(ec2, fx.target_id)
    subnet = backend.get_subnet(subnet_id)
    owner = identity.Owner(new_stack_id("bench-lookup-fleet"), "BenchFleet")
    others = [
        identity.Owner(new_stack_id(f"bench-lookup-{n}"), "Fleet") for n in range(OTHER_STACKS)
    ]
    fleet = min(FLEET, size)
    managed_others = (size - fleet) * OTHERS_MANAGED_PERCENT // 100
    roles = ["fleet"] * fleet + ["other"] * managed_others
    roles += ["foreign"] * (size - len(roles))
    random.Random(19).shuffle(roles)  # noqa: S311 - a fixed mix, not security
    account = Account(size, owner)
    eni = ""
    with _REALISM.lock:
        for n, role in enumerate(roles):
            if n % SESSIONS_PER_INTERFACE == 0:
                eni = backend.create_network_interface(subnet, None).id
            if role == "fleet":
                tags = dict(owner.tags(allocated=True))
            elif role == "other":
                tags = dict(others[n % OTHER_STACKS].tags(allocated=True))
            else:
                tags = {"Name": f"by-hand-{n}", "team": "netsec"}
            session = backend.create_traffic_mirror_session(
                network_interface_id=eni,
                traffic_mirror_target_id=fx.target_id,
                traffic_mirror_filter_id=fx.filter_ids[0],
                session_number=n % SESSIONS_PER_INTERFACE + 1,
                packet_length=None,
                virtual_network_id=7,
                description=f"bench lookup {n}",
                tag_specifications=[
                    {
                        "ResourceType": "traffic-mirror-session",
                        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                    }
                ],
                client_token=None,
            )
            _REALISM.order[session.id] = next(_REALISM.sequence)  # paging: creation order
            _record(backend, session.id, None, session.to_dict)  # as Create does
            account.every.add(session.id)
            if role == "fleet":
                account.fleet.add(session.id)
            if role != "foreign":
                account.managed.add(session.id)
    ec2.wait_visible()  # a read lag, if set, has passed for every session seeded
    account.seed_s = round(time.perf_counter() - t0, 2)
    return account


# ----------------------------------------------------------------------------------- measuring


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(samples), 1),
        "min": round(min(samples), 1),
        "max": round(max(samples), 1),
    }


def measure(
    ec2: EmbeddedEc2,
    look: Lookup,
    account: Account,
    lookup: str,
    *,
    strategies: list[Strategy],
    wanted: set[str],
    problems: list[str],
) -> dict[str, Any]:
    """RUNS interleaved rounds of every strategy; calls, times, ratios to the floor."""
    times: dict[str, list[float]] = {s.name: [] for s in strategies}
    calls: dict[str, dict[str, int]] = {}
    where = f"{lookup}, {account.size} sessions in the account"
    seen: set[str] = set()
    answers: dict[str, frozenset[str]] = {}
    wrong: set[str] = set()  # answered other sessions than wanted, in some run

    def problem(text: str) -> None:
        if text not in seen:
            seen.add(text)
            problems.append(f"{where}: {text}")

    for _ in range(RUNS):
        for strategy in strategies:
            mark = len(ec2.calls)
            t0 = time.perf_counter()
            found = list(strategy.run(look))
            times[strategy.name].append((time.perf_counter() - t0) * 1000)
            made = dict(sorted(Counter(ec2.calls[mark:]).items()))
            calls[strategy.name] = made
            ids = [str(s["TrafficMirrorSessionId"]) for s in found]
            answers[strategy.name] = frozenset(ids)
            if len(ids) != len(set(ids)) or set(ids) != wanted:
                wrong.add(strategy.name)
                missing, extra = len(wanted - set(ids)), len(set(ids) - wanted)
                problem(
                    f"{strategy.name} answered {len(ids)} sessions, {len(wanted)} wanted "
                    f"({missing} missing, {extra} extra, {len(ids) - len(set(ids))} twice)"
                )
            way = strategy.way or (BY_TAGS if TAGS in made else PAGES)
            formula = expected_calls(way, len(wanted), account.size, look.inventory)
            if made != formula:
                problem(f"{strategy.name} ({way}) made {made}, its way makes {formula}")
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    # the floor: the faster bare boto3 way among those that answered right
    floors = [s.name for s in strategies if s.raw and s.name not in wrong]
    floor = min(floors, key=medians.__getitem__) if floors else None
    if floor is None:
        problem("no bare boto3 way answered right: no floor")
    floor_calls = sum(calls[floor].values()) if floor else 0
    out: dict[str, Any] = {}
    for strategy in strategies:
        made = calls[strategy.name]
        out[strategy.name] = {
            "way": strategy.way or (BY_TAGS if TAGS in made else PAGES),
            "ec2_calls": made,
            "calls": sum(made.values()),
            "found": len(answers[strategy.name]),
            "right": strategy.name not in wrong,
            "ms": _summary(times[strategy.name]),
            "ratio": round(medians[strategy.name] / medians[floor], 2) if floor else None,
            "calls_ratio": round(sum(made.values()) / floor_calls, 2) if floor_calls else None,
        }
    return {
        "lookup": lookup,
        "account_sessions": account.size,
        "wanted": len(wanted),
        "runs": RUNS,
        "floor": floor,
        "answers_agree": len(set(answers.values())) == 1,
        "strategies": out,
    }


def run(ec2: EmbeddedEc2) -> tuple[dict[str, Any], list[str]]:
    """Every lookup row, at each size on a fresh embedded EC2 state; results and problems."""
    with contextlib.redirect_stdout(io.StringIO()):
        load_handler(function="ReconcilerFunction")  # CodeUri on sys.path, as Lambda has it
    from traffic_mirror import ownership as identity  # noqa: PLC0415 - on sys.path only now
    from traffic_mirror.fleets import gateway as inventory  # noqa: PLC0415

    problems: list[str] = []
    sizes: list[dict[str, Any]] = []
    for size in SIZES:
        ec2.reset()
        account = seed(ec2, size, identity)
        look = Lookup(
            inventory.FleetGateway(boto3.client("ec2", config=RAW_CONFIG)),
            boto3.client("ec2", config=RAW_CONFIG),
            inventory,
            identity,
            account.owner,
        )
        sizes.append(
            {
                "account_sessions": size,
                "fleet_sessions": len(account.fleet),
                "provider_sessions": len(account.managed),
                "seed_s": account.seed_s,
                "rows": [
                    measure(
                        ec2,
                        look,
                        account,
                        "a fleet's sessions",
                        strategies=fleet_strategies(),
                        wanted=account.fleet,
                        problems=problems,
                    ),
                    measure(
                        ec2,
                        look,
                        account,
                        "every session of the provider",
                        strategies=sweep_strategies(),
                        wanted=account.managed,
                        problems=problems,
                    ),
                ],
            }
        )
    ec2.reset()  # 10,000 sessions are not left for the rows after these
    return {
        "runs": RUNS,
        "page": inventory.PAGE,
        "ids_per_read": inventory.VALUES_PER_FILTER,
        "others_managed_percent": OTHERS_MANAGED_PERCENT,
        "sizes": sizes,
    }, problems


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def _calls(entry: dict[str, Any]) -> str:
    return " + ".join(f"{n} {k}" for k, n in entry["ec2_calls"].items()) or "none"


def rows(r: dict[str, Any]) -> list[str]:
    """The lookup rows: a table of their own (four strategies a lookup)."""
    lines = [
        "",
        f"Lookups (median of {r['runs']}; floor: the faster bare boto3 way)",
        "",
        "| lookup | strategy | way | EC2 calls | ms, median (min-max) | vs floor: time, calls |",
        "|---|---|---|---|---|---|",
    ]
    for size in r["sizes"]:
        for row in size["rows"]:
            what = (
                f"{row['lookup']}: {row['wanted']:,} of {row['account_sessions']:,} in the account"
            )
            for name, s in row["strategies"].items():
                floor = " (floor)" if name == row["floor"] else ""
                ms = s["ms"]
                lines.append(
                    f"| {what} | {name}{floor} | {s['way']} | {_calls(s)} "
                    f"| {ms['median']:.0f} ({ms['min']:.0f}-{ms['max']:.0f}) "
                    f"| {_x(s['ratio'])}, {_x(s['calls_ratio'])} |"
                )
    return lines


def main() -> int:
    """Run the lookup rows alone; print them and update build/bench.json's ``lookup``."""
    with EmbeddedEc2() as ec2:
        results, problems = run(ec2)
    saved: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads(RESULTS.read_text())
    saved["lookup"], saved["lookup_problems"] = results, problems
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(saved, indent=2) + "\n")
    print("\n".join(rows(results)))
    print("\n".join(f"LOOKUP PROBLEM: {p}" for p in problems))
    print(f"\nwritten: {RESULTS.relative_to(ROOT)} (lookup)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
