"""template.yaml keeps its promises: least privilege keyed on the managed-by tag, every ARN
partition-neutral, and settings that match the code."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from local.harness.lambda_loader import ROOT, read_template
from traffic_mirror.ownership import LOGICAL_KEY, MANAGED_BY_KEY, NUMBER_KEY, STACK_KEY
from traffic_mirror.sessions.schema import MANAGED_TAG_PREFIX

TEMPLATE = read_template()
POLICIES = TEMPLATE["Resources"]["ProviderRole"]["Properties"]["Policies"]
FUNCTION = TEMPLATE["Resources"]["ProviderFunction"]["Properties"]
WRITE_PREFIXES = ("Create", "Modify", "Delete", "Put")
MARKER = {"Ref": "AWS::StackName"}
OWNERSHIP_KEYS = (STACK_KEY, LOGICAL_KEY, NUMBER_KEY)


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


#: Modules only the fleet functions (FleetFunction, ReconcilerFunction) run; FleetRole's
#: grants are checked against them in test_fleet_template.py.
FLEET_ONLY = (
    "fleet_app.py",
    "reconciler_app.py",
    "traffic_mirror/fleets/",
    "traffic_mirror/watch/",
    "traffic_mirror/aws/store.py",
)


def fleet_only(path: Path) -> bool:
    return path.relative_to(ROOT / "provider").as_posix().startswith(FLEET_ONLY)


def api_calls_in_code(fleet: bool = False) -> set[str]:
    """Every AWS API the provider calls: EC2 through self.client (any method it names, or
    a paginator), STS through sts_client(), SSM through self.ssm. Without ``fleet``: the
    session provider's modules only."""
    paths = [p for p in (ROOT / "provider").rglob("*.py") if fleet or not fleet_only(p)]
    code = "".join(p.read_text() for p in paths)
    ec2 = set(re.findall(r"self\.client\.(?!meta\b|get_paginator\b)([a-z_]+)\b", code))
    ec2 |= set(re.findall(r"self\.client\.get_paginator\(\"([a-z_]+)\"\)", code))
    sts = set(re.findall(r"sts_client\(\)\.([a-z_]+)\(", code))
    ssm = set(re.findall(r"self\.ssm\.(?!get_paginator\b)([a-z_]+)\b", code))
    ssm |= set(re.findall(r"self\.ssm\.get_paginator\(\"([a-z_]+)\"\)", code))
    cfn = set(re.findall(r"client\.get_paginator\(\"([a-z_]+)\"\)\.paginate\(StackName", code))
    cfn |= set(re.findall(r"client\.([a-z_]+)\(StackName", code))
    scaling = set(re.findall(r"scaling\.(?!get_paginator\b)([a-z_]+)\(", code))
    scaling |= set(re.findall(r"scaling\.get_paginator\(\"([a-z_]+)\"\)", code))
    calls = {f"ec2:{pascal(m)}" for m in ec2} | {f"sts:{pascal(m)}" for m in sts}
    calls |= {f"autoscaling:{pascal(m)}" for m in scaling}
    # Elastic Load Balancing (v2) through a client named ``balancers`` (a fleet's NLB targets).
    balancers = set(re.findall(r"balancers\.(?!get_paginator\b)([a-z_]+)\b", code))
    calls |= {f"elasticloadbalancing:{pascal(m)}" for m in balancers}
    return calls | {f"ssm:{pascal(m)}" for m in ssm} | {f"cloudformation:{pascal(m)}" for m in cfn}


def pascal(method: str) -> str:
    return "".join(w.capitalize() for w in method.split("_"))


def allowed(sts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [st for st in sts if st["Effect"] == "Allow"]


def test_role_grants_exactly_the_api_actions_the_code_calls() -> None:
    granted = {
        a
        for st in allowed(statements())
        for a in actions(st)
        if a.startswith(("ec2:", "sts:", "cloudformation:"))
    }
    assert granted == api_calls_in_code()
    assert {
        "ec2:DescribeTrafficMirrorSessions",
        "sts:AssumeRole",
        "cloudformation:DescribeStacks",  # asked only after a dry-run Update's check failed
    } <= granted
    assert not any("*" in a for st in statements() for a in actions(st))


def member_policy(name: str | None = None) -> list[dict[str, Any]]:
    """MemberRole's statements: of the policy ``name``, or of all its policies."""
    member = read_template(ROOT / "examples" / "member-role.yaml")
    role = member["Resources"]["MemberRole"]["Properties"]
    return [
        st["If"][1] if "If" in st else st
        for p in role["Policies"]
        if name in (None, p["PolicyName"])
        for st in p["PolicyDocument"]["Statement"]
    ]


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
        json.dumps(member_policy("traffic-mirror-sessions")).replace(
            '"ProviderStackName"', '"AWS::StackName"'
        )
    )
    assert theirs == own  # same actions, resources, managed-tag and narrowing conditions


def test_member_role_trusts_only_the_provider_role_and_its_fleet_role_when_given() -> None:
    member = read_template(ROOT / "examples" / "member-role.yaml")
    trust = member["Resources"]["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]
    (only,) = trust["Statement"]
    provider, fleet = {"Ref": "ProviderRoleArn"}, {"Ref": "FleetRoleArn"}
    assert only["Principal"] == {"AWS": {"If": ["TrustFleetRole", [provider, fleet], provider]}}
    assert member["Conditions"]["TrustFleetRole"] == {
        "Not": [{"Equals": [{"Ref": "FleetRoleArn"}, ""]}]
    }
    assert TEMPLATE["Outputs"]["RoleArn"]["Value"] == {"GetAtt": "ProviderRole.Arn"}
    assert TEMPLATE["Outputs"]["FleetRoleArn"]["Value"] == {"GetAtt": "FleetRole.Arn"}
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
    for st in statements():
        session_arn = "traffic-mirror-session/" in resource_text(st)
        for action in actions(st):
            if not session_arn:
                continue
            cond = st.get("Condition", {})
            if action == "ec2:CreateTrafficMirrorSession":
                assert cond["StringEquals"][f"aws:RequestTag/{MANAGED_BY_KEY}"] == MARKER
            elif action in {
                "ec2:ModifyTrafficMirrorSession",
                "ec2:DeleteTrafficMirrorSession",
                "ec2:DeleteTags",
            }:
                assert cond["StringEquals"][f"ec2:ResourceTag/{MANAGED_BY_KEY}"] == MARKER
            elif action == "ec2:CreateTags":
                at_create = cond.get("StringEquals", {}).get("ec2:CreateAction")
                on_marked = cond.get("StringEquals", {}).get(f"ec2:ResourceTag/{MANAGED_BY_KEY}")
                adopting = st["Sid"] == "AdoptUnmarkedSessions"  # its own test, below
                assert (
                    at_create == "CreateTrafficMirrorSession" or on_marked == MARKER or adopting
                ), st


def test_a_session_is_created_only_with_the_marker_and_its_owner_beside_it() -> None:
    (create,) = [
        st
        for st in allowed(statements())
        if "traffic-mirror-session/" in resource_text(st)
        and "ec2:CreateTrafficMirrorSession" in actions(st)
    ]
    assert create["Condition"]["StringEquals"] == {f"aws:RequestTag/{MANAGED_BY_KEY}": MARKER}
    # Null "false": the request must carry these tags (any value: the code writes the stack
    # ARN and the logical ID). session-number is written too, but not demanded here.
    assert create["Condition"]["Null"] == {
        f"aws:RequestTag/{STACK_KEY}": "false",
        f"aws:RequestTag/{LOGICAL_KEY}": "false",
    }


def retag_statement(action: str) -> dict[str, Any]:
    """The statement that lets ``action`` change tags of an existing, marked session."""
    (st,) = [
        s
        for s in allowed(statements())
        if action in actions(s)
        and f"ec2:ResourceTag/{MANAGED_BY_KEY}" in s["Condition"].get("StringEquals", {})
    ]
    return st


def tag_keys_pass(st: dict[str, Any], keys: set[str]) -> bool:
    """Whether a request naming these tag keys meets the statement's aws:TagKeys conditions
    (IAM semantics: ForAllValues holds for every key, Null "false" wants at least one)."""
    tests = {
        "ForAllValues:StringNotEquals": lambda key, values: key not in values,
        "ForAllValues:StringNotLike": lambda key, values: (
            not any(fnmatchcase(key, v) for v in values)
        ),
    }
    for operator, block in st["Condition"].items():
        if "aws:TagKeys" not in block:
            continue
        values = block["aws:TagKeys"]
        if operator == "Null":
            assert values == "false"
            if not keys:
                return False
        else:
            if not all(tests[operator](key, values) for key in keys):
                return False
    return True


def test_marked_sessions_take_user_and_ownership_tags_in_one_call_but_never_the_marker() -> None:
    tag = retag_statement("ec2:CreateTags")
    assert actions(tag) == ["ec2:CreateTags"]
    assert tag_keys_pass(tag, {"team", *OWNERSHIP_KEYS})
    assert tag_keys_pass(tag, {NUMBER_KEY})  # flipping allocated/declared alone
    assert not tag_keys_pass(tag, {MANAGED_BY_KEY})
    assert not tag_keys_pass(tag, {"team", STACK_KEY, MANAGED_BY_KEY})
    assert not tag_keys_pass(tag, set())  # ForAllValues alone would let an empty set through


def test_adoption_marks_only_unmarked_sessions_and_only_with_the_providers_own_tags() -> None:
    (adopt,) = [st for st in statements() if st["Sid"] == "AdoptUnmarkedSessions"]
    assert actions(adopt) == ["ec2:CreateTags"]
    cond = adopt["Condition"]
    assert cond["StringEquals"] == {
        f"aws:RequestTag/{MANAGED_BY_KEY}": MARKER,
        "ec2:ResourceTag/traffic-mirror:adoptable": MARKER,  # opted in, per session
    }
    assert cond["Null"] == {"aws:TagKeys": "false", f"ec2:ResourceTag/{MANAGED_BY_KEY}": "true"}
    reserved = {MANAGED_BY_KEY, *OWNERSHIP_KEYS}
    assert set(cond["ForAllValues:StringEquals"]["aws:TagKeys"]) == reserved
    # Granted only with the AllowAdoption parameter.
    (conditional,) = [
        st
        for policy in POLICIES
        for st in policy["PolicyDocument"]["Statement"]
        if "If" in st and st["If"][1].get("Sid") == "AdoptUnmarkedSessions"
    ]
    assert conditional["If"][0] == "AdoptSessions"
    assert TEMPLATE["Conditions"]["AdoptSessions"] == {"Equals": [{"Ref": "AllowAdoption"}, "true"]}
    assert TEMPLATE["Parameters"]["AllowAdoption"]["Default"] == "false"


def test_no_reserved_key_is_ever_deleted() -> None:
    untag = retag_statement("ec2:DeleteTags")
    assert actions(untag) == ["ec2:DeleteTags"]
    assert untag["Condition"]["ForAllValues:StringNotLike"]["aws:TagKeys"] == [
        f"{MANAGED_TAG_PREFIX}*"
    ]
    assert tag_keys_pass(untag, {"team", "env"})
    for key in (MANAGED_BY_KEY, *OWNERSHIP_KEYS):
        assert not tag_keys_pass(untag, {"team", key})
    # DeleteTags naming no keys removes every tag: refused.
    assert not tag_keys_pass(untag, set())


def test_the_source_vpc_is_compared_as_an_arn() -> None:
    # ec2:Vpc is of type ARN (Service Authorization Reference): ArnEquals, not StringEquals.
    found = [
        operator
        for st in statements()
        for block in conditions_of(st)
        for operator, keys in block.items()
        if "ec2:Vpc" in keys
    ]
    assert found and set(found) == {"ArnEquals"}


def conditions_of(st: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Condition block the statement may have, through any nesting of Fn::If."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict) and "If" in node:
            for branch in node["If"][1:]:
                walk(branch)
        elif isinstance(node, dict) and "Ref" not in node:
            found.append(node)

    walk(st.get("Condition", {}))
    return found


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
