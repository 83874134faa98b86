"""The real backend: CloudFormation, EC2, Auto Scaling, SSM and Lambda in an AWS account,
through boto3 with the named profile and region. ``make test-aws`` (``python -m local.aws
test``) checks the account, deploys or names the provider stack, and runs tests/aws with
AWS_TEST_MODE=real; this module is what those tests then drive.

What it makes carries the tag ``tms-acceptance=<run id>`` and, for stacks, a name starting
``tms-acceptance-<run id>-``; :meth:`RealBackend.close` deletes it through
:func:`local.aws.sweep.sweep`, the same code as ``make sweep-aws``.
"""

from __future__ import annotations

import datetime
import json
import os
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from local.aws.backend import TAG_KEY, Network, Stack, Template
from local.aws.sweep import Clients, consumer_prefix, sweep, wait_stack

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import TagSpecificationTypeDef
else:
    EC2Client = TagSpecificationTypeDef = Any

#: The latest Amazon Linux 2023 for x86_64, from AWS's public SSM parameter.
AMI_PARAMETER: Final = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
CIDR: Final = "10.231.0.0/16"
SUBNET_CIDR: Final = "10.231.1.0/24"
STACK_TIMEOUT_S: Final = 45 * 60
GROUP_TIMEOUT_S: Final = 15 * 60


class RealBackend:
    """See the module doc."""

    def __init__(
        self,
        session: boto3.Session,
        *,
        account: str,
        run_id: str,
        provider_stack: str,
        instance_type: str,
        poll_s: float = 5.0,
    ) -> None:
        self.mode = "real"
        self.session = session
        self.account = account
        self.region = str(session.region_name)
        self.run_id = run_id
        self.provider_stack = provider_stack
        self.instance_type = instance_type
        self.patience_s = 120.0  # EC2's guide: retry reads for seconds, minutes at worst
        self.poll_s = poll_s
        self.clients = Clients.of(session)
        # A sweep may take the reconciler's whole 900 s; no retry of a half-done invocation.
        self._lambda = session.client(
            "lambda", config=Config(read_timeout=910, retries={"max_attempts": 1})
        )
        self._network: Network | None = None
        self._ami: str | None = None
        self.allows_adoption = self._parameter("AllowAdoption") == "true"

    @classmethod
    def from_environment(cls) -> RealBackend:
        """As ``python -m local.aws test`` leaves the environment for pytest; the account is
        checked again here, so the scenarios never run anywhere else."""
        env = os.environ
        session = boto3.Session(
            profile_name=env["AWS_TEST_PROFILE"], region_name=env["AWS_TEST_REGION"]
        )
        account = session.client("sts").get_caller_identity()["Account"]
        if account != env["AWS_TEST_ACCOUNT"]:
            raise RuntimeError(f"profile is for {account}, not {env['AWS_TEST_ACCOUNT']}")
        return cls(
            session,
            account=account,
            run_id=env["AWS_TEST_RUN_ID"],
            provider_stack=env["AWS_TEST_PROVIDER_STACK"],
            instance_type=env.get("AWS_TEST_INSTANCE_TYPE", "c5.large"),
        )

    # --- stacks ----------------------------------------------------------------------------

    def stack_name(self, name: str) -> str:
        return f"{consumer_prefix(self.run_id)}{name}"

    def deploy(
        self, name: str, template: Template, parameters: Mapping[str, str] | None = None
    ) -> Stack:
        cfn = self.clients.cloudformation
        full = self.stack_name(name)
        args: dict[str, Any] = {
            "StackName": full,
            "TemplateBody": json.dumps(template),
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
            ],
            "Tags": [{"Key": TAG_KEY, "Value": self.run_id}],
        }
        started = datetime.datetime.now(datetime.UTC)
        if self._exists(full):
            try:
                cfn.update_stack(**args)
            except ClientError as exc:
                if "No updates are to be performed" not in str(exc):
                    raise
        else:
            cfn.create_stack(**args, TimeoutInMinutes=STACK_TIMEOUT_S // 60)
        wait_stack(cfn, full, self.poll_s, STACK_TIMEOUT_S)
        return self._describe(full, started)

    def delete(self, name: str) -> Stack:
        cfn = self.clients.cloudformation
        full = self.stack_name(name)
        if not self._exists(full):
            return Stack(full, "DELETE_COMPLETE")
        stack_id = cfn.describe_stacks(StackName=full)["Stacks"][0]["StackId"]
        started = datetime.datetime.now(datetime.UTC)
        cfn.delete_stack(StackName=stack_id)
        status = wait_stack(cfn, stack_id, self.poll_s, STACK_TIMEOUT_S)
        if status == "DELETE_COMPLETE":
            return Stack(full, status)
        return self._describe(stack_id, started)

    def _exists(self, name: str) -> bool:
        try:
            found = self.clients.cloudformation.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return False
            raise
        return bool(found) and found[0]["StackStatus"] != "DELETE_COMPLETE"

    def _describe(self, stack: str, since: datetime.datetime) -> Stack:
        cfn = self.clients.cloudformation
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs", [])}
        pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
        resources = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for page in pages
            for r in page["StackResourceSummaries"]
        }
        failures = [
            e
            for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack)
            for e in page["StackEvents"]
            if e["Timestamp"] >= since and e["ResourceStatus"].endswith("_FAILED")
        ]
        reason = ""
        if failures:  # events come newest first: the first failure is the last listed
            first = failures[-1]
            reason = f"{first['LogicalResourceId']}: {first.get('ResourceStatusReason', '')}"
        return Stack(
            str(described["StackName"]), described["StackStatus"], outputs, resources, reason
        )

    def _parameter(self, key: str) -> str | None:
        described = self.clients.cloudformation.describe_stacks(StackName=self.provider_stack)
        for param in described["Stacks"][0].get("Parameters", []):
            if param["ParameterKey"] == key:
                return param.get("ParameterValue")
        return None

    # --- the reconciler ----------------------------------------------------------------------

    def sweep(self) -> None:
        """Invoke the provider's ReconcilerFunction with a scheduled event, as its rule does."""
        function = self.clients.cloudformation.describe_stack_resource(
            StackName=self.provider_stack, LogicalResourceId="ReconcilerFunction"
        )["StackResourceDetail"]["PhysicalResourceId"]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account,
            "time": now,
            "region": self.region,
            "resources": [
                f"arn:aws:events:{self.region}:{self.account}:rule/{self.provider_stack}-acceptance"
            ],
            "detail": {},
        }
        answer = self._lambda.invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event)
        )
        payload = answer["Payload"].read().decode()
        if answer.get("FunctionError"):
            raise RuntimeError(f"the sweep failed: {payload[:500]}")

    # --- EC2 -------------------------------------------------------------------------------

    def ec2(self) -> EC2Client:
        return self.clients.ec2

    def _tags(self, kind: str, name: str) -> list[TagSpecificationTypeDef]:
        tags = [{"Key": TAG_KEY, "Value": self.run_id}, {"Key": "Name", "Value": name}]
        return [{"ResourceType": kind, "Tags": tags}]  # type: ignore[typeddict-item]

    def ami(self) -> str:
        if self._ami is None:
            ssm = self.clients.ssm
            self._ami = ssm.get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
        return self._ami

    def network(self) -> Network:
        if self._network is None:
            self._network = self._make_network()
        return self._network

    def _make_network(self) -> Network:
        ec2 = self.clients.ec2
        name = f"{consumer_prefix(self.run_id)}network"
        vpc = ec2.create_vpc(CidrBlock=CIDR, TagSpecifications=self._tags("vpc", name))
        vpc_id = vpc["Vpc"]["VpcId"]
        ec2.get_waiter("vpc_available").wait(VpcIds=[vpc_id])
        offered = ec2.describe_instance_type_offerings(
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": [self.instance_type]}],
        )["InstanceTypeOfferings"]
        if not offered:
            raise RuntimeError(f"{self.instance_type} is not offered in {self.region}")
        zone = sorted(o["Location"] for o in offered)[0]
        subnet_id = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=SUBNET_CIDR,
            AvailabilityZone=zone,
            TagSpecifications=self._tags("subnet", name),
        )["Subnet"]["SubnetId"]
        launched = ec2.run_instances(
            ImageId=self.ami(),
            InstanceType=self.instance_type,  # type: ignore[arg-type]
            MinCount=2,
            MaxCount=2,
            SubnetId=subnet_id,
            TagSpecifications=[
                *self._tags("instance", name),
                *self._tags("volume", name),
                *self._tags("network-interface", name),
            ],
        )
        source, collector = (i["InstanceId"] for i in launched["Instances"])
        ec2.get_waiter("instance_running").wait(InstanceIds=[source, collector])
        primaries = {
            i["InstanceId"]: next(
                n["NetworkInterfaceId"]
                for n in i["NetworkInterfaces"]
                if n["Attachment"]["DeviceIndex"] == 0
            )
            for r in ec2.describe_instances(InstanceIds=[source, collector])["Reservations"]
            for i in r["Instances"]
        }
        second_source = self._second_interface(subnet_id, source, name)
        second_collector = self._second_interface(subnet_id, collector, name)
        targets = tuple(
            ec2.create_traffic_mirror_target(
                NetworkInterfaceId=eni,
                Description=f"acceptance collector {n}",
                TagSpecifications=self._tags("traffic-mirror-target", name),
            )["TrafficMirrorTarget"]["TrafficMirrorTargetId"]
            for n, eni in enumerate((primaries[collector], second_collector))
        )
        filters = tuple(
            ec2.create_traffic_mirror_filter(
                Description=f"acceptance filter {n}",
                TagSpecifications=self._tags("traffic-mirror-filter", name),
            )["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
            for n in range(2)
        )
        return Network(
            vpc_id,
            subnet_id,
            (primaries[source], second_source),
            (targets[0], targets[1]),
            (filters[0], filters[1]),
        )

    def _second_interface(self, subnet_id: str, instance: str, name: str) -> str:
        ec2 = self.clients.ec2
        eni = ec2.create_network_interface(
            SubnetId=subnet_id, TagSpecifications=self._tags("network-interface", name)
        )["NetworkInterface"]["NetworkInterfaceId"]
        ec2.get_waiter("network_interface_available").wait(NetworkInterfaceIds=[eni])
        ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1)
        return eni

    # --- Auto Scaling ----------------------------------------------------------------------

    def create_group(self, name: str, size: int) -> str:
        full = f"{consumer_prefix(self.run_id)}{name}"
        tags = [{"Key": TAG_KEY, "Value": self.run_id}, {"Key": "Name", "Value": full}]
        template = self.clients.ec2.create_launch_template(
            LaunchTemplateName=full,
            LaunchTemplateData={
                "ImageId": self.ami(),
                "InstanceType": self.instance_type,  # type: ignore[typeddict-item]
                "TagSpecifications": [
                    {"ResourceType": kind, "Tags": tags}  # type: ignore[typeddict-item]
                    for kind in ("instance", "volume", "network-interface")
                ],
            },
            TagSpecifications=self._tags("launch-template", full),
        )["LaunchTemplate"]["LaunchTemplateId"]
        self.clients.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=full,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            MinSize=0,
            MaxSize=max(size + 2, 4),
            DesiredCapacity=size,
            VPCZoneIdentifier=self.network().subnet_id,
            Tags=[
                {
                    "Key": TAG_KEY,
                    "Value": self.run_id,
                    "PropagateAtLaunch": True,
                    "ResourceId": full,
                    "ResourceType": "auto-scaling-group",
                }
            ],
        )
        return full

    def scale_group(self, name: str, size: int) -> None:
        self.clients.autoscaling.set_desired_capacity(
            AutoScalingGroupName=name, DesiredCapacity=size, HonorCooldown=False
        )

    def group_interfaces(self, name: str, size: int) -> dict[str, str]:
        deadline = time.monotonic() + GROUP_TIMEOUT_S
        while True:
            group = self.clients.autoscaling.describe_auto_scaling_groups(
                AutoScalingGroupNames=[name]
            )["AutoScalingGroups"][0]
            ready = [
                i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"
            ]
            if len(ready) == size:
                found = self._primaries(ready)
                if len(found) == size:
                    return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {name}: {len(ready)} of {size} instances in service")
            time.sleep(self.poll_s * 2)

    def _primaries(self, instance_ids: list[str]) -> dict[str, str]:
        reservations = self.clients.ec2.describe_instances(InstanceIds=instance_ids)
        return {
            i["InstanceId"]: n["NetworkInterfaceId"]
            for r in reservations["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] == "running"
            for n in i["NetworkInterfaces"]
            if n["Attachment"]["DeviceIndex"] == 0
        }

    def delete_group(self, name: str) -> None:
        asg = self.clients.autoscaling
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        deadline = time.monotonic() + GROUP_TIMEOUT_S
        while asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {name} still being deleted")
            time.sleep(self.poll_s * 2)
        self.clients.ec2.delete_launch_template(LaunchTemplateName=name)

    def close(self) -> None:
        """Delete everything of this run but the provider stack (the command deletes that)."""
        sweep(self.clients, self.run_id, include_provider=False, poll_s=self.poll_s * 2)
