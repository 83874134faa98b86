"""The docs agree with the code: the reference tables with the schema, the counts with the
template, every relative link with a file and heading, and the README stays a landing page.

Tables read here: the property (attribute) table of a reference page is the first Markdown
table after its ``## Properties`` (``## Attributes``) heading, each row's first cell starting
with the name in backticks. A count ("11 parameters") is read as one about the template when
it counts alarms (only the template makes any), or when its sentence names the template.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from local.harness.lambda_loader import ROOT, read_template
from traffic_mirror.errors import ADVICE
from traffic_mirror.fleets.fleet import Tally
from traffic_mirror.fleets.schema import FLEET
from traffic_mirror.sessions.converge import attributes
from traffic_mirror.sessions.schema import FIELDS, IGNORED, Field, Update

README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: The pages whose relative links must resolve.
LINKED = [README, ROOT / "examples" / "README.md", *sorted(DOCS.glob("*.md"))]
MAX_README_LINES = 300

#: How each Update mode reads in the "On change" column (the cell starts with it).
ON_CHANGE = {
    Update.IN_PLACE: "in place",
    Update.REPLACE: "replacement",
    Update.PER_EVENT: "each event",
    Update.AT_CREATE: "at Create only",
}
#: Properties every resource type accepts besides its schema's fields.
EXTRA = {"Tags"} | IGNORED
#: A fleet's dry run adds this attribute to Tally.data (traffic_mirror.fleets.resource._check).
FLEET_DRY_RUN_ATTRIBUTE = "DryRun"

_WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
NUMBER_WORDS = {word: n for n, word in enumerate(_WORDS.split(" "))}


# --- Markdown helpers ---------------------------------------------------------------------------


def prose(text: str) -> str:
    """The text without fenced code blocks (their lines become empty, so line numbers hold)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else line)
    return "\n".join(out)


def table_after(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table after the heading, header excluded."""
    lines = prose(text).splitlines()
    start = lines.index(heading)  # ValueError: the heading is missing
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#") and rows:
            break
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    assert len(rows) > 2, f"no table after {heading!r}"
    return rows[2:]  # header and separator


def names_in(rows: list[list[str]]) -> list[str]:
    """The name each row's first cell starts with, in backticks."""
    names = []
    for row in rows:
        found = re.match(r"`([^`]+)`", row[0])
        assert found, f"each row's first cell starts with a name in backticks, got {row[0]!r}"
        names.append(found.group(1))
    return names


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every heading anchor of a Markdown file, GitHub's numbered repeats included."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path.read_text()).splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if not heading:
            continue
        base = slug(heading.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return frozenset(found)


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, target) of every Markdown link outside code."""
    for number, raw in enumerate(prose(path.read_text()).splitlines(), start=1):
        line = re.sub(r"`[^`]*`", "", raw)  # a link's text may hold code; the target never does
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            yield number, target


# --- Reference tables against the schema --------------------------------------------------------


def reference(page: str) -> str:
    return (DOCS / page).read_text()


def check_properties(page: str, fields: tuple[Field, ...]) -> None:
    rows = table_after(reference(page), "## Properties")
    names = names_in(rows)
    assert len(names) == len(set(names)), f"{page}: a property listed twice: {names}"
    expected = {f.name for f in fields} | EXTRA
    assert set(names) == expected, (
        f"{page}: missing {sorted(expected - set(names))}, unknown {sorted(set(names) - expected)}"
    )
    by_name = dict(zip(names, rows, strict=True))
    for f in fields:
        _, _, required, _, on_change = by_name[f.name][:5]
        assert required.startswith("yes") == f.required, (page, f.name, required)
        assert on_change.startswith(ON_CHANGE[f.update]), (page, f.name, on_change)


def check_attributes(page: str, expected: set[str]) -> None:
    names = names_in(table_after(reference(page), "## Attributes"))
    assert len(names) == len(set(names)), f"{page}: an attribute listed twice: {names}"
    assert set(names) == expected, (
        f"{page}: missing {sorted(expected - set(names))}, unknown {sorted(set(names) - expected)}"
    )


def test_session_properties_match_the_schema() -> None:
    check_properties("sessions.md", FIELDS)


def test_session_attributes_are_those_the_code_returns() -> None:
    session: Any = {"TrafficMirrorSessionId": "tms-1", "PacketLength": 100}
    check_attributes("sessions.md", set(attributes(session, "us-east-1", "aws")))


def test_fleet_properties_match_the_schema() -> None:
    check_properties("fleet.md", FLEET.fields)


def test_fleet_attributes_are_those_the_code_returns() -> None:
    check_attributes("fleet.md", set(Tally().data("fleet-1")) | {FLEET_DRY_RUN_ATTRIBUTE})


def test_the_fleets_dry_run_attribute_is_still_added_where_this_file_says() -> None:
    source = (ROOT / "provider" / "traffic_mirror" / "fleets" / "resource.py").read_text()
    assert f'"{FLEET_DRY_RUN_ATTRIBUTE}": "true"' in source


# --- Links -------------------------------------------------------------------------------------


def broken_links(path: Path) -> list[str]:
    broken = []
    for number, target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not dest.exists():
            broken.append(f"{where} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{where} (no such heading)")
    return broken


@pytest.mark.parametrize("path", LINKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_link_check_sees_links() -> None:
    # A check that found no links at all would pass on anything.
    assert sum(1 for _ in links(README)) > 10


# --- Numbers and names about the template ------------------------------------------------------


@cache
def template() -> dict[str, Any]:
    return read_template()


def template_counts() -> dict[str, int]:
    t = template()
    return {
        "parameters": len(t["Parameters"]),
        "outputs": len(t["Outputs"]),
        "exports": sum("Export" in o for o in t["Outputs"].values()),
        "alarms": sum(r["Type"] == "AWS::CloudWatch::Alarm" for r in t["Resources"].values()),
    }


def stated_counts(text: str) -> Iterator[tuple[str, int, str]]:
    """(what, number, the words) of every "three alarms", "11 parameters", "2 exports" ...
    about the template: alarms anywhere, the others in a sentence naming the template."""
    number = r"\b(\d+|" + "|".join(NUMBER_WORDS) + ")"
    pattern = number + r"\s+(?:CloudWatch\s+|template\s+)?(parameters|outputs|exports|alarms)\b"
    for sentence in re.split(r"(?<=\.)\s+(?=[A-Z`])", text):
        about_template = "template" in sentence.lower()
        for match in re.finditer(pattern, sentence, flags=re.IGNORECASE):
            word, what = match.group(1).lower(), match.group(2).lower()
            if what == "alarms" or about_template:
                yield what, int(word) if word.isdigit() else NUMBER_WORDS[word], match.group(0)


def test_every_count_the_docs_state_about_the_template_matches_it() -> None:
    counts = template_counts()
    wrong, seen = [], 0
    for path in LINKED:
        for what, n, words in stated_counts(" ".join(prose(path.read_text()).split())):
            seen += 1
            if n != counts[what]:
                wrong.append(
                    f"{path.relative_to(ROOT)}: {words!r}, the template has {counts[what]}"
                )
    assert wrong == []
    assert seen >= 3  # the deploy page states the parameters, outputs and exports


def test_the_template_says_how_many_alarms_it_makes() -> None:
    # Its own words: the AlarmTopicArn description (what a guided deploy and the console show).
    text = template()["Parameters"]["AlarmTopicArn"]["Description"]
    stated = [(what, n) for what, n, _ in stated_counts(text) if what == "alarms"]
    assert stated == [("alarms", template_counts()["alarms"])], text
    for name, resource in template()["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            assert name in text, name


def test_every_alarm_the_docs_name_exists() -> None:
    alarms = {
        n for n, r in template()["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    for path in LINKED:
        named = set(re.findall(r"\b([A-Z][A-Za-z]+Alarm)\b", path.read_text()))
        assert named <= alarms, (path.relative_to(ROOT), sorted(named - alarms))


def test_the_parameter_and_output_tables_list_the_templates() -> None:
    page = reference("deploy.md")
    params = names_in(table_after(page, "## Parameters"))
    assert sorted(params) == sorted(template()["Parameters"]), params
    outputs = names_in(table_after(page, "## Outputs"))
    assert sorted(outputs) == sorted(template()["Outputs"]), outputs


def test_every_parameter_is_grouped_labelled_and_described() -> None:
    """The console shows groups, labels and descriptions (a guided deploy shows only names,
    which docs/deploy.md answers)."""
    t = template()
    interface = t["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for g in interface["ParameterGroups"] for p in g["Parameters"]]
    assert sorted(grouped) == sorted(t["Parameters"])
    assert set(interface["ParameterLabels"]) == set(t["Parameters"])
    for name, param in t["Parameters"].items():
        assert len(param.get("Description", "")) > 30, name


# --- Troubleshooting -----------------------------------------------------------------------------


def test_every_advice_the_provider_gives_has_a_troubleshooting_row() -> None:
    rows = [
        line for line in prose(reference("troubleshooting.md")).splitlines() if line.startswith("|")
    ]
    missing = [code for code in ADVICE if not any(f"`{code}" in row for row in rows)]
    assert missing == []


# --- The README as a landing page --------------------------------------------------------------


def test_the_readme_is_a_landing_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    assert "make demo" in text
    assert "make test" in text


def test_the_readme_keeps_the_sample_output_markers() -> None:
    text = README.read_text()
    start = text.index("<!-- sample-output:demo:start -->")
    assert start < text.index("<!-- sample-output:demo:end -->")
