"""The acceptance scenarios' backend: the embedded one in every ``pytest`` run, a real AWS
account when ``make test-aws`` runs them (AWS_TEST_MODE=real, set only by ``local.aws``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import botocore.retries.standard
import pytest

from local.aws.backend import Backend
from local.aws.observed import write_observed

MODE = os.environ.get("AWS_TEST_MODE", "embedded")


@pytest.fixture(scope="session")
def suite_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    backend: Backend
    if MODE == "real":
        from local.aws.real import RealBackend  # noqa: PLC0415 - only make test-aws needs it

        backend = RealBackend.from_environment()
    else:
        from local.aws.embedded import EmbeddedBackend  # noqa: PLC0415 - moto takes a second

        backend = EmbeddedBackend(
            request.getfixturevalue("embedded"), request.getfixturevalue("receiver")
        )
    try:
        yield backend
    finally:
        backend.close()
        write_observed(MODE, region=backend.region, run_id=backend.run_id)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/conftest.py's, but only embedded: a real account's throttling needs botocore's
    backoff sleeps."""
    if MODE != "real":
        monkeypatch.setattr(
            botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0
        )


@pytest.fixture
def aws(suite_backend: Backend) -> Backend:
    """The backend, with a fresh embedded EC2 for each scenario (a real account is shared)."""
    fresh = getattr(suite_backend, "fresh", None)
    if fresh is not None:
        fresh()
    return suite_backend


embedded_only = pytest.mark.skipif(MODE == "real", reason="checks the embedded backend itself")
