"""Find and delete what the acceptance suite made, by its tag and its stack names: what
``make sweep-aws`` runs after a failed real run, and how a real run cleans up after itself.

Order matters: consumer stacks first (their custom resources need the provider to delete
their sessions), then Auto Scaling groups, any session left on the suite's interfaces or
carrying its tag, the provider stack and its parameters, launch templates, instances,
targets, filters, interfaces, subnets and VPCs.

Example::

    removed = sweep(Clients.of(boto3.Session(profile_name="sandbox")), run_id=None)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError

from local.aws.backend import PREFIX, TAG_KEY

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ssm import SSMClient
else:
    AutoScalingClient = CloudFormationClient = EC2Client = SSMClient = Any

PROVIDER_PREFIX: Final = f"{PREFIX}-provider-"
#: Every stack status but DELETE_COMPLETE (ListStacks would list deleted stacks too).
LIVE_STACKS: Final = [
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "CREATE_COMPLETE",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "REVIEW_IN_PROGRESS",
    "IMPORT_IN_PROGRESS",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
]
Say = Callable[[str], None]


@dataclass(frozen=True)
class Clients:
    """The clients a sweep needs, in one account and region."""

    cloudformation: CloudFormationClient
    ec2: EC2Client
    autoscaling: AutoScalingClient
    ssm: SSMClient

    @classmethod
    def of(cls, session: boto3.Session) -> Clients:
        return cls(
            session.client("cloudformation"),
            session.client("ec2"),
            session.client("autoscaling"),
            session.client("ssm"),
        )


@dataclass(frozen=True)
class Leftover:
    """One thing the suite made that still exists."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind:<22} {self.id}"


def consumer_prefix(run_id: str | None) -> str:
    """The names of a run's consumer stacks (any run's when ``run_id`` is None)."""
    return f"{PREFIX}-{run_id}-" if run_id else f"{PREFIX}-"


def provider_name(run_id: str) -> str:
    """The provider stack a run deploys for itself."""
    return f"{PROVIDER_PREFIX}{run_id}"


def _tagged(tags: Iterable[Any] | None, run_id: str | None) -> bool:
    for tag in tags or []:
        if tag.get("Key") == TAG_KEY and (run_id is None or tag.get("Value") == run_id):
            return True
    return False


def _tag_filter(run_id: str | None) -> list[Any]:
    if run_id is None:
        return [{"Name": "tag-key", "Values": [TAG_KEY]}]
    return [{"Name": f"tag:{TAG_KEY}", "Values": [run_id]}]


def stacks(c: Clients, run_id: str | None, *, provider: bool) -> list[str]:
    """The suite's live stacks: consumer stacks, or (``provider``) provider stacks."""
    pages = c.cloudformation.get_paginator("list_stacks").paginate(
        StackStatusFilter=LIVE_STACKS  # type: ignore[arg-type]
    )
    names = [s["StackName"] for page in pages for s in page["StackSummaries"]]
    if provider:
        wanted = provider_name(run_id) if run_id else PROVIDER_PREFIX
        return sorted(n for n in names if n.startswith(wanted))
    return sorted(
        n
        for n in names
        if n.startswith(consumer_prefix(run_id)) and not n.startswith(PROVIDER_PREFIX)
    )


def vpcs(c: Clients, run_id: str | None) -> list[str]:
    found = c.ec2.describe_vpcs(Filters=_tag_filter(run_id))["Vpcs"]
    return sorted(v["VpcId"] for v in found)


def interfaces(c: Clients, vpc_ids: list[str]) -> list[dict[str, Any]]:
    if not vpc_ids:
        return []
    pages = c.ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": "vpc-id", "Values": vpc_ids}]
    )
    return [dict(n) for page in pages for n in page["NetworkInterfaces"]]


def sessions(c: Clients, run_id: str | None, eni_ids: set[str]) -> list[str]:
    """Sessions carrying the suite's tag or on its interfaces (DescribeTrafficMirrorSessions
    has no tag: filter, so every session is read and chosen here)."""
    pages = c.ec2.get_paginator("describe_traffic_mirror_sessions").paginate()
    return sorted(
        s["TrafficMirrorSessionId"]
        for page in pages
        for s in page["TrafficMirrorSessions"]
        if _tagged(s.get("Tags"), run_id) or s["NetworkInterfaceId"] in eni_ids
    )


def groups(c: Clients, run_id: str | None) -> list[str]:
    pages = c.autoscaling.get_paginator("describe_auto_scaling_groups").paginate()
    return sorted(
        g["AutoScalingGroupName"]
        for page in pages
        for g in page["AutoScalingGroups"]
        if _tagged(g.get("Tags"), run_id)
    )


def instances(c: Clients, run_id: str | None) -> list[str]:
    pages = c.ec2.get_paginator("describe_instances").paginate(
        Filters=[
            *_tag_filter(run_id),
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )
    return sorted(i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"])


def parameters(c: Clients, run_id: str | None) -> list[str]:
    """The SSM parameters the suite's provider stacks keep (fleets and session records)."""
    wanted = f"/traffic-mirror-provider/{provider_name(run_id) if run_id else PROVIDER_PREFIX}"
    pages = c.ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/traffic-mirror-provider", Recursive=True
    )
    return sorted(
        p["Name"] for page in pages for p in page["Parameters"] if p["Name"].startswith(wanted)
    )


def find(c: Clients, run_id: str | None, *, include_provider: bool = True) -> list[Leftover]:
    """Everything of the suite (of one run, or of every run) that still exists, in the order
    it must be deleted."""
    vpc_ids = vpcs(c, run_id)
    enis = interfaces(c, vpc_ids)
    eni_ids = {n["NetworkInterfaceId"] for n in enis}
    found = [Leftover("stack", n) for n in stacks(c, run_id, provider=False)]
    found += [Leftover("auto scaling group", g) for g in groups(c, run_id)]
    found += [Leftover("session", s) for s in sessions(c, run_id, eni_ids)]
    if include_provider:
        found += [Leftover("provider stack", n) for n in stacks(c, run_id, provider=True)]
        found += [Leftover("parameter", p) for p in parameters(c, run_id)]
    templates = c.ec2.describe_launch_templates(Filters=_tag_filter(run_id))["LaunchTemplates"]
    found += [Leftover("launch template", t["LaunchTemplateId"]) for t in templates]
    found += [Leftover("instance", i) for i in instances(c, run_id)]
    targets = c.ec2.describe_traffic_mirror_targets()["TrafficMirrorTargets"]
    found += [
        Leftover("target", t["TrafficMirrorTargetId"])
        for t in targets
        if _tagged(t.get("Tags"), run_id)
    ]
    filters = c.ec2.describe_traffic_mirror_filters()["TrafficMirrorFilters"]
    found += [
        Leftover("filter", f["TrafficMirrorFilterId"])
        for f in filters
        if _tagged(f.get("Tags"), run_id)
    ]
    found += [Leftover("network interface", n) for n in sorted(eni_ids)]
    if vpc_ids:
        subnets = c.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": vpc_ids}])
        found += [Leftover("subnet", s["SubnetId"]) for s in subnets["Subnets"]]
    found += [Leftover("vpc", v) for v in vpc_ids]
    return found


#: The order of deletion: what depends on something is deleted before it.
PHASES: Final = (
    ("stack",),
    ("auto scaling group",),
    ("session",),
    ("provider stack",),
    ("parameter",),
    ("launch template",),
    ("instance",),
    ("target", "filter"),
    ("network interface",),
    ("subnet",),
    ("vpc",),
)


def sweep(
    c: Clients,
    run_id: str | None,
    *,
    include_provider: bool = True,
    say: Say = print,
    poll_s: float = 10.0,
) -> list[Leftover]:
    """Delete everything :func:`find` finds, phase by phase, printing each; what was deleted."""
    deleted: list[Leftover] = []
    for kinds in PHASES:
        items = [i for i in find(c, run_id, include_provider=include_provider) if i.kind in kinds]
        for item in items:
            say(f"deleting {item}")
        if kinds == ("instance",) and items:
            ids = [i.id for i in items]
            c.ec2.terminate_instances(InstanceIds=ids)
            c.ec2.get_waiter("instance_terminated").wait(
                InstanceIds=ids, WaiterConfig={"Delay": max(int(poll_s), 1), "MaxAttempts": 60}
            )
        else:
            for item in items:
                try:
                    _delete(c, item, poll_s)
                except ClientError as exc:
                    if "NotFound" not in exc.response["Error"]["Code"]:
                        raise
        deleted += items
    return deleted


def _delete(c: Clients, item: Leftover, poll_s: float) -> None:
    ec2 = c.ec2
    if item.kind in ("stack", "provider stack"):
        return delete_stack(c, item.id, poll_s)
    if item.kind == "auto scaling group":
        return _delete_group(c, item.id, poll_s)
    if item.kind == "session":
        ec2.delete_traffic_mirror_session(TrafficMirrorSessionId=item.id)
    elif item.kind == "parameter":
        c.ssm.delete_parameter(Name=item.id)
    elif item.kind == "launch template":
        ec2.delete_launch_template(LaunchTemplateId=item.id)
    elif item.kind == "target":
        ec2.delete_traffic_mirror_target(TrafficMirrorTargetId=item.id)
    elif item.kind == "filter":
        ec2.delete_traffic_mirror_filter(TrafficMirrorFilterId=item.id)
    elif item.kind == "network interface":
        ec2.delete_network_interface(NetworkInterfaceId=item.id)
    elif item.kind == "subnet":
        ec2.delete_subnet(SubnetId=item.id)
    elif item.kind == "vpc":
        ec2.delete_vpc(VpcId=item.id)
    return None


def delete_stack(c: Clients, name: str, poll_s: float = 10.0, timeout_s: float = 3600) -> None:
    """Delete a stack and wait until it is gone; a resource CloudFormation cannot delete (its
    provider already gone, say) is retained on a second try, and swept from EC2 afterwards."""
    stack_id = c.cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    for attempt in range(2):
        retain: list[str] = []
        if attempt:
            pages = c.cloudformation.get_paginator("list_stack_resources").paginate(
                StackName=stack_id
            )
            retain = [
                r["LogicalResourceId"]
                for p in pages
                for r in p["StackResourceSummaries"]
                if r["ResourceStatus"] == "DELETE_FAILED"
            ]
        if retain:
            c.cloudformation.delete_stack(StackName=stack_id, RetainResources=retain)
        else:
            c.cloudformation.delete_stack(StackName=stack_id)
        status = wait_stack(c.cloudformation, stack_id, poll_s, timeout_s)
        if status == "DELETE_COMPLETE":
            return
    raise RuntimeError(f"stack {name} could not be deleted: {status}")


def wait_stack(
    cfn: CloudFormationClient, stack: str, poll_s: float = 10.0, timeout_s: float = 3600
) -> str:
    """Poll until the stack's status no longer ends in _IN_PROGRESS; that status."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(poll_s)


def _delete_group(c: Clients, name: str, poll_s: float) -> None:
    c.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    for _ in range(120):
        found = c.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        if not found["AutoScalingGroups"]:
            return
        time.sleep(poll_s)
