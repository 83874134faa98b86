"""The IAM policies of a role in a template, rendered as CloudFormation would for one stack.

:func:`local.harness.lambda_loader.read_template` keeps intrinsic functions as data
(``{"Sub": ...}``, ``{"If": [...]}``, or the long ``{"Fn::Sub": ...}``). This resolves them for
given parameter values: the template's Conditions, ``Ref`` (parameters, pseudo parameters,
``AWS::NoValue``), ``Fn::Sub``, ``Fn::Split``, ``Fn::Join``, ``Fn::Select``, ``Fn::If`` and
``Fn::GetAtt`` of the attributes a policy here names. Anything else raises
:class:`Unsupported`, so a policy never passes a check half rendered.

Example::

    template = read_template()
    for values in parameter_combinations(template, "ProviderRole", samples):
        for name, document in role_policies(template, "ProviderRole", values).items():
            ...  # plain JSON: Version, Statement[...]
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

PSEUDO: Final[Mapping[str, str]] = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "traffic-mirror-provider",
    "AWS::StackId": (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/traffic-mirror-provider/"
        "6a3d2f40-0000-11ef-8000-0a1b2c3d4e5f"
    ),
    "AWS::URLSuffix": "amazonaws.com",
}
_VALUE_FUNCTIONS: Final = frozenset(
    {"Ref", "Sub", "If", "Split", "Join", "Select", "GetAtt"}
    | {"Base64", "Cidr", "FindInMap", "GetAZs", "ImportValue", "Length", "ToJsonString"}
)
_CONDITION_FUNCTIONS: Final = frozenset({"Equals", "Not", "And", "Or", "Condition"})
_SUB_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")


class Unsupported(ValueError):
    """An intrinsic function, reference or attribute this renderer does not resolve."""


class _NoValue:
    """``Ref: AWS::NoValue``: the enclosing property or list item disappears."""


NO_VALUE: Final = _NoValue()


def _function(node: object, names: frozenset[str]) -> tuple[str, Any] | None:
    """(short name, argument) when ``node`` is one intrinsic function call of ``names``."""
    if isinstance(node, dict) and len(node) == 1:
        ((key, argument),) = node.items()
        name = key.removeprefix("Fn::")  # the long form, or the short form's tag suffix
        if name in names:
            return name, argument
    return None


@dataclass
class Stack:
    """One stack of ``template``: its parameter values and pseudo parameters."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str] = field(default_factory=dict)
    pseudo: Mapping[str, str] = field(default_factory=lambda: dict(PSEUDO))
    _conditions: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    def parameter(self, name: str) -> str:
        """The value a parameter takes: the one given, else its Default."""
        declared = self.template.get("Parameters", {})
        if name not in declared:
            raise Unsupported(f"no parameter {name}")
        if name in self.parameters:
            return self.parameters[name]
        if "Default" not in declared[name]:
            raise Unsupported(f"parameter {name} has no Default and no value was given")
        return str(declared[name]["Default"])

    def condition(self, name: str) -> bool:
        """The value of a named condition of the template's Conditions section."""
        if name not in self._conditions:
            self._conditions[name] = self._evaluate(self.template["Conditions"][name])
        return self._conditions[name]

    def _evaluate(self, node: Any) -> bool:
        call = _function(node, _CONDITION_FUNCTIONS)
        if call is None:
            raise Unsupported(f"not a condition function: {node!r}")
        name, argument = call
        if name == "Condition":
            return self.condition(argument)
        if name == "Equals":
            left, right = (self.resolve(a) for a in argument)
            return str(left) == str(right)
        if name == "Not":
            return not self._evaluate(argument[0])
        if name == "And":
            return all(self._evaluate(a) for a in argument)
        if name == "Or":
            return any(self._evaluate(a) for a in argument)
        raise Unsupported(f"condition function {name}")

    def resolve(self, node: Any) -> Any:
        """``node`` with every intrinsic function replaced by its value (NO_VALUE for
        ``AWS::NoValue``; dict entries and list items that resolve to it are dropped)."""
        call = _function(node, _VALUE_FUNCTIONS)
        if call is not None:
            return self._call(*call)
        if isinstance(node, dict):
            resolved = {key: self.resolve(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value is not NO_VALUE}
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        return node

    def _call(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self._ref(argument)
        if name == "GetAtt":
            logical, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._get_att(logical, attribute)
        if name == "If":
            condition, if_true, if_false = argument
            return self.resolve(if_true if self.condition(condition) else if_false)
        if name == "Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._sub(text, {k: self.resolve(v) for k, v in variables.items()})
        return self._list_function(name, [self.resolve(a) for a in argument])

    def _list_function(self, name: str, arguments: list[Any]) -> Any:
        if name == "Split":
            delimiter, source = arguments
            return str(source).split(delimiter)
        if name == "Join":
            delimiter, items = arguments
            return delimiter.join(str(i) for i in items)
        if name == "Select":
            index, items = arguments
            return items[int(index)]
        raise Unsupported(f"Fn::{name}")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        return self.parameter(name)

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is written as ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._get_att(*name.split(".", 1)))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(value, text)

    def _get_att(self, logical: str, attribute: str) -> str:
        resource = self.template["Resources"].get(logical)
        if resource is None:
            raise Unsupported(f"no resource {logical}")
        kind = resource["Type"]
        props = resource.get("Properties", {})
        p = self.pseudo
        # Physical names CloudFormation generates: stack name, logical ID, a random suffix.
        generated = f"{p['AWS::StackName']}-{logical}-1A2B3C4D5E6F"
        if (kind, attribute) == ("AWS::Logs::LogGroup", "Arn"):
            # Documented form of the attribute: the log group's ARN with a trailing ":*".
            name = self.resolve(props.get("LogGroupName", generated))
            region, account = p["AWS::Region"], p["AWS::AccountId"]
            return f"arn:{p['AWS::Partition']}:logs:{region}:{account}:log-group:{name}:*"
        if (kind, attribute) == ("AWS::IAM::Role", "Arn"):
            name = self.resolve(props.get("RoleName", generated))
            return f"arn:{p['AWS::Partition']}:iam::{p['AWS::AccountId']}:role/{name}"
        raise Unsupported(f"Fn::GetAtt {logical}.{attribute} ({kind})")


def role_policies(
    template: Mapping[str, Any], role: str, parameters: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """The inline policies of ``role`` for these parameter values: {PolicyName: document}."""
    stack = Stack(template, parameters)
    policies = stack.resolve(template["Resources"][role]["Properties"].get("Policies", []))
    return {str(p["PolicyName"]): p["PolicyDocument"] for p in policies}


def policy_parameters(template: Mapping[str, Any], role: str) -> list[str]:
    """The parameters that shape the role's inline policies: referenced in them directly,
    through ``Fn::Sub`` variables, or through the conditions their ``Fn::If`` tests."""
    names: set[str] = set()
    conditions = template.get("Conditions", {})
    seen_conditions: set[str] = set()

    def walk(node: Any) -> None:
        call = _function(node, _VALUE_FUNCTIONS | _CONDITION_FUNCTIONS)
        if call is not None:
            name, argument = call
            if name == "Ref":
                names.add(argument)
            elif name == "Sub":
                text = argument if isinstance(argument, str) else argument[0]
                names.update(v.split(".")[0] for v in _SUB_VARIABLE.findall(text))
            elif name in {"If", "Condition"}:
                condition = argument[0] if name == "If" else argument
                if condition not in seen_conditions:
                    seen_conditions.add(condition)
                    walk(conditions[condition])
            walk(argument[1:] if name == "If" else argument)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(template["Resources"][role]["Properties"].get("Policies", []))
    return sorted(names & set(template.get("Parameters", {})))


def parameter_choices(template: Mapping[str, Any], name: str, sample: str | None) -> list[str]:
    """The values worth trying for a parameter: each of its AllowedValues, else its Default,
    empty and ``sample`` (those its AllowedPattern admits)."""
    declared = template["Parameters"][name]
    if "AllowedValues" in declared:
        return [str(v) for v in declared["AllowedValues"]]
    if sample is None:
        raise Unsupported(f"parameter {name} shapes a policy: give a sample value for it")
    pattern = re.compile(declared.get("AllowedPattern", ".*"))
    if not pattern.fullmatch(sample):
        raise Unsupported(f"sample {sample!r} does not match {name}'s AllowedPattern")
    candidates = [str(declared.get("Default", "")), "", sample]
    return [v for i, v in enumerate(candidates) if v not in candidates[:i] and pattern.fullmatch(v)]


def parameter_combinations(
    template: Mapping[str, Any], role: str, samples: Mapping[str, str]
) -> Iterator[dict[str, str]]:
    """Every combination of the choices of every parameter that shapes the role's policies."""
    names = policy_parameters(template, role)
    choices = [parameter_choices(template, n, samples.get(n)) for n in names]
    for values in itertools.product(*choices):
        yield dict(zip(names, values, strict=True))
