"""What AWS's documentation leaves open, asked of EC2 with raw calls and recorded
(local.aws.observed): a real run writes docs/observed/ec2-behaviour.json, the embedded run
build/aws-suite/ec2-behaviour.json. In the embedded run the answers must be the embedded
EC2's known ones, so a probe that stops probing fails."""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from local.aws.backend import TAG_KEY, Backend
from local.aws.observed import OBSERVED
from local.harness.by_hand import session_by_hand
from tests.aws.conftest import MODE

SAMPLES = 3


def create(aws: Backend, number: int) -> str:
    net = aws.network()
    made = session_by_hand(
        aws.ec2(),
        interface=net.sources[0],
        target=net.target_ids[0],
        mirror_filter=net.filter_ids[0],
        number=number,
        description="acceptance probe",
        tags={TAG_KEY: aws.run_id},
    )
    return str(made["TrafficMirrorSessionId"])


def delete_all(aws: Backend, made: list[str]) -> None:
    for session_id in made:
        aws.ec2().delete_traffic_mirror_session(TrafficMirrorSessionId=session_id)


def test_a_duplicate_session_number_on_one_interface_is_recorded_as_refused_or_accepted(
    aws: Backend,
) -> None:
    made = [create(aws, 10)]
    try:
        try:
            made.append(create(aws, 10))
            record = {"outcome": "accepted", "error_code": None}
        except ClientError as exc:
            error = exc.response["Error"]
            record = {
                "outcome": "refused",
                "error_code": error["Code"],
                "message": error["Message"],
            }
    finally:
        delete_all(aws, made)
    OBSERVED["duplicate_session_number"] = record
    assert record["outcome"] in ("accepted", "refused")
    if MODE == "embedded":
        assert record == {"outcome": "accepted", "error_code": None}  # its default mode
        assert len(made) == 2


def test_a_tag_filter_on_describe_sessions_is_recorded_as_refused_ignored_or_honoured(
    aws: Backend,
) -> None:
    made = [create(aws, 11)]
    try:
        try:
            found = aws.ec2().describe_traffic_mirror_sessions(
                Filters=[{"Name": f"tag:{TAG_KEY}", "Values": [f"not-{aws.run_id}"]}]
            )["TrafficMirrorSessions"]
            ids = {s["TrafficMirrorSessionId"] for s in found}
            record = {"outcome": "ignored" if made[0] in ids else "honoured", "error_code": None}
        except ClientError as exc:
            error = exc.response["Error"]
            record = {
                "outcome": "refused",
                "error_code": error["Code"],
                "message": error["Message"],
            }
    finally:
        delete_all(aws, made)
    OBSERVED["tag_filter_on_describe_sessions"] = record
    assert record["outcome"] in ("refused", "ignored", "honoured")
    if MODE == "embedded":  # the embedded EC2 refuses undocumented filter names, as EC2 may
        assert (record["outcome"], record["error_code"]) == ("refused", "InvalidParameterValue")


def test_the_lag_from_create_to_a_filtered_describe_is_recorded_in_seconds(
    aws: Backend,
) -> None:
    from local.aws.observed import spread  # noqa: PLC0415

    net = aws.network()
    lags: list[float] = []
    for n in range(SAMPLES):
        session_id = create(aws, 20 + n)
        returned = time.monotonic()
        try:
            while True:
                found = aws.ec2().describe_traffic_mirror_sessions(
                    Filters=[{"Name": "network-interface-id", "Values": [net.sources[0]]}]
                )["TrafficMirrorSessions"]
                if session_id in {s["TrafficMirrorSessionId"] for s in found}:
                    lags.append(time.monotonic() - returned)
                    break
                assert time.monotonic() - returned < max(aws.patience_s, 5.0), "never appeared"
                time.sleep(0.1)
        finally:
            delete_all(aws, [session_id])
    OBSERVED["read_lag_after_create_seconds"] = {
        "filter": "network-interface-id",
        **spread(lags),
    }
    assert len(lags) == SAMPLES
    if MODE == "embedded":
        assert max(lags) < 1.0  # the embedded EC2 reads its writes at once
