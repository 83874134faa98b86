"""``pip install .`` (or ``pipx install .``) from the repository gives a working ``tms-audit``:
the wheel holds the command and the provider code it runs, declares the console script, and
runs with only its declared dependency (boto3 and what boto3 brings), not the Lambda's."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from local.harness.lambda_loader import ROOT

#: What boto3 itself installs; nothing else may be imported by the installed command.
BOTO3 = {"boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("traffic_mirror_provider_tools-*.whl")
    return built


def test_the_wheel_holds_the_command_and_the_provider_code_it_runs(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "tms_audit/cli.py" in names
    provider = {p.name for p in (ROOT / "provider" / "traffic_mirror").glob("*.py")}
    assert provider <= {Path(n).name for n in names if n.startswith("traffic_mirror/")}
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry).decode()
    assert "tms-audit = tms_audit.cli:main" in scripts
    requires = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA")))
    assert b"Requires-Dist: boto3" in requires


def test_the_installed_command_runs_with_boto3_alone(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run(
        [*install, "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # Run from an empty directory, the wheel's copy first on the path, and refuse any import
    # a user's `pip install .` would not have (crhelper, Powertools, moto, PyYAML, ...).
    probe = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(site)!r})
        allowed = set(sys.stdlib_module_names) | set({sorted(BOTO3)!r}) | {{
            "tms_audit", "traffic_mirror", "_distutils_hack"}}

        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] not in allowed:
                    raise ImportError(f"tms-audit imported {{name}}, not a dependency")
                return None

        sys.meta_path.insert(0, Refuse())
        import tms_audit.cli, traffic_mirror
        assert tms_audit.cli.__file__.startswith({str(site)!r}), tms_audit.cli.__file__
        assert traffic_mirror.__file__.startswith({str(site)!r}), traffic_mirror.__file__
        sys.argv = ["tms-audit", "--help"]
        tms_audit.cli.main()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: tms-audit") and "exit status:" in done.stdout
