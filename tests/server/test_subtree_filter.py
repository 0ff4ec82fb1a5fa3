"""RFC 6241 §6 subtree filtering (agent.datatree.subtree) on plain lxml trees.

The RFC 6241 §6.4 examples are reproduced as golden cases (``RFC_DATA``, ``RFC_CASES``);
protocol tests can reuse them over the wire.
"""

from __future__ import annotations

import pytest
from lxml import etree

from agent.datatree import filter_selects, subtree_filter
from agent.schema import DEFAULT_MODULES, Schema

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
T = "http://example.com/schema/1.2/config"
PA = "urn:product-analytics:yang:product-analytics"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IANAIFT = "urn:ietf:params:xml:ns:yang:iana-if-type"
_PARSER = etree.XMLParser(remove_blank_text=True)

# RFC 6241 §6.4: the example configuration (users and interfaces).
RFC_DATA = f"""
<data xmlns="{NC}">
  <top xmlns="{T}">
    <users>
      <user><name>root</name><type>superuser</type><full-name>Charlie Root</full-name>
        <company-info><dept>1</dept><id>1</id></company-info></user>
      <user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name>
        <company-info><dept>2</dept><id>2</id></company-info></user>
      <user><name>barney</name><type>admin</type><full-name>Barney Rubble</full-name>
        <company-info><dept>2</dept><id>3</id></company-info></user>
    </users>
    <interfaces>
      <interface ifName="eth0"><ifName>eth0</ifName><mtu>1500</mtu></interface>
      <interface ifName="eth1"><ifName>eth1</ifName><mtu>9000</mtu></interface>
    </interfaces>
  </top>
</data>
"""

# (name, filter children, expected <data>) for RFC 6241 §6.4.2 - §6.4.8.
RFC_CASES: list[tuple[str, str, str]] = [
    ("6.4.2 empty filter", "", "<data/>"),
    (
        "6.4.3 entire users subtree",
        f'<top xmlns="{T}"><users/></top>',
        f'<data><top xmlns="{T}"><users>'
        "<user><name>root</name><type>superuser</type><full-name>Charlie Root</full-name>"
        "<company-info><dept>1</dept><id>1</id></company-info></user>"
        "<user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name>"
        "<company-info><dept>2</dept><id>2</id></company-info></user>"
        "<user><name>barney</name><type>admin</type><full-name>Barney Rubble</full-name>"
        "<company-info><dept>2</dept><id>3</id></company-info></user>"
        "</users></top></data>",
    ),
    (
        "6.4.4 all names",
        f'<top xmlns="{T}"><users><user><name/></user></users></top>',
        f'<data><top xmlns="{T}"><users><user><name>root</name></user>'
        "<user><name>fred</name></user><user><name>barney</name></user></users></top></data>",
    ),
    (
        "6.4.5 one entry",
        f'<top xmlns="{T}"><users><user><name>fred</name></user></users></top>',
        f'<data><top xmlns="{T}"><users>'
        "<user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name>"
        "<company-info><dept>2</dept><id>2</id></company-info></user></users></top></data>",
    ),
    (
        "6.4.6 specific leaves of one entry",
        f'<top xmlns="{T}"><users><user><name>fred</name><type/><full-name/></user></users></top>',
        f'<data><top xmlns="{T}"><users><user><name>fred</name><type>admin</type>'
        "<full-name>Fred Flintstone</full-name></user></users></top></data>",
    ),
    (
        "6.4.7 multiple subtrees",
        f'<top xmlns="{T}"><users>'
        "<user><name>root</name><company-info/></user>"
        "<user><name>fred</name><company-info><id/></company-info></user>"
        "<user><name>barney</name><type>superuser</type><company-info><dept/></company-info>"
        "</user></users></top>",
        f'<data><top xmlns="{T}"><users>'
        "<user><name>root</name><company-info><dept>1</dept><id>1</id></company-info></user>"
        "<user><name>fred</name><company-info><id>2</id></company-info></user>"
        "</users></top></data>",
    ),
    (
        "6.4.8 attribute match",
        f'<t:top xmlns:t="{T}"><t:interfaces><t:interface t:ifName="eth0"/></t:interfaces></t:top>',
        f'<data><top xmlns="{T}"><interfaces><interface ifName="eth0"><ifName>eth0</ifName>'
        "<mtu>1500</mtu></interface></interfaces></top></data>",
    ),
]


def parse(text: str) -> etree._Element:
    return etree.fromstring(text, _PARSER)


def filter_children(text: str) -> list[etree._Element]:
    return list(parse(f'<filter xmlns="{NC}" type="subtree">{text}</filter>'))


Shape = tuple[object, ...]


def canonical(element: etree._Element) -> Shape:
    """Namespace-aware, prefix-independent comparison form: (tag, attributes, text, children)."""
    return (
        element.tag,
        tuple(sorted(element.attrib.items())),
        (element.text or "").strip(),
        tuple(canonical(c) for c in element if isinstance(c.tag, str)),
    )


def expect(text: str) -> Shape:
    """The canonical form of ``text``; its outermost element is in the NETCONF namespace."""
    return canonical(parse(f'<wrap xmlns="{NC}">{text}</wrap>')[0])


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load(DEFAULT_MODULES)


@pytest.mark.parametrize(("name", "flt", "expected"), RFC_CASES, ids=[c[0] for c in RFC_CASES])
def test_rfc6241_examples(name: str, flt: str, expected: str) -> None:
    data = parse(RFC_DATA)
    result = subtree_filter(data, filter_children(flt))
    assert canonical(result) == expect(expected)


def test_rfc6241_6_4_8_attribute_with_the_wrong_value_selects_nothing() -> None:
    flt = (
        f'<t:top xmlns:t="{T}"><t:interfaces><t:interface t:ifName="eth9"/></t:interfaces></t:top>'
    )
    result = subtree_filter(parse(RFC_DATA), filter_children(flt))
    assert len(result) == 0


def test_attribute_match_on_a_key_leaf_extension() -> None:
    data = parse(
        f'<data xmlns="{NC}"><top xmlns="{T}"><users><user><name>fred</name><type>admin</type>'
        "</user><user><name>barney</name><type>admin</type></user></users></top></data>"
    )
    flt = f'<top xmlns="{T}"><users><user name="barney"/></users></top>'
    result = subtree_filter(data, filter_children(flt))
    assert canonical(result) == expect(
        f'<data><top xmlns="{T}"><users><user><name>barney</name><type>admin</type></user>'
        "</users></top></data>"
    )


def test_input_is_not_modified_and_output_is_a_new_tree() -> None:
    data = parse(RFC_DATA)
    before = canonical(data)
    result = subtree_filter(data, filter_children(f'<top xmlns="{T}"><users/></top>'))
    assert canonical(data) == before
    assert result is not data and result.tag == data.tag
    users = result.find(f"{{{T}}}top/{{{T}}}users")
    assert users is not None and users.getparent() is not None
    assert data.find(f"{{{T}}}top/{{{T}}}users") is not users


def test_namespace_selection() -> None:
    data = parse(RFC_DATA)
    other = subtree_filter(data, filter_children('<top xmlns="urn:other"><users/></top>'))
    assert len(other) == 0
    # a filter node without a namespace matches the local name in any namespace
    anyns = subtree_filter(
        data, filter_children('<top xmlns=""><users><user><name/></user></users></top>')
    )
    names = [e.text for e in anyns.iter(f"{{{T}}}name")]
    assert names == ["root", "fred", "barney"]


def test_multiple_content_match_siblings_must_all_match() -> None:
    data = parse(RFC_DATA)
    both = (
        f'<top xmlns="{T}"><users><user><type>admin</type><name>barney</name></user></users></top>'
    )
    result = subtree_filter(data, filter_children(both))
    assert [e.text for e in result.iter(f"{{{T}}}name")] == ["barney"]
    assert result.find(f".//{{{T}}}full-name") is not None  # whole entry: content match only
    mismatch = (
        f'<top xmlns="{T}"><users><user><type>superuser</type><name>barney</name></user>'
        "</users></top>"
    )
    assert len(subtree_filter(data, filter_children(mismatch))) == 0


def test_content_match_inside_a_containment_node_constrains_only_that_node() -> None:
    data = parse(RFC_DATA)
    flt = (
        f'<top xmlns="{T}"><users><user><company-info><dept>2</dept></company-info>'
        "<name/><nickname/></user></users></top>"
    )
    result = subtree_filter(data, filter_children(flt))
    # every user is selected by <name/>; company-info only where dept is 2, then whole
    # (it has only content match children); the missing <nickname> selects nothing
    assert canonical(result) == expect(
        f'<data><top xmlns="{T}"><users>'
        "<user><name>root</name></user>"
        "<user><name>fred</name><company-info><dept>2</dept><id>2</id></company-info></user>"
        "<user><name>barney</name><company-info><dept>2</dept><id>3</id></company-info></user>"
        "</users></top></data>"
    )


def test_no_empty_containers_are_emitted() -> None:
    data = parse(RFC_DATA)
    flt = (
        f'<top xmlns="{T}"><users><user><nickname/></user></users>'
        "<interfaces><x/></interfaces></top>"
    )
    result = subtree_filter(data, filter_children(flt))
    assert len(result) == 0


def test_selected_empty_container_is_emitted_as_selected() -> None:
    data = parse(f'<data xmlns="{NC}"><top xmlns="{T}"><users/></top></data>')
    result = subtree_filter(data, filter_children(f'<top xmlns="{T}"><users/></top>'))
    assert canonical(result) == expect(f'<data><top xmlns="{T}"><users/></top></data>')


def test_leaf_list_content_match_selects_matching_instances() -> None:
    data = parse(
        f'<data xmlns="{NC}"><top xmlns="{T}"><tag>a</tag><tag>b</tag><tag>c</tag>'
        "<other>x</other></top></data>"
    )
    flt = f'<top xmlns="{T}"><tag>b</tag><other/></top>'
    result = subtree_filter(data, filter_children(flt))
    assert canonical(result) == expect(
        f'<data><top xmlns="{T}"><tag>b</tag><other>x</other></top></data>'
    )


def test_identity_content_match_ignores_the_prefix_used() -> None:
    data = parse(
        f'<data xmlns="{NC}"><interfaces xmlns="{IF}" xmlns:ianaift="{IANAIFT}">'
        "<interface><name>eth0</name><type>ianaift:ethernetCsmacd</type></interface>"
        "<interface><name>lo</name><type>ianaift:softwareLoopback</type></interface>"
        "</interfaces></data>"
    )
    flt = (
        f'<interfaces xmlns="{IF}" xmlns:x="{IANAIFT}"><interface>'
        "<type>x:softwareLoopback</type><name/></interface></interfaces>"
    )
    result = subtree_filter(data, filter_children(flt))
    assert [e.text for e in result.iter(f"{{{IF}}}name")] == ["lo"]
    # the identity's prefix stays declared in the output
    type_leaf = result.find(f".//{{{IF}}}type")
    assert type_leaf is not None and type_leaf.nsmap.get("ianaift") == IANAIFT


def test_list_keys_are_kept_with_a_schema(schema: Schema) -> None:
    data = parse(
        f'<data xmlns="{NC}"><product-analytics xmlns="{PA}"><reports>'
        "<report><report-id>1</report-id><policy-version>1.0</policy-version>"
        "<kpi><name>a</name><value>1</value></kpi><kpi><name>b</name><value>2</value></kpi></report>"
        "<report><report-id>2</report-id><policy-version>1.1</policy-version></report>"
        "</reports></product-analytics></data>"
    )
    flt = (
        f'<product-analytics xmlns="{PA}"><reports><report><kpi><value/></kpi></report>'
        "</reports></product-analytics>"
    )
    with_keys = subtree_filter(data, filter_children(flt), schema=schema)
    assert canonical(with_keys) == expect(
        f'<data><product-analytics xmlns="{PA}"><reports><report><report-id>1</report-id>'
        "<kpi><name>a</name><value>1</value></kpi><kpi><name>b</name><value>2</value></kpi>"
        "</report></reports></product-analytics></data>"
    )
    without_schema = subtree_filter(data, filter_children(flt))
    assert without_schema.find(f".//{{{PA}}}report-id") is None


def test_two_filter_siblings_for_the_same_node_are_unioned() -> None:
    data = parse(RFC_DATA)
    flt = (
        f'<top xmlns="{T}"><users><user><name>fred</name><type/></user></users></top>'
        f'<top xmlns="{T}"><interfaces><interface><mtu/></interface></interfaces></top>'
    )
    result = subtree_filter(data, filter_children(flt))
    assert len(result) == 1  # one <top>, not two
    assert canonical(result) == expect(
        f'<data><top xmlns="{T}"><users><user><name>fred</name><type>admin</type></user></users>'
        '<interfaces><interface ifName="eth0"><mtu>1500</mtu></interface>'
        '<interface ifName="eth1"><mtu>9000</mtu></interface></interfaces></top></data>'
    )


def test_comments_in_the_filter_are_ignored() -> None:
    data = parse(RFC_DATA)
    flt = f'<!-- all users --><top xmlns="{T}"><!-- x --><users/></top>'
    result = subtree_filter(data, filter_children(flt))
    assert len(result.findall(f".//{{{T}}}user")) == 3


def test_filter_selects() -> None:
    children = filter_children(
        f'<top xmlns="{T}"><users/></top><status xmlns="{PA}"/><top xmlns="{T}"><x/></top>'
        '<anyns xmlns=""/>'
    )
    assert filter_selects(children, "urn:other", "top") is None
    assert filter_selects(children, PA, "status") is children[1]
    merged = filter_selects(children, T, "top")
    assert merged is not None and merged.tag == f"{{{T}}}top" and len(merged) == 0
    assert filter_selects(children, "urn:whatever", "anyns") is children[3]
    assert filter_selects([], T, "top") is None
