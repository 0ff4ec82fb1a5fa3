"""RFC 6243 with-defaults (agent.server.with_defaults): golden trees per mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from agent.api import RpcError
from agent.schema import DEFAULT_MODULES, Schema
from agent.server.with_defaults import (
    CAPABILITY,
    WD_ATTR,
    WD_ATTR_NS,
    WD_NS,
    apply_with_defaults,
    parse_with_defaults,
)

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
PA = "urn:product-analytics:yang:product-analytics"
EX = "urn:example:defaults"
_PARSER = etree.XMLParser(remove_blank_text=True)

EXAMPLE_MODULE = """
module example-defaults {
  yang-version 1.1;
  namespace "urn:example:defaults";
  prefix exd;
  identity kind;
  identity fast { base kind; }
  container settings {
    leaf kind { type identityref { base kind; } default exd:fast; }
    leaf level { type uint8; default 3; }
    leaf-list tags { type string; default red; default blue; }
    container np { leaf deep { type boolean; default true; } }
    container empty-np { leaf no-default { type string; } }
    container pres { presence "enables pres"; leaf inside { type int8; default -1; } }
    choice transport {
      default tcp;
      case tcp { leaf tcp-port { type uint16; default 830; } }
      case tls { leaf tls-port { type uint16; default 6513; } }
    }
    list entry {
      key name;
      leaf name { type string; }
      leaf weight { type decimal64 { fraction-digits 2; } default 1.5; }
    }
    container state { config false; leaf counter { type uint32; default 0; } }
  }
}
"""


def parse(text: str) -> etree._Element:
    return etree.fromstring(text, _PARSER)


def shape(element: etree._Element) -> tuple[object, ...]:
    """Tag, tagged?, text, children: namespace-aware and prefix-independent."""
    return (
        element.tag,
        element.get(WD_ATTR),
        (element.text or "").strip(),
        tuple(shape(c) for c in element if isinstance(c.tag, str)),
    )


def expect(text: str) -> tuple[object, ...]:
    return shape(parse(text))


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load(DEFAULT_MODULES)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    folder: Path = tmp_path_factory.mktemp("yang")
    (folder / "example-defaults.yang").write_text(EXAMPLE_MODULE)
    return Schema.load(["example-defaults"], [folder])


CONFIG = f"""<data xmlns="{NC}"><product-analytics xmlns="{PA}"><enabled>true</enabled>
  <transport><retry><max-attempts>5</max-attempts><max-interval>60</max-interval></retry>
  </transport></product-analytics></data>"""


def pa_only(data: etree._Element) -> etree._Element:
    """Keep only our module's tree (report-all also reports other modules' defaults)."""
    for top in list(data):
        if top.tag != f"{{{PA}}}product-analytics":
            data.remove(top)
    return data


def test_explicit_changes_nothing(schema: Schema) -> None:
    data = parse(CONFIG)
    before = etree.tostring(data)
    assert apply_with_defaults(data, schema, "explicit", config_only=True) is data
    assert etree.tostring(data) == before


def test_report_all(schema: Schema) -> None:
    data = pa_only(apply_with_defaults(parse(CONFIG), schema, "report-all", config_only=True))
    assert shape(data) == expect(
        f"""<data xmlns="{NC}"><product-analytics xmlns="{PA}"><enabled>true</enabled>
        <transport><retry><max-attempts>5</max-attempts><max-interval>60</max-interval>
          <initial-interval>60</initial-interval></retry><mode>off</mode></transport>
        <storage>on-disk</storage></product-analytics></data>"""
    )


def test_report_all_on_an_empty_datastore_reports_np_container_defaults(schema: Schema) -> None:
    data = apply_with_defaults(
        parse(f'<data xmlns="{NC}"/>'), schema, "report-all", config_only=True
    )
    storage = data.find(f"{{{PA}}}product-analytics/{{{PA}}}storage")
    assert storage is not None and storage.text == "on-disk"
    # config false nodes are left alone by get-config
    assert data.find(f"{{{PA}}}product-analytics/{{{PA}}}statistics") is None


def test_report_all_for_get_adds_state_defaults_under_existing_state(schema: Schema) -> None:
    data = parse(
        f'<data xmlns="{NC}"><product-analytics xmlns="{PA}"><statistics><data-store>'
        "<writes><count>4</count></writes></data-store></statistics></product-analytics></data>"
    )
    apply_with_defaults(data, schema, "report-all", config_only=False)
    store = data.find(f"{{{PA}}}product-analytics/{{{PA}}}statistics/{{{PA}}}data-store")
    assert store is not None
    assert store.findtext(f"{{{PA}}}writes/{{{PA}}}count") == "4"
    assert store.findtext(f"{{{PA}}}query-errors") == "0"
    # state containers the provider did not return are not invented
    assert store.find(f"{{{PA}}}queries") is None
    empty = parse(f'<data xmlns="{NC}"/>')
    apply_with_defaults(empty, schema, "report-all", config_only=False)
    assert empty.find(f"{{{PA}}}product-analytics/{{{PA}}}storage") is not None
    assert empty.find(f"{{{PA}}}product-analytics/{{{PA}}}statistics") is None
    assert empty.find("{urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring}netconf-state") is None


def test_report_all_tagged(schema: Schema) -> None:
    data = pa_only(
        apply_with_defaults(parse(CONFIG), schema, "report-all-tagged", config_only=True)
    )
    top = data[0]
    assert top.nsmap.get("wd") == WD_ATTR_NS  # serialised as wd:default
    assert b'wd:default="true"' in etree.tostring(top)
    assert shape(data) == shape(
        _tagged(
            f"""<data xmlns="{NC}"><product-analytics xmlns="{PA}"><enabled>true</enabled>
            <transport><retry><max-attempts T="1">5</max-attempts><max-interval>60</max-interval>
              <initial-interval T="1">60</initial-interval></retry><mode T="1">off</mode>
            </transport><storage T="1">on-disk</storage></product-analytics></data>"""
        )
    )


def _tagged(text: str) -> etree._Element:
    """Turn the shorthand attribute T="1" into wd:default="true"."""
    element = parse(text)
    for node in element.iter():
        if "T" in node.attrib:
            del node.attrib["T"]
            node.set(WD_ATTR, "true")
    return element


def test_trim(schema: Schema) -> None:
    data = parse(
        f'<data xmlns="{NC}"><product-analytics xmlns="{PA}"><enabled>true</enabled>'
        "<storage>on-disk</storage><transport><mode>off</mode><retry>"
        "<max-attempts>05</max-attempts><initial-interval>61</initial-interval></retry>"
        "</transport></product-analytics></data>"
    )
    apply_with_defaults(data, schema, "trim", config_only=True)
    assert shape(data) == expect(
        f'<data xmlns="{NC}"><product-analytics xmlns="{PA}"><enabled>true</enabled>'
        "<transport><retry><initial-interval>61</initial-interval></retry></transport>"
        "</product-analytics></data>"
    )


def test_trim_removes_containers_it_empties(schema: Schema) -> None:
    data = parse(
        f'<data xmlns="{NC}"><product-analytics xmlns="{PA}"><storage>on-disk</storage>'
        "<transport><mode>off</mode></transport></product-analytics></data>"
    )
    apply_with_defaults(data, schema, "trim", config_only=True)
    assert len(data) == 0


def test_example_report_all_choices_lists_identities_presence(example: Schema) -> None:
    data = parse(
        f'<data xmlns="{NC}"><settings xmlns="{EX}"><entry><name>a</name></entry>'
        "<entry><name>b</name><weight>2.25</weight></entry></settings></data>"
    )
    apply_with_defaults(data, example, "report-all", config_only=True)
    assert shape(data) == expect(
        f"""<data xmlns="{NC}"><settings xmlns="{EX}" xmlns:exd="{EX}">
        <entry><name>a</name><weight>1.5</weight></entry>
        <entry><name>b</name><weight>2.25</weight></entry>
        <kind>exd:fast</kind><level>3</level><tags>red</tags><tags>blue</tags>
        <np><deep>true</deep></np><tcp-port>830</tcp-port></settings></data>"""
    )
    kind = data.find(f".//{{{EX}}}kind")
    assert kind is not None and kind.nsmap.get("exd") == EX  # the identity's prefix resolves
    # no empty-np (no default inside), no pres (presence), no state (config_only)
    assert data.find(f".//{{{EX}}}empty-np") is None
    assert data.find(f".//{{{EX}}}pres") is None
    assert data.find(f".//{{{EX}}}state") is None


def test_example_active_case_wins_over_the_default_case(example: Schema) -> None:
    data = parse(
        f'<data xmlns="{NC}"><settings xmlns="{EX}"><tls-port>1</tls-port></settings></data>'
    )
    apply_with_defaults(data, example, "report-all", config_only=True)
    assert data.find(f".//{{{EX}}}tcp-port") is None
    assert data.findtext(f".//{{{EX}}}tls-port") == "1"


def test_example_existing_presence_container_gets_its_defaults(example: Schema) -> None:
    data = parse(f'<data xmlns="{NC}"><settings xmlns="{EX}"><pres/><state/></settings></data>')
    apply_with_defaults(data, example, "report-all", config_only=False)
    assert data.findtext(f".//{{{EX}}}pres/{{{EX}}}inside") == "-1"
    assert data.findtext(f".//{{{EX}}}state/{{{EX}}}counter") == "0"


def test_example_trim_compares_canonical_values_and_identities(example: Schema) -> None:
    data = parse(
        f'<data xmlns="{NC}"><settings xmlns="{EX}" xmlns:other="{EX}">'
        "<kind>other:fast</kind><level>3</level><entry><name>a</name><weight>1.50</weight></entry>"
        "<np><deep>false</deep></np><pres/></settings></data>"
    )
    apply_with_defaults(data, example, "trim", config_only=True)
    assert shape(data) == expect(
        f'<data xmlns="{NC}"><settings xmlns="{EX}"><entry><name>a</name></entry>'
        "<np><deep>false</deep></np><pres/></settings></data>"
    )


@pytest.mark.parametrize("mode", ["report-all", "report-all-tagged", "trim", "explicit"])
def test_parse_each_mode(mode: str) -> None:
    op = parse(f'<get xmlns="{NC}"><with-defaults xmlns="{WD_NS}">{mode}</with-defaults></get>')
    assert parse_with_defaults(op) == mode


def test_parse_absent_and_bad_values() -> None:
    assert parse_with_defaults(parse(f'<get xmlns="{NC}"/>')) is None
    bad = parse(f'<get xmlns="{NC}"><with-defaults xmlns="{WD_NS}">all</with-defaults></get>')
    with pytest.raises(RpcError) as info:
        parse_with_defaults(bad)
    assert info.value.tag == "invalid-value" and "all" in info.value.message
    twice = parse(
        f'<get xmlns="{NC}"><with-defaults xmlns="{WD_NS}">trim</with-defaults>'
        f'<with-defaults xmlns="{WD_NS}">trim</with-defaults></get>'
    )
    with pytest.raises(RpcError) as info:
        parse_with_defaults(twice)
    assert info.value.tag == "bad-element"
    # the parameter in the wrong namespace is not the with-defaults parameter
    wrong = parse(f'<get xmlns="{NC}"><with-defaults>trim</with-defaults></get>')
    assert parse_with_defaults(wrong) is None


def test_capability_string() -> None:
    assert CAPABILITY == (
        "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit"
        "&also-supported=report-all,report-all-tagged,trim"
    )
