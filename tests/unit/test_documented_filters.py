"""The embedded EC2's table of filter names agrees with the installed botocore's EC2 model.

Each operation's ``Filters`` member documents its names as ``<li><p><code>name</code> - ...``;
a tag filter appears as ``<code>tag</code>:&lt;key&gt;`` or ``<code>tag:&lt;key&gt;</code>``.
"""

from __future__ import annotations

import html
import re

import botocore.session
import pytest

from local.harness.documented import DOCUMENTED_FILTERS, TAG_PATTERN, is_documented

ITEM = re.compile(r"<li>(.*?)</li>", re.S)
NAME = re.compile(r"\s*(?:<p>)?\s*<code>([^<]+)</code>(:&lt;key&gt;)?")


def documented_names(documentation: str) -> set[str]:
    """The filter names a ``Filters`` member documentation lists, ``tag:<key>`` normalised."""
    names = set()
    for item in ITEM.findall(documentation):
        found = NAME.match(item)
        assert found, f"a filter entry without a <code> name: {item[:80]!r}"
        names.add(html.unescape(found[1] + (found[2] or "")))
    return names


def filters_doc(operation: str) -> str:
    model = botocore.session.get_session().get_service_model("ec2")
    shape = model.operation_model(operation).input_shape
    assert shape is not None
    return str(shape.members["Filters"].documentation)


@pytest.mark.parametrize("operation", sorted(DOCUMENTED_FILTERS))
def test_the_table_lists_exactly_the_filter_names_botocore_documents(operation: str) -> None:
    assert DOCUMENTED_FILTERS[operation] == documented_names(filters_doc(operation))


def test_the_comparison_detects_a_name_the_documentation_does_not_list() -> None:
    table = set(DOCUMENTED_FILTERS["DescribeTrafficMirrorSessions"]) | {"tag:<key>"}
    assert table != documented_names(filters_doc("DescribeTrafficMirrorSessions"))


def test_both_spellings_of_the_tag_filter_are_read_as_tag_key() -> None:
    doc = (
        "<ul><li><p><code>tag</code>:&lt;key&gt; - a tag.</p></li>"
        "<li><p><code>tag:&lt;key&gt;</code> - a tag.</p></li>"
        "<li><p><code>tag-key</code> - a key.</p></li></ul>"
    )
    assert documented_names(doc) == {TAG_PATTERN, "tag-key"}


def test_tag_filters_are_documented_for_tags_and_interfaces_but_not_for_sessions() -> None:
    assert is_documented("DescribeTags", "tag:Owner")
    assert is_documented("DescribeNetworkInterfaces", "tag:aws:autoscaling:groupName")
    assert is_documented("DescribeInstances", "tag:Name")
    assert not is_documented("DescribeTrafficMirrorSessions", "tag:Owner")
    assert not is_documented("DescribeTrafficMirrorTargets", "tag:Owner")
    assert not is_documented("DescribeTrafficMirrorFilters", "tag:Owner")
    assert not is_documented("DescribeTrafficMirrorSessions", "tag:")
    assert is_documented("DescribeTrafficMirrorSessions", "network-interface-id")
    assert not is_documented("DescribeTrafficMirrorSessions", "interface-id")
