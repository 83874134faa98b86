"""The Makefile: `make help` lists every target a user or developer runs."""

from __future__ import annotations

import re
import subprocess

from local.harness.lambda_loader import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()
# Run by `sam build` (BuildMethod: makefile), not by people.
INTERNAL = {"build-ProviderFunction", "build-FleetFunction", "build-ReconcilerFunction"}


def phony() -> set[str]:
    declared = re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", MAKEFILE, re.MULTILINE)
    assert declared
    return set(declared.group(1).replace("\\\n", " ").split())


def rules() -> set[str]:
    """Targets written as `name:` at the start of a line (not files like $(STAMP))."""
    return set(re.findall(r"^([A-Za-z][\w-]*):(?!=)", MAKEFILE, re.MULTILINE))


def make_help() -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout


def test_help_shows_every_phony_target() -> None:
    shown = make_help()
    missing = [
        t for t in sorted(phony() - INTERNAL) if not re.search(rf"^\s*make {t}(\s|$)", shown, re.M)
    ]
    assert not missing, shown


def test_help_shows_no_target_the_makefile_lacks() -> None:
    shown = set(re.findall(r"^\s*make ([\w-]+)", make_help(), re.MULTILINE))
    assert shown <= rules(), shown - rules()


def test_every_target_people_run_is_phony_so_help_cannot_miss_it() -> None:
    assert rules() - INTERNAL <= phony(), rules() - INTERNAL - phony()


def recipe(target: str) -> tuple[str, str]:
    """(prerequisites, recipe lines) of ``target``."""
    found = re.search(rf"^{re.escape(target)}:(.*)\n((?:\t.*\n)*)", MAKEFILE, re.MULTILINE)
    assert found, target
    return found.group(1), found.group(2)


def requirements(name: str) -> set[str]:
    """The package names a requirements file pins (its -r includes followed)."""
    names: set[str] = set()
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= requirements(line[3:].strip())
        elif line:
            names.add(re.split(r"[\[=<>]", line, maxsplit=1)[0].lower())
    return names


def test_the_demos_and_invoke_run_from_the_light_demo_environment() -> None:
    for target in ("demo", "demo-fleet", "demo-migration", "invoke"):
        prerequisites, lines = recipe(target)
        assert prerequisites.split() == ["$(DEMO_STAMP)"], target
        assert "$(DEMO_BIN)/python -m local." in lines and "$(BIN)/" not in lines, target


def test_the_demo_environment_holds_no_test_lint_or_type_tool() -> None:
    demo = requirements("requirements-demo.txt")
    tools = {"pytest", "hypothesis", "mypy", "ruff", "policy-sentry", "boto3-stubs"}
    assert not demo & tools, demo & tools
    assert tools <= requirements("requirements-dev.txt")
    assert demo <= requirements("requirements-dev.txt")  # make test runs the demos too


def test_the_first_demo_run_says_its_size_and_time_then_shows_progress() -> None:
    prerequisites, lines = recipe("$(DEMO_STAMP)")
    assert "requirements-demo.txt" in prerequisites
    notice = lines.splitlines()[0]
    assert notice.lstrip().startswith("@echo") and re.search(
        r"\d+ packages \(about \d+ MB\)", notice
    )
    assert "about" in lines.splitlines()[1] and " s" in lines.splitlines()[1]
    install = next(line for line in lines.splitlines() if "-r requirements-demo.txt" in line)
    assert "--quiet" not in install and "-q " not in install


def test_sam_telemetry_is_off_in_every_target() -> None:
    assert re.search(r"^export SAM_CLI_TELEMETRY :?= 0$", MAKEFILE, re.MULTILINE)


def test_make_venv_installs_tms_audit_into_the_venv() -> None:
    _, lines = recipe("$(STAMP)")
    assert "--no-deps -e ." in lines and "activate" in lines
