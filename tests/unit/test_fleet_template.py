"""template.yaml's fleet functions: the session statements are ProviderRole's, unchanged; the
rest reads instances and keeps fleet records under the provider's own path, nothing more."""

from __future__ import annotations

import ast
import re
import sys
from typing import Any

from local.harness.lambda_loader import ROOT, handler_location, load_handler, read_template
from tests.unit.test_template import actions, api_calls_in_code, member_policy

TEMPLATE = read_template()
reconciler_app = sys.modules[load_handler(function="ReconcilerFunction").__module__]
RESOURCES = TEMPLATE["Resources"]
STORE_PATH = "parameter/traffic-mirror-provider/${AWS::StackName}/fleets"


def policies(role: str) -> dict[str, Any]:
    return {p["PolicyName"]: p for p in RESOURCES[role]["Properties"]["Policies"]}


def statements(role: str) -> list[dict[str, Any]]:
    return [
        st["If"][1] if "If" in st else st
        for p in policies(role).values()
        for st in p["PolicyDocument"]["Statement"]
    ]


def without_adoption(policy: dict[str, Any]) -> list[Any]:
    return [
        st
        for st in policy["PolicyDocument"]["Statement"]
        if not ("If" in st and st["If"][1].get("Sid") == "AdoptUnmarkedSessions")
    ]


def test_fleet_sessions_are_governed_by_the_same_statements_as_single_sessions() -> None:
    """The same statements, except adoption: a fleet never takes over a session it did not
    make, so its unattended reconciler cannot mark one either."""
    fleet, provider = policies("FleetRole"), policies("ProviderRole")
    fleet_sessions = fleet["traffic-mirror-sessions"]["PolicyDocument"]["Statement"]
    assert fleet_sessions == without_adoption(provider["traffic-mirror-sessions"])
    assert len(fleet_sessions) < len(
        provider["traffic-mirror-sessions"]["PolicyDocument"]["Statement"]
    )
    assert fleet["logs-and-traces"] == provider["logs-and-traces"]


def test_fleet_role_grants_exactly_the_api_actions_the_fleet_code_calls() -> None:
    granted = {
        a
        for st in statements("FleetRole")
        if st["Effect"] == "Allow"
        for a in actions(st)
        if a.startswith(
            ("ec2:", "sts:", "ssm:", "cloudformation:", "autoscaling:", "elasticloadbalancing:")
        )
    }
    assert granted == api_calls_in_code(fleet=True)
    assert "cloudformation:ListStackResources" in granted  # read-only: who claims a session
    assert "lambda:InvokeFunction" not in str(statements("FleetRole"))  # no self-invocation


def test_the_member_role_grants_every_ec2_action_the_fleet_code_calls() -> None:
    """A fleet with RoleArn makes all its EC2 calls as the member role (the store stays with
    FleetRole): that role must grant each one, reads of instances included."""
    member = {a for st in member_policy() if st["Effect"] == "Allow" for a in actions(st)}
    fleet_ec2 = {a for a in api_calls_in_code(fleet=True) if a.startswith("ec2:")}
    assert "ec2:DescribeInstances" in fleet_ec2  # what the inventory reads
    assert sorted(fleet_ec2 - member) == []
    assert "ec2:DescribeTags" in fleet_ec2  # how the fleet finds its sessions
    assert "ec2:DescribeAvailabilityZones" in fleet_ec2  # zonal targets: zone names as IDs
    assert "elasticloadbalancing:DescribeLoadBalancers" in member  # an NLB target's zones
    reads = member_policy("fleet-instances")
    sids = {"ReadInstances", "FindSessionsByTag", "CheckSelectorsTargetsAndFilters"}
    sids |= {"LearnTargetZones"}  # ZonalTrafficMirrorTargetIds: the zones targets serve
    own = [st for st in statements("FleetRole") if st.get("Sid") in sids]
    assert reads == own  # the same read-only statements as the provider's fleet role


def test_the_store_is_reachable_only_under_the_providers_own_path() -> None:
    sessions = STORE_PATH.rsplit("/", 1)[0] + "/sessions"
    owned = {STORE_PATH, STORE_PATH + "/*", sessions, sessions + "/*"}
    for role in ("FleetRole", "ProviderRole"):
        for st in statements(role):
            if any(a.startswith("ssm:") for a in actions(st)):
                resource = st["Resource"]["Sub"]
                assert resource.startswith("arn:${AWS::Partition}:ssm:${AWS::Region}:")
                assert resource.split("${AWS::AccountId}:", 1)[1] in owned
    env = RESOURCES["FleetFunction"]["Properties"]["Environment"]["Variables"]
    assert env["FLEET_STORE_PATH"] == {"Sub": "/" + STORE_PATH.split("/", 1)[1]}
    for name in ("ProviderFunction", "ReconcilerFunction"):
        env = RESOURCES[name]["Properties"]["Environment"]["Variables"]
        assert env["SESSION_STORE_PATH"] == {"Sub": "/" + sessions.split("/", 1)[1]}


def test_both_fleet_functions_run_code_in_the_provider_package_with_the_fleet_role() -> None:
    for name in ("FleetFunction", "ReconcilerFunction"):
        code_dir, handler = handler_location(function=name)
        assert code_dir == ROOT / "provider"
        assert (code_dir / (handler.split(".")[0] + ".py")).is_file()
        props = RESOURCES[name]["Properties"]
        assert props["Role"] == {"GetAtt": "FleetRole.Arn"}
        assert props["Environment"] == RESOURCES["FleetFunction"]["Properties"]["Environment"]


def test_the_reconciler_hears_launches_and_sweeps_on_the_schedule_parameter() -> None:
    events = RESOURCES["ReconcilerFunction"]["Properties"]["Events"]
    assert {e["Type"] for e in events.values()} == {"EventBridgeRule", "Schedule"}
    pattern = events["InstanceRunning"]["Properties"]["Pattern"]
    assert pattern["source"] == [reconciler_app.STATE_CHANGE[0]]
    assert pattern["detail-type"] == [reconciler_app.STATE_CHANGE[1]]
    assert pattern["detail"] == {"state": ["running"]}
    launched = events["InstanceLaunched"]["Properties"]["Pattern"]
    assert launched == {
        "source": [reconciler_app.LAUNCH_SUCCESSFUL[0]],
        "detail-type": [reconciler_app.LAUNCH_SUCCESSFUL[1]],
    }
    assert launched == {
        "source": ["aws.autoscaling"],
        "detail-type": ["EC2 Instance Launch Successful"],
    }
    assert events["Sweep"]["Properties"]["Schedule"] == {"Ref": "FleetSweepSchedule"}
    assert TEMPLATE["Parameters"]["FleetSweepSchedule"]["Default"] == "rate(10 minutes)"


def test_the_fleet_service_token_is_exported() -> None:
    output = TEMPLATE["Outputs"]["FleetServiceToken"]
    assert output["Value"] == {"GetAtt": "FleetFunction.Arn"}
    assert output["Export"]["Name"] == {"Sub": "${AWS::StackName}-FleetServiceToken"}


def test_the_session_role_writes_exactly_the_records_its_code_keeps() -> None:
    """ProviderRole's SSM actions are the calls of the Store methods the session code uses."""
    package = ROOT / "provider" / "traffic_mirror"
    used = set()
    for module in ("sessions/resource",):
        used |= set(
            re.findall(
                r"[sS]tore(?:\(\"sessions\"\))?\.(put|remove|records|get)\(",
                (package / f"{module}.py").read_text(),
            )
        )
    tree = ast.parse((package / "aws" / "store.py").read_text())
    calls = {
        f"ssm:{''.join(w.capitalize() for w in node.attr.split('_'))}"
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef) and fn.name in used
        for node in ast.walk(fn)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "ssm"
    }
    granted = {a for st in statements("ProviderRole") for a in actions(st) if a.startswith("ssm:")}
    assert used == {"put", "remove", "get"}
    # Delete marks the record removed with a tombstone (PutParameter): never DeleteParameter,
    # since SSM asks 30 s before a deleted name is created again. An Update reads the record
    # (GetParameter) to tell a stale read from a rollback of an Update that never landed.
    assert granted == calls == {"ssm:PutParameter", "ssm:GetParameter"}


def test_the_alarms_watch_exactly_the_metrics_the_reconciler_emits() -> None:
    """Names, namespace and dimensions as reconciler_app emits them (a typo would leave an
    alarm forever without data)."""
    code = (ROOT / "provider" / "reconciler_app.py").read_text()
    from traffic_mirror.watch.drift import KINDS  # noqa: PLC0415

    assert '"DriftedSessions"' in code and '"OrphanedSessions"' in code
    assert '"SharedSessionNumbers"' in code
    assert set(re.findall(r'add_dimension\(name="(\w+)"', code)) == {"ProviderStack", "Kind"}
    drift = RESOURCES["DriftAlarm"]["Properties"]
    stats = [m["MetricStat"]["Metric"] for m in drift["Metrics"] if "MetricStat" in m]
    assert {m["MetricName"] for m in stats} == {"DriftedSessions", "SharedSessionNumbers"}
    (shared,) = [m for m in stats if m["MetricName"] == "SharedSessionNumbers"]
    assert {d["Name"]: d["Value"] for d in shared["Dimensions"]}["Kind"] == "shared-number"
    assert {m["Namespace"] for m in stats} == {"TrafficMirrorProvider"}
    kinds = {d["Value"] for m in stats for d in m["Dimensions"] if d["Name"] == "Kind"}
    assert kinds == set(KINDS) - {"orphaned"}
    errors = RESOURCES["AuditErrorAlarm"]["Properties"]
    assert '"AuditErrors"' in code
    assert (errors["MetricName"], errors["Namespace"]) == ("AuditErrors", "TrafficMirrorProvider")
    assert {d["Name"]: d["Value"] for d in errors["Dimensions"]}["Kind"] == "error"
    assert errors["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    orphan = RESOURCES["OrphanAlarm"]["Properties"]
    assert (orphan["MetricName"], orphan["Namespace"]) == (
        "OrphanedSessions",
        "TrafficMirrorProvider",
    )
    assert {d["Name"]: d["Value"] for d in orphan["Dimensions"]} == {
        "ProviderStack": {"Ref": "AWS::StackName"},
        "Kind": "orphaned",
    }
    for alarm in (drift, orphan):
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    assert RESOURCES["DriftAlarm"]["Condition"] == RESOURCES["OrphanAlarm"]["Condition"]
    assert TEMPLATE["Parameters"]["AlarmTopicArn"]["Default"] == ""
