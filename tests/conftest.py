"""Shared fixtures: the handler loaded from template.yaml, the embedded EC2, the receiver."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import botocore.retries.standard
import pytest

from local.harness.events import CustomResource
from local.harness.lambda_loader import ROOT, Handler, load_handler
from local.harness.receiver import ResponseReceiver
from tests.figures import FIGURES

if TYPE_CHECKING:  # imported where used: moto takes a second, and unit tests never need it
    from mypy_boto3_ec2 import EC2Client

    from local.harness.ec2sim import EmbeddedEc2, Fixtures

# One process plays one Lambda environment at a time here: no rival can appear while a Create
# settles, so the wait for rivals is skipped (the concurrency suite runs real parallel
# environments with the production wait).
os.environ.setdefault("SETTLE_SECONDS", "0")
# With no read lag (the default here), a write shows at once: the provider need not wait for
# its own writes to show, and the sweep need not defer records just written. Suites run under
# a read lag (EMBEDDED_EC2_READ_LAG) set this above the lag.
os.environ.setdefault("VISIBLE_WITHIN_SECONDS", "0")

# Import the handler the way Lambda does (CodeUri on sys.path) before any test module
# imports traffic_mirror, so unit and integration tests share one copy of the code.
HANDLER = load_handler()
FLEET_HANDLER = load_handler(function="FleetFunction")


@pytest.fixture(scope="session")
def receiver() -> Iterator[ResponseReceiver]:
    with ResponseReceiver() as rx:
        yield rx
        FIGURES["responses received (all suites)"] = len(rx.received)
        FIGURES["faults injected: response PUT answered 500"] = rx.failed_puts


@pytest.fixture(scope="session")
def embedded() -> Iterator[EmbeddedEc2]:
    from local.harness.ec2sim import EmbeddedEc2  # noqa: PLC0415 - see the TYPE_CHECKING import

    with EmbeddedEc2() as ec2:
        yield ec2
        FIGURES.update({f"faults injected: {k}": v for k, v in ec2.injected.items()})


@pytest.fixture
def ec2(embedded: EmbeddedEc2) -> EmbeddedEc2:
    """The embedded EC2, emptied for this test."""
    embedded.reset()
    return embedded


@pytest.fixture
def without_read_lag(monkeypatch: pytest.MonkeyPatch, embedded: EmbeddedEc2) -> None:
    """The demos and benchmarks as users run them: with no read lag, also when a suite runs
    under one (EMBEDDED_EC2_READ_LAG); they show the provider, not the lag."""
    monkeypatch.delenv("EMBEDDED_EC2_READ_LAG", raising=False)
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "0")
    embedded.read_lag = 0.0


@pytest.fixture
def fx(ec2: EmbeddedEc2) -> Fixtures:
    return ec2.fixtures()


@pytest.fixture
def handler() -> Handler:
    return HANDLER


@pytest.fixture
def fleet(receiver: ResponseReceiver, ec2: EmbeddedEc2) -> CustomResource:
    """One Custom::TrafficMirrorFleet resource (WebFleet) of one stack, on FleetFunction."""
    return CustomResource(
        FLEET_HANDLER, receiver, logical_id="WebFleet", resource_type="Custom::TrafficMirrorFleet"
    )


@pytest.fixture
def stack(handler: Handler, receiver: ResponseReceiver, ec2: EmbeddedEc2) -> CustomResource:
    return CustomResource(handler, receiver)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep botocore's retry count and decisions, without its sleeps (tests count, not time)."""
    monkeypatch.setattr(
        botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0
    )


def props(fx: Fixtures, **overrides: Any) -> dict[str, Any]:
    """Valid ResourceProperties as CloudFormation sends them (all strings)."""
    base: dict[str, Any] = {
        "NetworkInterfaceId": fx.sources[0],
        "TrafficMirrorTargetId": fx.target_id,
        "TrafficMirrorFilterId": fx.filter_ids[0],
        "SessionNumber": "1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@contextlib.contextmanager
def by_hand(ec2: EmbeddedEc2, account: str | None = None) -> Iterator[EC2Client]:
    """A client for changes made outside the stack (a test's setup, drift, an orphan); on
    leaving, waits until a read shows every change made so far (:meth:`EmbeddedEc2.wait_visible`).

    What the test then asks of the provider (a Create, an Update, a sweep) rests on "these
    changes are there", as they are long before anyone asks in an account; with no read lag
    there is nothing to wait for. Writes whose timing against the provider's is the point (a
    race) are made with ``ec2.client()`` instead. A session made by hand is made with
    :func:`local.harness.by_hand.session_by_hand` on this client (or on that one).
    """
    yield ec2.client(account=account)
    ec2.wait_visible()


def _fails_under_lag(reason: str) -> pytest.MarkDecorator:
    from local.harness.ec2sim import default_read_lag  # noqa: PLC0415 - see the TYPE_CHECKING import

    lagging = default_read_lag() not in (0.0, (0.0, 0.0))
    return pytest.mark.xfail(lagging, reason=reason, strict=False)


def provider_bug_under_lag(reason: str) -> pytest.MarkDecorator:
    """Expected to fail when the embedded EC2's reads lag (``EMBEDDED_EC2_READ_LAG``): a
    provider bug reported to the lead, ``reason`` saying which. Not strict (a slow machine may
    dodge the window); remove the mark once the provider is fixed. Without lag it must pass."""
    return _fails_under_lag(f"provider bug under read lag: {reason}")


def harness_gap_under_lag(reason: str) -> pytest.MarkDecorator:
    """As :func:`provider_bug_under_lag`, for a demo or benchmark in ``local/`` that makes its
    changes by hand without waiting for them to show (``EmbeddedEc2.wait_visible``)."""
    return _fails_under_lag(f"local/ not ready for read lag: {reason}")


def iam_refusal(action: str, resource: str) -> str:
    """UnauthorizedOperation's message as EC2 words it (the encoded part shortened)."""
    return (
        "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:"
        f"assumed-role/provider/fn is not authorized to perform: {action} on resource: "
        f"{resource} because no identity-based policy allows the {action} action. "
        "Encoded authorization failure message: " + "Q" * 600
    )


@pytest.fixture(autouse=True)
def no_secrets_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Every test also checks: no log line holds a ResponseURL, its signature or the event.

    Taps the provider's Powertools Logger (as Lambda would ship its lines) and, through
    caplog at DEBUG, every other logger, crhelper's and botocore's included.
    """
    caplog.set_level(logging.DEBUG)
    for chatty in ("botocore", "urllib3", "hypothesis"):  # never see the URL; slow at DEBUG
        caplog.set_level(logging.INFO, logger=chatty)
    service = logging.getLogger("traffic-mirror-provider")
    # The provider's modules log through "traffic_mirror", which Powertools gives the same
    # handler and stops from propagating: tap it too, or its lines would go unchecked.
    package = logging.getLogger("traffic_mirror")
    buffer = io.StringIO()
    tap = logging.StreamHandler(buffer)
    tap.setFormatter(service.handlers[0].formatter)
    service.addHandler(tap)
    package.addHandler(tap)
    yield buffer
    service.removeHandler(tap)
    package.removeHandler(tap)
    records = caplog.get_records("setup") + caplog.get_records("call")
    text = buffer.getvalue() + "\n".join(r.getMessage() for r in records)
    # The URL (its path and its signature) and credentials; the word "ResponseURL" alone is
    # not a secret (a fuzzed LogicalResourceId may be exactly that word).
    for secret in ("X-Amz-Signature", "cfn-response/", "AWS_SECRET_ACCESS_KEY"):
        assert secret not in text, f"{secret} leaked into the logs"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the reliability figures, if any suite counted some, and keep them in build/."""
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for key in sorted(FIGURES):
        terminalreporter.write_line(f"{key:<48} {FIGURES[key]:>8}")
    out = ROOT / "build" / "reliability.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(sorted(FIGURES.items())), indent=2) + "\n")
