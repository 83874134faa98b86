"""samconfig.toml: each environment deploys its own provider stack, so `--config-env prod` never
updates the default provider in place, and the two never manage each other's sessions."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from local.harness.lambda_loader import ROOT, read_template

CONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    name: table for name, table in CONFIG.items() if isinstance(table, dict)
}
DEPLOYED = {
    name: table["deploy"]["parameters"]
    for name, table in ENVIRONMENTS.items()
    if "parameters" in table.get("deploy", {})
}


def test_default_and_prod_both_deploy() -> None:
    assert {"default", "prod"} <= set(DEPLOYED)


def test_every_environment_deploys_a_stack_of_its_own() -> None:
    names = [params["stack_name"] for params in DEPLOYED.values()]
    assert len(set(names)) == len(names), names


def test_every_command_of_an_environment_names_the_stack_it_deploys() -> None:
    # sam delete, logs and sync read global; a mismatch would act on the other stack.
    for name, params in DEPLOYED.items():
        shared = ENVIRONMENTS[name].get("global", {}).get("parameters", {})
        assert shared.get("stack_name") == params["stack_name"], name


def test_every_environment_uploads_under_a_prefix_of_its_own() -> None:
    prefixes = [params["s3_prefix"] for params in DEPLOYED.values()]
    assert len(set(prefixes)) == len(prefixes), prefixes


def test_the_stack_name_alone_keeps_two_providers_in_one_account_apart() -> None:
    """Distinct stack names suffice: the managed-by tag and the export follow the stack name,
    and no resource has a fixed name that a second stack would collide with."""
    template = read_template()
    function = template["Resources"]["ProviderFunction"]["Properties"]
    assert function["Environment"]["Variables"]["MANAGED_BY"] == {"Ref": "AWS::StackName"}
    for output in template["Outputs"].values():
        if "Export" in output:
            assert "${AWS::StackName}" in output["Export"]["Name"]["Sub"]
    for logical_id, resource in template["Resources"].items():
        fixed = {"FunctionName", "RoleName", "LogGroupName"} & set(resource["Properties"])
        assert not fixed, (logical_id, fixed)


def test_every_environment_names_a_region() -> None:
    """Plain `sam deploy` fails with "Unable to resolve a region" when neither the command
    line, the profile nor samconfig names one: every environment names it (in global, so
    deploy, delete, logs and sync all act in the same region)."""
    for name in DEPLOYED:
        shared = ENVIRONMENTS[name].get("global", {}).get("parameters", {})
        region = shared.get("region")
        assert isinstance(region, str), name
        assert re.fullmatch(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}", region), (name, region)
        # A region set again for one command must not send it elsewhere.
        for command, table in ENVIRONMENTS[name].items():
            own = table.get("parameters", {}).get("region", region)
            assert own == region, (name, command, own)


def test_the_region_line_says_what_to_do_with_it() -> None:
    text = (ROOT / "samconfig.toml").read_text()
    for line in text.splitlines():
        if line.startswith("region ="):
            assert "#" in line and "change it" in line, line
