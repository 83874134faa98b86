"""A launch in a member account reaches the reconciler: forwarded by the member's rules
(examples/member-events.yaml) to the provider's default bus, it mirrors the new instance of the
fleet placed in that account through RoleArn at once, without waiting for a sweep.

EventBridge is not embedded, so its part is played here: an event a member rule matches is
forwarded as it is (the rules rewrite nothing: no InputTransformer), keeping the member's
``account`` and its ``region``, and a rule of ReconcilerFunction (template.yaml) must match it
on the provider's bus before the reconciler's handler receives it. Both sets of patterns are
read from the templates.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from local.harness.ec2sim import EmbeddedEc2
from local.harness.events import REGION, CustomResource
from local.harness.fleets import bridge, running_event
from local.harness.lambda_loader import ROOT, LambdaContext, read_template
from tests.integration.test_fleet import RECONCILER
from tests.integration.test_placement import MEMBER, ROLE

#: Another member account: its events reach the same bus, but no fleet is placed there.
OTHER_MEMBER = "333333333333"
TIER = {"Key": "tier", "Value": "web"}


def rule_patterns(path: str, rule_type: str) -> list[dict[str, Any]]:
    """The event patterns of a template's EventBridge rules (SAM's on a function, or plain)."""
    template = read_template(ROOT / path)
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] == rule_type:
            found.append(resource["Properties"]["EventPattern"])
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == rule_type:
                found.append(event["Properties"]["Pattern"])
    return found


MEMBER_PATTERNS = rule_patterns("examples/member-events.yaml", "AWS::Events::Rule")
RECONCILER_PATTERNS = rule_patterns("template.yaml", "EventBridgeRule")


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge's matching, for the patterns used here: each field named in the pattern is
    present, a list of values holds the event's value, an object matches the nested one."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        value = event[key]
        if isinstance(wanted, dict):
            if not isinstance(value, dict) or not matches(wanted, value):
                return False
        elif value not in wanted:
            return False
    return True


def delivered(event: dict[str, Any]) -> dict[str, Any]:
    """The event as ReconcilerFunction receives it from the provider's bus, after a member
    rule forwarded it there."""
    assert any(matches(p, event) for p in MEMBER_PATTERNS), "no member rule forwards it"
    assert any(matches(p, event) for p in RECONCILER_PATTERNS), "no reconciler rule hears it"
    return copy.deepcopy(event)


def member_event(kind: str, instance: str, account: str = MEMBER) -> dict[str, Any]:
    """A launch event as EventBridge puts it on the member account's own bus."""
    if kind == "running":
        event = running_event(instance, "2025-06-01T12:00:30Z")
    else:
        event = bridge(
            "EC2 Instance Launch Successful",
            {
                "StatusCode": "InProgress",
                "Description": f"Launching a new EC2 instance: {instance}",
                "AutoScalingGroupName": "web",
                "ActivityId": str(uuid.uuid4()),
                "Details": {"Availability Zone": f"{REGION}a"},
                "EndTime": "2025-06-01T12:00:41.000Z",
                "EC2InstanceId": instance,
                "StartTime": "2025-06-01T12:00:02.000Z",
                "Cause": "a user request update of AutoScalingGroup constraints",
                "Origin": "EC2",
                "Destination": "AutoScalingGroup",
            },
            "aws.autoscaling",
            "2025-06-01T12:00:41Z",
        )
    event["account"] = account
    event["region"] = REGION
    event["resources"] = [f"arn:aws:ec2:{REGION}:{account}:instance/{instance}"]
    return event


def launch(ec2: EmbeddedEc2, subnet: str, count: int = 1) -> list[tuple[str, str]]:
    """``count`` instances tagged for the fleet in the member account: (instance, primary ENI)."""
    client: Any = ec2.client(account=MEMBER)  # tags as plain dicts, not the stubs' TypedDicts
    started = client.run_instances(
        ImageId="ami-12c6146b",
        InstanceType="m6i.large",
        MinCount=count,
        MaxCount=count,
        SubnetId=subnet,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [TIER]}],
    )["Instances"]
    return [(i["InstanceId"], i["NetworkInterfaces"][0]["NetworkInterfaceId"]) for i in started]


def placed_fleet(ec2: EmbeddedEc2, fleet: CustomResource) -> tuple[str, list[str]]:
    """A fleet in the member account through RoleArn, mirroring two instances there: (the
    member's subnet, the two interfaces)."""
    fx = ec2.fixtures(account=MEMBER)
    enis = [eni for _, eni in launch(ec2, fx.subnet_id, 2)]
    created = fleet.create(
        {
            "InstanceTags": [TIER],
            "TrafficMirrorTargetId": fx.target_id,
            "TrafficMirrorFilterId": fx.filter_ids[0],
            "RoleArn": ROLE,
        }
    )
    assert created["Data"]["InterfacesMirrored"] == "2"
    return fx.subnet_id, enis


@pytest.mark.parametrize("kind", ["running", "launch-successful"])
def test_a_member_accounts_launch_event_mirrors_the_new_instance_of_the_fleet_placed_there(
    ec2: EmbeddedEc2, fleet: CustomResource, kind: str
) -> None:
    subnet, enis = placed_fleet(ec2, fleet)
    ((instance, new),) = launch(ec2, subnet)  # scale-out: not mirrored until someone acts
    assert new not in {s["NetworkInterfaceId"] for s in ec2.sessions(account=MEMBER)}

    mark = len(ec2.calls)
    summary = RECONCILER(delivered(member_event(kind, instance)), LambdaContext(timeout_s=60))
    caused = ec2.requests_since(mark)

    assert summary["launched"] == instance and "swept" not in summary  # the event, no sweep
    assert summary["fleets"][fleet.physical_id]["mirrored"] == 1
    assert ec2.writes(mark) == ["CreateTrafficMirrorSession"]
    held = {s["NetworkInterfaceId"]: s for s in ec2.sessions(account=MEMBER)}
    assert sorted(held) == sorted([*enis, new])
    assert len({s["VirtualNetworkId"] for s in held.values()}) == 1  # the fleet's VNI
    assert ec2.sessions() == []  # nothing in the provider's own account
    # Every EC2 call the event caused landed in the member account, through the fleet's role.
    assert {r["@account"] for r in caused if r["Action"] != "AssumeRole"} == {MEMBER}
    assert {r["RoleArn"] for r in caused if r["Action"] == "AssumeRole"} <= {ROLE}


def test_the_same_launch_forwarded_from_an_account_with_no_fleet_touches_nothing(
    ec2: EmbeddedEc2, fleet: CustomResource
) -> None:
    """Every member's events arrive on one bus: only the account (and region) they came from
    decides which fleets look the instance up."""
    subnet, _ = placed_fleet(ec2, fleet)
    ((instance, new),) = launch(ec2, subnet)

    mark = len(ec2.calls)
    elsewhere = member_event("running", instance, account=OTHER_MEMBER)
    summary = RECONCILER(delivered(elsewhere), LambdaContext(timeout_s=60))
    assert summary["fleets"] == {}
    # Not even a DescribeInstances, in any account, nor the fleet's role assumed: the
    # reconciler asks whether the event is from the fleet's placement before opening it.
    assert [r["Action"] for r in ec2.requests_since(mark)] == []

    # The event from the account the instance is in mirrors it: the instance was mirrorable.
    home = RECONCILER(delivered(member_event("running", instance)), LambdaContext(timeout_s=60))
    assert home["fleets"][fleet.physical_id]["mirrored"] == 1
    assert new in {s["NetworkInterfaceId"] for s in ec2.sessions(account=MEMBER)}


def test_an_event_the_member_rules_do_not_forward_never_reaches_the_reconciler() -> None:
    """The test's EventBridge refuses what the templates' rules would not match: a state
    change other than running, or an Auto Scaling event other than a launch."""
    stopped = member_event("running", "i-0123456789abcdef0")
    stopped["detail"]["state"] = "stopped"
    terminated = member_event("launch-successful", "i-0123456789abcdef0")
    terminated["detail-type"] = "EC2 Instance Terminate Successful"
    for event in (stopped, terminated):
        assert not any(matches(p, event) for p in MEMBER_PATTERNS)
        with pytest.raises(AssertionError, match="no member rule forwards it"):
            delivered(event)
