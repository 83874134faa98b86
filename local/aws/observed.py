"""What the suite's probes saw EC2 do where AWS's documentation is silent, written as JSON at
the end of a run: by a real run to ``docs/observed/ec2-behaviour.json`` (the docs cite it),
by the embedded run to ``build/aws-suite/ec2-behaviour.json`` (it only shows the probes work).

Example::

    OBSERVED["duplicate_session_number"] = {"outcome": "refused", "error_code": "..."}
    write_observed("real", region="eu-west-1", run_id="r1a2b3c4")
"""

from __future__ import annotations

import datetime
import json
import statistics
from pathlib import Path
from typing import Any, Final

from local.harness.lambda_loader import ROOT

OBSERVED: Final[dict[str, Any]] = {}
PATHS: Final = {
    "real": ROOT / "docs" / "observed" / "ec2-behaviour.json",
    "embedded": ROOT / "build" / "aws-suite" / "ec2-behaviour.json",
}


def observed_path(mode: str) -> Path:
    """Where a run in ``mode`` writes what it observed."""
    return PATHS[mode]


def spread(samples: list[float]) -> dict[str, Any]:
    """Samples (seconds) with their min, median and max, rounded to milliseconds.

    >>> spread([0.5, 0.25, 2.0])
    {'samples': [0.5, 0.25, 2.0], 'min': 0.25, 'median': 0.5, 'max': 2.0}
    """
    return {
        "samples": [round(s, 3) for s in samples],
        "min": round(min(samples), 3),
        "median": round(statistics.median(samples), 3),
        "max": round(max(samples), 3),
    }


def write_observed(mode: str, *, region: str, run_id: str, path: Path | None = None) -> Path | None:
    """Write what was observed (nothing when no probe ran); the file written."""
    if not OBSERVED:
        return None
    target = path or observed_path(mode)
    target.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "mode": mode,
        "region": region,
        "run_id": run_id,
        "observed_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **dict(sorted(OBSERVED.items())),
    }
    target.write_text(json.dumps(body, indent=2) + "\n")
    return target
