"""traffic_mirror.watch.audit: the sweep's judgements over fake EC2 reads and fake stack claims:
what is drift, deleted, orphaned or a shared number; what waits for the next sweep; what is
written (only a Restore, a move, a dropped record) and that one failure stops nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.aws.connect import Placement
from traffic_mirror.aws.store import Record
from traffic_mirror.errors import failure
from traffic_mirror.ownership import MANAGED_BY_KEY, Owner
from traffic_mirror.sessions.plan import Modify
from traffic_mirror.watch import audit as audit_module
from traffic_mirror.watch.audit import Audit, audit
from traffic_mirror.watch.stack_claims import GONE, UNSURE

from .fakes import described

STACK = "arn:aws:cloudformation:us-east-1:1:stack/net/x"
WEB = Owner(STACK, "Web")
DB = Owner(STACK, "Db")
PROPS: dict[str, Any] = {
    "NetworkInterfaceId": "eni-1",
    "TrafficMirrorTargetId": "tmt-1",
    "TrafficMirrorFilterId": "tmf-1",
    "SessionNumber": "1",
    "VirtualNetworkId": "7",
}


def session(sid: str, owner: Owner, number: int = 1, **fields: Any) -> dict[str, Any]:
    return described(sid, number=number, tags=owner.tags(allocated=True), **fields)


class Claims:
    """Who claims what: an owner's physical ID now, GONE or UNSURE."""

    def __init__(self, **by_logical: str) -> None:
        self.by = by_logical

    def of(self, owner: Owner) -> str:
        return self.by.get(owner.logical_id, GONE)

    def forget(self, stack_id: str | None = None) -> None:
        pass


class Gateway:
    def __init__(self, sessions: list[Any], where: str = "in this account, region us-east-1"):
        self.sessions, self.where = sessions, where
        self.writes: list[tuple[Any, ...]] = []

    def every(self) -> list[Any]:
        return self.sessions

    def find(self, session_id: str) -> Any:
        return next((s for s in self.sessions if s["TrafficMirrorSessionId"] == session_id), None)

    def by_ids(self, ids: list[str], ident: str) -> list[Any]:
        return [s for s in self.sessions if s["TrafficMirrorSessionId"] in ids]

    def on_interface(self, eni: str) -> list[Any]:
        return [s for s in self.sessions if s["NetworkInterfaceId"] == eni]

    def modify(self, session_id: str, change: Modify) -> Any:
        self.writes.append(("modify", session_id, change))


@pytest.fixture(autouse=True)
def no_lag(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No read lag to wait out; put_back recorded instead of writing."""
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "0")
    monkeypatch.setenv("MANAGED_BY", "traffic-mirror-provider")
    restored: list[str] = []
    monkeypatch.setattr(
        audit_module,
        "put_back",
        lambda ec2, held, desired, owner: restored.append(owner.logical_id),
    )
    return restored


def run(
    records: list[Record],
    ec2: Gateway | dict[Placement, Gateway],
    claims: Claims,
    *,
    restore: bool = False,
    reread: Any = None,
) -> tuple[Audit, list[str]]:
    dropped: list[str] = []
    by_key = {r.key: r for r in records}

    def gateways(placement: Placement, record: Record | None) -> Any:
        if isinstance(ec2, dict):
            return ec2[placement]
        return ec2

    result = audit(
        records,
        gateways,
        claims,  # type: ignore[arg-type]
        restore=restore,
        reread=reread or by_key.get,
        drop=dropped.append,
    )
    return result, dropped


def test_a_session_as_recorded_is_checked_and_nothing_found() -> None:
    result, dropped = run(
        [Record("tms-1", WEB, PROPS)], Gateway([session("tms-1", WEB)]), Claims(Web="tms-1")
    )
    assert (result.checked, result.seen, result.findings, dropped) == (1, 1, [], [])


def test_drift_is_reported_by_field_and_where_without_restore() -> None:
    ec2 = Gateway([session("tms-1", WEB, TrafficMirrorFilterId="tmf-9")])
    result, _ = run([Record("tms-1", WEB, PROPS)], ec2, Claims(Web="tms-1"))
    (finding,) = result.findings
    assert finding.line() | {"stack": None} == {
        "kind": "field",
        "session": "tms-1",
        "stack": None,
        "logical_id": "Web",
        "field": "TrafficMirrorFilterId",
        "expected": "tmf-1",
        "actual": "tmf-9",
        "detail": None,
        "action": "reported",
        "where": "in this account, region us-east-1",
    }


def test_drift_is_restored_only_with_restore_and_on_drift_restore(no_lag: list[str]) -> None:
    ec2 = Gateway(
        [session("tms-1", WEB, PacketLength=100), session("tms-2", DB, number=2, PacketLength=100)]
    )
    records = [
        Record("tms-1", WEB, {**PROPS, "OnDrift": "Restore"}),
        Record("tms-2", DB, {**PROPS, "SessionNumber": "2"}),
    ]
    result, _ = run(records, ec2, Claims(Web="tms-1", Db="tms-2"), restore=True)
    assert no_lag == ["Web"]
    assert [f.action for f in result.findings] == ["restored", "reported"]
    assert result.restored == 1


@pytest.mark.parametrize("claim", [UNSURE, "tms-other"])
def test_drift_of_a_session_its_resource_does_not_claim_now_waits(
    claim: str, no_lag: list[str]
) -> None:
    ec2 = Gateway([session("tms-1", WEB, PacketLength=100)])
    record = Record("tms-1", WEB, {**PROPS, "OnDrift": "Restore"})
    result, _ = run([record], ec2, Claims(Web=claim), restore=True)
    assert [f.kind for f in result.findings if f.kind != "orphaned"] == []
    assert result.deferred == 1
    assert no_lag == []


def test_an_update_landed_since_the_records_were_read_is_no_drift() -> None:
    ec2 = Gateway([session("tms-1", WEB, SessionNumber=2)])
    stale = Record("tms-1", WEB, PROPS)
    fresh = Record("tms-1", WEB, {**PROPS, "SessionNumber": "2"})
    result, _ = run([stale], ec2, Claims(Web="tms-1"), reread=lambda key: fresh)
    assert result.findings == []


def test_a_deleted_session_is_reported_while_claimed_and_its_record_dropped_once_not() -> None:
    records = [
        Record("tms-1", WEB, PROPS),
        Record("tms-2", DB, PROPS),
        Record("tms-3", Owner(STACK, "Api"), PROPS),
    ]
    result, dropped = run(records, Gateway([]), Claims(Web="tms-1", Api=UNSURE))
    assert [(f.kind, f.session_id) for f in result.findings] == [("deleted", "tms-1")]
    assert dropped == ["tms-2"]  # Db: no longer claimed by anything
    assert result.deferred == 1  # Api: CloudFormation could not tell


def test_a_marked_session_no_resource_claims_is_an_orphan_and_not_deleted() -> None:
    foreign = session("tms-8", DB)
    foreign["Tags"] = [
        {**t, "Value": "other-provider"} if t["Key"] == MANAGED_BY_KEY else t
        for t in foreign["Tags"]
    ]
    ec2 = Gateway([session("tms-9", DB, number=2), foreign])
    result, dropped = run([], ec2, Claims())
    assert [(f.kind, f.session_id, f.detail) for f in result.findings] == [
        ("orphaned", "tms-9", "its stack or resource no longer exists")
    ]
    assert (result.seen, dropped) == (1, [])


def test_an_allocated_session_sharing_a_number_is_moved_to_a_free_one() -> None:
    ec2 = Gateway([session("tms-1", WEB), session("tms-2", DB)])
    allocated = {k: v for k, v in PROPS.items() if k != "SessionNumber"}
    records = [
        Record("tms-1", WEB, PROPS),
        Record("tms-2", DB, allocated, assigned={"SessionNumber": 1}),
    ]
    result, _ = run(records, ec2, Claims(Web="tms-1", Db="tms-2"), restore=True)
    assert ec2.writes == [("modify", "tms-2", Modify({"SessionNumber": 2}))]
    shared = [(f.session_id, f.action) for f in result.findings if f.kind == "shared-number"]
    assert shared == [("tms-1", "reported"), ("tms-2", "moved to #2")]


def test_one_placement_failing_is_counted_and_the_others_still_audited() -> None:
    class Refusing(Gateway):
        def every(self) -> list[Any]:
            raise failure("describe: UnauthorizedOperation", "UnauthorizedOperation", "EC2")

    home, member = Placement(), Placement("arn:aws:iam::222233334444:role/r")
    records = [
        Record("tms-1", WEB, {**PROPS, "RoleArn": "arn:aws:iam::222233334444:role/r"}),
        Record("tms-2", DB, PROPS),
    ]
    ec2 = {member: Refusing([]), home: Gateway([])}
    result, _ = run(records, ec2, Claims(Db="tms-2"))
    assert result.errors == ["describe: UnauthorizedOperation"]
    assert [(f.kind, f.session_id) for f in result.findings] == [("deleted", "tms-2")]


def test_an_orphan_candidate_gone_when_read_again_is_not_reported() -> None:
    """A read may still show a session its stack just deleted: the audit reads the
    candidates again by ID (after the read-lag bound) and reports only those still there."""

    class Lagging(Gateway):
        def by_ids(self, ids: list[str], ident: str) -> list[Any]:
            return []  # deleted: only the first read still showed it

    result, _ = run([], Lagging([session("tms-9", DB, number=2)]), Claims())
    assert result.findings == []
    kept, _ = run([], Gateway([session("tms-9", DB, number=2)]), Claims())
    assert [f.kind for f in kept.findings] == ["orphaned"]  # still there: reported
