"""traffic_mirror.aws.ec2: the exact EC2 requests each gateway call makes, and how EC2's error
codes become Reasons (botocore's Stubber: no EC2, no network)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.stub import ANY, Stubber

from tests.unit import aws_stubs
from tests.unit.aws_stubs import listed
from traffic_mirror.aws import consistency
from traffic_mirror.aws.ec2 import VALUES_PER_FILTER, Ec2Gateway
from traffic_mirror.errors import DryRunIgnored, ProviderError
from traffic_mirror.sessions.plan import Modify, TagWrite

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

PARAMS: dict[str, Any] = {
    "NetworkInterfaceId": "eni-0a",
    "TrafficMirrorTargetId": "tmt-0a",
    "TrafficMirrorFilterId": "tmf-0a",
    "SessionNumber": 3,
}


def session(sid: str = "tms-0a", eni: str = "eni-0a", number: int = 3) -> dict[str, Any]:
    return {"TrafficMirrorSessionId": sid, "NetworkInterfaceId": eni, "SessionNumber": number}


@pytest.fixture
def client() -> EC2Client:
    return cast("EC2Client", aws_stubs.client("ec2", "eu-west-1"))


@pytest.fixture
def stub(client: EC2Client) -> Iterator[Stubber]:
    with aws_stubs.stubbed(client) as stubber:
        yield stubber


def test_create_sends_the_tags_on_the_session_and_the_token(
    client: EC2Client, stub: Stubber
) -> None:
    stub.add_response(
        "create_traffic_mirror_session",
        {"TrafficMirrorSession": session()},
        {
            **PARAMS,
            "TagSpecifications": [
                {"ResourceType": "traffic-mirror-session", "Tags": [{"Key": "k", "Value": "v"}]}
            ],
            "ClientToken": "tok",
        },
    )
    made = Ec2Gateway(client).create(PARAMS, {"k": "v"}, client_token="tok")
    assert made["TrafficMirrorSessionId"] == "tms-0a"


def test_a_missing_target_is_named_by_property_id_account_and_region(
    client: EC2Client, stub: Stubber
) -> None:
    stub.add_client_error(
        "create_traffic_mirror_session",
        "InvalidTrafficMirrorTargetId.NotFound",
        "The traffic mirror target 'tmt-0a' does not exist.",
        400,
    )
    with pytest.raises(ProviderError) as info:
        Ec2Gateway(client, account="222233334444").create(PARAMS, {}, client_token="tok")
    assert info.value.code == "InvalidTrafficMirrorTargetId.NotFound"
    assert info.value.source == "EC2"
    assert info.value.reason.startswith(
        "create traffic mirror session: InvalidTrafficMirrorTargetId.NotFound: "
        "TrafficMirrorTargetId tmt-0a was not found in account 222233334444, region eu-west-1."
    )


def test_modify_sends_only_the_changes_and_remove_fields(client: EC2Client, stub: Stubber) -> None:
    stub.add_response(
        "modify_traffic_mirror_session",
        {"TrafficMirrorSession": session()},
        {
            "TrafficMirrorSessionId": "tms-0a",
            "PacketLength": 100,
            "RemoveFields": ["description"],
        },
    )
    stub.add_response(
        "modify_traffic_mirror_session",
        {"TrafficMirrorSession": session()},
        {"TrafficMirrorSessionId": "tms-0a", "SessionNumber": 4},  # no empty RemoveFields
    )
    ec2 = Ec2Gateway(client)
    ec2.modify("tms-0a", Modify({"PacketLength": 100}, ("description",)))
    ec2.modify("tms-0a", Modify({"SessionNumber": 4}))


def test_retag_puts_then_drops_in_the_planned_order_with_keys_only_to_drop(
    client: EC2Client, stub: Stubber
) -> None:
    stub.add_response(
        "create_tags",
        {},
        {"Resources": ["tms-0a"], "Tags": [{"Key": "new", "Value": "1"}], "DryRun": False},
    )
    stub.add_response(
        "delete_tags", {}, {"Resources": ["tms-0a"], "Tags": [{"Key": "old"}], "DryRun": False}
    )
    Ec2Gateway(client).retag(
        "tms-0a", [TagWrite("put", {"new": "1"}), TagWrite("drop", {"old": "x"})]
    )


def test_deleting_a_session_already_gone_is_not_a_failure(client: EC2Client, stub: Stubber) -> None:
    stub.add_client_error(
        "delete_traffic_mirror_session",
        "InvalidTrafficMirrorSessionId.NotFound",
        "The traffic mirror session 'tms-0a' does not exist.",
        400,
        expected_params={"TrafficMirrorSessionId": "tms-0a"},
    )
    stub.add_response(
        "delete_traffic_mirror_session",
        {"TrafficMirrorSessionId": "tms-0b"},
        {"TrafficMirrorSessionId": "tms-0b"},
    )
    ec2 = Ec2Gateway(client)
    assert ec2.delete("tms-0a") is False
    assert ec2.delete("tms-0b") is True


def test_a_refused_delete_fails_naming_the_action_refused(client: EC2Client, stub: Stubber) -> None:
    stub.add_client_error(
        "delete_traffic_mirror_session",
        "UnauthorizedOperation",
        "You are not authorized to perform: ec2:DeleteTrafficMirrorSession on resource: "
        "arn:aws:ec2:eu-west-1:1:traffic-mirror-session/tms-0a. Encoded authorization failure "
        "message: abc",
        403,
    )
    with pytest.raises(ProviderError) as info:
        Ec2Gateway(client).delete("tms-0a")
    assert info.value.code == "UnauthorizedOperation"
    assert "refused ec2:DeleteTrafficMirrorSession on arn:aws:ec2:" in info.value.reason
    assert "Encoded" not in info.value.reason


def test_find_answers_none_for_a_session_ec2_no_longer_has(
    client: EC2Client, stub: Stubber
) -> None:
    stub.add_client_error(
        "describe_traffic_mirror_sessions",
        "InvalidTrafficMirrorSessionId.NotFound",
        "not found",
        400,
        expected_params={"TrafficMirrorSessionIds": ["tms-0a"]},
    )
    stub.add_response(
        "describe_traffic_mirror_sessions",
        {"TrafficMirrorSessions": []},
        {"TrafficMirrorSessionIds": ["tms-0a"]},
    )
    ec2 = Ec2Gateway(client)
    assert ec2.find("tms-0a") is None
    assert ec2.find("tms-0a") is None  # an empty answer too


def test_on_interface_reads_every_page(client: EC2Client, stub: Stubber) -> None:
    filters = [{"Name": "network-interface-id", "Values": ["eni-0a"]}]
    stub.add_response(
        "describe_traffic_mirror_sessions",
        {"TrafficMirrorSessions": [session("tms-1")], "NextToken": "p2"},
        {"Filters": filters},
    )
    stub.add_response(
        "describe_traffic_mirror_sessions",
        {"TrafficMirrorSessions": [session("tms-2")]},
        {"Filters": filters, "NextToken": "p2"},
    )
    found = Ec2Gateway(client).on_interface("eni-0a")
    assert [s["TrafficMirrorSessionId"] for s in found] == ["tms-1", "tms-2"]


def test_many_interfaces_are_read_two_hundred_to_a_filter_in_pages_of_a_thousand(
    client: EC2Client, stub: Stubber
) -> None:
    enis = [f"eni-{i:04x}" for i in range(VALUES_PER_FILTER + 1)]
    first = [{"Name": "network-interface-id", "Values": enis[:VALUES_PER_FILTER]}]
    stub.add_response(
        "describe_traffic_mirror_sessions",
        {"TrafficMirrorSessions": [session("tms-1", enis[0])], "NextToken": "p2"},
        {"Filters": first, "MaxResults": 1000},
    )
    stub.add_response(
        "describe_traffic_mirror_sessions",
        {"TrafficMirrorSessions": [session("tms-2", enis[0], 4)]},
        {"Filters": first, "MaxResults": 1000, "NextToken": "p2"},
    )
    stub.add_response(
        "describe_traffic_mirror_sessions",
        {"TrafficMirrorSessions": []},
        {"Filters": [{"Name": "network-interface-id", "Values": enis[-1:]}], "MaxResults": 1000},
    )
    found = Ec2Gateway(client).on_interfaces(enis)
    assert [s["TrafficMirrorSessionId"] for s in found[enis[0]]] == ["tms-1", "tms-2"]
    assert found[enis[-1]] == []  # every interface asked about has an entry
    assert len(found) == len(enis)


def test_a_dry_run_ec2_allows_returns_quietly(client: EC2Client, stub: Stubber) -> None:
    stub.add_client_error(
        "create_traffic_mirror_session",
        "DryRunOperation",
        "Request would have succeeded, but DryRun flag is set.",
        412,
        expected_params={**PARAMS, "TagSpecifications": ANY, "ClientToken": "t", "DryRun": True},
    )
    Ec2Gateway(client).check_create(PARAMS, {}, client_token="t")


def test_a_dry_run_ec2_performs_anyway_is_undone_and_fails(
    client: EC2Client, stub: Stubber
) -> None:
    stub.add_response("create_traffic_mirror_session", {"TrafficMirrorSession": session()})
    stub.add_response(
        "delete_traffic_mirror_session",
        {"TrafficMirrorSessionId": "tms-0a"},
        {"TrafficMirrorSessionId": "tms-0a"},
    )
    with pytest.raises(DryRunIgnored, match="did not honour DryRun"):
        Ec2Gateway(client).check_create(PARAMS, {}, client_token="t")


def test_a_dry_run_refusal_keeps_its_code(client: EC2Client, stub: Stubber) -> None:
    stub.add_client_error(
        "create_tags",
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
        403,
        expected_params={"Resources": ["tms-0a"], "Tags": ANY, "DryRun": True},
    )
    with pytest.raises(ProviderError) as info:
        Ec2Gateway(client).check_retag("tms-0a", [TagWrite("put", {"k": "v"})])
    assert info.value.code == "UnauthorizedOperation"
    assert info.value.reason.startswith("dry-run tag traffic mirror session (tms-0a)")


def never(session: Any) -> bool:
    return False  # a deleted session: done only once no read shows it


def test_sessions_just_deleted_are_read_again_until_no_read_shows_them(
    client: EC2Client, stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    clock = SimpleNamespace(monotonic=time.monotonic, sleep=slept.append)
    monkeypatch.setattr(consistency, "time", clock)
    by_id = {"Filters": [{"Name": "traffic-mirror-session-id", "Values": ["tms-1", "tms-2"]}]}
    stub.add_response("describe_traffic_mirror_sessions", listed(("tms-2", {})), by_id)
    stub.add_response("describe_traffic_mirror_sessions", listed(), by_id)
    assert Ec2Gateway(client).until_read(["tms-1", "tms-2"], never, within=5) == []
    assert len(slept) == 1  # one pause between the read that still showed tms-2 and the next
    stub.assert_no_pending_responses()


def test_sessions_just_changed_are_read_again_until_each_shows_the_change(
    client: EC2Client, stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consistency, "time", SimpleNamespace(monotonic=time.monotonic, sleep=id))
    stub.add_response("describe_traffic_mirror_sessions", listed(("tms-1", {"v": "old"})))
    stub.add_response("describe_traffic_mirror_sessions", listed(("tms-1", {"v": "new"})))
    changed = {"Key": "v", "Value": "new"}
    assert Ec2Gateway(client).until_read(["tms-1"], lambda s: changed in s["Tags"], within=5) == []
    stub.assert_no_pending_responses()


def test_sessions_not_shown_as_written_after_the_bound_are_named(
    client: EC2Client, stub: Stubber
) -> None:
    stub.add_response("describe_traffic_mirror_sessions", listed(("tms-1", {})))
    assert Ec2Gateway(client).until_read(["tms-1"], never, within=0) == ["tms-1"]
    stub.assert_no_pending_responses()


def test_nothing_written_costs_no_read(client: EC2Client, stub: Stubber) -> None:
    assert Ec2Gateway(client).until_read([], never, within=5) == []


def deleted(sid: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    return (
        "delete_traffic_mirror_session",
        {"TrafficMirrorSessionId": sid},
        {"TrafficMirrorSessionId": sid},
    )


BY_ID = {"Filters": [{"Name": "traffic-mirror-session-id", "Values": ["tms-0a"]}]}


@pytest.fixture
def bound(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A visibility bound of 5 s, and the pauses between reads recorded, not slept."""
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "5")
    slept: list[float] = []
    monkeypatch.setattr(
        consistency, "time", SimpleNamespace(monotonic=time.monotonic, sleep=slept.append)
    )
    return slept


def test_a_delete_until_gone_reads_the_session_again_until_no_read_shows_it(
    client: EC2Client, stub: Stubber, bound: list[float]
) -> None:
    stub.add_response(*deleted("tms-0a"))
    stub.add_response("describe_traffic_mirror_sessions", listed(("tms-0a", {})), BY_ID)
    stub.add_response("describe_traffic_mirror_sessions", listed(), BY_ID)
    assert Ec2Gateway(client).delete_until_gone("tms-0a") is True
    assert len(bound) == 1  # one pause: between the read that still showed it and the next


def test_a_delete_until_gone_makes_no_read_without_a_visibility_bound(
    client: EC2Client, stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "0")  # the embedded EC2 without read lag
    read: list[str] = []
    monkeypatch.setattr(Ec2Gateway, "until_read", lambda self, ids, done, within: read.extend(ids))
    stub.add_response(*deleted("tms-0a"))
    assert Ec2Gateway(client).delete_until_gone("tms-0a") is True
    assert read == []


def test_a_delete_until_gone_whose_read_fails_still_deletes_and_logs_why(
    client: EC2Client, stub: Stubber, bound: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    stub.add_response(*deleted("tms-0a"))
    stub.add_client_error("describe_traffic_mirror_sessions", "UnauthorizedOperation", "no", 403)
    assert Ec2Gateway(client).delete_until_gone("tms-0a") is True
    (logged,) = [r for r in caplog.records if r.getMessage() == "delete not shown yet"]
    assert "UnauthorizedOperation" in str(getattr(logged, "reason", ""))


def test_a_delete_until_gone_of_a_session_already_gone_reads_nothing(
    client: EC2Client, stub: Stubber, bound: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    """Not this call's Delete: a Create that yielded deleted (and read back) its session
    already, and its undo finds it gone."""
    stub.add_client_error(
        "delete_traffic_mirror_session", "InvalidTrafficMirrorSessionId.NotFound", "gone", 400
    )
    assert Ec2Gateway(client).delete_until_gone("tms-0a") is False
    assert [r for r in caplog.records if r.getMessage() == "delete not shown yet"] == []


def test_a_session_still_shown_after_the_bound_is_logged_and_the_delete_stands(
    client: EC2Client,
    stub: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = iter([0.0, 10.0])  # the deadline (0 + 5 s), then a clock past it
    monkeypatch.setattr(consistency, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    stub.add_response(*deleted("tms-0a"))
    stub.add_response("describe_traffic_mirror_sessions", listed(("tms-0a", {})), BY_ID)
    assert Ec2Gateway(client).delete_until_gone("tms-0a", within=5) is True
    (logged,) = [r for r in caplog.records if r.getMessage() == "delete not shown yet"]
    assert getattr(logged, "reason", "") == "a read still shows it after 5 s"
