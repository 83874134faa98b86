"""Check a built Lambda package: the handler and its dependencies, nothing from dev tooling.

Example::

    python -m local.package_check .aws-sam/build/ProviderFunction
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

from local.harness.lambda_loader import handler_location

REQUIRED = ("app.py", "traffic_mirror", "crhelper", "aws_lambda_powertools", "aws_xray_sdk")
FORBIDDEN = ("tests", "local", "moto", "boto3", "botocore", "pytest", "hypothesis", "events")


def zipped_size(root: Path) -> int:
    """Bytes of the package zipped the way sam deploy uploads it (deflate)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root))
    return buffer.getbuffer().nbytes


def problems(root: Path) -> list[str]:
    """What is wrong with the package at ``root`` (empty when it is right)."""
    found = []
    names = {p.name for p in root.iterdir()} if root.is_dir() else set()
    found += [f"missing {n}" for n in REQUIRED if n not in names]
    found += [f"dev-only {n} in the package" for n in FORBIDDEN if n in names]
    found += [f"bytecode {p}" for p in root.rglob("*.pyc")]
    _, spec = handler_location()
    module, _, attr = spec.rpartition(".")
    # Import the handler from the package alone (boto3 comes from the runtime, so from here).
    probe = f"import sys; sys.path.insert(0, {str(root)!r}); import {module}; {module}.{attr}"
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode:
        found.append(f"handler {spec} does not import: {done.stderr.strip()[-300:]}")
    return found


def main(argv: list[str]) -> int:
    """Entry point; returns the exit code."""
    root = Path(argv[0] if argv else ".aws-sam/build/ProviderFunction")
    found = problems(root)
    for problem in found:
        print(f"package: {problem}")
    if not found:
        size = zipped_size(root)
        print(f"package ok: {root} ({size / 1e6:.2f} MB zipped)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
