"""Merging configuration and state trees, and stripping state (agent.datatree.merge)."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.datatree import merge_into, strip_config_false, strip_state
from agent.schema import DEFAULT_MODULES, Schema

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
PA = "urn:product-analytics:yang:product-analytics"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IANAIFT = "urn:ietf:params:xml:ns:yang:iana-if-type"
_PARSER = etree.XMLParser(remove_blank_text=True)


def parse(text: str) -> etree._Element:
    return etree.fromstring(text, _PARSER)


def shape(element: etree._Element) -> tuple[object, ...]:
    return (
        element.tag,
        (element.text or "").strip(),
        tuple(shape(c) for c in element if isinstance(c.tag, str)),
    )


def expect(text: str) -> tuple[object, ...]:
    return shape(parse(text))


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load(DEFAULT_MODULES)


RUNNING = f"""
<data xmlns="{NC}">
  <product-analytics xmlns="{PA}"><enabled>true</enabled>
    <transport><mode>direct</mode></transport></product-analytics>
  <interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">
    <interface><name>eth0</name><type>ianaift:ethernetCsmacd</type></interface>
    <interface><name>eth1</name><type>ianaift:ethernetCsmacd</type></interface>
  </interfaces>
</data>
"""

STATE = f"""
<data xmlns="{NC}">
  <product-analytics xmlns="{PA}">
    <status><state>available</state></status>
    <reports><report><report-id>7</report-id></report></reports>
  </product-analytics>
  <interfaces xmlns="{IF}">
    <interface><name>eth1</name><oper-status>up</oper-status></interface>
    <interface><name>eth2</name><oper-status>down</oper-status></interface>
  </interfaces>
</data>
"""

MERGED = f"""
<data xmlns="{NC}">
  <product-analytics xmlns="{PA}"><enabled>true</enabled>
    <transport><mode>direct</mode></transport>
    <status><state>available</state></status>
    <reports><report><report-id>7</report-id></report></reports></product-analytics>
  <interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">
    <interface><name>eth0</name><type>ianaift:ethernetCsmacd</type></interface>
    <interface><name>eth1</name><type>ianaift:ethernetCsmacd</type>
      <oper-status>up</oper-status></interface>
    <interface><name>eth2</name><oper-status>down</oper-status></interface>
  </interfaces>
</data>
"""


def test_config_and_state_merge_with_schema(schema: Schema) -> None:
    base = parse(RUNNING)
    overlay = parse(STATE)
    before = etree.tostring(overlay)
    result = merge_into(base, overlay, schema)
    assert result is base
    assert shape(base) == expect(MERGED)
    assert etree.tostring(overlay) == before


def test_config_and_state_merge_without_schema() -> None:
    # first leaves are keys (RFC 7950 §7.8.5), containers are unique: same result
    base = parse(RUNNING)
    merge_into(base, parse(STATE))
    assert shape(base) == expect(MERGED)


def test_merge_of_one_top_level_provider_tree(schema: Schema) -> None:
    base = parse(RUNNING)
    state = parse(STATE)[0]  # what a StateProvider returns: the top-level element
    wrapper = etree.Element(f"{{{NC}}}data")
    wrapper.append(state)
    merge_into(base, wrapper, schema)
    assert base.find(f"{{{PA}}}product-analytics/{{{PA}}}status/{{{PA}}}state") is not None


def test_overlay_leaves_win_and_list_entries_match_by_all_keys(schema: Schema) -> None:
    base = parse(
        f'<product-analytics xmlns="{PA}"><storage>on-disk</storage><reports>'
        "<report><report-id>1</report-id><kpi><name>a</name><value>1</value></kpi></report>"
        "</reports></product-analytics>"
    )
    overlay = parse(
        f'<product-analytics xmlns="{PA}"><storage>in-memory</storage><reports>'
        "<report><report-id>1</report-id><kpi><name>a</name><value>5</value></kpi>"
        "<kpi><name>b</name><value>6</value></kpi></report>"
        "<report><report-id>2</report-id></report></reports></product-analytics>"
    )
    merge_into(base, overlay, schema)
    assert shape(base) == expect(
        f'<product-analytics xmlns="{PA}"><storage>in-memory</storage><reports>'
        "<report><report-id>1</report-id><kpi><name>a</name><value>5</value></kpi>"
        "<kpi><name>b</name><value>6</value></kpi></report>"
        "<report><report-id>2</report-id></report></reports></product-analytics>"
    )


def test_leaf_lists_are_unioned() -> None:
    base = parse('<top xmlns="urn:t"><tag>a</tag><tag>b</tag></top>')
    overlay = parse('<top xmlns="urn:t"><tag>b</tag><tag>c</tag></top>')
    merge_into(base, overlay)
    assert [t.text for t in base] == ["a", "b", "c"]


def test_identity_prefixes_survive_the_merge() -> None:
    base = parse(f'<data xmlns="{NC}"/>')
    overlay = parse(
        f'<data xmlns="{NC}" xmlns:ianaift="{IANAIFT}"><interfaces xmlns="{IF}"><interface>'
        "<name>lo</name><type>ianaift:softwareLoopback</type></interface></interfaces></data>"
    )
    merge_into(base, overlay)
    leaf = base.find(f".//{{{IF}}}type")
    assert leaf is not None and leaf.nsmap.get("ianaift") == IANAIFT


def test_strip_config_false_removes_state_and_emptied_containers(schema: Schema) -> None:
    merged = parse(MERGED)
    strip_config_false(merged, schema)
    assert shape(merged) == expect(
        f"""<data xmlns="{NC}">
        <product-analytics xmlns="{PA}"><enabled>true</enabled>
          <transport><mode>direct</mode></transport></product-analytics>
        <interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">
          <interface><name>eth0</name><type>ianaift:ethernetCsmacd</type></interface>
          <interface><name>eth1</name><type>ianaift:ethernetCsmacd</type></interface>
          <interface><name>eth2</name></interface>
        </interfaces></data>"""
    )


def test_strip_drops_state_only_top_level_nodes_and_keeps_unknown_ones(schema: Schema) -> None:
    data = parse(
        f'<data xmlns="{NC}"><product-analytics xmlns="{PA}"><status><state>available</state>'
        "</status></product-analytics>"
        '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"/>'
        '<native xmlns="urn:vendor:native"><x>1</x></native></data>'
    )
    strip_state(data, schema)
    assert [etree.QName(e).localname for e in data] == ["native"]


def test_strip_on_a_top_level_element(schema: Schema) -> None:
    top = parse(
        f'<product-analytics xmlns="{PA}"><storage>on-disk</storage>'
        "<statistics><kpi><errors>0</errors></kpi></statistics></product-analytics>"
    )
    strip_config_false(top, schema)
    assert [etree.QName(e).localname for e in top] == ["storage"]


# -- prefixes used in values survive every copy (agent.datatree.copying) -------------------

NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
SESSIONS = (
    f'<data xmlns="{NC}"><netconf-state xmlns="{NCM}"><sessions><session>'
    f'<session-id>1</session-id><transport xmlns:ncm="{NCM}">ncm:netconf-ssh</transport>'
    "<username>admin</username></session></sessions></netconf-state></data>"
)


def assert_value_resolves(element: etree._Element | None, prefix: str, namespace: str) -> None:
    assert element is not None
    assert element.nsmap.get(prefix) == namespace
    # and it still does after serialising and parsing again
    reparsed = etree.fromstring(etree.tostring(element))
    assert reparsed.nsmap.get(prefix) == namespace


def test_value_prefix_for_an_already_declared_namespace_survives_merge(schema: Schema) -> None:
    # lxml drops xmlns:ncm when NCM is already the default namespace above: the copy
    # must notice that the value "ncm:netconf-ssh" needs it
    base = parse(f'<data xmlns="{NC}"/>')
    merge_into(base, parse(SESSIONS), schema)
    assert_value_resolves(base.find(f".//{{{NCM}}}transport"), "ncm", NCM)


def test_value_prefix_survives_subtree_and_xpath_filters() -> None:
    from agent.datatree import subtree_filter, xpath_filter

    data = parse(SESSIONS)
    flt = parse(
        f'<filter xmlns="{NC}"><netconf-state xmlns="{NCM}"><sessions/></netconf-state></filter>'
    )
    result = subtree_filter(data, list(flt))
    assert_value_resolves(result.find(f".//{{{NCM}}}transport"), "ncm", NCM)
    result = xpath_filter(data, "/m:netconf-state/m:sessions", {"m": NCM})
    assert_value_resolves(result.find(f".//{{{NCM}}}transport"), "ncm", NCM)


def test_replaced_leaf_value_keeps_its_prefix(schema: Schema) -> None:
    base = parse(
        f'<data xmlns="{NC}"><interfaces xmlns="{IF}"><interface><name>lo</name>'
        "<description>x</description></interface></interfaces></data>"
    )
    overlay = parse(
        f'<data xmlns="{NC}"><interfaces xmlns="{IF}" xmlns:t="{IANAIFT}"><interface>'
        "<name>lo</name><type>t:softwareLoopback</type></interface></interfaces></data>"
    )
    merge_into(base, overlay, schema)
    assert_value_resolves(base.find(f".//{{{IF}}}type"), "t", IANAIFT)
    # a value whose prefix means something else in the base is re-declared, not reused
    other = parse(
        f'<data xmlns="{NC}" xmlns:t="urn:other"><interfaces xmlns="{IF}"><interface>'
        "<name>lo</name><type>t:x</type></interface></interfaces></data>"
    )
    merge_into(other, overlay, schema)
    assert_value_resolves(other.find(f".//{{{IF}}}type"), "t", IANAIFT)
    assert len(other.findall(f".//{{{IF}}}type")) == 1


def test_a_provider_top_level_element_merges_straight_into_the_wrapper(schema: Schema) -> None:
    # how a StateProvider builds its tree: the identity prefix declared on the leaf itself
    state = etree.Element(f"{{{NCM}}}netconf-state", nsmap={None: NCM})  # type: ignore[dict-item]
    session = etree.SubElement(etree.SubElement(state, f"{{{NCM}}}sessions"), f"{{{NCM}}}session")
    etree.SubElement(session, f"{{{NCM}}}session-id").text = "1"
    transport = etree.SubElement(session, f"{{{NCM}}}transport", nsmap={"ncm": NCM})
    transport.text = "ncm:netconf-ssh"
    base = parse(f'<data xmlns="{NC}"/>')
    merge_into(base, state, schema)
    assert [etree.QName(e).localname for e in base] == ["netconf-state"]
    assert_value_resolves(base.find(f".//{{{NCM}}}transport"), "ncm", NCM)
    # the pitfall this avoids: appending the provider's tree to a wrapper drops xmlns:ncm
    wrapper = parse(f'<data xmlns="{NC}"/>')
    wrapper.append(state)
    moved = wrapper.find(f".//{{{NCM}}}transport")
    assert moved is not None and "ncm" not in moved.nsmap
