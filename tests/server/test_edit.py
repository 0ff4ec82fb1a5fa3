"""The edit-config tree algorithm on lists, leaf-lists and containers of IETF modules, and
datastore validation (keys, mandatory, types), without a session."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.api import RpcError
from agent.schema import Schema
from agent.server.datastores import empty_data
from agent.server.edit import Editor
from agent.server.validation import PaBindingValidator, validate_config

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IANAIFT = "urn:ietf:params:xml:ns:yang:iana-if-type"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"
PA = "urn:product-analytics:yang:product-analytics"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load()


def config(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}" xmlns:nc="{NC}">{body}</config>')


def interface(name: str, extra: str = "", attrs: str = "") -> str:
    return (
        f'<interface {attrs}><name>{name}</name><type xmlns:ianaift="{IANAIFT}">'
        f"ianaift:ethernetCsmacd</type>{extra}</interface>"
    )


def apply(schema: Schema, root: etree._Element, body: str, op: str = "merge") -> None:
    Editor(schema).apply(root, config(body), op)


def names(root: etree._Element) -> list[str]:
    return [e.text or "" for e in root.iterfind(f".//{{{IF}}}interface/{{{IF}}}name")]


def test_list_entries_matched_by_key(schema: Schema) -> None:
    root = empty_data()
    apply(
        schema,
        root,
        f'<interfaces xmlns="{IF}">{interface("eth0")}{interface("eth1")}</interfaces>',
    )
    apply(
        schema,
        root,
        f'<interfaces xmlns="{IF}">{interface("eth1", "<enabled>false</enabled>")}</interfaces>',
    )
    assert names(root) == ["eth0", "eth1"]
    entries = root.findall(f".//{{{IF}}}interface")
    assert entries[1].findtext(f"{{{IF}}}enabled") == "false"
    validate_config(schema, root)
    # delete one entry by key
    apply(
        schema,
        root,
        f'<interfaces xmlns="{IF}"><interface nc:operation="delete"><name>eth0</name>'
        "</interface></interfaces>",
    )
    assert names(root) == ["eth1"]
    # replace an entry: its other leaves go
    replaced = interface("eth1", "", 'nc:operation="replace"')
    apply(
        schema,
        root,
        f'<interfaces xmlns="{IF}">{replaced}</interfaces>',
    )
    assert root.find(f".//{{{IF}}}enabled") is None
    # identityref value keeps its prefix declaration
    type_element = root.find(f".//{{{IF}}}type")
    assert type_element is not None
    assert type_element.nsmap.get("ianaift") == IANAIFT


def test_list_entry_without_key_is_missing_element(schema: Schema) -> None:
    with pytest.raises(RpcError) as info:
        apply(
            schema,
            empty_data(),
            f'<interfaces xmlns="{IF}"><interface><enabled>true</enabled></interface></interfaces>',
        )
    assert info.value.tag == "missing-element"
    assert info.value.info == {"bad-element": "name"}


def test_mandatory_leaf_checked_by_validation(schema: Schema) -> None:
    root = empty_data()
    apply(
        schema,
        root,
        f'<interfaces xmlns="{IF}"><interface><name>eth0</name></interface></interfaces>',
    )
    with pytest.raises(RpcError) as info:
        validate_config(schema, root)
    assert info.value.tag == "missing-element"
    assert info.value.path == "/if:interfaces/if:interface[if:name='eth0']/if:type"


def test_bad_identityref(schema: Schema) -> None:
    with pytest.raises(RpcError) as info:
        apply(
            schema,
            empty_data(),
            f'<interfaces xmlns="{IF}"><interface><name>e</name><type>nonsense</type>'
            "</interface></interfaces>",
        )
    assert info.value.tag == "invalid-value"


def test_leaf_list_entries(schema: Schema) -> None:
    root = empty_data()
    body = (
        f'<system xmlns="{SYS}"><dns-resolver><search>a.example</search>'
        "<search>b.example</search></dns-resolver></system>"
    )
    apply(schema, root, body)
    apply(schema, root, body)  # merging the same values adds nothing
    search = [e.text for e in root.iter(f"{{{SYS}}}search")]
    assert search == ["a.example", "b.example"]
    apply(
        schema,
        root,
        f'<system xmlns="{SYS}"><dns-resolver><search nc:operation="delete">a.example</search>'
        "</dns-resolver></system>",
    )
    assert [e.text for e in root.iter(f"{{{SYS}}}search")] == ["b.example"]
    with pytest.raises(RpcError) as info:
        apply(
            schema,
            root,
            f'<system xmlns="{SYS}"><dns-resolver><search nc:operation="delete">a.example'
            "</search></dns-resolver></system>",
        )
    assert info.value.tag == "data-missing"


def test_continue_on_error_collects_every_error(schema: Schema) -> None:
    editor = Editor(schema, continue_on_error=True)
    root = empty_data()
    editor.apply(
        root,
        config(
            f'<product-analytics xmlns="{PA}"><storage>bad</storage><enabled>true</enabled>'
            "<colour/></product-analytics>"
        ),
        "merge",
    )
    assert [e.tag for e in editor.errors] == ["invalid-value", "unknown-element"]
    assert root.findtext(f".//{{{PA}}}enabled") == "true"


def test_binding_validator_rejects_and_restores(schema: Schema) -> None:
    binding = PaBindingValidator()
    good = etree.fromstring(
        f'<product-analytics xmlns="{PA}"><transport><retry><max-attempts>9</max-attempts>'
        "</retry></transport></product-analytics>"
    )
    binding.validate(good)
    bad = etree.fromstring(
        f'<product-analytics xmlns="{PA}"><transport><retry><max-attempts>0</max-attempts>'
        "</retry></transport></product-analytics>"
    )
    with pytest.raises(RpcError) as info:
        binding.validate(bad)
    assert info.value.path == "/pa:product-analytics/pa:transport/pa:retry/pa:max-attempts"
    # the cached binding holds nothing of earlier checks
    root = binding._root
    assert root.product_analytics.transport.retry.max_attempts._changed() is False


WD = "urn:ietf:params:xml:ns:netconf:default:1.0"


def test_settle_default_attributes_of_an_inline_configuration(schema: Schema) -> None:
    from agent.server.edit import settle_default_attributes

    root = etree.fromstring(
        f'<data xmlns="{NC}" xmlns:wd="{WD}"><product-analytics xmlns="{PA}">'
        '<storage wd:default="true">on-disk</storage>'
        '<transport><mode wd:default="false">off</mode>'
        '<retry><max-attempts wd:default="1">5</max-attempts></retry></transport>'
        "</product-analytics></data>"
    )
    settle_default_attributes(schema, root)
    # the tagged defaults are gone, the untagged ("false") leaf stays without its attribute
    assert root.find(f".//{{{PA}}}storage") is None
    assert root.find(f".//{{{PA}}}max-attempts") is None
    mode = root.find(f".//{{{PA}}}mode")
    assert mode is not None and dict(mode.attrib) == {}
    validate_config(schema, root, binding=PaBindingValidator())

    wrong = etree.fromstring(
        f'<data xmlns="{NC}" xmlns:wd="{WD}"><product-analytics xmlns="{PA}">'
        '<storage wd:default="true">in-memory</storage></product-analytics></data>'
    )
    with pytest.raises(RpcError) as info:
        settle_default_attributes(schema, wrong)
    assert info.value.tag == "invalid-value"
    assert info.value.path == "/pa:product-analytics/pa:storage"

    junk = etree.fromstring(
        f'<data xmlns="{NC}"><product-analytics xmlns="{PA}" colour="red"/></data>'
    )
    with pytest.raises(RpcError) as info:
        settle_default_attributes(schema, junk)
    assert info.value.tag == "unknown-attribute"
    assert info.value.info == {"bad-attribute": "colour", "bad-element": "product-analytics"}


def test_datastore_content_with_attributes_is_invalid(schema: Schema) -> None:
    root = etree.fromstring(
        f'<data xmlns="{NC}"><product-analytics xmlns="{PA}">'
        '<storage colour="red">on-disk</storage></product-analytics></data>'
    )
    with pytest.raises(RpcError) as info:
        validate_config(schema, root)
    assert info.value.tag == "unknown-attribute"
    assert info.value.info == {"bad-attribute": "colour", "bad-element": "storage"}
