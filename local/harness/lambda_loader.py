"""Load the handler exactly as Lambda does: from template.yaml's CodeUri and Handler.

Example::

    handler = load_handler()           # app.handler from provider/
    handler(event, LambdaContext(timeout_s=30))
"""

from __future__ import annotations

import importlib
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "ProviderFunction"
Handler = Callable[[dict[str, Any], Any], Any]


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that accepts CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _tagged(loader: yaml.Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tagged)  # type: ignore[no-untyped-call]


def read_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as a dict (short-form intrinsic functions become {Name: value})."""
    data = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(data, dict)
    return data


def handler_location(path: Path = TEMPLATE, function: str = FUNCTION) -> tuple[Path, str]:
    """(CodeUri directory, Handler string) of the provider function (or another one)."""
    props = read_template(path)["Resources"][function]["Properties"]
    return (path.parent / props["CodeUri"]).resolve(), str(props["Handler"])


def load_handler(path: Path = TEMPLATE, function: str = FUNCTION) -> Handler:
    """Import the handler from CodeUri, as the Lambda runtime's bootstrap would."""
    code_dir, spec = handler_location(path, function)
    module_name, _, attr = spec.rpartition(".")
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, attr)
    return handler


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that the handler and its libraries read."""

    timeout_s: float = 30.0
    function_name: str = "traffic-mirror-provider"
    memory_limit_in_mb: int = 128
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:traffic-mirror-provider"
    )
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (simulated) Lambda timeout."""
        return max(int((self.timeout_s - (time.monotonic() - self.started)) * 1000), 0)
