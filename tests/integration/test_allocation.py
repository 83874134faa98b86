"""SessionNumber allocated when omitted, end to end: the lowest number free on the
interface, kept by updates, and found again when an event is delivered twice.

Real event JSON, the handler loaded from template.yaml, EC2 answered by the embedded moto,
responses over HTTPS.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from local.harness.by_hand import session_by_hand
from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from tests.conftest import props
from traffic_mirror.aws.ec2 import Ec2Gateway
from traffic_mirror.sessions.plan import free_numbers


def place(ec2: EmbeddedEc2, fx: Fixtures, numbers: list[int]) -> list[str]:
    """Sessions made outside the stack on the first source interface, by number."""
    client = ec2.client()
    made = [
        session_by_hand(
            client,
            interface=fx.sources[0],
            target=fx.target_id,
            mirror_filter=fx.filter_ids[1],
            number=n,
        )["TrafficMirrorSessionId"]
        for n in numbers
    ]
    ec2.wait_visible()  # there before the stack asks, as a read shows them
    return made


@pytest.mark.parametrize(
    ("existing", "allocated"), [([], 1), ([1], 2), ([1, 3], 2), ([2, 3], 1), ([1, 2], 3)]
)
def test_omitted_number_is_the_lowest_free_on_the_interface(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures, existing: list[int], allocated: int
) -> None:
    place(ec2, fx, existing)
    client = ec2.client()  # a session on another interface does not count
    session_by_hand(
        client,
        interface=fx.sources[1],
        target=fx.target_id,
        mirror_filter=fx.filter_ids[0],
        number=1 if allocated != 1 else 2,
    )
    ec2.wait_visible()
    before = len(ec2.calls)
    response = stack.create(props(fx, SessionNumber=None))
    assert response["Status"] == "SUCCESS", response["Reason"]
    # Read the interface, create, read it again for rivals created at the same moment (under
    # a read lag, read again until the new session shows).
    calls = ec2.calls[before:]
    assert [c for c in calls if c != "DescribeTrafficMirrorSessions"] == [
        "CreateTrafficMirrorSession"
    ]
    if not ec2.read_lag:
        assert calls == [
            "DescribeTrafficMirrorSessions",
            "CreateTrafficMirrorSession",
            "DescribeTrafficMirrorSessions",
        ]
    described = ec2.requests_since(before)[0]  # the read that chose the number
    assert described["Filter.1.Name"] == "network-interface-id"
    assert described["Filter.1.Value.1"] == fx.sources[0]
    assert response["Data"]["SessionNumber"] == str(allocated)
    made = [s for s in ec2.sessions() if s["TrafficMirrorSessionId"] == response["Data"]["Id"]]
    assert made[0]["SessionNumber"] == allocated


def test_full_interface_names_its_sessions_and_creates_nothing(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    ids = place(ec2, fx, [1, 2, 5])
    before = len(ec2.calls)
    response = stack.create(props(fx, SessionNumber=None))
    assert response["Status"] == "FAILED"
    reason = response["Reason"]
    assert reason.startswith(f"allocate a SessionNumber on {fx.sources[0]}: it already sources 3")
    assert "the EC2 maximum" in reason and "Remove one, or mirror another interface" in reason
    for sid, n in zip(ids, [1, 2, 5], strict=True):
        assert f"{sid} (#{n})" in reason
    assert ec2.writes(before) == []
    assert len(ec2.sessions()) == 3


def test_dry_run_on_a_full_interface_reports_it_too(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    place(ec2, fx, [1, 2, 3])
    before = len(ec2.calls)
    response = stack.create(props(fx, SessionNumber=None, DryRun="true"))
    assert response["Status"] == "FAILED"
    assert "it already sources 3 sessions, the EC2 maximum" in response["Reason"]
    assert ec2.calls[before:] == ["DescribeTrafficMirrorSessions"]


def test_update_that_still_omits_the_number_keeps_it_and_writes_nothing(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    place(ec2, fx, [1])
    created = stack.create(props(fx, SessionNumber=None))
    assert created["Data"]["SessionNumber"] == "2"
    place(ec2, fx, [3])  # the interface changed meanwhile; the number must not move
    before = len(ec2.calls)
    updated = stack.update(props(fx, SessionNumber=None))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert ec2.writes(before) == []
    assert updated["Data"]["SessionNumber"] == "2"


def test_update_from_allocated_to_explicit_and_back(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    created = stack.create(props(fx, SessionNumber=None))
    assert created["Data"]["SessionNumber"] == "1"
    explicit = stack.update(props(fx, SessionNumber="7"))
    assert explicit["Data"]["SessionNumber"] == "7"
    before = len(ec2.calls)
    omitted = stack.update(props(fx, SessionNumber=None, Description="x"))
    assert omitted["Data"]["SessionNumber"] == "7"  # omitted means keep, not re-allocate
    modify = ec2.requests("ModifyTrafficMirrorSession")[-1]
    assert "SessionNumber" not in modify and ec2.writes(before) == ["ModifyTrafficMirrorSession"]


def test_replacement_allocates_on_the_new_interface(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    stack.create(props(fx, SessionNumber=None))
    session_by_hand(
        ec2.client(),
        interface=fx.sources[1],
        target=fx.target_id,
        mirror_filter=fx.filter_ids[0],
        number=1,
    )
    moved = stack.update(props(fx, SessionNumber=None, NetworkInterfaceId=fx.sources[1]))
    assert moved["Status"] == "SUCCESS", moved["Reason"]
    assert moved["Data"]["NetworkInterfaceId"] == fx.sources[1]
    assert moved["Data"]["SessionNumber"] == "2"


def test_redelivered_create_with_an_allocated_number_finds_its_session(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """Lambda retried the event after the first attempt's session was made: the interface
    now shows that session, so a naive allocation would pick the next number and make a
    duplicate. The session's ownership tags say it is this resource's: it is answered again."""
    body = stack.make("Create", props(fx, SessionNumber=None))
    first = stack.send(body)
    again = stack.send(body)
    assert first["Status"] == again["Status"] == "SUCCESS", again["Reason"]
    assert again["PhysicalResourceId"] == first["PhysicalResourceId"]
    assert len(ec2.sessions()) == 1
    numbers = [r.get("SessionNumber") for r in ec2.requests("CreateTrafficMirrorSession")]
    assert numbers == ["1"]  # the second delivery found its own session: no Create


def test_redelivery_onto_a_now_full_interface_still_finds_its_session(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    place(ec2, fx, [1, 2])
    body = stack.make("Create", props(fx, SessionNumber=None))
    first = stack.send(body)
    assert first["Data"]["SessionNumber"] == "3"
    again = stack.send(body)
    assert again["Status"] == "SUCCESS", again["Reason"]
    assert again["PhysicalResourceId"] == first["PhysicalResourceId"]
    assert len(ec2.sessions()) == 3


def test_allocation_reads_every_page(ec2: EmbeddedEc2) -> None:
    """moto does not paginate; botocore's Stubber plays EC2 returning two pages."""
    client = ec2.client()
    page = {"Filters": [{"Name": "network-interface-id", "Values": ["eni-1"]}]}

    def session(n: int) -> dict[str, Any]:
        return {"TrafficMirrorSessionId": f"tms-{n:017x}", "SessionNumber": n, "Tags": []}

    with Stubber(client) as stub:
        stub.add_response(
            "describe_traffic_mirror_sessions",
            {"TrafficMirrorSessions": [session(1)], "NextToken": "more"},
            page,
        )
        stub.add_response(
            "describe_traffic_mirror_sessions",
            {"TrafficMirrorSessions": [session(2)]},
            {**page, "NextToken": "more"},
        )
        found = Ec2Gateway(client).on_interface("eni-1")
        stub.assert_no_pending_responses()
    assert free_numbers((s["SessionNumber"] for s in found), 1) == [3]


@pytest.mark.parametrize("declared", [False, True])
def test_a_number_refused_for_a_session_not_yet_readable_is_explained_within_the_bound(
    ec2: EmbeddedEc2,
    fx: Fixtures,
    stack: CustomResource,
    monkeypatch: pytest.MonkeyPatch,
    declared: bool,
) -> None:
    """EC2 refuses number 1, taken by a session its reads do not show yet (a rival's Create a
    moment earlier). Reads of it lag up to the bound, not a fraction of it: the provider reads
    until it shows, then takes the next free number, or fails naming it when 1 was declared;
    never EC2's bare refusal."""
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "3")
    ec2.duplicate_numbers = "refuse"
    ec2.read_lag = 1.5  # longer than a quarter of the bound
    rival = session_by_hand(
        ec2.client(),
        interface=fx.sources[0],
        target=fx.target_id,
        mirror_filter=fx.filter_ids[1],
        number=1,
    )["TrafficMirrorSessionId"]
    response = stack.create(props(fx, SessionNumber="1" if declared else None))
    if declared:
        assert response["Status"] == "FAILED"
        assert f"use SessionNumber 1 on {fx.sources[0]}: {rival} (#1)" in response["Reason"]
        assert [s["TrafficMirrorSessionId"] for s in ec2.sessions()] == [rival]
    else:
        assert response["Status"] == "SUCCESS", response["Reason"]
        assert response["Data"]["SessionNumber"] == "2"


@pytest.mark.parametrize(
    ("code", "reads_again"),
    [
        ("NetworkInterfaceNotSupported", False),
        ("TrafficMirrorSessionLimitExceeded", False),
        ("TrafficMirrorSourcesPerTargetLimitExceeded", False),
        ("UnauthorizedOperation", False),
        ("InvalidParameterValue", True),  # what a number in use may come as: not documented
    ],
)
def test_only_a_refusal_a_taken_number_may_explain_reads_the_interface_again(
    ec2: EmbeddedEc2,
    fx: Fixtures,
    stack: CustomResource,
    monkeypatch: pytest.MonkeyPatch,
    code: str,
    reads_again: bool,
) -> None:
    """A refusal that names another cause (an instance type, a quota, IAM) answers FAILED at
    once; one that a number taken meanwhile could explain reads the interface for the holder
    until the bound, then answers with EC2's own message."""
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "1")
    ec2.inject("CreateTrafficMirrorSession", code)
    response = stack.create(props(fx, SessionNumber=None))
    assert response["Status"] == "FAILED"
    assert code in response["Reason"]
    reads = len(ec2.requests("DescribeTrafficMirrorSessions"))
    assert (reads > 1) is reads_again, reads  # the first read chose the number
    assert ec2.sessions() == []
