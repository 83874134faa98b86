"""EC2 error codes, the advice a person can act on, and reasons that fit CloudFormation.

Reasons read "verb traffic mirror session (id): Code. Advice. EC2 said: message" and never
exceed :data:`MAX_REASON` characters, cut at the end so the beginning always survives.

Example::

    >>> fit("x" * 300)[-1]
    '…'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from botocore.exceptions import ClientError

__all__ = [
    "ADOPTION_ADVICE",
    "ADVICE",
    "DRY_RUN_OK",
    "KINDS",
    "MAX_REASON",
    "MISMATCH",
    "MISSING",
    "NOT_FOUND",
    "NOT_SUPPORTED",
    "PER_INTERFACE_LIMIT",
    "InterfaceFull",
    "InterfaceNotFound",
    "NotFound",
    "NotSupported",
    "ProviderError",
    "QuotaReached",
    "Refused",
    "SessionGone",
    "SessionRefused",
    "Throttled",
    "error_code",
    "explain",
    "failure",
    "fit",
]

#: crhelper keeps only the tail of a longer reason; we stay within it and keep the head.
MAX_REASON: Final = 256
NOT_FOUND: Final = "InvalidTrafficMirrorSessionId.NotFound"
MISMATCH: Final = "IdempotentParameterMismatch"
PER_INTERFACE_LIMIT: Final = "TrafficMirrorSessionsPerInterfaceLimitExceeded"
NOT_SUPPORTED: Final = "NetworkInterfaceNotSupported"
#: EC2's answer to a DryRun call the caller is allowed to make.
DRY_RUN_OK: Final = "DryRunOperation"
#: Codes whose message names the refused action and resource (IAM's wording).
REFUSED: Final = frozenset({"UnauthorizedOperation", "AccessDenied"})
_REFUSED_WHAT: Final = re.compile(
    r"not authorized to perform: (?P<action>[\w:*-]+)(?: on resource: (?P<resource>[^\s]+?))?"
    r"(?=\.?(?:\s|$))"
)

ADVICE: Final[dict[str, str]] = {
    NOT_FOUND: "The session is gone; it was deleted outside this stack (or with its interface).",
    "InvalidTrafficMirrorTargetId.NotFound": "Check it exists there, or is shared with that "
    "account through RAM.",
    "InvalidTrafficMirrorFilterId.NotFound": "Check it exists there.",
    "InvalidNetworkInterfaceID.NotFound": "Check it exists there (an interface deleted with "
    "its instance is gone).",
    PER_INTERFACE_LIMIT: "An interface can source at most 3 "
    "sessions: remove one or mirror another interface.",
    "TrafficMirrorSourcesPerTargetLimitExceeded": "This target takes no more sources: use "
    "another target, or an NLB or GWLB endpoint target.",
    "TrafficMirrorSessionsPerTargetLimitExceeded": "This target takes no more sessions: use "
    "another target, or an NLB or GWLB endpoint target.",
    "TrafficMirrorSessionLimitExceeded": "The account has 10,000 sessions, the EC2 maximum: "
    "delete unused ones.",
    NOT_SUPPORTED: "Its instance type is not on Traffic Mirroring's supported list (not "
    "all Nitro: no M6i, C6i, M7g; yes C4, M4, R4; no bare metal).",
    "InterfaceInUseByTrafficMirrorTarget": "An interface cannot be both a mirror source and a "
    "mirror target: pick another NetworkInterfaceId.",
    MISMATCH: "This request's ClientToken was used before with other parameters, or for a "
    "session since deleted: update the stack again to send a fresh request.",
    "UnauthorizedOperation": "Check the role's policy: managed-by tag, target and source tag "
    "conditions, allowed regions.",
    "AccessDenied": "The role must trust the provider's role (examples/member-role.yaml), its "
    "name must match MemberRoleNamePrefix, and ExternalId must match its trust policy.",
    "RegionDisabledException": "STS is not enabled in this region for the account: activate "
    "the region in the account settings.",
    "RequestLimitExceeded": "EC2 kept throttling through every retry: deploy fewer sessions at "
    "once, then retry.",
    "InvalidParameterValue": "EC2 rejected a value: check the property its message names.",
}

#: A refused CreateTags on a session: how an adoption (AdoptSessionId) marks the session it
#: takes over, which the role allows only with AllowAdoption; else the managed-by condition.
ADOPTION_ADVICE: Final = (
    "Adopting a session (AdoptSessionId) needs AllowAdoption=true on the provider or member "
    "role; else check the role's managed-by tag condition."
)


#: NotFound codes naming a prerequisite, and the property that named it: the Reason leads
#: with that property, its ID and where the provider looked, before any of EC2's message.
MISSING: Final[dict[str, str]] = {
    "InvalidTrafficMirrorTargetId.NotFound": "TrafficMirrorTargetId",
    "InvalidTrafficMirrorFilterId.NotFound": "TrafficMirrorFilterId",
    "InvalidNetworkInterfaceID.NotFound": "NetworkInterfaceId",
}
#: Where the provider looked, when nothing else says: its own account and region.
HOME: Final = "in this account and region"


class ProviderError(Exception):
    """A failure whose message is the finished Reason for CloudFormation.

    ``code`` is the AWS error code when there is one; ``source`` says who refused: ``EC2``,
    ``STS``, or the ``provider`` itself (a check it made before or after calling AWS).
    """

    def __init__(self, reason: str, code: str | None = None, source: str = "provider") -> None:
        super().__init__(fit(reason))
        self.reason = str(self)
        self.code = code
        self.source = source


class DryRunIgnored(ProviderError):
    """EC2 performed a call sent with DryRun (undocumented; never assumed away)."""


class NotFound(ProviderError):
    """A resource the call named by ID does not exist where the provider looked."""


class SessionGone(NotFound):
    """The session itself is gone (deleted outside the stack, or with its interface)."""


class Refused(ProviderError):
    """IAM refused the call (UnauthorizedOperation, AccessDenied)."""


class Throttled(ProviderError):
    """EC2 kept throttling through every retry (RequestLimitExceeded)."""


class QuotaReached(ProviderError):
    """A target's or the account's quota is reached (not one interface's: InterfaceFull)."""


class SessionRefused(ProviderError):
    """EC2 refused this one session: its interface, a value, or its token; not the caller or
    the account. A fleet skips that interface and goes on."""


class InterfaceNotFound(NotFound, SessionRefused):
    """The source interface does not exist (deleted with its instance, say)."""


class NotSupported(SessionRefused):
    """The source interface's instance type cannot be a mirror source."""


class InterfaceFull(SessionRefused):
    """The source interface already sources the most sessions EC2 allows."""


#: The failure each exact error code is (AWS's spelling); any other code: a ProviderError.
KINDS: Final[dict[str, type[ProviderError]]] = {
    NOT_FOUND: SessionGone,
    "InvalidTrafficMirrorTargetId.NotFound": NotFound,
    "InvalidTrafficMirrorFilterId.NotFound": NotFound,
    "InvalidNetworkInterfaceID.NotFound": InterfaceNotFound,
    "InvalidInstanceID.NotFound": NotFound,
    "InvalidVpcEndpointId.NotFound": NotFound,
    "LoadBalancerNotFound": NotFound,
    "UnauthorizedOperation": Refused,
    "AccessDenied": Refused,
    "RequestLimitExceeded": Throttled,
    NOT_SUPPORTED: NotSupported,
    PER_INTERFACE_LIMIT: InterfaceFull,
    "TrafficMirrorSourcesPerTargetLimitExceeded": QuotaReached,
    "TrafficMirrorSessionsPerTargetLimitExceeded": QuotaReached,
    "TrafficMirrorSessionLimitExceeded": QuotaReached,
    "InterfaceInUseByTrafficMirrorTarget": SessionRefused,
    "InvalidParameterValue": SessionRefused,
    MISMATCH: SessionRefused,
}


def failure(reason: str, code: str | None = None, source: str = "provider") -> ProviderError:
    """The ProviderError for ``code``: the subclass :data:`KINDS` names, else the base.

    >>> type(failure("gone", NOT_FOUND, "EC2")).__name__
    'SessionGone'
    >>> type(failure("new", "SomethingNew", "EC2")).__name__
    'ProviderError'
    """
    return KINDS.get(code or "", ProviderError)(reason, code, source)


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


def _refused(exc: ClientError, message: str, service: str) -> str:
    """What IAM refused: "ec2:Action on arn:..." from its message, else the attempted action.

    The message's encoded authorization failure is left out: it is long and unreadable
    without ``aws sts decode-authorization-message``.
    """
    found = _REFUSED_WHAT.search(message)
    action = found["action"] if found else f"{service.lower()}:{exc.operation_name}"
    resource = found["resource"] if found and found["resource"] else None
    return f"{action} on {resource}" if resource else action


def _tagging_a_session(exc: ClientError, message: str, service: str) -> bool:
    """IAM refused ec2:CreateTags on a traffic mirror session (an adoption's first write).

    >>> err = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "not "
    ...     "authorized to perform: ec2:CreateTags on resource: arn:aws:ec2:us-east-1:1:"
    ...     "traffic-mirror-session/tms-1"}}, "CreateTags")
    >>> print(explain("tag", "tms-1", err))  # doctest: +NORMALIZE_WHITESPACE
    tag traffic mirror session (tms-1): UnauthorizedOperation: refused ec2:CreateTags on it.
    Adopting a session (AdoptSessionId) needs AllowAdoption=true on the provider or member
    role; else check the role's managed-by tag condition.
    """
    refused = _refused(exc, message, service)
    return refused.startswith("ec2:CreateTags on ") and ":traffic-mirror-session/" in refused


def explain(
    verb: str,
    ident: str,
    exc: BaseException,
    subject: str = "traffic mirror session",
    service: str = "EC2",
    *,
    where: str = HOME,
    ids: Mapping[str, object] | None = None,
) -> ProviderError:
    """Turn a botocore failure into a ProviderError with a reason a person can act on; its
    class is the code's kind (:func:`failure`), so callers branch on it, never on the code.

    The key detail comes first and survives the 256-character cut: what IAM refused, or
    which property's ID was not found and ``where`` (the account and region looked in, taken
    from ``ids``, the call's parameters); EC2's own message comes last and is what is cut.

    >>> err = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "User: x is "
    ...     "not authorized to perform: ec2:CreateTrafficMirrorSession on resource: "
    ...     "arn:aws:ec2:us-east-1:1:traffic-mirror-target/tmt-1 because no policy allows it. "
    ...     "Encoded authorization failure message: AbC"}}, "CreateTrafficMirrorSession")
    >>> print(explain("create", "eni-1 #1", err))  # doctest: +NORMALIZE_WHITESPACE
    create traffic mirror session (eni-1 #1): UnauthorizedOperation: refused
    ec2:CreateTrafficMirrorSession on arn:aws:ec2:us-east-1:1:traffic-mirror-target/tmt-1.
    Check the role's policy: managed-by tag, target and source tag conditions, allowed regions.
    """
    head = f"{verb} {subject} ({ident}): "
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        message = str(err.get("Message", ""))
        advice = ADVICE.get(code, "")
        if code in MISSING and ids and MISSING[code] in ids:
            prop = MISSING[code]
            lead = f"{verb} {subject}: {code}: {prop} {ids[prop]} was not found {where}. {advice}"
            lead = fit(lead, MAX_REASON - 12)
            return failure(f"{lead} {service} said: {message}", code, service)
        if code in REFUSED and _tagging_a_session(exc, message, service):
            # The session's ID is in the head already: the ARN would push the advice past
            # the 256-character cut.
            return failure(
                f"{head}{code}: refused ec2:CreateTags on it. {ADOPTION_ADVICE}", code, service
            )
        if code in REFUSED:
            return failure(
                f"{head}{code}: refused {_refused(exc, message, service)}. {advice}",
                code,
                service,
            )
        lead = fit(f"{head}{code}. {advice}".rstrip(), MAX_REASON - 12)
        reason = f"{lead} {service} said: {message}" if message else lead
        return failure(reason, code, service)
    return ProviderError(
        f"{head}no usable answer from {service} ({type(exc).__name__}). Check the function's "
        f"network route to the {service} endpoint, then retry. {exc}",
        source=service,
    )
