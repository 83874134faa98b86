"""Bad input, fuzzed: whatever a user or a broken caller sends, exactly one response, within
CloudFormation's limits, with a readable Reason, and no EC2 write for invalid input. A PUT
the receiver acknowledged too late is sent again with the same body (S3 keeps the last one);
that two different answers are never sent is test_cloudformation_crhelper_adapter's and
integration/test_failures.py's to check.

FUZZ_EXAMPLES sets the number of examples (default 2,000; `make reliability` runs more).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.harness.ec2sim import WRITE_ACTIONS, EmbeddedEc2, Fixtures
from local.harness.events import SERVICE_TOKEN, new_stack_id
from local.harness.lambda_loader import Handler, LambdaContext
from local.harness.receiver import ResponseReceiver
from tests.figures import FIGURES
from traffic_mirror.errors import MAX_REASON
from traffic_mirror.sessions.schema import FIELDS

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
KNOWN = [f.name for f in FIELDS] + ["Tags", "ServiceToken", "ServiceTimeout", "OwnerId"]
NEAR = ["SessionNumer", "sessionnumber", "Tag", "", " ", "PacketLength ", "DryRun", "Region"]
REJECTED = ("Invalid properties", "Malformed request")

huge_text = st.builds(lambda c, n: c * n, st.characters(), st.integers(0, 20_000))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["1", "0", "-1", "32766", "32767", "8500", "16777215", "true", "1e3", " 7 "]),
    huge_text,
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["Key", "Value", "Ref", "x"]) | st.text(max_size=8), inner
        )
    ),
    max_leaves=8,
)
tag = st.fixed_dictionaries({"Key": st.text(max_size=12) | huge_text, "Value": values})
# Long tag lists are built by repetition: cheap to draw, still past every count limit.
tag_lists = st.builds(lambda tags, n: tags * n, st.lists(tag, max_size=3), st.integers(1, 60))
prop_names = st.sampled_from(KNOWN + NEAR) | st.text(max_size=30)


@st.composite
def properties(draw: st.DrawFn, fx: Fixtures) -> Any:
    """Anything from garbage to nearly valid: a valid base with some keys replaced or added."""
    if draw(st.integers(0, 9)) == 0:
        return draw(values)  # not even a map
    base: dict[str, Any] = {
        "NetworkInterfaceId": draw(st.sampled_from(fx.sources)),
        "TrafficMirrorTargetId": fx.target_id,
        "TrafficMirrorFilterId": draw(st.sampled_from(fx.filter_ids)),
        "SessionNumber": str(draw(st.integers(1, 32766))),
    }
    for _ in range(draw(st.integers(0, 4))):
        base[draw(prop_names)] = draw(values | tag_lists)
    for key in draw(st.lists(st.sampled_from(KNOWN), max_size=2)):
        base.pop(key, None)
    return base


@st.composite
def events(draw: st.DrawFn, fx: Fixtures, receiver: ResponseReceiver) -> dict[str, Any]:
    """A custom resource event, sometimes with missing or odd envelope fields."""
    rid = str(uuid.uuid4())
    event: dict[str, Any] = {
        "RequestType": draw(st.sampled_from(["Create", "Update", "Delete"]) | values),
        "ServiceToken": SERVICE_TOKEN,
        "ResponseURL": receiver.url_for(rid),
        "StackId": new_stack_id("fuzz"),
        "RequestId": rid,
        "LogicalResourceId": draw(st.sampled_from(["Mirror", "M" * 255]) | st.text(max_size=20)),
        "ResourceType": "Custom::TrafficMirrorSession",
        "ResourceProperties": draw(properties(fx)),
        "PhysicalResourceId": draw(
            st.sampled_from(["tms-0123456789abcdef0", "create-failed-1", ""]) | values
        ),
        "OldResourceProperties": draw(st.none() | properties(fx)),
    }
    for key in draw(st.lists(st.sampled_from(sorted(set(event) - {"ResponseURL"})), max_size=2)):
        event.pop(key, None)
    return event


@pytest.fixture(scope="module")
def fuzz_fx(embedded: EmbeddedEc2) -> Fixtures:
    embedded.reset()
    return embedded.fixtures()


def test_any_input_gets_exactly_one_well_formed_answer(
    handler: Handler, receiver: ResponseReceiver, embedded: EmbeddedEc2, fuzz_fx: Fixtures
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        event = data.draw(events(fuzz_fx, receiver))
        rid = event["ResponseURL"].split("/")[-1].split("?")[0]
        before = len(embedded.calls)
        handler(event, LambdaContext(timeout_s=30))  # must not raise
        writes = [c for c in embedded.calls[before:] if c in WRITE_ACTIONS]
        answers = receiver.for_request(rid)
        # One answer. A PUT the receiver was too slow to acknowledge (3 s, under load) is
        # sent again, the same body: S3 keeps the last, so CloudFormation reads that one.
        assert answers and all(a.body == answers[0].body for a in answers), answers
        FIGURES["fuzz: answers PUT again after a timeout (the same body)"] += len(answers) - 1
        body, size = answers[0].body, answers[0].size
        assert size <= 4096
        assert body["Status"] in {"SUCCESS", "FAILED"}
        assert isinstance(body["PhysicalResourceId"], str)
        assert 0 < len(body["PhysicalResourceId"]) <= 1024
        if body["Status"] == "FAILED":
            reason = body["Reason"]
            assert 0 < len(reason) <= MAX_REASON and reason.isprintable(), reason
        if body["Reason"].startswith(REJECTED):
            assert writes == [], (body["Reason"], writes)
        FIGURES["fuzz: examples run"] += 1
        FIGURES[f"fuzz: responses {body['Status']}"] += 1
        FIGURES["fuzz: rejected before any EC2 call"] += body["Reason"].startswith(REJECTED)

    check()
