"""Drift and orphans of single sessions, end to end: sessions made through ProviderFunction's
handler (real events, answers caught by the HTTPS receiver, EC2 and SSM answered by the embedded
moto), changed or deleted by hand with plain boto3, then the scheduled sweep delivered to
ReconcilerFunction's handler as EventBridge sends it. CloudFormation's side (who claims which
session) is what the harness's CustomResource told it (local/harness/stacks.py)."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from local.harness.by_hand import ProviderMarks, session_by_hand
from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource, new_stack_id
from local.harness.lambda_loader import Handler
from local.harness.receiver import ResponseReceiver
from local.harness.stacks import STACKS
from tests.conftest import by_hand, props
from tests.integration.test_fleet import FLEET_HANDLER, RECONCILER, fleet_props, group, sweep
from traffic_mirror.aws.store import REMOVED, Store, ssm_client
from traffic_mirror.errors import ProviderError
from traffic_mirror.ownership import Owner
from traffic_mirror.watch import audit as audit_module
from traffic_mirror.watch.audit import Audit, watch

SESSIONS_PATH = "/traffic-mirror-provider/traffic-mirror-provider/sessions"
WRITES = {"ModifyTrafficMirrorSession", "CreateTags", "DeleteTags", "CreateTrafficMirrorSession"}


def recorded(ec2: EmbeddedEc2) -> dict[str, dict[str, Any]]:
    """The session records in the store, by session ID."""
    ssm = boto3.client("ssm", region_name=ec2.region, endpoint_url=ec2.endpoint)
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=SESSIONS_PATH)
    return {
        p["Name"].rsplit("/", 1)[-1]: json.loads(p["Value"])
        for page in pages
        for p in page["Parameters"]
        if p["Value"] != REMOVED  # a removed record's tombstone (see Store.remove)
    }


def swept() -> tuple[dict[str, Any], list[dict[str, str]]]:
    """One scheduled sweep through ReconcilerFunction's handler: the audit part of its answer,
    and the findings that answer lists (kind, session, detail, action)."""
    summary: dict[str, Any] = sweep()["sessions"]
    return summary, summary["found"]


def audited() -> Audit:
    """The audit as the handler runs it (:func:`watch` over the sessions' store), for what a
    finding says beyond the handler's answer (stack, expected, actual, where)."""
    return watch(Store("sessions"))


@pytest.fixture
def session(stack: CustomResource, fx: Fixtures) -> CustomResource:
    answer = stack.create(props(fx, Tags=[{"Key": "team", "Value": "net"}]))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    return stack


def test_create_records_what_the_stack_asked_for_and_delete_removes_it(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    answer = stack.create(props(fx, Description="web"))
    sid = answer["PhysicalResourceId"]
    record = recorded(ec2)[sid]
    assert record["logical_id"] == stack.logical_id and record["stack_id"] == stack.stack_id
    assert record["properties"]["Description"] == "web"
    assert "ServiceToken" not in record["properties"]
    assert record["assigned"]["VirtualNetworkId"] == int(answer["Data"]["VirtualNetworkId"])
    assert stack.delete()["Status"] == "SUCCESS"
    assert recorded(ec2) == {}


def test_a_dry_run_records_nothing(ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures) -> None:
    answer = stack.create(props(fx, DryRun="true"))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert recorded(ec2) == {}


def test_a_healthy_account_has_no_findings_and_the_sweep_only_reads(
    ec2: EmbeddedEc2,
    session: CustomResource,
    fx: Fixtures,
    receiver: ResponseReceiver,
) -> None:
    other = CustomResource(session.handler, receiver, logical_id="Other")
    assert other.create(props(fx, NetworkInterfaceId=fx.sources[1]))["Status"] == "SUCCESS"
    fleet = CustomResource(
        FLEET_HANDLER, receiver, logical_id="WebFleet", resource_type="Custom::TrafficMirrorFleet"
    )
    group(ec2, fx, 2)
    assert fleet.create(fleet_props(fx))["Status"] == "SUCCESS"
    before = len(ec2.calls)
    summary, found = swept()
    assert found == []
    assert summary["checked"] == 2 and summary["seen"] == 4
    assert ec2.writes(before) == []


@pytest.mark.parametrize(
    ("change", "field", "expected", "actual"),
    [
        ({"TrafficMirrorFilterId": "other"}, "TrafficMirrorFilterId", "filter0", "filter1"),
        ({"PacketLength": 100}, "PacketLength", None, "100"),
        ({"Description": "changed by hand"}, "Description", None, "changed by hand"),
        ({"VirtualNetworkId": 77}, "VirtualNetworkId", "vni", "77"),
        ({"SessionNumber": 9}, "SessionNumber", "1", "9"),
    ],
)
def test_each_changed_field_is_reported_with_before_and_after_and_nothing_is_written(
    ec2: EmbeddedEc2,
    session: CustomResource,
    fx: Fixtures,
    change: dict[str, Any],
    field: str,
    expected: str | None,
    actual: str,
) -> None:
    sid = str(session.physical_id)
    vni = recorded(ec2)[sid]["assigned"]["VirtualNetworkId"]
    args: dict[str, Any] = dict(change)
    if field == "TrafficMirrorFilterId":
        args = {"TrafficMirrorFilterId": fx.filter_ids[1]}
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(TrafficMirrorSessionId=sid, **args)
    names = {"filter0": fx.filter_ids[0], "filter1": fx.filter_ids[1], "vni": str(vni)}
    before = len(ec2.calls)
    summary, found = swept()
    assert found == [{"kind": "field", "session": sid, "detail": field, "action": "reported"}]
    assert summary["findings"]["field"] == 1
    # The whole finding, as the audit returns it (the drift is still there: only reported).
    assert [f.line() for f in audited().findings] == [
        {
            "kind": "field",
            "session": sid,
            "stack": session.stack_id,
            "logical_id": session.logical_id,
            "field": field,
            "expected": names.get(str(expected), expected),
            "actual": names.get(actual, actual),
            "action": "reported",
            "detail": None,
            "where": "in this account, region us-east-1",
        }
    ]
    assert ec2.writes(before) == []


def test_changed_missing_and_added_user_tags_are_reported_one_line_each(
    ec2: EmbeddedEc2, session: CustomResource
) -> None:
    sid = str(session.physical_id)
    with by_hand(ec2) as client:
        client.create_tags(Resources=[sid], Tags=[{"Key": "added", "Value": "x"}])
        client.delete_tags(Resources=[sid], Tags=[{"Key": "team"}])
    found = audited().findings
    assert sorted((f.name, f.expected, f.actual) for f in found) == [
        ("added", None, "x"),
        ("team", "net", None),
    ]
    assert {f.kind for f in found} == {"tag"}


def test_restore_puts_fields_back_with_one_modify_and_tags_with_the_tag_calls(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    answer = stack.create(props(fx, OnDrift="Restore", Tags=[{"Key": "team", "Value": "net"}]))
    sid = answer["PhysicalResourceId"]
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(
            TrafficMirrorSessionId=sid,
            TrafficMirrorFilterId=fx.filter_ids[1],
            PacketLength=64,
            Description="by hand",
        )
        client.create_tags(Resources=[sid], Tags=[{"Key": "team", "Value": "ops"}])
    before = len(ec2.calls)
    summary, found = swept()
    assert {f["detail"] for f in found} == {
        "TrafficMirrorFilterId",
        "PacketLength",
        "Description",
        "team",
    }
    assert {f["action"] for f in found} == {"restored"} and summary["restored"] == 4
    assert ec2.writes(before) == ["ModifyTrafficMirrorSession", "CreateTags"]
    held = ec2.sessions()[0]
    assert held["TrafficMirrorFilterId"] == fx.filter_ids[0]
    assert "PacketLength" not in held and "Description" not in held
    assert {"Key": "team", "Value": "net"} in held["Tags"]
    ec2.wait_visible()  # the next sweep, minutes later on its schedule: the restore shows
    assert swept()[1] == []  # true again: the next sweep finds nothing


def test_report_is_the_default_and_leaves_the_drift_in_place(
    ec2: EmbeddedEc2, session: CustomResource, fx: Fixtures
) -> None:
    sid = str(session.physical_id)
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(
            TrafficMirrorSessionId=sid, TrafficMirrorFilterId=fx.filter_ids[1]
        )
    assert len(swept()[1]) == 1
    assert len(swept()[1]) == 1  # still there: reported again, never fixed
    assert ec2.sessions()[0]["TrafficMirrorFilterId"] == fx.filter_ids[1]


def test_a_session_deleted_out_of_band_is_reported_never_recreated(
    ec2: EmbeddedEc2, session: CustomResource
) -> None:
    sid = str(session.physical_id)
    with by_hand(ec2) as client:
        client.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
    before = len(ec2.calls)
    summary, found = swept()
    assert [(f["kind"], f["session"]) for f in found] == [("deleted", sid)]
    assert summary["findings"]["deleted"] == 1
    assert ec2.writes(before) == [] and ec2.sessions() == []
    assert sid in recorded(ec2)  # the stack still has it: its next update re-creates it


def test_the_session_of_a_deleted_stack_is_an_orphan_reported_and_kept(
    ec2: EmbeddedEc2, session: CustomResource
) -> None:
    STACKS.delete_stack(session.stack_id)  # e.g. deleted with DeletionPolicy: Retain
    before = len(ec2.calls)
    summary, found = swept()
    orphans = [f for f in found if f["kind"] == "orphaned"]
    assert [(f["session"], f["detail"]) for f in orphans] == [
        (session.physical_id, "its stack or resource no longer exists")
    ]
    assert summary["findings"]["orphaned"] == 1
    assert ec2.writes(before) == [] and len(ec2.sessions()) == 1


def test_the_old_session_of_a_replaced_resource_whose_cleanup_never_came_is_an_orphan(
    ec2: EmbeddedEc2, session: CustomResource, fx: Fixtures
) -> None:
    old = str(session.physical_id)
    answer = session.update(props(fx, NetworkInterfaceId=fx.sources[1]))
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] != old
    # CloudFormation's cleanup Delete of the old session failed (or was lost): never sent.
    _, found = swept()
    orphans = [(f["session"], f["detail"]) for f in found if f["kind"] == "orphaned"]
    assert orphans == [(old, f"its resource now has physical ID {answer['PhysicalResourceId']}")]
    assert [f["kind"] for f in found if f["session"] == answer["PhysicalResourceId"]] == []


def test_a_resource_being_updated_is_not_called_an_orphan(
    ec2: EmbeddedEc2, session: CustomResource, fx: Fixtures
) -> None:
    STACKS.set_status(session.stack_id, session.logical_id, "UPDATE_IN_PROGRESS")
    STACKS.answered(session.stack_id, session.logical_id, "Update", "tms-0000000000000000f", "")
    STACKS.set_status(session.stack_id, session.logical_id, "UPDATE_IN_PROGRESS")
    assert swept()[1] == []


def test_the_replaced_session_awaiting_cleanup_is_not_an_orphan_while_the_stack_cleans_up(
    ec2: EmbeddedEc2, session: CustomResource, fx: Fixtures
) -> None:
    answer = session.update(props(fx, NetworkInterfaceId=fx.sources[1]))
    assert answer["Status"] == "SUCCESS"
    STACKS.set_stack_status(session.stack_id, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    assert swept()[1] == []
    STACKS.set_stack_status(session.stack_id, "UPDATE_COMPLETE")  # the cleanup Delete failed
    assert [f["kind"] for f in swept()[1]] == ["orphaned"]


def test_the_record_of_a_deleted_unclaimed_session_is_dropped_not_reported(
    ec2: EmbeddedEc2, session: CustomResource
) -> None:
    sid = str(session.physical_id)
    STACKS.delete_stack(session.stack_id)
    with by_hand(ec2) as client:
        client.delete_traffic_mirror_session(TrafficMirrorSessionId=sid)
    summary, found = swept()
    assert found == [] and summary["dropped"] == 1
    assert recorded(ec2) == {}


AUDIT_LOGGER = "traffic_mirror.watch.audit"


def test_each_finding_is_also_logged_as_one_structured_json_line(
    ec2: EmbeddedEc2,
    session: CustomResource,
    caplog: pytest.LogCaptureFixture,
    no_secrets_in_logs: io.StringIO,
) -> None:
    """About the log itself (what Logs Insights queries read): the audit's logger is the one
    named here, so a rename fails this test rather than leaving it nothing to read."""
    assert audit_module._log is logging.getLogger(AUDIT_LOGGER)
    sid = str(session.physical_id)
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(TrafficMirrorSessionId=sid, Description="x")
    caplog.clear()
    _, found = swept()
    assert found == [
        {"kind": "field", "session": sid, "detail": "Description", "action": "reported"}
    ]
    logged = [
        (r.getMessage(), *(getattr(r, k) for k in ("kind", "session", "field", "actual")))
        for r in caplog.records
        if r.name == AUDIT_LOGGER
    ]
    assert logged == [("session field", "field", sid, "Description", "x")]
    lines = [json.loads(x) for x in no_secrets_in_logs.getvalue().splitlines() if '"kind"' in x]
    assert [(x["message"], x["session"], x["field"], x["action"]) for x in lines] == [
        ("session field", sid, "Description", "reported")
    ]


def test_findings_become_emf_metrics_by_kind_with_no_id_in_any_dimension(
    ec2: EmbeddedEc2,
    session: CustomResource,
    fx: Fixtures,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sid = str(session.physical_id)
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(
            TrafficMirrorSessionId=sid, TrafficMirrorFilterId=fx.filter_ids[1], Description="x"
        )
    capfd.readouterr()
    sweep()
    out = capfd.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    values = {
        (m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], m["Kind"]): m[
            m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
        ][0]
        for m in metrics
        if "Kind" in m
    }
    assert values == {
        ("DriftedSessions", "field"): 1.0,  # one session, two fields
        ("DriftedSessions", "tag"): 0.0,
        ("DriftedSessions", "deleted"): 0.0,
        ("OrphanedSessions", "orphaned"): 0.0,
        ("SharedSessionNumbers", "shared-number"): 0.0,
        ("AuditErrors", "error"): 0.0,
    }
    for m in metrics:
        for dims in m["_aws"]["CloudWatchMetrics"][0]["Dimensions"]:
            assert set(dims) <= {"ProviderStack", "Kind", "service"}
    assert sid not in out.split('"_aws"')[-1]


@pytest.mark.parametrize("marked", [False, True], ids=["by hand", "with a gone stack's marks"])
def test_sessions_not_made_by_the_provider_are_never_reported(
    ec2: EmbeddedEc2, fx: Fixtures, handler: Handler, marked: bool
) -> None:
    """The same session, made by hand, is judged only with the provider's marks on it (then
    it is an orphan: the stack its tags name never existed)."""
    marks = ProviderMarks(Owner(new_stack_id("gone"), "Mirror")) if marked else None
    with by_hand(ec2) as client:
        sid = session_by_hand(
            client,
            interface=fx.sources[0],
            target=fx.target_id,
            mirror_filter=fx.filter_ids[0],
            number=1,
            marks=marks,
        )["TrafficMirrorSessionId"]
    summary, found = swept()
    if not marked:
        assert found == [] and summary["seen"] == 0
    else:
        why = "its stack or resource no longer exists"
        assert found == [{"kind": "orphaned", "session": sid, "detail": why, "action": "reported"}]
        assert summary["seen"] == 1


def test_a_session_whose_record_outgrows_the_store_works_and_is_logged_as_not_watched(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures, caplog: pytest.LogCaptureFixture
) -> None:
    tags = [{"Key": f"k{n:03d}" + "x" * 124, "Value": "v" * 256} for n in range(46)]  # ~18 KB
    with caplog.at_level(logging.WARNING):
        answer = stack.create(props(fx, Tags=tags))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert recorded(ec2) == {}
    assert [
        r.getMessage() for r in caplog.records if r.name == "traffic_mirror.sessions.resource"
    ] == ["session not watched for drift"]


def test_a_record_over_the_standard_tiers_4_kb_is_kept_whole_with_intelligent_tiering(
    ec2: EmbeddedEc2, stack: CustomResource, fx: Fixtures
) -> None:
    sent: list[dict[str, Any]] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    ssm_client().meta.events.register("provide-client-params.ssm.PutParameter", seen)
    try:
        tags = [{"Key": f"k{n:02d}", "Value": "v" * 250} for n in range(20)]  # ~5.5 KB of JSON
        sid = stack.create(props(fx, Tags=tags))["PhysicalResourceId"]
    finally:
        ssm_client().meta.events.unregister("provide-client-params.ssm.PutParameter", seen)
    assert recorded(ec2)[sid]["properties"]["Tags"] == tags
    # Advanced above 4 KB, chosen by SSM; an explicit Standard could never come back from it.
    assert [(p["Name"].rsplit("/", 1)[-1], p["Tier"]) for p in sent] == [
        (sid, "Intelligent-Tiering")
    ]


def test_a_fleet_sweep_that_fails_still_leaves_the_audit_and_its_metrics_out(
    ec2: EmbeddedEc2,
    session: CustomResource,
    fx: Fixtures,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unreadable(*args: Any, **kwargs: Any) -> Any:
        raise ProviderError("read fleet record (/…/fleets): ThrottlingException: Rate exceeded")

    monkeypatch.setattr(sys.modules[RECONCILER.__module__], "sweep", unreadable)
    with by_hand(ec2) as client:
        client.modify_traffic_mirror_session(
            TrafficMirrorSessionId=str(session.physical_id), Description="x"
        )
    capfd.readouterr()
    summary = sweep()
    out = capfd.readouterr().out
    assert summary["sessions"]["findings"]["field"] == 1 and summary["sessions"]["errors"] == 1
    metrics = {
        (m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], m["Kind"]): m[
            m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
        ][0]
        for m in (json.loads(line) for line in out.splitlines() if '"_aws"' in line)
        if "Kind" in m
    }
    assert metrics[("AuditErrors", "error")] == 1.0
    assert metrics[("DriftedSessions", "field")] == 1.0


def test_a_delete_succeeds_when_ssm_cannot_be_reached_and_the_record_is_left_to_the_sweep(
    ec2: EmbeddedEc2,
    stack: CustomResource,
    fx: Fixtures,
    no_backoff: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A timeout or reset on the way to SSM is a transport error, not an SSM answer: the
    Delete still answers SUCCESS (its session is gone), and the record is left behind."""
    sid = stack.create(props(fx))["PhysicalResourceId"]
    tries: list[str] = []

    def unreachable(request: Any, **_: Any) -> None:
        tries.append(request.url)
        raise EndpointConnectionError(endpoint_url=request.url)

    ssm_client().meta.events.register("before-send.ssm.PutParameter", unreachable)
    try:
        with caplog.at_level(logging.WARNING):
            answer = stack.delete()
    finally:
        ssm_client().meta.events.unregister("before-send.ssm.PutParameter", unreachable)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert ec2.sessions() == []
    assert len(tries) > 1  # retried by botocore, every try refused
    assert sid in recorded(ec2)  # left for the sweep, which drops unclaimed records
    assert [
        r.getMessage() for r in caplog.records if r.name == "traffic_mirror.sessions.resource"
    ] == ["record not removed"]


def test_fleet_records_are_written_with_intelligent_tiering_not_an_explicit_standard(
    ec2: EmbeddedEc2, receiver: ResponseReceiver, fx: Fixtures
) -> None:
    """Past 10,000 standard parameters in a region an explicit Standard fails with
    ParameterLimitExceeded; Intelligent-Tiering promotes the record instead."""
    sent: list[dict[str, Any]] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    group(ec2, fx, 1)
    fleet = CustomResource(
        FLEET_HANDLER, receiver, logical_id="WebFleet", resource_type="Custom::TrafficMirrorFleet"
    )
    ssm_client().meta.events.register("provide-client-params.ssm.PutParameter", seen)
    try:
        answer = fleet.create(fleet_props(fx))
    finally:
        ssm_client().meta.events.unregister("provide-client-params.ssm.PutParameter", seen)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert [p["Tier"] for p in sent if "/fleets/" in p["Name"]] == ["Intelligent-Tiering"]


def test_a_shared_number_is_moved_when_allocated_and_reported_when_declared(
    ec2: EmbeddedEc2,
    handler: Handler,
    receiver: ResponseReceiver,
    fx: Fixtures,
) -> None:
    """What a settle could not see (reads lag writes) the sweep finds: sessions sharing a
    number on one interface. The first by declared-then-lowest-ID keeps it; another allocated
    one of this provider moves to a free number, its record with it; a declared one is only
    reported."""
    made = []
    for logical, number in (("Declared", "1"), ("AllocatedA", None), ("AllocatedB", None)):
        resource = CustomResource(handler, receiver, logical_id=logical)
        answer = resource.create(props(fx, SessionNumber=number))
        assert answer["Status"] == "SUCCESS", answer["Reason"]
        made.append(answer["PhysicalResourceId"])
    declared, first, second = made
    with by_hand(ec2) as client:
        for sid in (first, second):  # as if settling had missed them: all three on #1
            client.modify_traffic_mirror_session(TrafficMirrorSessionId=sid, SessionNumber=1)
            records = recorded(ec2)
            assert records[sid]["assigned"]["SessionNumber"] in (2, 3)
    before = len(ec2.calls)
    summary, found = swept()
    shared = {f["session"]: f for f in found if f["kind"] == "shared-number"}
    assert shared[declared]["action"] == "reported"  # it keeps #1: declared first
    moved = {shared[sid]["action"] for sid in (first, second)}
    assert moved == {"moved to #2", "moved to #3"}
    assert summary["findings"]["shared-number"] == 3
    numbers = {s["TrafficMirrorSessionId"]: s["SessionNumber"] for s in ec2.sessions()}
    assert numbers[declared] == 1 and sorted(numbers.values()) == [1, 2, 3]
    assert ec2.writes(before) == ["ModifyTrafficMirrorSession"] * 2
    for sid in (first, second):  # the records follow: the next sweep finds nothing
        assert recorded(ec2)[sid]["assigned"]["SessionNumber"] == numbers[sid]
    ec2.wait_visible()  # the next sweep, minutes later on its schedule: the moves show
    assert [f for f in swept()[1] if f["kind"] == "shared-number"] == []
