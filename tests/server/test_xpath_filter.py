"""RFC 6241 :xpath:1.0 filtering (agent.datatree.xpath) on plain lxml trees."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.api import RpcError
from agent.datatree import xpath_filter, xpath_selects
from agent.datatree.xpath import inherit_prefixes
from agent.schema import DEFAULT_MODULES, Schema

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
PA = "urn:product-analytics:yang:product-analytics"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IANAIFT = "urn:ietf:params:xml:ns:yang:iana-if-type"
_PARSER = etree.XMLParser(remove_blank_text=True)

DATA = f"""
<data xmlns="{NC}">
  <product-analytics xmlns="{PA}">
    <enabled>true</enabled>
    <storage>on-disk</storage>
    <reports>
      <report><report-id>1</report-id><policy-version>1.0</policy-version>
        <kpi><name>a</name><value>1</value></kpi><kpi><name>b</name><value>2</value></kpi>
      </report>
      <report><report-id>2</report-id><policy-version>1.1</policy-version></report>
    </reports>
  </product-analytics>
  <interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">
    <interface><name>eth0</name><type>ianaift:ethernetCsmacd</type><enabled>true</enabled>
    </interface>
    <interface><name>lo</name><type>ianaift:softwareLoopback</type><enabled>false</enabled>
    </interface>
  </interfaces>
</data>
"""

Shape = tuple[object, ...]


def parse(text: str) -> etree._Element:
    return etree.fromstring(text, _PARSER)


def canonical(element: etree._Element) -> Shape:
    """Namespace-aware, prefix-independent comparison form."""
    return (
        element.tag,
        tuple(sorted(element.attrib.items())),
        (element.text or "").strip(),
        tuple(canonical(c) for c in element if isinstance(c.tag, str)),
    )


def expect(text: str) -> Shape:
    return canonical(parse(f'<wrap xmlns="{NC}">{text}</wrap>')[0])


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load(DEFAULT_MODULES)


# (expression, prefixes, expected <data>) golden cases, evaluated with the schema
XPATH_CASES: list[tuple[str, dict[str, str], str]] = [
    (
        "/pa:product-analytics/pa:storage",
        {"pa": PA},
        f'<data><product-analytics xmlns="{PA}"><storage>on-disk</storage></product-analytics>'
        "</data>",
    ),
    (
        "/pa:product-analytics/pa:reports/pa:report[pa:report-id='2']/pa:policy-version",
        {"pa": PA},
        f'<data><product-analytics xmlns="{PA}"><reports><report><report-id>2</report-id>'
        "<policy-version>1.1</policy-version></report></reports></product-analytics></data>",
    ),
    (
        "//pa:kpi[pa:value > 1]",
        {"pa": PA},
        f'<data><product-analytics xmlns="{PA}"><reports><report><report-id>1</report-id>'
        "<kpi><name>b</name><value>2</value></kpi></report></reports></product-analytics></data>",
    ),
    (
        "/if:interfaces/if:interface[if:enabled='false'] | /pa:product-analytics/pa:enabled",
        {"if": IF, "pa": PA},
        f'<data><product-analytics xmlns="{PA}"><enabled>true</enabled></product-analytics>'
        f'<interfaces xmlns="{IF}"><interface><name>lo</name>'
        "<type>ianaift:softwareLoopback</type><enabled>false</enabled></interface>"
        "</interfaces></data>",
    ),
    (
        "/pa:product-analytics/pa:reports/pa:report/pa:report-id/text()",
        {"pa": PA},
        f'<data><product-analytics xmlns="{PA}"><reports><report><report-id>1</report-id>'
        "</report><report><report-id>2</report-id></report></reports></product-analytics>"
        "</data>",
    ),
    ("/pa:product-analytics/pa:nothing", {"pa": PA}, "<data/>"),
]


@pytest.mark.parametrize(("expr", "prefixes", "expected"), XPATH_CASES)
def test_golden_cases(schema: Schema, expr: str, prefixes: dict[str, str], expected: str) -> None:
    result = xpath_filter(parse(DATA), expr, prefixes, schema=schema)
    assert canonical(result) == expect(expected)


def test_selected_node_keeps_its_subtree_and_ancestors_only() -> None:
    data = parse(DATA)
    result = xpath_filter(data, "/p:product-analytics/p:reports/p:report[1]", {"p": PA})
    reports = result.findall(f".//{{{PA}}}report")
    assert len(reports) == 1
    assert [k.findtext(f"{{{PA}}}name") for k in reports[0].findall(f"{{{PA}}}kpi")] == ["a", "b"]
    assert result.find(f".//{{{PA}}}storage") is None
    assert result.find(f"{{{IF}}}interfaces") is None


def test_ancestor_list_entries_keep_keys_only_with_a_schema(schema: Schema) -> None:
    expr = "/pa:product-analytics/pa:reports/pa:report/pa:kpi/pa:value"
    with_schema = xpath_filter(parse(DATA), expr, {"pa": PA}, schema=schema)
    assert [e.text for e in with_schema.iter(f"{{{PA}}}name")] == ["a", "b"]
    assert [e.text for e in with_schema.iter(f"{{{PA}}}report-id")] == ["1"]
    without = xpath_filter(parse(DATA), expr, {"pa": PA})
    assert list(without.iter(f"{{{PA}}}name")) == []


def test_prefixes_come_from_the_filter_element_nsmap() -> None:
    flt = parse(
        f'<filter xmlns="{NC}" xmlns:t="{PA}" type="xpath"'
        ' select="/t:product-analytics/t:enabled"/>'
    )
    result = xpath_filter(parse(DATA), flt.get("select") or "", flt.nsmap)
    assert [e.text for e in result.iter(f"{{{PA}}}enabled")] == ["true"]


def test_module_names_and_prefixes_are_a_fallback_with_a_schema(schema: Schema) -> None:
    by_name = xpath_filter(
        parse(DATA),
        "/product-analytics:product-analytics/product-analytics:storage",
        {},
        schema=schema,
    )
    by_prefix = xpath_filter(parse(DATA), "/pa:product-analytics/pa:storage", {}, schema=schema)
    assert canonical(by_name) == canonical(by_prefix)
    assert [e.text for e in by_name.iter(f"{{{PA}}}storage")] == ["on-disk"]
    # a declared prefix wins over the module prefix of the same name
    other = xpath_filter(parse(DATA), "/pa:interfaces", {"pa": IF}, schema=schema)
    assert other.find(f"{{{IF}}}interfaces") is not None


def test_identity_prefixes_stay_declared() -> None:
    result = xpath_filter(parse(DATA), "//if:type", {"if": IF})
    for leaf in result.iter(f"{{{IF}}}type"):
        assert leaf.nsmap.get("ianaift") == IANAIFT


def test_the_root_node_selects_everything() -> None:
    data = parse(DATA)
    result = xpath_filter(data, "/", {})
    assert [etree.QName(e).localname for e in result] == ["product-analytics", "interfaces"]
    assert len(list(result.iter())) == len(list(data.iter()))


def test_input_is_not_modified() -> None:
    data = parse(DATA)
    before = etree.tostring(data)
    xpath_filter(data, "//pa:report", {"pa": PA})
    assert etree.tostring(data) == before


@pytest.mark.parametrize(
    ("expr", "prefixes", "fragment"),
    [
        ("/x:product-analytics", {}, "prefix 'x'"),
        ("/pa:product-analytics[", {"pa": PA}, "not valid XPath"),
        ("count(/pa:product-analytics)", {"pa": PA}, "does not select nodes"),
        ("/pa:product-analytics[no-such-function()]", {"pa": PA}, "cannot be evaluated"),
        ("   ", {}, "empty"),
    ],
)
def test_errors_are_invalid_value(expr: str, prefixes: dict[str, str], fragment: str) -> None:
    with pytest.raises(RpcError) as info:
        xpath_filter(parse(DATA), expr, prefixes)
    assert info.value.tag == "invalid-value"
    assert info.value.type == "protocol"
    assert fragment in info.value.message


def test_unknown_prefix_without_schema_is_an_error_even_for_module_names() -> None:
    with pytest.raises(RpcError, match="prefix 'pa'"):
        xpath_filter(parse(DATA), "/pa:product-analytics", {})


def test_prefix_inside_a_string_literal_is_not_a_prefix() -> None:
    result = xpath_filter(parse(DATA), "//pa:kpi[pa:name != 'x:y']/pa:name", {"pa": PA})
    assert [e.text for e in result.iter(f"{{{PA}}}name")] == ["a", "b"]


@pytest.mark.parametrize(
    ("expr", "namespace", "name", "selects"),
    [
        ("/pa:product-analytics/pa:storage", PA, "product-analytics", True),
        ("/pa:product-analytics/pa:storage", IF, "interfaces", False),
        ("/pa:product-analytics | /if:interfaces", IF, "interfaces", True),
        ("/pa:product-analytics | /if:interfaces", PA, "status", False),
        ("//pa:storage", IF, "interfaces", True),
        ("/*", IF, "interfaces", True),
        ("/pa:*", IF, "interfaces", False),
        ("(/pa:product-analytics)", IF, "interfaces", False),
        ("/pa:product-analytics[pa:x='a|b']", IF, "interfaces", False),
        ("count(/pa:x) > 0", IF, "interfaces", True),
        ("/unknown:x", IF, "interfaces", True),  # unsure: the filter itself will fail
    ],
)
def test_xpath_selects_is_conservative(expr: str, namespace: str, name: str, selects: bool) -> None:
    assert xpath_selects(expr, {"pa": PA, "if": IF}, namespace, name) is selects


@pytest.mark.parametrize(
    ("expr", "rewritten"),
    [
        ("/pa:product-analytics/status", "/pa:product-analytics/pa:status"),
        ("/pa:a/b[c='x']/d", "/pa:a/pa:b[pa:c='x']/pa:d"),
        ("/pa:a/b[@name='x' and c>1]", "/pa:a/pa:b[@name='x' and pa:c>1]"),
        ("count(/pa:a/b) > 1", "count(/pa:a/pa:b) > 1"),
        ("/pa:a/* | /if:x/y", "/pa:a/* | /if:x/if:y"),
        ("/pa:a/b/text()", "/pa:a/pa:b/text()"),
        ("/pa:a/b[. = 3 * 2]", "/pa:a/pa:b[. = 3 * 2]"),
        ("//pa:event[count div 2 > 1]", "//pa:event[pa:count div 2 > 1]"),
        ("/x:a/y:b/c", "/x:a/y:b/y:c"),
        ("/a/b", "/a/b"),
    ],
)
def test_unprefixed_steps_inherit_the_previous_prefix(expr: str, rewritten: str) -> None:
    assert inherit_prefixes(expr) == rewritten


def test_ios_xe_style_filter_with_prefix_on_the_first_step_only(schema: Schema) -> None:
    result = xpath_filter(
        parse(DATA), "/pa:product-analytics/reports/report[report-id='2']", {}, schema=schema
    )
    assert [e.text for e in result.iter(f"{{{PA}}}policy-version")] == ["1.1"]
    ifs = xpath_filter(parse(DATA), "/if:interfaces/interface[enabled='true']/name", {"if": IF})
    assert [e.text for e in ifs.iter(f"{{{IF}}}name")] == ["eth0"]
