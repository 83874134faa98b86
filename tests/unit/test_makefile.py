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
