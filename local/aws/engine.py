"""CloudFormation's side of a consumer stack, played against the embedded EC2.

A stack is a template (a dict, the same one the real backend sends to CloudFormation) and its
parameters. The engine does what CloudFormation does with it, in its order:

- resources without a dependency between them (``Ref``, ``Fn::GetAtt``, ``DependsOn``) start
  together; custom resources of one function that start together run in separate Lambda
  environments at the same moment (:class:`~local.harness.environments.LambdaEnvironments`),
  each alone otherwise, in this process, loaded from template.yaml;
- custom resource events are the harness's (:class:`~local.harness.events.CustomResource`),
  answered through the HTTPS receiver; every scalar property a string, as CloudFormation
  sends them; the physical IDs CloudFormation holds are kept in ``local.harness.stacks``;
- an Update answered with a new physical ID is a replacement: the old one gets its Delete in
  the cleanup phase, after the whole update succeeded; resources removed from the template are
  deleted then too, unless the old template said ``DeletionPolicy: Retain``;
- a failure rolls back: a failed Create deletes what it made (the failed resource too, by the
  physical ID its answer carried); a failed Update sends each updated custom resource an
  Update naming its *current* physical ID with the old properties (README, "Rollback of a
  replacement"), deletes what it created, and cleans up the physical IDs no longer current.

``AWS::EC2::TrafficMirrorSession`` is played by calling EC2 directly (as CloudFormation would);
``AWS::CloudFormation::WaitConditionHandle`` succeeds and ``AWS::CloudFormation::WaitCondition``
fails as one that is never signalled does: the scenarios use it to force a rollback.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError

from local.aws.backend import Stack, Template
from local.harness.ec2sim import EmbeddedEc2
from local.harness.environments import LambdaEnvironments
from local.harness.events import ACCOUNT, CustomResource, new_stack_id
from local.harness.lambda_loader import Handler
from local.harness.receiver import ResponseReceiver
from local.harness.stacks import STACKS

CUSTOM: Final = ("Custom::TrafficMirrorSession", "Custom::TrafficMirrorFleet")
NATIVE: Final = "AWS::EC2::TrafficMirrorSession"
HANDLE: Final = "AWS::CloudFormation::WaitConditionHandle"
WAIT: Final = "AWS::CloudFormation::WaitCondition"
NEVER_SIGNALLED: Final = "WaitCondition timed out. Received 0 conditions when expecting 1"
_NO_VALUE: Final = object()
#: (function name, environments): LambdaEnvironments for custom resources started together.
Environments = Callable[[str, int], LambdaEnvironments]


class Failed(Exception):
    """A resource's operation failed; ``held`` is what CloudFormation records of it."""

    def __init__(self, reason: str, held: Held | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.held = held


@dataclass
class Held:
    """One resource as CloudFormation holds it."""

    type: str
    physical: str
    props: dict[str, Any]
    data: dict[str, str] = field(default_factory=dict)
    definition: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Stack:
    name: str
    stack_id: str
    template: Template
    parameters: dict[str, str]
    held: dict[str, Held]
    status: str
    reason: str = ""
    custom: dict[str, CustomResource] = field(default_factory=dict)


def cfn_strings(value: Any) -> Any:
    """Properties as CloudFormation hands them to a custom resource: every scalar a string.

    >>> cfn_strings({"N": 1, "On": True, "Tags": [{"Key": "k", "Value": 2}]})
    {'N': '1', 'On': 'true', 'Tags': [{'Key': 'k', 'Value': '2'}]}
    """
    if isinstance(value, dict):
        return {k: cfn_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cfn_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def dependencies(definition: Mapping[str, Any]) -> set[str]:
    """The logical IDs a resource definition refers to (Ref, Fn::GetAtt, DependsOn)."""
    found: set[str] = set()
    depends = definition.get("DependsOn", [])
    found.update([depends] if isinstance(depends, str) else depends)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "Ref" in value and len(value) == 1:
                found.add(str(value["Ref"]))
            if "Fn::GetAtt" in value and len(value) == 1:
                target = value["Fn::GetAtt"]
                found.add(str(target[0] if isinstance(target, list) else target.split(".")[0]))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(definition.get("Properties", {}))
    return found


def waves(resources: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """The order CloudFormation starts resources in: each wave depends only on earlier ones.

    >>> waves({"B": {"DependsOn": "A"}, "A": {}, "C": {}})
    [['A', 'C'], ['B']]
    """
    needs = {k: dependencies(v) & set(resources) for k, v in resources.items()}
    done: set[str] = set()
    order: list[list[str]] = []
    while len(done) < len(needs):
        wave = sorted(k for k, n in needs.items() if k not in done and n <= done)
        if not wave:
            raise ValueError(f"circular dependencies among {sorted(set(needs) - done)}")
        order.append(wave)
        done.update(wave)
    return order


class Engine:
    """Consumer stacks by name; see the module doc."""

    def __init__(
        self,
        ec2: EmbeddedEc2,
        receiver: ResponseReceiver,
        handlers: Mapping[str, tuple[str, Handler]],
        exports: Mapping[str, str],
        environments: Environments | None = None,
    ) -> None:
        self.ec2 = ec2
        self.receiver = receiver
        self.handlers = dict(handlers)  # ServiceToken -> (function name, handler)
        self.exports = dict(exports)
        self.environments = environments
        self.stacks: dict[str, _Stack] = {}

    def forget(self) -> None:
        """Forget every stack (the embedded EC2 was reset)."""
        self.stacks.clear()

    # --- the stack operations ------------------------------------------------------------

    def deploy(
        self, name: str, template: Template, parameters: Mapping[str, str] | None = None
    ) -> Stack:
        """Create the stack, or update it when it exists; never raises for a failure."""
        params = dict(parameters or {})
        if name not in self.stacks:
            return self._create(name, copy.deepcopy(template), params)
        return self._update(self.stacks[name], copy.deepcopy(template), params)

    def delete(self, name: str) -> Stack:
        """Delete the stack's resources in reverse order (Retain kept); DELETE_COMPLETE."""
        stack = self.stacks.get(name)
        if stack is None:
            return Stack(name, "DELETE_COMPLETE")
        order = waves(stack.template.get("Resources", {}))
        for wave in reversed(order):
            for logical in reversed(wave):
                held = stack.held.get(logical)
                if held is None:
                    continue
                try:
                    self._remove(stack, logical, held, held.definition)
                except Failed as failed:
                    stack.status, stack.reason = "DELETE_FAILED", failed.reason
                    return self._describe(stack)
                del stack.held[logical]
        del self.stacks[name]
        STACKS.delete_stack(stack.stack_id)
        return Stack(name, "DELETE_COMPLETE")

    def _create(self, name: str, template: Template, params: dict[str, str]) -> Stack:
        stack = _Stack(name, new_stack_id(name), template, params, {}, "CREATE_IN_PROGRESS")
        self.stacks[name] = stack
        resources = template.get("Resources", {})
        made: list[str] = []
        try:
            for wave in waves(resources):
                self._start_wave(stack, wave, resources, made)
        except Failed as failed:
            stack.reason = failed.reason
            for logical in reversed(made):
                with contextlib.suppress(Failed):
                    self._remove(stack, logical, stack.held[logical], {})
                del stack.held[logical]
            stack.status = "ROLLBACK_COMPLETE"
            return self._describe(stack)
        stack.status = "CREATE_COMPLETE"
        return self._describe(stack)

    def _start_wave(
        self, stack: _Stack, wave: list[str], resources: Mapping[str, Any], made: list[str]
    ) -> None:
        """Create every resource of one wave: custom resources of one function together."""
        together: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        failure: Failed | None = None
        for logical in wave:
            definition = resources[logical]
            props = self._resolve(stack, definition.get("Properties", {}))
            kind = definition["Type"]
            if kind in CUSTOM:
                function = self._function(props)
                together.setdefault(function, []).append((logical, props))
                continue
            try:
                stack.held[logical] = self._create_one(stack, logical, definition, props)
                made.append(logical)
            except Failed as failed:
                if failed.held is not None:
                    stack.held[logical] = failed.held
                    made.append(logical)
                failure = failure or failed
        for items in together.values():
            answers = self._send_creates(stack, items)
            for (logical, props), body in zip(items, answers, strict=True):
                held = Held(
                    resources[logical]["Type"],
                    str(body["PhysicalResourceId"]),
                    cfn_strings(props),
                    dict(body.get("Data") or {}),
                    resources[logical],
                )
                stack.held[logical] = held
                made.append(logical)
                if body["Status"] != "SUCCESS":
                    failure = failure or Failed(f"{logical}: {body.get('Reason')}")
        if failure is not None:
            raise failure

    def _update(self, stack: _Stack, template: Template, params: dict[str, str]) -> Stack:
        if stack.status in ("ROLLBACK_COMPLETE", "DELETE_FAILED"):
            stack.reason = f"Stack {stack.name} is in {stack.status} state and can not be updated."
            return self._describe(stack)
        before = dict(stack.held)
        old_template, old_params = stack.template, stack.parameters
        stack.template, stack.parameters = template, params
        stack.status = "UPDATE_IN_PROGRESS"
        STACKS.set_stack_status(stack.stack_id, stack.status)
        resources = template.get("Resources", {})
        done: list[tuple[str, Held | None]] = []  # (logical, the Held before; None: created)
        try:
            for wave in waves(resources):
                for logical in wave:
                    self._update_one(stack, logical, resources[logical], before, done)
        except Failed as failed:
            stack.template, stack.parameters = old_template, old_params
            self._roll_back(stack, done, failed.reason)
            return self._describe(stack)
        stack.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
        STACKS.set_stack_status(stack.stack_id, stack.status)
        for logical, old in done:
            if old is not None and old.physical != stack.held[logical].physical:
                with contextlib.suppress(Failed):  # a failed cleanup is not the stack's failure
                    self._remove(stack, logical, old, {})
        for wave in reversed(waves(old_template.get("Resources", {}))):
            for logical in wave:
                if logical not in resources and logical in stack.held:
                    with contextlib.suppress(Failed):
                        self._remove(
                            stack, logical, stack.held[logical], before[logical].definition
                        )
                    del stack.held[logical]
        stack.status = "UPDATE_COMPLETE"
        STACKS.set_stack_status(stack.stack_id, stack.status)
        return self._describe(stack)

    def _update_one(
        self,
        stack: _Stack,
        logical: str,
        definition: dict[str, Any],
        before: Mapping[str, Held],
        done: list[tuple[str, Held | None]],
    ) -> None:
        props = self._resolve(stack, definition.get("Properties", {}))
        old = before.get(logical)
        if old is None:
            try:
                stack.held[logical] = self._create_one(stack, logical, definition, props)
            except Failed as failed:
                if failed.held is not None:
                    stack.held[logical] = failed.held
                    done.append((logical, None))
                raise
            done.append((logical, None))
            return
        if old.type != definition["Type"]:
            raise Failed(f"{logical}: a resource's Type cannot change ({old.type})")
        wanted = cfn_strings(props) if old.type in CUSTOM else props
        if wanted == old.props:
            stack.held[logical] = Held(old.type, old.physical, old.props, old.data, definition)
            return
        stack.held[logical] = self._change(stack, logical, old, wanted, definition)
        done.append((logical, old))

    def _roll_back(self, stack: _Stack, done: list[tuple[str, Held | None]], reason: str) -> None:
        stack.status, stack.reason = "UPDATE_ROLLBACK_IN_PROGRESS", reason
        STACKS.set_stack_status(stack.stack_id, stack.status)
        stale: list[tuple[str, Held]] = []
        for logical, old in reversed(done):
            now = stack.held[logical]
            if old is None:
                with contextlib.suppress(Failed):
                    self._remove(stack, logical, now, {})
                del stack.held[logical]
                continue
            try:
                back = self._change(stack, logical, now, old.props, old.definition)
            except Failed as failed:
                stack.status = "UPDATE_ROLLBACK_FAILED"
                stack.reason = f"{reason}; rollback: {failed.reason}"
                return
            stack.held[logical] = back
            if now.physical != back.physical:
                stale.append((logical, now))
        stack.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
        STACKS.set_stack_status(stack.stack_id, stack.status)
        for logical, gone in stale:
            with contextlib.suppress(Failed):
                self._remove(stack, logical, gone, {})
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        STACKS.set_stack_status(stack.stack_id, stack.status)

    # --- one resource ----------------------------------------------------------------------

    def _custom(self, stack: _Stack, logical: str, kind: str, token: str) -> CustomResource:
        """The custom resource ``logical`` as CloudFormation addresses it: the function its
        ServiceToken names receives its events."""
        resource = stack.custom.get(logical)
        if resource is None:
            resource = CustomResource(
                self.handlers[token][1],
                self.receiver,
                logical_id=logical,
                stack_id=stack.stack_id,
                timeout_s=60.0,
                resource_type=kind,
            )
            stack.custom[logical] = resource
        return resource

    def _function(self, props: Mapping[str, Any]) -> str:
        """The function name behind the properties' ServiceToken."""
        return self.handlers[self._token(props)][0]

    def _token(self, props: Mapping[str, Any]) -> str:
        token = str(props.get("ServiceToken"))
        if token not in self.handlers:
            raise Failed(f"ServiceToken {token!r} is not a function this account has")
        return token

    def _send(self, resource: CustomResource, body: dict[str, Any]) -> dict[str, Any]:
        with contextlib.redirect_stdout(io.StringIO()):  # the function's log lines
            return resource.send(body)

    def _send_creates(
        self, stack: _Stack, items: list[tuple[str, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Create events for custom resources of one function started together; their
        answers, in order (two or more at once: one Lambda environment each)."""
        events: list[tuple[CustomResource, dict[str, Any]]] = []
        for logical, props in items:
            kind = stack.template["Resources"][logical]["Type"]
            resource = self._custom(stack, logical, kind, self._token(props))
            events.append((resource, resource.make("Create", cfn_strings(props))))
        if len(events) < 2 or self.environments is None:
            return [self._send(r, e) for r, e in events]
        envs = self.environments(self._function(items[0][1]), len(events))
        envs.invoke_together([e for _, e in events])
        answers = []
        for resource, sent in events:
            body = self.receiver.wait_for(sent["RequestId"], timeout=60.0)
            if body.get("Status") == "SUCCESS":
                STACKS.answered(
                    stack.stack_id,
                    resource.logical_id,
                    "Create",
                    str(body["PhysicalResourceId"]),
                    resource.resource_type,
                )
            answers.append(body)
        return answers

    def _create_one(
        self, stack: _Stack, logical: str, definition: dict[str, Any], props: dict[str, Any]
    ) -> Held:
        kind = definition["Type"]
        if kind in CUSTOM:
            resource = self._custom(stack, logical, kind, self._token(props))
            body = self._send(resource, resource.make("Create", cfn_strings(props)))
            held = Held(
                kind,
                str(body["PhysicalResourceId"]),
                cfn_strings(props),
                dict(body.get("Data") or {}),
                definition,
            )
            if body["Status"] != "SUCCESS":
                raise Failed(f"{logical}: {body.get('Reason')}", held)
            return held
        if kind == NATIVE:
            return self._native_create(stack, logical, definition, props)
        if kind == HANDLE:
            url = f"https://cloudformation-waitcondition.example/{stack.name}/{logical}"
            return Held(kind, url, props, {}, definition)
        if kind == WAIT:
            raise Failed(f"{logical}: {NEVER_SIGNALLED}")
        raise Failed(f"{logical}: the embedded CloudFormation does not play {kind}")

    def _change(
        self,
        stack: _Stack,
        logical: str,
        now: Held,
        props: dict[str, Any],
        definition: dict[str, Any],
    ) -> Held:
        """Update ``now`` to ``props``: the new Held (another physical ID: replaced)."""
        if now.type in CUSTOM:
            resource = self._custom(stack, logical, now.type, self._token(props))
            event = resource.make("Update", props, physical_id=now.physical, old_props=now.props)
            body = self._send(resource, event)
            if body["Status"] != "SUCCESS":
                raise Failed(f"{logical}: {body.get('Reason')}")
            data = dict(body.get("Data") or {})
            return Held(now.type, str(body["PhysicalResourceId"]), props, data, definition)
        if now.type == NATIVE:
            self._native_modify(now, props)
            return Held(now.type, now.physical, props, now.data, definition)
        raise Failed(f"{logical}: the embedded CloudFormation cannot update {now.type}")

    def _remove(
        self, stack: _Stack, logical: str, held: Held, definition: Mapping[str, Any]
    ) -> None:
        """Delete one resource (``definition``'s DeletionPolicy: Retain only forgets it)."""
        retained = definition.get("DeletionPolicy") == "Retain"
        if held.type in CUSTOM and not retained:
            resource = self._custom(stack, logical, held.type, self._token(held.props))
            body = self._send(
                resource, resource.make("Delete", held.props, physical_id=held.physical)
            )
            if body["Status"] != "SUCCESS":
                raise Failed(f"{logical}: {body.get('Reason')}")
            return
        if held.type == NATIVE:
            if not retained:
                try:
                    self.ec2.client().delete_traffic_mirror_session(
                        TrafficMirrorSessionId=held.physical
                    )
                except ClientError as exc:
                    if "NotFound" not in exc.response["Error"]["Code"]:
                        raise Failed(f"{logical}: {exc}") from exc
            STACKS.answered(stack.stack_id, logical, "Delete", held.physical, held.type)

    # --- AWS::EC2::TrafficMirrorSession, as CloudFormation makes it ------------------------

    def _native_create(
        self, stack: _Stack, logical: str, definition: dict[str, Any], props: dict[str, Any]
    ) -> Held:
        spec: dict[str, Any] = {
            k: int(v) if k in ("SessionNumber", "PacketLength", "VirtualNetworkId") else v
            for k, v in props.items()
            if k not in ("Tags", "OwnerId")
        }
        if props.get("Tags"):
            spec["TagSpecifications"] = [
                {"ResourceType": "traffic-mirror-session", "Tags": props["Tags"]}
            ]
        try:
            made = self.ec2.client().create_traffic_mirror_session(**spec)
        except ClientError as exc:
            raise Failed(f"{logical}: {exc}") from exc
        session_id = made["TrafficMirrorSession"]["TrafficMirrorSessionId"]
        STACKS.answered(stack.stack_id, logical, "Create", session_id, NATIVE)
        return Held(NATIVE, session_id, props, {"Id": session_id}, definition)

    def _native_modify(self, now: Held, props: dict[str, Any]) -> None:
        if props.get("NetworkInterfaceId") != now.props.get("NetworkInterfaceId"):
            raise Failed("the embedded CloudFormation does not replace a native session")
        client = self.ec2.client()
        changes: dict[str, Any] = {}
        for key in ("TrafficMirrorTargetId", "TrafficMirrorFilterId", "Description"):
            if props.get(key) != now.props.get(key) and props.get(key) is not None:
                changes[key] = props[key]
        for key in ("SessionNumber", "PacketLength", "VirtualNetworkId"):
            if props.get(key) != now.props.get(key) and props.get(key) is not None:
                changes[key] = int(props[key])
        if changes:
            client.modify_traffic_mirror_session(TrafficMirrorSessionId=now.physical, **changes)
        old_tags = {t["Key"]: t["Value"] for t in now.props.get("Tags", [])}
        new_tags = {t["Key"]: t["Value"] for t in props.get("Tags", [])}
        if gone := sorted(set(old_tags) - set(new_tags)):
            client.delete_tags(Resources=[now.physical], Tags=[{"Key": k} for k in gone])
        if changed := {k: v for k, v in new_tags.items() if old_tags.get(k) != v}:
            client.create_tags(
                Resources=[now.physical], Tags=[{"Key": k, "Value": v} for k, v in changed.items()]
            )

    # --- intrinsic functions and outputs ---------------------------------------------------

    def _resolve(self, stack: _Stack, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self._ref(stack, str(arg))
                if key == "Fn::GetAtt":
                    logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                    return self._attribute(stack, logical, attr)
                if key == "Fn::ImportValue":
                    name = self._resolve(stack, arg)
                    if name not in self.exports:
                        raise Failed(f"No export named {name} found.")
                    return self.exports[name]
            resolved = {k: self._resolve(stack, v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
        if isinstance(value, list):
            items = [self._resolve(stack, v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        return value

    def _ref(self, stack: _Stack, name: str) -> Any:
        pseudo = {
            "AWS::StackName": stack.name,
            "AWS::StackId": stack.stack_id,
            "AWS::Region": self.ec2.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::NoValue": _NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in stack.held:
            return stack.held[name].physical
        if name in stack.parameters:
            return stack.parameters[name]
        default = stack.template.get("Parameters", {}).get(name, {}).get("Default")
        if default is None:
            raise Failed(f"Unresolved resource dependencies [{name}] in the Resources block")
        return default

    def _attribute(self, stack: _Stack, logical: str, attr: str) -> str:
        held = stack.held.get(logical)
        if held is None or attr not in held.data:
            raise Failed(f"Template error: resource {logical} does not support attribute {attr}")
        return held.data[attr]

    def _describe(self, stack: _Stack) -> Stack:
        outputs: dict[str, str] = {}
        if stack.status.endswith("COMPLETE") and not stack.status.startswith("ROLLBACK"):
            for key, output in stack.template.get("Outputs", {}).items():
                with contextlib.suppress(Failed):
                    outputs[key] = str(self._resolve(stack, output["Value"]))
        return Stack(
            stack.name,
            stack.status,
            outputs,
            {k: h.physical for k, h in stack.held.items()},
            stack.reason,
        )
