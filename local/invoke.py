"""``make invoke EVENT=events/create.json``: one event to the handler, like ``sam local invoke``
without Docker. Prints the response body CloudFormation would receive.

The event goes to the function of its ``ResourceType``, as template.yaml deploys them:
``Custom::TrafficMirrorSession`` to ProviderFunction's handler, ``Custom::TrafficMirrorFleet``
to FleetFunction's (``events/fleet-create.json``).

Exit codes: 0 when the provider answered SUCCESS, 1 when it answered FAILED (or not at all),
2 for bad usage or a bad event file: those are refused with one line saying what is wrong,
before the embedded EC2 or the receiver start, so nothing is sent and nothing waits.

Example::

    python -m local.invoke events/update.json
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

from local.harness.ec2sim import EmbeddedEc2, Fixtures
from local.harness.events import CustomResource, render
from local.harness.lambda_loader import Handler, LambdaContext, load_handler
from local.harness.receiver import ResponseReceiver

USAGE = "usage: python -m local.invoke EVENT_FILE   (for example events/create.json)"
RESPONSE_URL = "{{ResponseURL}}"
# The handler PUTs its answer before it returns; this only covers the receiver's own thread.
ANSWER_WAIT_S = 5.0
FIXTURE_PLACEHOLDERS = (  # in the order placeholders() fills them
    "NetworkInterfaceId",
    "SecondNetworkInterfaceId",
    "TrafficMirrorTargetId",
    "TrafficMirrorFilterId",
    "SecondTrafficMirrorFilterId",
)
PLACEHOLDERS = (*FIXTURE_PLACEHOLDERS, "ResponseURL", "RequestId", "PhysicalResourceId")
SHAPE = "events/create.json shows the shape"
#: The function of each resource type (template.yaml: ProviderFunction, FleetFunction).
FUNCTIONS = {
    "Custom::TrafficMirrorSession": "ProviderFunction",
    "Custom::TrafficMirrorFleet": "FleetFunction",
}


class BadEvent(Exception):
    """An event file invoke refuses before sending anything; the message says what to do."""


class NoAnswer(Exception):
    """The handler returned without answering at the ResponseURL."""


def placeholders(fx: Fixtures) -> dict[str, str]:
    """Values for an event file's ``{{placeholders}}``, from the embedded fixtures."""
    ids = (fx.sources[0], fx.sources[1], fx.target_id, fx.filter_ids[0], fx.filter_ids[1])
    return dict(zip(FIXTURE_PLACEHOLDERS, ids, strict=True))


def read_event(path: Path) -> str:
    """The text of an event file invoke can deliver and receive the answer to; else BadEvent.

    The file must be a JSON object whose ResponseURL is ``{{ResponseURL}}`` (invoke fills in
    its local HTTPS receiver there), with no placeholder invoke does not fill in.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadEvent(
            f"{path}: no such file; give an event file, such as events/create.json"
        ) from None
    except IsADirectoryError:
        raise BadEvent(f"{path}: is a directory; give one event file, {SHAPE}") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadEvent(f"{path}: cannot be read ({why}); check the file is UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadEvent(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
            "fix the JSON there"
        ) from None
    if not isinstance(data, dict):
        raise BadEvent(f"{path}: holds {json_kind(data)}, but an event is one JSON object; {SHAPE}")
    unknown = sorted(set(re.findall(r"\{\{(.*?)\}\}", text)) - set(PLACEHOLDERS))
    if unknown:
        raise BadEvent(
            f"{path}: unknown placeholder {{{{{unknown[0]}}}}}; invoke fills in only "
            + ", ".join(PLACEHOLDERS)
        )
    fix = f'write "ResponseURL": "{RESPONSE_URL}" and invoke fills in its local HTTPS receiver'
    if "ResponseURL" not in data:
        raise BadEvent(f"{path}: has no ResponseURL, so no answer could come back; {fix}")
    url = data["ResponseURL"]
    if url != RESPONSE_URL:
        # Never echo the URL: a real one carries a signature.
        if not isinstance(url, str) or not url.startswith("https://"):
            raise BadEvent(
                f"{path}: ResponseURL is not https (the provider answers only https); {fix}"
            )
        raise BadEvent(
            f"{path}: ResponseURL is a literal URL, so the answer would go there and not to "
            f"invoke (a real pre-signed URL would answer a real stack); {fix}"
        )
    if "{{PhysicalResourceId}}" in text and not isinstance(setup_properties(data), dict):
        raise BadEvent(
            f"{path}: names {{{{PhysicalResourceId}}}} but has no ResourceProperties object "
            "to create that session from; events/update.json and events/delete.json show the shape"
        )
    return text


def function_for(path: Path, text: str) -> str:
    """The template function that serves the event's ResourceType; else BadEvent."""
    kind = json.loads(text).get("ResourceType")
    if kind in FUNCTIONS:
        return FUNCTIONS[kind]
    served = ", ".join(f"{k} to {v}" for k, v in FUNCTIONS.items())
    raise BadEvent(
        f"{path}: ResourceType is {json.dumps(kind)}; invoke sends {served} "
        "(template.yaml), so write one of those"
    )


def json_kind(value: object) -> str:
    """What a parsed JSON value is, in JSON's words."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"


def setup_properties(event: dict[str, Any]) -> Any:
    """The properties the session an Update or Delete names was created with."""
    return event.get("OldResourceProperties") or event.get("ResourceProperties")


def deliver(
    text: str, handler: Handler, rx: ResponseReceiver, fx: Fixtures, log: TextIO
) -> dict[str, Any]:
    """Render a checked event file's text, create its session first if it names
    ``{{PhysicalResourceId}}``, deliver it, and return the response body."""
    values = placeholders(fx)
    kind = json.loads(text).get("ResourceType")
    cloudformation = CustomResource(handler, rx, resource_type=str(kind))
    if "{{PhysicalResourceId}}" in text:
        probe = render(text, {**values, "ResponseURL": "https://x", "RequestId": "x"})
        if isinstance(probe.get("StackId"), str):
            cloudformation.stack_id = probe["StackId"]
        if isinstance(probe.get("LogicalResourceId"), str):
            cloudformation.logical_id = probe["LogicalResourceId"]
        with contextlib.redirect_stdout(log):
            created = cloudformation.send(cloudformation.make("Create", setup_properties(probe)))
        print(f"(set up: Create answered {created['Status']} {created['PhysicalResourceId']})")
        values["PhysicalResourceId"] = created["PhysicalResourceId"]
    # The answer is awaited at the URL's own key, so a literal RequestId is answered too.
    key = str(uuid.uuid4())
    event = render(text, {**values, "RequestId": key, "ResponseURL": rx.url_for(key)})
    with contextlib.redirect_stdout(log):
        handler(copy.deepcopy(event), LambdaContext(timeout_s=cloudformation.timeout_s))
    try:
        return rx.wait_for(key, timeout=ANSWER_WAIT_S)
    except TimeoutError:
        raise NoAnswer("the handler returned without answering at the ResponseURL") from None


def invoke(
    path: Path, handler: Handler, rx: ResponseReceiver, fx: Fixtures, log: TextIO
) -> dict[str, Any]:
    """Check ``path`` (BadEvent if invoke cannot deliver it), deliver it, return the answer."""
    return deliver(read_event(path), handler, rx, fx, log)


def main(argv: list[str]) -> int:
    """Entry point; returns the exit code (0 SUCCESS, 1 FAILED, 2 bad usage or input)."""
    if len(argv) != 1:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        text = read_event(Path(argv[0]))  # before anything starts: a bad file waits for nothing
        function = function_for(Path(argv[0]), text)
    except BadEvent as exc:
        print(f"invoke: {exc}", file=sys.stderr)
        return 2
    log = sys.stderr  # the function's JSON log lines, apart from the response on stdout
    with EmbeddedEc2() as ec2, ResponseReceiver() as rx:
        fx = ec2.fixtures()
        with contextlib.redirect_stdout(log):
            handler = load_handler(function=function)
        try:
            body = deliver(text, handler, rx, fx, log)
        except NoAnswer as exc:
            print(f"invoke: {exc}; CloudFormation would fail the resource", file=sys.stderr)
            return 1
        print(json.dumps(body, indent=2))
        print(
            f"(answered by {function}, the function of its ResourceType; "
            f"EC2 now holds {len(ec2.sessions())} session(s))"
        )
    status = body.get("Status")
    if status == "SUCCESS":
        return 0
    print(f"invoke: the provider answered {status}: {body.get('Reason')}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
