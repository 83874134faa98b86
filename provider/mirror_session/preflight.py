"""DryRun for a Create: the number it would take, and the call checked with EC2, nothing made.

The one dry-run path for a new session, shared by ``Custom::TrafficMirrorSession``
(:mod:`mirror_session.resource`) and every interface of a fleet (:mod:`mirror_session.fleet`).
Changes to an existing session are checked by :func:`mirror_session.converge.converge` with
``dry_run``.

Example::

    number = check_place(ec2, read(ec2, "eni-1"), params, tags, token_for)   # 1
"""

from __future__ import annotations

from collections.abc import Mapping

from mirror_session.allocation import Interface, TokenFor
from mirror_session.ec2 import Ec2Gateway
from mirror_session.schema import Value

__all__ = ["check_place"]


def check_place(
    ec2: Ec2Gateway,
    view: Interface,
    params: Mapping[str, Value],
    tags: Mapping[str, str],
    token_for: TokenFor,
) -> int:
    """What a dry run does instead of :func:`~mirror_session.allocation.place`: the number the
    Create would use on ``view`` (failing as the Create would: a full interface, a declared
    number another session holds), then the Create checked with EC2 (DryRun). Returns the
    number; EC2's refusal (UnauthorizedOperation, a NotFound) raises as for a real Create."""
    number = view.number_for(params)
    ec2.check_create({**params, "SessionNumber": number}, tags, token_for(number))
    return number
