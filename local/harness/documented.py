"""The filter names EC2's API reference documents, per Describe action the project calls.

Real EC2 refuses a filter name it does not document (HTTP 400, ``InvalidParameterValue``,
"The filter 'X' is invalid"); moto ignores such a name and returns everything, which hides a
wrong filter from every test. The embedded EC2 (``ec2sim``) refuses them as EC2 does, from
this table.

Sources, per action: the EC2 API reference page of the action
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_<Action>.html, "Filter.N"), which
is the same text as the ``Filters`` member documentation of the operation in botocore's
``ec2/2016-11-15/service-2.json``. ``tests/unit/test_documented_filters.py`` checks this table
against the installed botocore, so a new botocore that documents another name shows up there.

Actions covered: every EC2 Describe with filters that the provider, the harness, the demos,
the benchmarks or ``tms_audit`` call (DescribeInstances, DescribeNetworkInterfaces,
DescribeTags, DescribeTrafficMirrorSessions), and the traffic mirror targets and filters
beside them. ``tag:<key>`` stands for every ``tag:`` name, and is valid only where listed:
DescribeTrafficMirrorSessions, ...Targets and ...Filters document no tag filter at all.
"""

from __future__ import annotations

from typing import Final

TAG_PATTERN: Final = "tag:<key>"

DOCUMENTED_FILTERS: Final[dict[str, frozenset[str]]] = {
    "DescribeInstances": frozenset(
        {
            "affinity",
            "architecture",
            "availability-zone",
            "availability-zone-id",
            "block-device-mapping.attach-time",
            "block-device-mapping.delete-on-termination",
            "block-device-mapping.device-name",
            "block-device-mapping.status",
            "block-device-mapping.volume-id",
            "boot-mode",
            "capacity-reservation-id",
            "capacity-reservation-specification.capacity-reservation-preference",
            "capacity-reservation-specification.capacity-reservation-target.capacity-reservation-id",
            "capacity-reservation-specification.capacity-reservation-target.capacity-reservation-resource-group-arn",
            "client-token",
            "current-instance-boot-mode",
            "dns-name",
            "ebs-optimized",
            "ena-support",
            "enclave-options.enabled",
            "hibernation-options.configured",
            "host-id",
            "hypervisor",
            "iam-instance-profile.arn",
            "iam-instance-profile.id",
            "image-id",
            "instance-id",
            "instance-lifecycle",
            "instance-state-code",
            "instance-state-name",
            "instance-type",
            "instance.group-id",
            "instance.group-name",
            "ip-address",
            "ipv6-address",
            "kernel-id",
            "key-name",
            "launch-index",
            "launch-time",
            "maintenance-options.auto-recovery",
            "metadata-options.http-endpoint",
            "metadata-options.http-protocol-ipv4",
            "metadata-options.http-protocol-ipv6",
            "metadata-options.http-put-response-hop-limit",
            "metadata-options.http-tokens",
            "metadata-options.instance-metadata-tags",
            "metadata-options.state",
            "monitoring-state",
            "network-interface.addresses.association.allocation-id",
            "network-interface.addresses.association.association-id",
            "network-interface.addresses.association.carrier-ip",
            "network-interface.addresses.association.customer-owned-ip",
            "network-interface.addresses.association.ip-owner-id",
            "network-interface.addresses.association.public-dns-name",
            "network-interface.addresses.association.public-ip",
            "network-interface.addresses.primary",
            "network-interface.addresses.private-dns-name",
            "network-interface.addresses.private-ip-address",
            "network-interface.association.allocation-id",
            "network-interface.association.association-id",
            "network-interface.association.carrier-ip",
            "network-interface.association.customer-owned-ip",
            "network-interface.association.ip-owner-id",
            "network-interface.association.public-dns-name",
            "network-interface.association.public-ip",
            "network-interface.attachment.attach-time",
            "network-interface.attachment.attachment-id",
            "network-interface.attachment.delete-on-termination",
            "network-interface.attachment.device-index",
            "network-interface.attachment.instance-id",
            "network-interface.attachment.instance-owner-id",
            "network-interface.attachment.network-card-index",
            "network-interface.attachment.status",
            "network-interface.availability-zone",
            "network-interface.deny-all-igw-traffic",
            "network-interface.description",
            "network-interface.group-id",
            "network-interface.group-name",
            "network-interface.ipv4-prefixes.ipv4-prefix",
            "network-interface.ipv6-address",
            "network-interface.ipv6-addresses.ipv6-address",
            "network-interface.ipv6-addresses.is-primary-ipv6",
            "network-interface.ipv6-native",
            "network-interface.ipv6-prefixes.ipv6-prefix",
            "network-interface.mac-address",
            "network-interface.network-interface-id",
            "network-interface.operator.managed",
            "network-interface.operator.principal",
            "network-interface.outpost-arn",
            "network-interface.owner-id",
            "network-interface.private-dns-name",
            "network-interface.private-ip-address",
            "network-interface.public-dns-name",
            "network-interface.requester-id",
            "network-interface.requester-managed",
            "network-interface.source-dest-check",
            "network-interface.status",
            "network-interface.subnet-id",
            "network-interface.tag-key",
            "network-interface.tag-value",
            "network-interface.vpc-id",
            "network-performance-options.bandwidth-weighting",
            "operator.managed",
            "operator.principal",
            "outpost-arn",
            "owner-id",
            "placement-group-name",
            "placement-partition-number",
            "platform",
            "platform-details",
            "private-dns-name",
            "private-dns-name-options.enable-resource-name-dns-a-record",
            "private-dns-name-options.enable-resource-name-dns-aaaa-record",
            "private-dns-name-options.hostname-type",
            "private-ip-address",
            "product-code",
            "product-code.type",
            "ramdisk-id",
            "reason",
            "requester-id",
            "reservation-id",
            "root-device-name",
            "root-device-type",
            "source-dest-check",
            "spot-instance-request-id",
            "state-reason-code",
            "state-reason-message",
            "subnet-id",
            "tag-key",
            "tag:<key>",
            "tenancy",
            "tpm-support",
            "usage-operation",
            "usage-operation-update-time",
            "virtualization-type",
            "vpc-id",
        }
    ),
    "DescribeNetworkInterfaces": frozenset(
        {
            "addresses.association.owner-id",
            "addresses.association.public-ip",
            "addresses.primary",
            "addresses.private-ip-address",
            "association.allocation-id",
            "association.association-id",
            "association.ip-owner-id",
            "association.public-dns-name",
            "association.public-ip",
            "attachment.attach-time",
            "attachment.attachment-id",
            "attachment.delete-on-termination",
            "attachment.device-index",
            "attachment.instance-id",
            "attachment.instance-owner-id",
            "attachment.status",
            "availability-zone",
            "availability-zone-id",
            "description",
            "group-id",
            "interface-type",
            "ipv6-addresses.ipv6-address",
            "mac-address",
            "network-interface-id",
            "operator.managed",
            "operator.principal",
            "owner-id",
            "private-dns-name",
            "private-ip-address",
            "requester-id",
            "requester-managed",
            "source-dest-check",
            "status",
            "subnet-id",
            "tag-key",
            "tag:<key>",
            "vpc-id",
        }
    ),
    "DescribeTags": frozenset(
        {
            "key",
            "resource-id",
            "resource-type",
            "tag:<key>",
            "value",
        }
    ),
    "DescribeTrafficMirrorFilters": frozenset(
        {
            "description",
            "traffic-mirror-filter-id",
        }
    ),
    "DescribeTrafficMirrorSessions": frozenset(
        {
            "description",
            "network-interface-id",
            "owner-id",
            "packet-length",
            "session-number",
            "traffic-mirror-filter-id",
            "traffic-mirror-session-id",
            "traffic-mirror-target-id",
            "virtual-network-id",
        }
    ),
    "DescribeTrafficMirrorTargets": frozenset(
        {
            "description",
            "network-interface-id",
            "network-load-balancer-arn",
            "owner-id",
            "traffic-mirror-target-id",
        }
    ),
}


def is_documented(action: str, name: str) -> bool:
    """Whether EC2 documents the filter ``name`` for ``action`` (True for actions not listed:
    the table only judges what it knows)."""
    documented = DOCUMENTED_FILTERS.get(action)
    if documented is None:
        return True
    if name.startswith("tag:") and len(name) > len("tag:"):
        return TAG_PATTERN in documented
    return name in documented
