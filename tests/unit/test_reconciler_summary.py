"""The reconciler's answer to a scheduled sweep lists what the audit found, small: each
finding's kind, session, detail and action, the first ``LISTED`` of them (the counts by kind
cover every one); the rest of a finding (stack, expected, actual, where) is its log line's."""

from __future__ import annotations

import json

from reconciler_app import LISTED, summary
from traffic_mirror.watch.audit import Audit
from traffic_mirror.watch.drift import Finding

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/web/1"


def test_each_finding_is_listed_as_kind_session_detail_and_action() -> None:
    found = Audit(
        findings=[
            Finding("field", "tms-1", STACK, "Web", "Description", None, "x", "", "restored"),
            Finding("tag", "tms-1", STACK, "Web", "team", "net", None),
            Finding("deleted", "tms-2", STACK, "Db"),
            Finding("orphaned", "tms-3", STACK, "Old", detail="its resource now has ..."),
        ],
        checked=2,
        seen=3,
    )
    answer = summary(found)
    assert answer["found"] == [
        {"kind": "field", "session": "tms-1", "detail": "Description", "action": "restored"},
        {"kind": "tag", "session": "tms-1", "detail": "team", "action": "reported"},
        {"kind": "deleted", "session": "tms-2", "detail": "", "action": "reported"},
        {
            "kind": "orphaned",
            "session": "tms-3",
            "detail": "its resource now has ...",
            "action": "reported",
        },
    ]
    assert answer["findings"]["field"] == 1 and answer["findings"]["orphaned"] == 1
    assert STACK not in json.dumps(answer)  # small: no stack, no expected or actual values


def test_nothing_found_lists_nothing() -> None:
    answer = summary(Audit(checked=4, seen=4))
    assert answer["found"] == [] and sum(answer["findings"].values()) == 0


def test_the_list_stops_at_its_bound_and_the_counts_go_on() -> None:
    many = [Finding("deleted", f"tms-{n:017x}", STACK, "Web") for n in range(LISTED + 5)]
    answer = summary(Audit(findings=many))
    assert len(answer["found"]) == LISTED and answer["findings"]["deleted"] == LISTED + 5
    assert [f["session"] for f in answer["found"]] == [f.session_id for f in many[:LISTED]]
