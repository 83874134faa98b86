"""The property schema: every rule, and messages that name the property and the value."""

from __future__ import annotations

from typing import Any

import pytest

from traffic_mirror.sessions.schema import FIELDS, UNKNOWN
from traffic_mirror.sessions.validation import InvalidProperties, parse, parse_previous

GOOD: dict[str, Any] = {
    "NetworkInterfaceId": "eni-0123",
    "TrafficMirrorTargetId": "tmt-0123",
    "TrafficMirrorFilterId": "tmf-0123",
    "SessionNumber": "1",
}


def problems(**changes: Any) -> str:
    props = {**GOOD, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del props[key]
    with pytest.raises(InvalidProperties) as info:
        parse(props)
    return str(info.value)


def test_strings_from_cloudformation_become_typed_values() -> None:
    spec = parse(
        {
            **GOOD,
            "SessionNumber": "32766",
            "PacketLength": "8500",
            "VirtualNetworkId": "0",
            "Description": "web",
            "Tags": [{"Key": "team", "Value": "net"}],
            "ServiceToken": "arn:aws:lambda:us-east-1:1:function:x",
            "ServiceTimeout": "300",
            "OwnerId": "123456789012",
        }
    )
    assert spec.values == {
        **GOOD,
        "SessionNumber": 32766,
        "PacketLength": 8500,
        "VirtualNetworkId": 0,
        "Description": "web",
        "OwnerId": "123456789012",  # validated and kept, never sent to EC2
    }
    assert spec.tags == {"team": "net"}


def test_real_numbers_from_direct_invocations_are_accepted() -> None:
    spec = parse({**GOOD, "SessionNumber": 7, "VirtualNetworkId": 16_777_215})
    assert spec.values["SessionNumber"] == 7
    assert spec.values["VirtualNetworkId"] == 16_777_215


def test_id_prefixes_are_not_insisted_on() -> None:
    spec = parse({**GOOD, "TrafficMirrorTargetId": "traf-mir-tar-1a2b"})
    assert spec.values["TrafficMirrorTargetId"] == "traf-mir-tar-1a2b"


@pytest.mark.parametrize(
    "name",
    ["NetworkInterfaceId", "TrafficMirrorTargetId", "TrafficMirrorFilterId"],
)
def test_missing_required_property_is_named(name: str) -> None:
    assert f"{name} is required" in problems(**{name: None})


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SessionNumber", "0", "SessionNumber must be between 1 and 32766, got 0"),
        ("SessionNumber", "32767", "between 1 and 32766, got 32767"),
        ("SessionNumber", "one", 'SessionNumber must be a whole number, got "one"'),
        ("SessionNumber", "1.5", 'got "1.5"'),
        ("SessionNumber", "true", 'got "true"'),
        ("SessionNumber", True, "got true"),
        ("SessionNumber", 2.0, "got 2.0"),
        ("SessionNumber", "", 'got ""'),
        ("PacketLength", "0", "PacketLength must be between 1 and 8500, got 0"),
        ("PacketLength", "8501", "got 8501"),
        ("VirtualNetworkId", "-1", "VirtualNetworkId must be between 0 and 16777215, got -1"),
        ("VirtualNetworkId", "16777216", "got 16777216"),
        ("Description", "x" * 256, "Description must be at most 255 characters, got 256"),
        ("Description", ["a"], 'Description must be a string, got ["a"]'),
        ("NetworkInterfaceId", "", 'NetworkInterfaceId must be a non-empty ID string, got ""'),
        ("NetworkInterfaceId", "eni 1; drop", 'got "eni 1; drop"'),
        ("TrafficMirrorFilterId", {"Ref": "x"}, 'got {"Ref": "x"}'),
    ],
)
def test_bad_values_name_property_and_value(name: str, value: Any, expected: str) -> None:
    assert expected in problems(**{name: value})


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ("team=net", "Tags must be a list"),
        ([{"Key": "a"}], "Tags[0] must be a map with exactly Key and Value"),
        ([{"Key": "a", "Value": "b", "Extra": 1}], "Tags[0] must be a map"),
        (["a"], 'Tags[0] must be a map with exactly Key and Value, got "a"'),
        ([{"Key": "", "Value": "b"}], "Tags[0].Key must be 1-128 characters"),
        ([{"Key": "k" * 129, "Value": "b"}], "Tags[0].Key must be 1-128 characters"),
        ([{"Key": "a", "Value": "v" * 257}], "Tags[0].Value must be a string of at most 256"),
        ([{"Key": "a", "Value": 5}], "Tags[0].Value must be a string"),
        ([{"Key": "AWS:owner", "Value": "b"}], "reserved prefix 'aws:'"),
        ([{"Key": "traffic-mirror-provider:managed-by", "Value": "me"}], "provider's reserved"),
        ([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], "appears more than once"),
        ([{"Key": f"k{i}", "Value": ""} for i in range(50)], "Tags has 50 entries; at most 46"),
    ],
)
def test_malformed_tags_are_explained(tags: Any, expected: str) -> None:
    assert expected in problems(Tags=tags)


def test_forty_six_maximal_tags_are_fine_and_a_forty_seventh_is_not() -> None:
    """EC2 allows 50 tags; the provider keeps 4 (managed-by, stack-id, logical-id,
    session-number), so 46 are the user's."""
    tags = [{"Key": f"{i:03d}" + "k" * 125, "Value": "v" * 256} for i in range(47)]
    assert len(parse({**GOOD, "Tags": tags[:46]}).tags) == 46
    with pytest.raises(InvalidProperties, match="Tags has 47 entries; at most 46"):
        parse({**GOOD, "Tags": tags})


def test_unknown_property_is_named_with_a_suggestion() -> None:
    assert 'unknown property "SessionNumer" (did you mean SessionNumber?)' in problems(
        SessionNumer="1"
    )


def test_every_problem_is_reported_at_once() -> None:
    text = problems(SessionNumber="0", PacketLength="x", Bogus="1")
    assert "SessionNumber" in text and "PacketLength" in text and "Bogus" in text


def test_owner_id_must_look_like_an_account() -> None:
    assert "OwnerId must be a 12-digit AWS account ID" in problems(OwnerId="me")


def test_properties_that_are_not_a_map() -> None:
    with pytest.raises(InvalidProperties, match="ResourceProperties must be a map"):
        parse(["NetworkInterfaceId"])


def test_previous_properties_are_read_leniently() -> None:
    old = parse_previous({**GOOD, "SessionNumber": "0", "Description": "kept", "Tags": "bad"})
    assert old.values["SessionNumber"] is UNKNOWN
    assert old.values["Description"] == "kept"
    assert old.tags_known is False
    assert all(v is UNKNOWN for v in parse_previous(None).values.values())


def test_schema_table_covers_the_native_properties() -> None:
    names = {f.name for f in FIELDS if f.sent_to_ec2}
    assert {f.name for f in FIELDS if not f.sent_to_ec2} == {
        "AdoptSessionId",
        "OwnerId",
        "DryRun",
        "RoleArn",
        "ExternalId",
        "Region",
        "OnDrift",
    }
    assert names == {
        "NetworkInterfaceId",
        "TrafficMirrorTargetId",
        "TrafficMirrorFilterId",
        "SessionNumber",
        "PacketLength",
        "VirtualNetworkId",
        "Description",
    }


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DryRun", "true", True),
        ("DryRun", "False", False),
        ("DryRun", True, True),
        ("RoleArn", "arn:aws:iam::111111111111:role/TrafficMirrorSessions", None),
        ("RoleArn", "arn:aws-us-gov:iam::111111111111:role/ops/net/Mirror.Role@x", None),
        ("Region", "eu-west-1", None),
        ("Region", "us-gov-west-1", None),
        ("Region", "eusc-de-east-1", None),
    ],
)
def test_controls_accept_what_aws_accepts(name: str, value: Any, expected: Any) -> None:
    props = {**GOOD, name: value}
    if name == "RoleArn":
        props["ExternalId"] = "a+b=c,d.e@f:g/h-i_j"
    spec = parse(props)
    assert spec.values[name] == (value if expected is None else expected)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"DryRun": "yes"}, 'DryRun must be "true" or "false", got "yes"'),
        ({"DryRun": 1}, 'DryRun must be "true" or "false", got 1'),
        ({"RoleArn": "arn:aws:iam::111111111111:user/bob"}, "RoleArn must be an IAM role ARN"),
        ({"RoleArn": "TrafficMirrorSessions"}, 'got "TrafficMirrorSessions"'),
        ({"Region": "EU-WEST-1"}, 'Region must be a region name like eu-west-1, got "EU-WEST-1"'),
        ({"Region": "us-east-1a"}, 'got "us-east-1a"'),  # an AZ, not a region
        ({"ExternalId": "x"}, "ExternalId is only used with RoleArn"),
        (
            {"RoleArn": "arn:aws:iam::111111111111:role/R", "ExternalId": "x"},
            "ExternalId must be 2-1224 characters",
        ),
        (
            {"RoleArn": "arn:aws:iam::111111111111:role/R", "ExternalId": "has space"},
            'got "has space"',
        ),
        (
            {"RoleArn": "arn:aws:iam::111111111111:role/R", "OwnerId": "222222222222"},
            'OwnerId "222222222222" is not the account of RoleArn (111111111111)',
        ),
    ],
)
def test_control_problems_name_property_and_value(changes: dict[str, Any], expected: str) -> None:
    assert expected in problems(**changes)


def test_session_number_may_be_omitted() -> None:
    spec = parse({k: v for k, v in GOOD.items() if k != "SessionNumber"})
    assert "SessionNumber" not in spec.values


def test_unreadable_previous_dry_run_is_not_trusted() -> None:
    assert parse_previous({**GOOD, "DryRun": "maybe"}).dry_run is True
    assert parse_previous({**GOOD, "DryRun": "false"}).dry_run is False
    assert parse_previous(GOOD).dry_run is False
