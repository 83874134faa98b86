"""Lambda entry for Custom::TrafficMirrorSession (template.yaml: ProviderFunction, app.handler).

The wiring is :mod:`traffic_mirror.cloudformation.entry`'s, shared with ``fleet_app``; the
lifecycle is :mod:`traffic_mirror.sessions.resource`'s, one function per request type.
"""

from __future__ import annotations

from traffic_mirror.cloudformation.entry import SESSION_TYPE, custom_resource_handler
from traffic_mirror.sessions.resource import ACTIONS

handler = custom_resource_handler(lambda context: ACTIONS, serves=SESSION_TYPE)
