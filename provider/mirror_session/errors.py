"""EC2 error codes, the advice a person can act on, and reasons that fit CloudFormation.

Reasons read "verb traffic mirror session (id): Code: advice EC2 said: message" and never
exceed :data:`MAX_REASON` characters, cut at the end so the beginning always survives.

Example::

    >>> fit("x" * 300)[-1]
    '…'
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import ClientError

__all__ = ["ADVICE", "MAX_REASON", "NOT_FOUND", "ProviderError", "error_code", "explain", "fit"]

#: crhelper keeps only the tail of a longer reason; we stay within it and keep the head.
MAX_REASON: Final = 256
NOT_FOUND: Final = "InvalidTrafficMirrorSessionId.NotFound"

ADVICE: Final[dict[str, str]] = {
    NOT_FOUND: "The session is gone; it was deleted outside this stack (or with its interface).",
    "InvalidTrafficMirrorTargetId.NotFound": "Check TrafficMirrorTargetId exists in this "
    "account and region, or is shared with it through RAM.",
    "InvalidTrafficMirrorFilterId.NotFound": "Check TrafficMirrorFilterId exists in this "
    "account and region.",
    "InvalidNetworkInterfaceID.NotFound": "Check NetworkInterfaceId exists in this account "
    "and region.",
    "TrafficMirrorSessionsPerInterfaceLimitExceeded": "An interface can source at most 3 "
    "sessions: remove one or mirror another interface.",
    "TrafficMirrorSourcesPerTargetLimitExceeded": "This target takes no more sources: use "
    "another target, or an NLB or GWLB endpoint target.",
    "TrafficMirrorSessionsPerTargetLimitExceeded": "This target takes no more sessions: use "
    "another target, or an NLB or GWLB endpoint target.",
    "TrafficMirrorSessionLimitExceeded": "The account has 10,000 sessions, the EC2 maximum: "
    "delete unused ones.",
    "NetworkInterfaceNotSupported": "This interface's instance type cannot be a mirror "
    "source: use a Nitro instance type (not bare metal).",
    "InterfaceInUseByTrafficMirrorTarget": "An interface cannot be both a mirror source and a "
    "mirror target: pick another NetworkInterfaceId.",
    "IdempotentParameterMismatch": "A retry of this request carried other parameters than the "
    "first: update the stack again to send a fresh request.",
    "UnauthorizedOperation": "The provider's role was refused: check its policy and the "
    "managed-by tag on the session and the target's tag conditions.",
    "RequestLimitExceeded": "EC2 kept throttling through every retry: deploy fewer sessions at "
    "once, then retry.",
    "InvalidParameterValue": "EC2 rejected a value: check the property its message names.",
}


class ProviderError(Exception):
    """A failure whose message is the finished Reason for CloudFormation."""

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(fit(reason))
        self.reason = str(self)
        self.code = code


def fit(text: str, limit: int = MAX_REASON) -> str:
    """One readable line of at most ``limit`` characters, keeping the beginning.

    Runs of white space become one space, and characters that do not print (controls,
    zero-width and format characters, which may come from user input) are shown escaped.
    """
    text = " ".join(text.split())
    text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_code(exc: BaseException) -> str | None:
    """The EC2 error code of a botocore ClientError, else None."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def explain(verb: str, ident: str, exc: BaseException) -> ProviderError:
    """Turn a botocore failure into a ProviderError with a reason a person can act on."""
    head = f"{verb} traffic mirror session ({ident}): "
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        message = str(err.get("Message", ""))
        advice = ADVICE.get(code, "")
        lead = fit(f"{head}{code}. {advice}".rstrip(), MAX_REASON - 12)
        return ProviderError(f"{lead} EC2 said: {message}" if message else lead, code)
    return ProviderError(
        f"{head}no usable answer from EC2 ({type(exc).__name__}). Check the function's "
        f"network route to the EC2 endpoint, then retry. {exc}"
    )
