"""Adoption: a Create that takes over an existing session (``AdoptSessionId``) instead of
making one, so a stack can move from ``AWS::EC2::TrafficMirrorSession`` without a mirroring
gap: the session's ID, number and VXLAN ID stay what they are.

The session must be where the properties place it (account, region), on the declared
interface, with the declared target and filter; it must not belong to anyone else (another
provider stack, or another resource). It is then marked as managed and owned (one CreateTags,
which the provider's role may only make with the AllowAdoption parameter, and only with its
own tags on a session carrying none of them), and the other declared settings are applied in
place. An adopted session is never deleted to undo a late answer: it existed before.

Example::

    outcome = adopt(request, spec, ec2)   # Outcome("tms-0123…", attributes)
"""

from __future__ import annotations

from typing import Final

from traffic_mirror.aws.ec2 import Ec2Gateway, TrafficMirrorSessionTypeDef
from traffic_mirror.cloudformation.request import Outcome, Request
from traffic_mirror.errors import ProviderError
from traffic_mirror.ownership import (
    MANAGED_BY_KEY,
    Owner,
    dry_run_id,
    managed_by,
    tags_of,
)
from traffic_mirror.sessions.allocation import read
from traffic_mirror.sessions.converge import attributes, converge, held_as_spec
from traffic_mirror.sessions.plan import TagWrite
from traffic_mirror.sessions.schema import SessionSpec

__all__ = ["ADOPTABLE_KEY", "IDENTITY", "adopt"]

Session = TrafficMirrorSessionTypeDef
#: What makes a session the declared one; everything else is applied after adoption.
IDENTITY: Final = ("NetworkInterfaceId", "TrafficMirrorTargetId", "TrafficMirrorFilterId")
#: The session's present owner opts in, per session: this tag, valued with the provider's
#: stack name (the IAM condition of AllowAdoption requires it too).
ADOPTABLE_KEY: Final = "traffic-mirror:adoptable"


def _belongs_elsewhere(found: Session, owner: Owner) -> str | None:
    """Who else the session belongs to, in words; None when nobody does (or this owner)."""
    if owner.owns(found):
        return None
    tags = tags_of(found)
    marker = tags.get(MANAGED_BY_KEY)
    if marker is None:
        return None
    if marker != managed_by():
        return f"it is managed by the provider stack {marker}"
    if (other := Owner.recorded_on(found)) is not None:
        return f"it belongs to {other.describe()}"
    return "it is managed by this provider for a resource made before ownership was recorded"


def adopt(request: Request, spec: SessionSpec, ec2: Ec2Gateway) -> Outcome:
    """Take over the session ``AdoptSessionId`` names; see the module doc."""
    session_id = str(spec.values["AdoptSessionId"])
    verb = f"adopt traffic mirror session ({session_id})"
    # One read of the declared interface serves both the session and the number checks; the
    # session is looked up by ID only when it is not there, to say where it is instead.
    view = read(ec2, str(spec.values["NetworkInterfaceId"]))
    found = view.get(session_id) or ec2.find(session_id)
    if found is None:
        raise ProviderError(
            f"{verb}: not found {ec2.where}. Check AdoptSessionId, and RoleArn or Region if "
            "the session lives in another account or region."
        )
    differ = [
        f"{name} is {found.get(name)} there, not {spec.values[name]}"
        for name in IDENTITY
        if found.get(name) != spec.values[name]
    ]
    if differ:
        raise ProviderError(
            f"{verb}: {'; '.join(differ)}. Declare the session as it is; change it once adopted."
        )
    owner = Owner.of(request)
    if (elsewhere := _belongs_elsewhere(found, owner)) is not None:
        raise ProviderError(
            f"{verb}: {elsewhere}. Remove it from there first (DeletionPolicy: Retain, then "
            "delete the resource from that template); a session whose owner is gone is an "
            "orphan: delete it or ask its provider's operator."
        )
    if not owner.owns(found) and tags_of(found).get(ADOPTABLE_KEY) != managed_by():
        raise ProviderError(
            f"{verb}: it is not tagged {ADOPTABLE_KEY}={managed_by()}. Tag it so where it is "
            "managed now (the native resource's Tags), to show it may be taken over."
        )
    marks = [] if owner.owns(found) else [TagWrite("put", owner.tags(allocated=False))]
    base = held_as_spec(found, spec)
    session = converge(
        ec2, view, found, base=base, new=spec, owner=owner, dry_run=spec.dry_run, marks=marks
    )
    if spec.dry_run:
        data = attributes(found, ec2.region, ec2.partition)
        return Outcome(dry_run_id(request), {**data, "Id": dry_run_id(request), "DryRun": "true"})
    return Outcome(session_id, attributes(session, ec2.region, ec2.partition))
