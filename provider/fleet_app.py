"""Lambda entry for Custom::TrafficMirrorFleet (template.yaml: FleetFunction, fleet_app.handler).

The same wiring as ``app`` (:mod:`traffic_mirror.cloudformation.entry`), with the fleet's
lifecycle bound to the invocation's time budget: a pass stops starting work when the Lambda
time runs low and answers with what it did; the reconciler finishes the rest (docs/fleet.md,
Large fleets).
"""

from __future__ import annotations

from traffic_mirror.cloudformation.entry import FLEET_TYPE, custom_resource_handler
from traffic_mirror.fleets.resource import fleet_actions
from traffic_mirror.wiring import remaining

handler = custom_resource_handler(
    lambda context: fleet_actions(remaining(context)), serves=FLEET_TYPE
)
