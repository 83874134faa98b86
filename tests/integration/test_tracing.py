"""The Tracing parameter: X-Ray is imported, and costs its cold start, only when it is on.

Integration level: each case starts a fresh interpreter that imports the handler as Lambda
does, with the environment the template gives the function.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from local.harness.lambda_loader import handler_location, read_template

FUNCTION = read_template()["Resources"]["ProviderFunction"]["Properties"]


@pytest.mark.parametrize(("disabled", "traced"), [("true", False), ("false", True)])
def test_tracing_switch_imports_xray_only_when_on(disabled: str, traced: bool) -> None:
    code_dir, spec = handler_location()
    module = spec.rpartition(".")[0]
    probe = (
        f"import sys; sys.path.insert(0, {str(code_dir)!r}); import {module}; "
        "from traffic_mirror import wiring; "
        "print(wiring.TRACING, 'aws_xray_sdk' in sys.modules)"
    )
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": disabled, "AWS_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == [str(traced), str(traced)]
    # The template's Tracing parameter drives exactly this variable.
    assert FUNCTION["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "If": ["TracingEnabled", "false", "true"]
    }
