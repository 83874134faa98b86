"""template.yaml keeps its promises: least privilege keyed on the managed-by tag, every ARN
partition-neutral, and settings that match the code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.lambda_loader import ROOT, handler_location, read_template
from mirror_session.resource import MANAGED_BY_KEY

TEMPLATE = read_template()
POLICIES = TEMPLATE["Resources"]["ProviderRole"]["Properties"]["Policies"]
FUNCTION = TEMPLATE["Resources"]["ProviderFunction"]["Properties"]
WRITE_PREFIXES = ("Create", "Modify", "Delete", "Put")


def statements() -> list[dict[str, Any]]:
    found = []
    for policy in POLICIES:
        for st in policy["PolicyDocument"]["Statement"]:
            # A conditional statement is {"If": [condition, statement, NoValue]}.
            found.append(st["If"][1] if "If" in st else st)
    return found


def actions(st: dict[str, Any]) -> list[str]:
    return [st["Action"]] if isinstance(st["Action"], str) else list(st["Action"])


def resource_text(st: dict[str, Any]) -> str:
    return json.dumps(st["Resource"])


def api_calls_in_code() -> set[str]:
    """Every AWS API the provider calls: EC2 through self.client (any method it names, or
    a paginator), STS through sts_client()."""
    code = "".join(p.read_text() for p in (ROOT / "provider").rglob("*.py"))
    ec2 = set(re.findall(r"self\.client\.(?!meta\b|get_paginator\b)([a-z_]+)\b", code))
    ec2 |= set(re.findall(r"self\.client\.get_paginator\(\"([a-z_]+)\"\)", code))
    sts = set(re.findall(r"sts_client\(\)\.([a-z_]+)\(", code))
    return {f"ec2:{pascal(m)}" for m in ec2} | {f"sts:{pascal(m)}" for m in sts}


def pascal(method: str) -> str:
    return "".join(w.capitalize() for w in method.split("_"))


def allowed(sts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [st for st in sts if st["Effect"] == "Allow"]


def test_role_grants_exactly_the_api_actions_the_code_calls() -> None:
    granted = {
        a for st in allowed(statements()) for a in actions(st) if a.startswith(("ec2:", "sts:"))
    }
    assert granted == api_calls_in_code()
    assert {"ec2:DescribeTrafficMirrorSessions", "sts:AssumeRole"} <= granted
    assert not any("*" in a for st in statements() for a in actions(st))


def member_policy() -> list[dict[str, Any]]:
    member = read_template(ROOT / "examples" / "member-role.yaml")
    role = member["Resources"]["MemberRole"]["Properties"]
    return [st for p in role["Policies"] for st in p["PolicyDocument"]["Statement"]]


def test_assume_role_only_on_roles_with_the_prefix_and_only_when_set() -> None:
    st = next(
        s
        for p in POLICIES
        for s in p["PolicyDocument"]["Statement"]
        if "AssumeMemberRoles" in json.dumps(s)
    )
    condition, granted, otherwise = st["If"]
    assert condition == "AssumeMemberRoles"
    assert otherwise == {"Ref": "AWS::NoValue"}  # empty prefix: no sts:AssumeRole at all
    assert granted["Action"] == "sts:AssumeRole"
    assert granted["Resource"] == {
        "Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleNamePrefix}*"
    }
    assert TEMPLATE["Conditions"]["AssumeMemberRoles"] == {
        "Not": [{"Equals": [{"Ref": "MemberRoleNamePrefix"}, ""]}]
    }


def test_every_session_call_is_denied_outside_the_allowed_regions() -> None:
    deny = [st for st in statements() if st["Effect"] == "Deny"]
    assert len(deny) == 1
    session_actions = {a for st in allowed(statements()) for a in actions(st) if "ec2:" in a}
    assert set(actions(deny[0])) == session_actions and deny[0]["Resource"] == "*"
    assert deny[0]["Condition"]["StringNotEquals"]["aws:RequestedRegion"] == {
        "Split": [",", {"Sub": "${AWS::Region},${AllowedRegions}"}]
    }


def test_member_role_grants_what_the_provider_role_grants_for_sessions() -> None:
    own = [st for st in statements() if not any(a.startswith("sts:") for a in actions(st))]
    own = [st for st in own if any(a.startswith("ec2:") for a in actions(st))]
    theirs = json.loads(
        json.dumps(member_policy()).replace('"ProviderStackName"', '"AWS::StackName"')
    )
    assert theirs == own  # same actions, resources, managed-tag and narrowing conditions


def test_member_role_trusts_only_the_provider_role() -> None:
    member = read_template(ROOT / "examples" / "member-role.yaml")
    trust = member["Resources"]["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]
    (only,) = trust["Statement"]
    assert only["Principal"] == {"AWS": {"Ref": "ProviderRoleArn"}}
    assert only["Action"] == "sts:AssumeRole"
    assert only["Condition"]["If"][1] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    assert member["Parameters"]["RoleName"]["Default"].startswith("TrafficMirror")


def test_no_write_on_any_resource_without_a_condition() -> None:
    for st in statements():
        writes = [a for a in actions(st) if a.split(":")[1].startswith(WRITE_PREFIXES)]
        if writes and st["Resource"] == "*" and not a_xray_write(writes):
            assert "Condition" in st, st


def a_xray_write(writes: list[str]) -> bool:
    # X-Ray's PutTraceSegments has no resource-level permissions; only granted with Tracing on.
    return all(w.startswith("xray:") for w in writes)


def test_sessions_change_only_when_they_carry_this_stacks_marker() -> None:
    marker = {"Ref": "AWS::StackName"}
    for st in statements():
        session_arn = "traffic-mirror-session/" in resource_text(st)
        for action in actions(st):
            if not session_arn:
                continue
            cond = st.get("Condition", {})
            if action == "ec2:CreateTrafficMirrorSession":
                assert cond["StringEquals"][f"aws:RequestTag/{MANAGED_BY_KEY}"] == marker
            elif action in {
                "ec2:ModifyTrafficMirrorSession",
                "ec2:DeleteTrafficMirrorSession",
                "ec2:DeleteTags",
            }:
                assert cond["StringEquals"][f"ec2:ResourceTag/{MANAGED_BY_KEY}"] == marker
            elif action == "ec2:CreateTags":
                at_create = cond.get("StringEquals", {}).get("ec2:CreateAction")
                on_marked = cond.get("StringEquals", {}).get(f"ec2:ResourceTag/{MANAGED_BY_KEY}")
                assert at_create == "CreateTrafficMirrorSession" or on_marked == marker, st
    # The marker itself can never be changed or removed by the provider.
    retag = next(st for st in allowed(statements()) if "ec2:DeleteTags" in actions(st))
    assert retag["Condition"]["ForAllValues:StringNotLike"]["aws:TagKeys"] == [
        MANAGED_BY_KEY.split(":")[0] + ":*"
    ]


def test_the_function_tags_with_the_value_the_policy_expects() -> None:
    assert FUNCTION["Environment"]["Variables"]["MANAGED_BY"] == {"Ref": "AWS::StackName"}


def test_every_arn_is_partition_neutral() -> None:
    for path in [ROOT / "template.yaml", *sorted((ROOT / "examples").glob("*.yaml"))]:
        assert not re.search(r"arn:aws[:\-]", path.read_text()), path


def test_runtime_is_current_and_handler_is_where_the_code_is() -> None:
    assert FUNCTION["Runtime"] in {"python3.12", "python3.13"}
    assert (ROOT / FUNCTION["CodeUri"] / (FUNCTION["Handler"].split(".")[0] + ".py")).is_file()
    assert FUNCTION["Timeout"] > 3  # the responder's guard answers 3 s before the limit


def test_consumer_example_imports_the_exported_service_token() -> None:
    consumer = read_template(Path(ROOT / "examples" / "consumer.yaml"))
    session = consumer["Resources"]["MirrorSession"]
    export = TEMPLATE["Outputs"]["ServiceToken"]["Export"]["Name"]
    assert session["Type"] == "Custom::TrafficMirrorSession"
    assert session["Properties"]["ServiceToken"]["Fn::ImportValue"] == {
        "Sub": export["Sub"].replace("AWS::StackName", "ProviderStackName")
    }
    assert 0 < int(session["Properties"]["ServiceTimeout"]) <= 3600
    assert consumer["Outputs"]["VirtualNetworkId"]["Value"] == {
        "GetAtt": "MirrorSession.VirtualNetworkId"
    }


@pytest.mark.parametrize(("disabled", "traced"), [("true", False), ("false", True)])
def test_tracing_switch_imports_xray_only_when_on(disabled: str, traced: bool) -> None:
    code_dir, spec = handler_location()
    module = spec.rpartition(".")[0]
    probe = (
        f"import sys; sys.path.insert(0, {str(code_dir)!r}); import {module}; "
        f"print({module}.TRACING, 'aws_xray_sdk' in sys.modules)"
    )
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": disabled, "AWS_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == [str(traced), str(traced)]
    # The template's Tracing parameter drives exactly this variable.
    assert FUNCTION["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "If": ["TracingEnabled", "false", "true"]
    }
