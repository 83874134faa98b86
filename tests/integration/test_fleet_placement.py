"""A fleet in a member account through RoleArn, end to end: its EC2 calls land in that account,
and the member-account role (examples/member-role.yaml) grants every one of them.

The embedded EC2 does not enforce IAM, so the grant is checked here against the calls the
fleet really made: each EC2 action received in the member account during a whole lifecycle
(Create, a DryRun Update, an Update, the reconciler's sweep, Delete) must be allowed by the
role's rendered policies.
"""

from __future__ import annotations

from typing import Any

from local.harness.ec2sim import EmbeddedEc2
from local.harness.events import CustomResource
from local.harness.iam_policies import role_policies
from local.harness.lambda_loader import ROOT, read_template
from tests.integration.test_fleet import sweep
from tests.integration.test_placement import MEMBER, ROLE


def member_role_grants() -> set[str]:
    """The actions MemberRole's policies allow, rendered with the template's defaults."""
    template = read_template(ROOT / "examples" / "member-role.yaml")
    return {
        action
        for document in role_policies(template, "MemberRole", {}).values()
        for st in document["Statement"]
        if st["Effect"] == "Allow"
        for action in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    }


def test_every_call_a_fleet_makes_in_a_member_account_is_granted_by_the_member_role(
    ec2: EmbeddedEc2, fleet: CustomResource
) -> None:
    fx = ec2.fixtures(account=MEMBER)
    client: Any = ec2.client(account=MEMBER)  # tags as plain dicts, not the stubs TypedDicts
    tier = {"Key": "tier", "Value": "web"}
    started = client.run_instances(
        ImageId="ami-12c6146b",
        InstanceType="m6i.large",
        MinCount=2,
        MaxCount=2,
        SubnetId=fx.subnet_id,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [tier]}],
    )["Instances"]
    mark = len(ec2.calls)  # the fixtures' own calls are not the fleet's

    def props(**overrides: Any) -> dict[str, Any]:
        return {
            "InstanceTags": [tier],
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[0],
            "RoleArn": ROLE,
            "Tags": [{"Key": "team", "Value": "netsec"}],
            **overrides,
        }

    changed = {"TrafficMirrorFilterId": fx.filter_ids[1], "Tags": [{"Key": "team", "Value": "b"}]}
    assert fleet.create(props())["Data"]["InterfacesMirrored"] == "2"
    assert fleet.update(props(DryRun="true", **changed))["Status"] == "SUCCESS"
    assert fleet.update(props(**changed))["Status"] == "SUCCESS"
    client.delete_tags(Resources=[started[0]["InstanceId"]], Tags=[tier])  # leaves the fleet
    assert sweep()["fleets"][fleet.physical_id]["removed"] == 1
    assert fleet.delete()["Status"] == "SUCCESS"
    assert ec2.sessions(account=MEMBER) == [] and ec2.sessions() == []

    made = {f"ec2:{r['Action']}" for r in ec2.requests_since(mark) if r["@account"] == MEMBER}
    # The lifecycle reached every kind of call a fleet makes: reads of instances included.
    assert made == {
        "ec2:DescribeInstances",
        "ec2:DescribeTags",
        "ec2:DescribeTrafficMirrorTargets",  # a fleet checks its target and filter exist
        "ec2:DescribeTrafficMirrorFilters",
        "ec2:DescribeTrafficMirrorSessions",
        "ec2:CreateTrafficMirrorSession",
        "ec2:ModifyTrafficMirrorSession",
        "ec2:CreateTags",
        "ec2:DeleteTags",
        "ec2:DeleteTrafficMirrorSession",
    }
    assert sorted(made - member_role_grants()) == []
