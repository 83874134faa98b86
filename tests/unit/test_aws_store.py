"""traffic_mirror.aws.store: the SSM requests behind each record operation, tombstones instead
of deleted names, and what a read counts as no record (botocore's Stubber: no SSM)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.stub import ANY, Stubber

from tests.unit import aws_stubs
from traffic_mirror.aws.store import REMOVED, Record, Store
from traffic_mirror.errors import ProviderError
from traffic_mirror.ownership import Owner

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

PATH = "/tmp-test/fleets"
OWNER = Owner("arn:aws:cloudformation:us-east-1:1:stack/net/x", "Web")


@pytest.fixture
def client() -> SSMClient:
    return cast("SSMClient", aws_stubs.client("ssm"))


@pytest.fixture
def ssm(client: SSMClient, monkeypatch: pytest.MonkeyPatch) -> SSMClient:
    monkeypatch.setenv("FLEET_STORE_PATH", PATH + "/")  # a trailing slash is not doubled
    return client


@pytest.fixture
def stub(ssm: SSMClient) -> Iterator[Stubber]:
    with aws_stubs.stubbed(ssm) as stubber:
        yield stubber


def value(logical: str = "Web", **props: Any) -> str:
    return json.dumps(
        {"stack_id": OWNER.stack_id, "logical_id": logical, "properties": props, "deleting": False}
    )


def test_a_record_is_written_intelligently_tiered_without_the_service_token(
    ssm: SSMClient, stub: Stubber
) -> None:
    props = {"AutoScalingGroupName": "web", "ServiceToken": "arn:aws:lambda:…"}
    stub.add_response(
        "put_parameter",
        {"Version": 1},
        {
            "Name": f"{PATH}/fleet-1",
            "Value": ANY,
            "Type": "String",
            "Tier": "Intelligent-Tiering",
            "Overwrite": True,
        },
    )
    store = Store("fleets", ssm)
    store.put(Record("fleet-1", OWNER, props))
    assert "ServiceToken" not in store.fitting(Record("fleet-1", OWNER, props))


def test_an_oversized_fleet_is_refused_with_its_size_before_anything_is_written(
    ssm: SSMClient, stub: Stubber
) -> None:
    big = Record("fleet-1", OWNER, {"InstanceIds": [f"i-{n:017x}" for n in range(300)]})
    with pytest.raises(
        ProviderError, match=r"take \d{4,} bytes as JSON; the store keeps at most 4096"
    ):
        Store("fleets", ssm).put(big)


def test_a_session_record_may_use_the_advanced_tiers_eight_kilobytes(ssm: SSMClient) -> None:
    tags = [{"Key": f"k{n}", "Value": "v" * 200} for n in range(30)]
    record = Record("tms-1", OWNER, {"Tags": tags})
    assert 4096 < len(Store("sessions", ssm).fitting(record)) <= 8192
    tags *= 2
    with pytest.raises(ProviderError, match=r"at most 8192 \(its tags are too long"):
        Store("sessions", ssm).fitting(Record("tms-1", OWNER, {"Tags": tags}))


def test_remove_overwrites_with_a_tombstone_rather_than_deleting(
    ssm: SSMClient, stub: Stubber
) -> None:
    stub.add_response(
        "put_parameter",
        {"Version": 2},
        {
            "Name": f"{PATH}/fleet-1",
            "Value": REMOVED,
            "Type": "String",
            "Tier": "Intelligent-Tiering",
            "Overwrite": True,
        },
    )
    Store("fleets", ssm).remove("fleet-1")


def test_get_counts_a_missing_a_removed_and_an_unreadable_record_as_none(
    ssm: SSMClient, stub: Stubber
) -> None:
    stub.add_client_error("get_parameter", "ParameterNotFound", "", 400, {"Name": f"{PATH}/a"})
    for text in (REMOVED, "not json", '{"stack_id": "s"}'):
        stub.add_response("get_parameter", {"Parameter": {"Name": f"{PATH}/a", "Value": text}})
    store = Store("fleets", ssm)
    assert [store.get("a") for _ in range(4)] == [None] * 4


def test_a_refused_read_fails_with_ssms_code(ssm: SSMClient, stub: Stubber) -> None:
    stub.add_client_error("get_parameter", "AccessDeniedException", "not authorized", 400)
    with pytest.raises(ProviderError) as info:
        Store("fleets", ssm).get("fleet-1")
    assert (info.value.code, info.value.source) == ("AccessDeniedException", "SSM")
    assert info.value.reason.startswith(f"read fleet record ({PATH}/fleet-1)")


def test_records_reads_every_page_and_skips_tombstones_and_unreadable_values(
    ssm: SSMClient, stub: Stubber
) -> None:
    now = datetime.now(UTC)  # when the test runs, not when it was collected
    old = now - timedelta(hours=2)
    stub.add_response(
        "get_parameters_by_path",
        {
            "Parameters": [
                {"Name": f"{PATH}/fleet-1", "Value": value(), "LastModifiedDate": now},
                {"Name": f"{PATH}/fleet-2", "Value": REMOVED, "LastModifiedDate": old},
            ],
            "NextToken": "p2",
        },
        {"Path": PATH},
    )
    stub.add_response(
        "get_parameters_by_path",
        {
            "Parameters": [
                {"Name": f"{PATH}/fleet-3", "Value": "{broken"},
                {"Name": f"{PATH}/fleet-4", "Value": value("Db", AutoScalingGroupName="db")},
            ]
        },
        {"Path": PATH, "NextToken": "p2"},
    )
    store = Store("fleets", ssm)
    records = store.records()
    assert [(r.key, r.owner.logical_id) for r in records] == [("fleet-1", "Web"), ("fleet-4", "Db")]
    assert records[0].written_within(60)
    assert not records[1].written_within(60)  # no LastModifiedDate: not known to be recent
    assert store.tombstones == [(f"{PATH}/fleet-2", old)]


def test_prune_deletes_only_old_tombstones_still_removed_on_a_second_read(
    ssm: SSMClient, stub: Stubber
) -> None:
    now = datetime.now(UTC)  # when the test runs, not when it was collected
    old = now - timedelta(hours=2)
    store = Store("fleets", ssm)
    store.tombstones = [
        (f"{PATH}/young", now - timedelta(minutes=5)),  # not read at all
        (f"{PATH}/rewritten", old),
        (f"{PATH}/gone", old),
    ]
    stub.add_response(
        "get_parameter",
        {"Parameter": {"Value": value()}},
        {"Name": f"{PATH}/rewritten"},
    )
    stub.add_response("get_parameter", {"Parameter": {"Value": REMOVED}}, {"Name": f"{PATH}/gone"})
    stub.add_response("delete_parameter", {}, {"Name": f"{PATH}/gone"})
    assert store.prune() == 1
    assert store.tombstones == []


def test_a_failed_prune_is_logged_not_raised(
    ssm: SSMClient, stub: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)  # when the test runs, not when it was collected
    store = Store("fleets", ssm)
    store.tombstones = [(f"{PATH}/gone", now - timedelta(hours=2))]
    stub.add_response("get_parameter", {"Parameter": {"Value": REMOVED}})
    stub.add_client_error("delete_parameter", "ThrottlingException", "Rate exceeded", 400)
    assert store.prune() == 0
    assert "tombstone not pruned" in caplog.text


def test_a_record_survives_encoding_with_its_assigned_values() -> None:
    now = datetime.now(UTC)  # when the test runs, not when it was collected
    record = Record("tms-1", OWNER, {"SessionNumber": "3"}, assigned={"VirtualNetworkId": 7})
    back = Record.decode("tms-1", record.encode(), now)
    assert (back.owner, back.properties, back.assigned) == (
        OWNER,
        {"SessionNumber": "3"},
        {"VirtualNetworkId": 7},
    )
    assert back.written_at == now.timestamp()
