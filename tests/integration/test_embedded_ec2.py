"""The embedded EC2 keeps to EC2's documentation: filters, read lag, ClientToken, DescribeTags,
and paging. Plain boto3 clients against the embedded endpoint; no provider involved."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.harness import ec2views
from local.harness.by_hand import session_by_hand

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef

    from local.harness.ec2sim import EmbeddedEc2, Fixtures

SESSION = "traffic-mirror-session"
# Long enough that the calls between a write and the read that must not show it yet fit in
# it on a loaded machine (0.4 s did not: three make reliability runs at once on 2 cores).
LAG = 2.0


def create(
    client: EC2Client, fx: Fixtures, eni: int = 0, number: int = 1, **options: Any
) -> dict[str, Any]:
    """A session on source ``eni`` with ``number``; ``options`` as :func:`session_by_hand`
    names them (tags, description, vni, packet_length, client_token)."""
    return session_by_hand(
        client,
        interface=fx.sources[eni],
        target=fx.target_id,
        mirror_filter=fx.filter_ids[0],
        number=number,
        **options,
    )


def ids(client: EC2Client, **kwargs: Any) -> list[str]:
    answer = client.describe_traffic_mirror_sessions(**kwargs)
    return [s["TrafficMirrorSessionId"] for s in answer["TrafficMirrorSessions"]]


def session_tags(client: EC2Client, **filters: list[str]) -> list[tuple[str, str, str]]:
    wanted: list[FilterTypeDef] = [{"Name": "resource-type", "Values": [SESSION]}]
    wanted += [{"Name": k.replace("_", "-"), "Values": v} for k, v in filters.items()]
    answer = client.describe_tags(Filters=wanted)
    return [(t["ResourceId"], t["Key"], t["Value"]) for t in answer["Tags"]]


def unvalidated(ec2: EmbeddedEc2) -> EC2Client:
    """A client that sends what botocore would refuse to (to see what the server says)."""
    config = Config(parameter_validation=False)
    return boto3.client("ec2", region_name=ec2.region, endpoint_url=ec2.endpoint, config=config)


@pytest.fixture(autouse=True)
def own_lag(ec2: EmbeddedEc2) -> None:
    """No ambient read lag (make reliability sets one for the provider's suites): these tests
    are of the embedded EC2 itself, and each sets the lag it is about, after its setup."""
    ec2.read_lag = 0.0


def error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: Any = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


# ------------------------------------------------------------------------------ strict filters


def test_a_tag_filter_on_describe_sessions_is_refused_as_ec2_refuses_it(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    create(client, fx, tags={"Owner": "me"})
    before = len(ec2.calls)
    with pytest.raises(ClientError) as excinfo:
        client.describe_traffic_mirror_sessions(Filters=[{"Name": "tag:Owner", "Values": ["me"]}])
    assert error(excinfo) == ("InvalidParameterValue", "The filter 'tag:Owner' is invalid", 400)
    assert ec2.calls[before:] == ["DescribeTrafficMirrorSessions"]  # no retries: a refusal


def test_an_unknown_filter_name_is_refused_on_every_listed_describe(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    wrong: list[FilterTypeDef] = [{"Name": "interface-id", "Values": [fx.sources[0]]}]
    calls: tuple[Callable[..., Any], ...] = (
        client.describe_traffic_mirror_sessions,
        client.describe_traffic_mirror_targets,
        client.describe_traffic_mirror_filters,
        client.describe_tags,
        client.describe_network_interfaces,
        client.describe_instances,
    )
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call(Filters=wrong)
        assert error(excinfo)[:2] == (
            "InvalidParameterValue",
            "The filter 'interface-id' is invalid",
        )


def test_documented_tag_filters_are_answered_where_ec2_documents_them(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    client.create_tags(Resources=[fx.sources[1]], Tags=[{"Key": "role", "Value": "web"}])
    found = client.describe_network_interfaces(Filters=[{"Name": "tag:role", "Values": ["web"]}])
    assert [n["NetworkInterfaceId"] for n in found["NetworkInterfaces"]] == [fx.sources[1]]
    tags = client.describe_tags(Filters=[{"Name": "tag:role", "Values": ["web"]}])["Tags"]
    assert [(t["ResourceId"], t["Key"]) for t in tags] == [(fx.sources[1], "role")]


def test_without_strict_filters_an_unknown_name_is_ignored_as_moto_does_until_reset(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    made = create(client, fx)["TrafficMirrorSessionId"]
    ec2.strict_filters = False
    assert ids(client, Filters=[{"Name": "tag:Owner", "Values": ["x"]}]) == [made]
    ec2.reset()
    assert ec2.strict_filters is True


def test_a_new_embedded_ec2_is_strict_about_filters_with_no_lag_unless_the_environment_sets_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from local.harness.ec2sim import EmbeddedEc2, default_read_lag  # noqa: PLC0415 - as conftest

    assert EmbeddedEc2().strict_filters is True
    monkeypatch.delenv("EMBEDDED_EC2_READ_LAG", raising=False)
    assert default_read_lag() == 0.0


def test_every_documented_session_filter_selects_the_matching_session(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    first = create(client, fx, packet_length=100, vni=77, description="a")
    create(client, fx, eni=1, number=2, packet_length=200, vni=88, description="b")
    owner = first["OwnerId"]
    for name, value in {
        "description": "a",
        "network-interface-id": fx.sources[0],
        "packet-length": "100",
        "session-number": "1",
        "traffic-mirror-session-id": first["TrafficMirrorSessionId"],
        "virtual-network-id": "77",
    }.items():
        found = ids(client, Filters=[{"Name": name, "Values": [value]}])
        assert found == [first["TrafficMirrorSessionId"]], name
    both = {"owner-id": owner, "traffic-mirror-target-id": fx.target_id}
    for name, value in both.items():
        assert len(ids(client, Filters=[{"Name": name, "Values": [value]}])) == 2, name
    by_filter = [{"Name": "traffic-mirror-filter-id", "Values": [fx.filter_ids[1]]}]
    assert ids(client, Filters=by_filter) == []


# ----------------------------------------------------------------------------------- read lag


def test_a_created_session_is_invisible_to_describe_until_the_lag_has_passed(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    ec2.read_lag = LAG
    made = create(client, fx, tags={"Owner": "me"})["TrafficMirrorSessionId"]
    assert ids(client, TrafficMirrorSessionIds=[made]) == []
    assert ids(client, Filters=[{"Name": "network-interface-id", "Values": [fx.sources[0]]}]) == []
    assert session_tags(client, key=["Owner"]) == []
    assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [made]  # the truth
    time.sleep(LAG + 0.1)
    assert ids(client, TrafficMirrorSessionIds=[made]) == [made]
    assert session_tags(client, key=["Owner"]) == [(made, "Owner", "me")]


def test_a_session_not_yet_visible_is_described_as_an_unknown_id_is(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    unknown = ids(client, TrafficMirrorSessionIds=["tms-0123456789abcdef0"])
    ec2.read_lag = LAG
    made = create(client, fx)["TrafficMirrorSessionId"]
    assert ids(client, TrafficMirrorSessionIds=[made]) == unknown == []


def test_a_deleted_session_stays_visible_until_the_lag_has_passed(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    made = create(client, fx, tags={"Owner": "me"})["TrafficMirrorSessionId"]
    ec2.read_lag = LAG
    client.delete_traffic_mirror_session(TrafficMirrorSessionId=made)
    assert ids(client) == [made]
    assert session_tags(client) == [(made, "Owner", "me")]
    assert ec2.sessions() == []
    time.sleep(LAG + 0.1)
    assert ids(client) == []
    assert session_tags(client) == []


def test_a_modify_shows_the_old_fields_until_the_lag_has_passed(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    made = create(client, fx, description="old")["TrafficMirrorSessionId"]
    ec2.read_lag = LAG
    changed = client.modify_traffic_mirror_session(
        TrafficMirrorSessionId=made, Description="new", SessionNumber=9
    )["TrafficMirrorSession"]
    assert changed["Description"] == "new"  # the write's own answer is current
    shown = client.describe_traffic_mirror_sessions(TrafficMirrorSessionIds=[made])
    assert [(s["Description"], s["SessionNumber"]) for s in shown["TrafficMirrorSessions"]] == [
        ("old", 1)
    ]
    assert ids(client, Filters=[{"Name": "session-number", "Values": ["9"]}]) == []
    assert ec2.sessions()[0]["Description"] == "new"
    time.sleep(LAG + 0.1)
    assert ids(client, Filters=[{"Name": "session-number", "Values": ["9"]}]) == [made]


def test_tag_changes_on_a_session_show_in_every_describe_only_after_the_lag(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    made = create(client, fx, tags={"Owner": "me"})["TrafficMirrorSessionId"]
    ec2.read_lag = LAG
    client.create_tags(Resources=[made], Tags=[{"Key": "Team", "Value": "net"}])
    client.delete_tags(Resources=[made], Tags=[{"Key": "Owner"}])
    assert session_tags(client) == [(made, "Owner", "me")]
    shown = client.describe_traffic_mirror_sessions(TrafficMirrorSessionIds=[made])
    assert shown["TrafficMirrorSessions"][0]["Tags"] == [{"Key": "Owner", "Value": "me"}]
    assert ec2.sessions()[0]["Tags"] == [{"Key": "Team", "Value": "net"}]
    time.sleep(LAG + 0.1)
    assert session_tags(client) == [(made, "Team", "net")]


def test_writes_act_on_the_true_state_while_reads_lag(ec2: EmbeddedEc2, fx: Fixtures) -> None:
    client = ec2.client()
    ec2.read_lag = 5.0
    made = [create(client, fx, number=n)["TrafficMirrorSessionId"] for n in (1, 2, 3)]
    with pytest.raises(ClientError) as excinfo:
        create(client, fx, number=4)  # the three unseen sessions count
    assert error(excinfo)[0] == "TrafficMirrorSessionsPerInterfaceLimitExceeded"
    client.modify_traffic_mirror_session(TrafficMirrorSessionId=made[0], Description="x")
    client.create_tags(Resources=[made[1]], Tags=[{"Key": "k", "Value": "v"}])
    client.delete_traffic_mirror_session(TrafficMirrorSessionId=made[2])
    with pytest.raises(ClientError) as excinfo:
        client.delete_traffic_mirror_session(TrafficMirrorSessionId=made[2])
    assert error(excinfo)[0] == "InvalidTrafficMirrorSessionId.NotFound"
    assert ids(client) == []
    truth = {s["TrafficMirrorSessionId"]: s for s in ec2.sessions()}
    assert sorted(truth) == sorted(made[:2])
    assert truth[made[0]]["Description"] == "x"


def test_a_lag_range_delays_each_write_by_a_time_within_the_range(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    ec2.read_lag = (0.2, 0.4)
    made = create(client, fx)["TrafficMirrorSessionId"]
    assert ids(client) == []
    time.sleep(0.5)
    assert ids(client) == [made]


def test_a_truth_client_reads_past_the_lag(ec2: EmbeddedEc2, fx: Fixtures) -> None:
    ec2.read_lag = 5.0
    made = create(ec2.client(), fx, tags={"Owner": "me"})
    truth = ec2.client(truth=True)
    assert ids(truth) == [made["TrafficMirrorSessionId"]]
    assert session_tags(truth) == [(made["TrafficMirrorSessionId"], "Owner", "me")]
    assert ids(ec2.client()) == []


def test_the_default_read_lag_comes_from_the_environment_at_reset(
    ec2: EmbeddedEc2, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDDED_EC2_READ_LAG", "1.5")
    ec2.reset()
    assert ec2.read_lag == 1.5
    monkeypatch.setenv("EMBEDDED_EC2_READ_LAG", "0-3")
    ec2.reset()
    assert ec2.read_lag == (0.0, 3.0)  # type: ignore[comparison-overlap]
    monkeypatch.delenv("EMBEDDED_EC2_READ_LAG")
    ec2.read_lag = 2.0
    ec2.reset()
    assert ec2.read_lag == 0.0


def test_a_negative_or_reversed_lag_is_refused() -> None:
    with pytest.raises(ValueError, match="low <= high"):
        ec2views.parse_lag("3-1")
    with pytest.raises(ValueError, match=">= 0"):
        ec2views.check_lag(-1.0)


# -------------------------------------------------------------------------------- ClientToken


def test_a_retried_token_returns_the_first_session_even_after_it_was_deleted(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    first = create(client, fx, client_token="token-1", description="d")
    client.delete_traffic_mirror_session(TrafficMirrorSessionId=first["TrafficMirrorSessionId"])
    again = create(client, fx, client_token="token-1", description="d")
    assert again == first
    assert ec2.sessions() == []  # no new session


def test_a_retried_token_returns_the_original_result_not_a_second_session(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    first = create(client, fx, client_token="token-1")
    assert create(client, fx, client_token="token-1") == first
    assert len(ec2.sessions()) == 1


def test_a_token_reused_with_other_parameters_is_refused_even_after_the_delete(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    first = create(client, fx, client_token="token-1")
    with pytest.raises(ClientError) as excinfo:
        create(client, fx, number=2, client_token="token-1")
    assert error(excinfo)[0] == "IdempotentParameterMismatch"
    client.delete_traffic_mirror_session(TrafficMirrorSessionId=first["TrafficMirrorSessionId"])
    with pytest.raises(ClientError) as excinfo:
        create(client, fx, number=2, client_token="token-1")
    assert error(excinfo)[0] == "IdempotentParameterMismatch"


# ------------------------------------------------------------------------------- DescribeTags


def test_describe_tags_finds_sessions_by_type_key_value_and_resource_id(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    mine = create(client, fx, tags={"managed-by": "me"})
    theirs = create(client, fx, eni=1, tags={"managed-by": "them"})
    client.create_tags(Resources=[fx.sources[0]], Tags=[{"Key": "managed-by", "Value": "me"}])
    mine_id = mine["TrafficMirrorSessionId"]
    assert session_tags(client, key=["managed-by"], value=["me"]) == [(mine_id, "managed-by", "me")]
    assert session_tags(client, key=["managed-*"], value=["th?m"]) == [
        (theirs["TrafficMirrorSessionId"], "managed-by", "them")
    ]
    assert session_tags(client, resource_id=[mine_id]) == [(mine_id, "managed-by", "me")]
    every = client.describe_tags(Filters=[{"Name": "value", "Values": ["me"]}])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"]) for t in every) == sorted(
        [(mine_id, SESSION), (fx.sources[0], "network-interface")]
    )


def test_describe_tags_pages_with_max_results_and_next_token(ec2: EmbeddedEc2) -> None:
    fx = ec2.fixtures(sources=4)
    client = ec2.client()
    made = {
        create(client, fx, eni=n // 3, number=n % 3 + 1, tags={"k": "v"})["TrafficMirrorSessionId"]
        for n in range(12)
    }
    pages = client.get_paginator("describe_tags").paginate(
        Filters=[{"Name": "resource-type", "Values": [SESSION]}],
        PaginationConfig={"PageSize": 5},
    )
    sizes, seen = [], []
    for page in pages:
        sizes.append(len(page["Tags"]))
        seen += [t["ResourceId"] for t in page["Tags"]]
    assert sizes == [5, 5, 2]
    assert sorted(seen) == sorted(made)


def test_describe_tags_refuses_max_results_outside_5_to_1000(ec2: EmbeddedEc2) -> None:
    client = unvalidated(ec2)
    for wrong in (4, 1001):
        with pytest.raises(ClientError) as excinfo:
            client.describe_tags(MaxResults=wrong)
        assert error(excinfo)[0] == "InvalidParameterValue"


def test_describe_tags_forgets_a_deleted_sessions_tags(ec2: EmbeddedEc2, fx: Fixtures) -> None:
    client = ec2.client()
    made = create(client, fx, tags={"Owner": "me"})["TrafficMirrorSessionId"]
    client.delete_traffic_mirror_session(TrafficMirrorSessionId=made)
    assert session_tags(client) == []
    assert client.describe_tags(Filters=[{"Name": "resource-id", "Values": [made]}])["Tags"] == []


# -------------------------------------------------------------------- paging sessions and IDs


def test_describe_sessions_pages_in_creation_order_with_next_token(ec2: EmbeddedEc2) -> None:
    fx = ec2.fixtures(sources=3)
    client = ec2.client()
    made = [
        create(client, fx, eni=n // 3, number=n % 3 + 1)["TrafficMirrorSessionId"] for n in range(7)
    ]
    first = client.describe_traffic_mirror_sessions(MaxResults=5)
    assert [s["TrafficMirrorSessionId"] for s in first["TrafficMirrorSessions"]] == made[:5]
    rest = client.describe_traffic_mirror_sessions(MaxResults=5, NextToken=first["NextToken"])
    assert [s["TrafficMirrorSessionId"] for s in rest["TrafficMirrorSessions"]] == made[5:]
    assert "NextToken" not in rest
    pages = client.get_paginator("describe_traffic_mirror_sessions").paginate(
        PaginationConfig={"PageSize": 5}
    )
    assert [s["TrafficMirrorSessionId"] for p in pages for s in p["TrafficMirrorSessions"]] == made


def test_describe_sessions_refuses_max_results_outside_5_to_1000(ec2: EmbeddedEc2) -> None:
    client = unvalidated(ec2)
    for wrong in (4, 1001):
        with pytest.raises(ClientError) as excinfo:
            client.describe_traffic_mirror_sessions(MaxResults=wrong)
        assert error(excinfo)[0] == "InvalidParameterValue"
    assert client.describe_traffic_mirror_sessions(MaxResults=1000)["TrafficMirrorSessions"] == []


def test_describe_sessions_without_max_results_answers_a_default_page(
    ec2: EmbeddedEc2, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ec2views.DEFAULT_PAGE == 1000
    monkeypatch.setattr(ec2views, "DEFAULT_PAGE", 5)  # rather than creating 1,001 sessions
    fx = ec2.fixtures(sources=2)
    client = ec2.client()
    for n in range(6):
        create(client, fx, eni=n // 3, number=n % 3 + 1)
    first = client.describe_traffic_mirror_sessions()
    assert len(first["TrafficMirrorSessions"]) == 5
    assert len(ids(client, NextToken=first["NextToken"])) == 1


def test_describe_sessions_by_a_list_of_ids_returns_exactly_those(
    ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    client = ec2.client()
    made = [create(client, fx, eni=n)["TrafficMirrorSessionId"] for n in range(3)]
    assert ids(client, TrafficMirrorSessionIds=[made[2], made[0]]) == [made[0], made[2]]
