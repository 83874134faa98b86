"""The embedded backend: CloudFormation played by :mod:`local.aws.engine`, EC2, Auto Scaling
and SSM answered by the embedded EC2 (moto made realistic), the three functions loaded from
template.yaml as Lambda loads them. Every ``pytest`` run uses it (tests/aws)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from local.aws.backend import TAG_KEY, Network, Stack, Template
from local.aws.engine import Engine
from local.harness.ec2sim import EmbeddedEc2
from local.harness.environments import LambdaEnvironments
from local.harness.events import ACCOUNT
from local.harness.fleets import autoscaling, create_group, group_instances, resize, scheduled_event
from local.harness.lambda_loader import LambdaContext, load_handler
from local.harness.receiver import ResponseReceiver

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
else:
    EC2Client = Any

#: The provider stack the embedded functions stand for (their MANAGED_BY default).
PROVIDER: Final = "traffic-mirror-provider"
FUNCTIONS: Final = ("ProviderFunction", "FleetFunction", "ReconcilerFunction")
#: The production wait for rivals, for custom resources created at the same moment.
SETTLE_SECONDS: Final = "1.0"


class EmbeddedBackend:
    """See the module doc; :meth:`fresh` empties the embedded EC2 for the next scenario."""

    def __init__(
        self, ec2: EmbeddedEc2, receiver: ResponseReceiver, run_id: str = "embedded"
    ) -> None:
        self.mode = "embedded"
        self.patience_s = 0.0  # the embedded EC2 reads its own writes at once
        self.allows_adoption = True  # the embedded functions carry no IAM condition
        self._ec2 = ec2
        self.run_id = run_id
        self.region = ec2.region
        self.account = ACCOUNT
        self.provider_stack = PROVIDER
        with contextlib.redirect_stdout(io.StringIO()):
            handlers = {f: load_handler(function=f) for f in FUNCTIONS}
        arn = f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{PROVIDER}-"
        self._reconciler = handlers["ReconcilerFunction"]
        self._envs: dict[tuple[str, int], LambdaEnvironments] = {}
        self.engine = Engine(
            ec2,
            receiver,
            {arn + f: (f, handlers[f]) for f in FUNCTIONS[:2]},
            {
                f"{PROVIDER}-ServiceToken": arn + "ProviderFunction",
                f"{PROVIDER}-FleetServiceToken": arn + "FleetFunction",
            },
            self._environments,
        )
        self._network: Network | None = None

    def _environments(self, function: str, count: int) -> LambdaEnvironments:
        key = (function, count)
        if key not in self._envs:
            envs = LambdaEnvironments(
                count, env={"SETTLE_SECONDS": SETTLE_SECONDS}, function=function
            )
            self._envs[key] = envs.start()
        return self._envs[key]

    def fresh(self) -> None:
        """Empty EC2 (and CloudFormation's memory of stacks) for the next scenario."""
        self._ec2.reset()
        self.engine.forget()
        self._network = None

    def network(self) -> Network:
        if self._network is None:
            self._network = self._make_network()
        return self._network

    def _make_network(self) -> Network:
        ec2 = self._ec2.client()
        tags = [{"Key": TAG_KEY, "Value": self.run_id}]

        def tagged(kind: str) -> list[Any]:
            return [{"ResourceType": kind, "Tags": tags}]

        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tagged("vpc"))
        vpc_id = vpc["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock="10.0.1.0/24", TagSpecifications=tagged("subnet")
        )["Subnet"]["SubnetId"]
        enis = [
            ec2.create_network_interface(
                SubnetId=subnet, TagSpecifications=tagged("network-interface")
            )["NetworkInterface"]["NetworkInterfaceId"]
            for _ in range(4)
        ]
        targets = [
            ec2.create_traffic_mirror_target(
                NetworkInterfaceId=eni, TagSpecifications=tagged("traffic-mirror-target")
            )["TrafficMirrorTarget"]["TrafficMirrorTargetId"]
            for eni in enis[2:]
        ]
        filters = [
            ec2.create_traffic_mirror_filter(
                Description=d, TagSpecifications=tagged("traffic-mirror-filter")
            )["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
            for d in ("all-tcp", "dns-only")
        ]
        return Network(
            vpc_id, subnet, (enis[0], enis[1]), (targets[0], targets[1]), (filters[0], filters[1])
        )

    def ec2(self) -> EC2Client:
        return self._ec2.client()

    def deploy(
        self, name: str, template: Template, parameters: Mapping[str, str] | None = None
    ) -> Stack:
        return self.engine.deploy(name, template, parameters)

    def delete(self, name: str) -> Stack:
        return self.engine.delete(name)

    def sweep(self) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            self._reconciler(scheduled_event(), LambdaContext(timeout_s=60))

    def create_group(self, name: str, size: int) -> str:
        create_group(self._ec2, self.network().subnet_id, size, name)
        return name

    def scale_group(self, name: str, size: int) -> None:
        resize(self._ec2, size, name)

    def group_interfaces(self, name: str, size: int) -> dict[str, str]:
        found = group_instances(self._ec2, name)
        if len(found) != size:
            raise AssertionError(f"group {name} has {len(found)} instances, not {size}")
        return found

    def delete_group(self, name: str) -> None:
        client = autoscaling(self._ec2)
        client.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        client.delete_launch_configuration(LaunchConfigurationName=f"lc-{name}")

    def close(self) -> None:
        for envs in self._envs.values():
            envs.stop()
        self._envs.clear()
