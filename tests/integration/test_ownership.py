"""Ownership: every session knows its stack resource, so rollbacks, redeliveries and full
interfaces are decided by what is ours, never by what looks like ours. And tag changes of
any size fit inside EC2's 50 tags on the way."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.harness.by_hand import ProviderMarks, session_by_hand
from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource
from local.harness.lambda_loader import Handler
from local.harness.receiver import ResponseReceiver
from tests.conftest import by_hand, props
from traffic_mirror.ownership import LOGICAL_KEY, NUMBER_KEY, STACK_KEY
from traffic_mirror.sessions.plan import EC2_MAX_TAGS, TagChanges, tag_writes
from traffic_mirror.sessions.schema import MAX_USER_TAGS, RESERVED_TAGS


def tags_of(session: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in session.get("Tags", [])}


def by_id(ec2: EmbeddedEc2) -> dict[str, dict[str, Any]]:
    return {s["TrafficMirrorSessionId"]: s for s in ec2.sessions()}


# --- Rollbacks of a replacement ----------------------------------------------------------


def test_rollback_update_after_a_replacement_takes_back_the_original_session(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """The replacing Update succeeded (B on the new interface), another resource failed, and
    CloudFormation rolls this one back with an Update naming B and the original properties.
    The original session A is taken back, the cleanup deletes B: A alone remains."""
    original = props(fx, SessionNumber="1", Description="web tier")
    a = stack.create(original)["PhysicalResourceId"]
    moved = props(fx, SessionNumber="1", Description="web tier", NetworkInterfaceId=fx.sources[1])
    replaced = stack.update(moved)
    b = replaced["PhysicalResourceId"]
    assert replaced["Status"] == "SUCCESS" and b != a
    assert set(by_id(ec2)) == {a, b}  # A kept until the cleanup phase

    creates = len(ec2.requests("CreateTrafficMirrorSession"))
    rollback = stack.send(stack.make("Update", original, physical_id=b, old_props=moved))
    assert rollback["Status"] == "SUCCESS", rollback["Reason"]
    assert rollback["PhysicalResourceId"] == a
    assert len(ec2.requests("CreateTrafficMirrorSession")) == creates  # nothing new made
    assert rollback["Data"]["SessionNumber"] == "1"

    cleanup = stack.send(stack.make("Delete", moved, physical_id=b))
    assert cleanup["Status"] == "SUCCESS"
    assert set(by_id(ec2)) == {a}
    assert by_id(ec2)[a]["Description"] == "web tier"


def test_rollback_after_a_replacement_with_an_allocated_number_keeps_the_number(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    original = props(fx, SessionNumber=None)
    first = stack.create(original)
    a, number = first["PhysicalResourceId"], first["Data"]["SessionNumber"]
    moved = props(fx, SessionNumber=None, NetworkInterfaceId=fx.sources[1])
    b = stack.update(moved)["PhysicalResourceId"]
    rollback = stack.send(stack.make("Update", original, physical_id=b, old_props=moved))
    assert rollback["PhysicalResourceId"] == a
    assert rollback["Data"]["SessionNumber"] == number
    stack.send(stack.make("Delete", moved, physical_id=b))
    assert set(by_id(ec2)) == {a}


def test_a_session_of_another_resource_on_the_interface_is_never_taken(
    handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """Same stack, same target and filter, another logical ID: not ours, so not taken."""
    same = props(fx, SessionNumber=None)
    other = CustomResource(handler, receiver, logical_id="Other")
    theirs = other.create(same)["PhysicalResourceId"]
    mine = CustomResource(handler, receiver, logical_id="Mine", stack_id=other.stack_id).create(
        same
    )
    assert mine["Status"] == "SUCCESS"
    assert mine["PhysicalResourceId"] != theirs
    assert len(ec2.sessions()) == 2


def test_full_interface_with_a_look_alike_neighbour_names_every_session(
    handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """The same template deployed by three other stacks fills the interface; a fourth stack
    gets the documented Reason naming the three, and no Create is tried."""
    same = props(fx, SessionNumber=None)
    ids = [CustomResource(handler, receiver).create(same)["PhysicalResourceId"] for _ in range(3)]
    before = len(ec2.calls)
    fourth = CustomResource(handler, receiver).create(same)
    assert fourth["Status"] == "FAILED"
    reason = fourth["Reason"]
    assert reason.startswith(f"allocate a SessionNumber on {fx.sources[0]}: it already sources 3")
    for sid, n in zip(ids, (1, 2, 3), strict=True):
        assert f"{sid} (#{n})" in reason, reason
    assert ec2.writes(before) == []


def test_declared_number_held_by_another_session_fails_naming_it(
    handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    first = CustomResource(handler, receiver, logical_id="First").create(
        props(fx, SessionNumber="5")
    )
    before = len(ec2.calls)
    second = CustomResource(handler, receiver, logical_id="Second").create(
        props(fx, SessionNumber="5")
    )
    assert second["Status"] == "FAILED"
    assert (
        f"use SessionNumber 5 on {fx.sources[0]}: {first['PhysicalResourceId']}"
        in (second["Reason"])
    )
    assert "/First)" in second["Reason"]  # whose it is: stack/LogicalId
    assert ec2.writes(before) == []


def test_dry_run_of_a_declared_number_held_by_another_session_fails_as_the_deploy_would(
    handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    CustomResource(handler, receiver, logical_id="First").create(props(fx, SessionNumber="5"))
    before = len(ec2.calls)
    preflight = CustomResource(handler, receiver, logical_id="Second").create(
        props(fx, SessionNumber="5", DryRun="true")
    )
    assert preflight["Status"] == "FAILED"
    assert "use SessionNumber 5" in preflight["Reason"]
    assert ec2.calls[before:] == ["DescribeTrafficMirrorSessions"]  # not even a checked Create


def test_update_to_a_declared_number_held_by_another_session_changes_nothing(
    handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    CustomResource(handler, receiver, logical_id="First").create(props(fx, SessionNumber="5"))
    second = CustomResource(handler, receiver, logical_id="Second")
    second.create(props(fx, SessionNumber="6"))
    before = len(ec2.calls)
    moved = second.update(props(fx, SessionNumber="5"))
    assert moved["Status"] == "FAILED"
    assert "use SessionNumber 5" in moved["Reason"]
    assert ec2.writes(before) == []


def test_session_made_by_an_older_provider_gains_its_ownership_on_update(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """Before ownership tags, sessions carried only the managed-by marker. The next Update
    records the owner, so later rollbacks can find it."""
    with by_hand(ec2) as client:
        made = session_by_hand(
            client,
            interface=fx.sources[0],
            target=fx.target_id,
            mirror_filter=fx.filter_ids[0],
            number=1,
            marks=ProviderMarks(owner=None),  # the managed-by marker alone
        )
    stack.physical_id, stack.props = made["TrafficMirrorSessionId"], props(fx)
    updated = stack.update(props(fx, Description="now owned"))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    tags = tags_of(by_id(ec2)[made["TrafficMirrorSessionId"]])
    assert tags[STACK_KEY] == stack.stack_id and tags[LOGICAL_KEY] == stack.logical_id
    assert NUMBER_KEY not in tags  # never asked to move: counts as declared


# --- Tags at EC2's limit -------------------------------------------------------------------


def full_tags(prefix: str, count: int = MAX_USER_TAGS) -> list[dict[str, str]]:
    return [{"Key": f"{prefix}{i}", "Value": "v"} for i in range(count)]


def test_renaming_one_tag_at_the_maximum_succeeds(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    tags = full_tags("k")
    assert stack.create(props(fx, Tags=tags))["Status"] == "SUCCESS"
    renamed = [*tags[:-1], {"Key": "renamed", "Value": "v"}]
    updated = stack.update(props(fx, Tags=renamed))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    (session,) = ec2.sessions()
    held = tags_of(session)
    assert len(held) == EC2_MAX_TAGS
    assert {k for k in held if not k.startswith("traffic-mirror-provider:")} == {
        t["Key"] for t in renamed
    }


def test_swapping_every_tag_at_the_maximum_succeeds(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    assert stack.create(props(fx, Tags=full_tags("old")))["Status"] == "SUCCESS"
    updated = stack.update(props(fx, Tags=full_tags("new")))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    held = tags_of(ec2.sessions()[0])
    assert sorted(k for k in held if k.startswith("new")) == sorted(
        t["Key"] for t in full_tags("new")
    )
    assert not any(k.startswith("old") for k in held)


KEYS = st.sampled_from([f"k{i}" for i in range(MAX_USER_TAGS + 10)])
TAG_SETS = st.dictionaries(KEYS, st.sampled_from(["1", "2"]), max_size=MAX_USER_TAGS)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    old=TAG_SETS,
    new=TAG_SETS,
    at_limit=st.booleans(),
)
def test_tag_writes_between_any_two_valid_sets_never_exceed_the_limit(
    old: dict[str, str], new: dict[str, str], at_limit: bool
) -> None:
    """Played against a model of EC2: each write applied in order, the count checked."""
    if at_limit:  # the edge cases: both sets full
        old = {**old, **{f"o{i}": "x" for i in range(MAX_USER_TAGS - len(old))}}
        new = {**new, **{f"n{i}": "y" for i in range(MAX_USER_TAGS - len(new))}}
    reserved = {f"reserved{i}": "r" for i in range(RESERVED_TAGS)}
    held = {**old, **reserved}
    put = {k: v for k, v in new.items() if old.get(k) != v}
    drop = tuple(k for k in old if k not in new)
    peak = len(held)
    for write in tag_writes(held, TagChanges(put, drop)):
        assert write.tags, "no empty write (an empty DeleteTags removes every tag)"
        if write.action == "put":
            held.update(write.tags)
        else:
            for key in write.tags:
                held.pop(key)
        peak = max(peak, len(held))
    assert peak <= EC2_MAX_TAGS
    assert held == {**new, **reserved}


def test_a_failure_after_the_create_leaves_no_session_behind(
    stack: CustomResource, ec2: EmbeddedEc2, fx: Fixtures
) -> None:
    """The Create landed, then the read for rivals failed (throttled past every retry): the
    answer is FAILED with a placeholder ID, whose rollback Delete names no session, so the
    provider removes the session it made before answering."""
    ec2.inject(
        "DescribeTrafficMirrorSessions", "RequestLimitExceeded", status=503, times=30, skip=1
    )
    answer = stack.create(props(fx, SessionNumber=None))
    ec2.clear_faults()
    assert answer["Status"] == "FAILED" and "RequestLimitExceeded" in answer["Reason"]
    assert ec2.requests("CreateTrafficMirrorSession"), "the Create did land"
    assert ec2.sessions() == []
    rollback = stack.send(
        stack.make(
            "Delete", props(fx, SessionNumber=None), physical_id=answer["PhysicalResourceId"]
        )
    )
    assert rollback["Status"] == "SUCCESS"
    assert ec2.sessions() == []
