"""The YANG schema layer (agent.schema): loading, node lookup, types, module metadata."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from agent.schema import DEFAULT_MODULES, Schema, SchemaError

PA = "urn:product-analytics:yang:product-analytics"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IP = "urn:ietf:params:xml:ns:yang:ietf-ip"
IANAIFT = "urn:ietf:params:xml:ns:yang:iana-if-type"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SYS = "urn:ietf:params:xml:ns:yang:ietf-system"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load(DEFAULT_MODULES)


def test_every_default_module_loads_and_is_implemented(schema: Schema) -> None:
    implemented = {m.name for m in schema.modules() if m.conformance == "implement"}
    assert implemented == set(DEFAULT_MODULES)
    imported = {m.name for m in schema.modules() if m.conformance == "import"}
    # ietf-system imports these without implementing them
    assert imported == {"ietf-netconf-acm", "iana-crypt-hash"}


def test_load_is_fast_enough_for_server_start(tmp_path: Path) -> None:
    # an empty extra search folder makes a new cache key, so this is a real pyang load;
    # not a timing assertion on the machine, just a guard against pathological slowness
    # (the budget is ~1 s; 10 s only fails when something is badly wrong)
    start = time.perf_counter()
    schema = Schema.load(DEFAULT_MODULES, [tmp_path])
    assert time.perf_counter() - start < 10
    assert schema is not Schema.load(DEFAULT_MODULES)


def test_module_metadata(schema: Schema) -> None:
    pa = schema.module("product-analytics")
    assert pa is not None
    assert (pa.revision, pa.namespace, pa.prefix, pa.yang_version) == (
        "2026-12-03",
        PA,
        "pa",
        "1.1",
    )
    assert pa.text.startswith("module product-analytics {")
    assert pa.path.name == "product-analytics.yang"
    netconf = schema.module("ietf-netconf", "2011-06-01")
    assert netconf is not None and netconf.yang_version == "1"
    assert "candidate" in netconf.features and "url" not in netconf.features
    assert schema.module("ietf-netconf", "1999-01-01") is None
    assert schema.module_by_namespace(IF) is schema.module("ietf-interfaces")
    assert schema.namespace_of("pa") == PA
    assert schema.namespace_of("product-analytics") == PA


def test_top_level_nodes_and_paths(schema: Schema) -> None:
    top = schema.top(PA, "product-analytics")
    assert top is not None and top.kind == "container" and top.config and not top.presence
    storage = top.child(PA, "storage")
    assert storage is not None
    assert storage.path() == "/pa:product-analytics/pa:storage"
    assert storage.default == "on-disk"
    assert storage.type is not None and storage.type.enums == ("in-memory", "on-disk")
    assert schema.top(PA, "storage") is None
    names = {(n.module, n.name) for n in schema.tops()}
    assert ("ietf-interfaces", "interfaces") in names
    assert ("ietf-yang-library", "yang-library") in names
    assert ("ietf-netconf-monitoring", "netconf-state") in names


def test_config_false_is_inherited(schema: Schema) -> None:
    top = schema.top(PA, "product-analytics")
    assert top is not None
    reports = top.child(PA, "reports")
    assert reports is not None and not reports.config
    report = reports.child(PA, "report")
    assert report is not None and report.kind == "list" and report.keys == ("report-id",)
    kpi = report.child(PA, "kpi")
    assert kpi is not None and not kpi.config and kpi.keys == ("name",)
    value = kpi.child(PA, "value")
    assert value is not None and not value.config


def test_defaults_come_from_typedefs_too(schema: Schema) -> None:
    top = schema.top(PA, "product-analytics")
    assert top is not None
    writes = top.child(PA, "statistics").child(PA, "data-store").child(PA, "writes")  # type: ignore[union-attr]
    count = writes.child(PA, "count")  # type: ignore[union-attr]
    # yang:zero-based-counter64 has default "0"
    assert count is not None and count.default == "0"
    retry = top.child(PA, "transport").child(PA, "retry")  # type: ignore[union-attr]
    assert retry is not None
    interval = retry.child(PA, "initial-interval")
    assert interval is not None and interval.default == "60" and interval.units == "seconds"


def test_augments_from_implemented_modules_appear(schema: Schema) -> None:
    interface = schema.top(IF, "interfaces").child(IF, "interface")  # type: ignore[union-attr]
    assert interface is not None
    ipv4 = interface.child(IP, "ipv4")
    assert ipv4 is not None and ipv4.module == "ietf-ip"
    assert ipv4.path() == "/if:interfaces/if:interface/ip:ipv4"


def test_disabled_features_remove_nodes(schema: Schema) -> None:
    edit = schema.rpc(NC, "edit-config")
    assert edit is not None and edit.input is not None
    names = [c.name for c in edit.input.children()]
    # :url is not enabled, so the url case of edit-content is gone; config stays
    assert "config" in names and "url" not in names
    config = edit.input.child(NC, "config")
    assert config is not None and config.kind == "anyxml"
    assert config.choice == ("edit-content", "config")


def test_disabled_features_can_be_enabled(tmp_path: Path) -> None:
    schema = Schema.load(["ietf-netconf"], features={"ietf-netconf": ["url"]})
    edit = schema.rpc(NC, "edit-config")
    assert edit is not None and edit.input is not None
    assert edit.input.child(NC, "url") is not None
    assert edit.input.child(NC, "test-option") is None  # validate feature is now off


def test_rpc_input_and_output(schema: Schema) -> None:
    generate = schema.rpc(PA, "generate-report")
    assert generate is not None and generate.module == "product-analytics"
    assert generate.output is not None
    assert generate.output.child(PA, "report-id") is not None
    get_config = schema.rpc(NC, "get-config")
    assert get_config is not None and get_config.input is not None
    wd = get_config.input.child(
        "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults", "with-defaults"
    )
    assert wd is not None and wd.module == "ietf-netconf-with-defaults"
    assert schema.rpc(PA, "no-such-rpc") is None


def test_notifications(schema: Schema) -> None:
    note = schema.notification(PA, "report-generated")
    assert note is not None
    assert note.body.child(PA, "kpi-count") is not None


@pytest.mark.parametrize(
    ("path", "good", "bad"),
    [
        (("transport", "retry", "max-attempts"), ["1", "100", " 5 ", "+7"], ["0", "101", "x", ""]),
        (("storage",), ["in-memory", "on-disk"], ["disk", ""]),
        (("enabled",), ["true", "false"], ["yes", "1"]),
        (("transport", "url"), ["https://c.example/pa"], []),
    ],
)
def test_check_value_on_our_module(
    schema: Schema, path: tuple[str, ...], good: list[str], bad: list[str]
) -> None:
    node = schema.top(PA, "product-analytics")
    for name in path:
        assert node is not None
        node = node.child(PA, name)
    assert node is not None
    for value in good:
        assert node.check_value(value) is None, value
    for value in bad:
        message = node.check_value(value)
        assert message is not None and message, value


def test_check_value_error_messages_say_why(schema: Schema) -> None:
    retry = schema.top(PA, "product-analytics").child(PA, "transport").child(PA, "retry")  # type: ignore[union-attr]
    node = retry.child(PA, "max-attempts")  # type: ignore[union-attr]
    assert node is not None
    assert node.check_value("101") == "101 is outside the range 1..100"
    assert "not an integer" in (node.check_value("ten") or "")


def test_check_value_patterns_unions_and_identities(schema: Schema) -> None:
    interface = schema.top(IF, "interfaces").child(IF, "interface")  # type: ignore[union-attr]
    assert interface is not None
    iftype = interface.child(IF, "type")
    assert iftype is not None and iftype.type is not None
    assert iftype.type.base == "identityref"
    assert iftype.check_value("ianaift:ethernetCsmacd") is None
    assert iftype.check_value("x:ethernetCsmacd", {"x": IANAIFT}) is None
    assert iftype.check_value("iana-if-type:softwareLoopback") is None
    assert iftype.check_value("ianaift:noSuchType") is not None
    assert iftype.check_value("zz:ethernetCsmacd") is not None
    ipv4 = interface.child(IP, "ipv4")
    address = ipv4.child(IP, "address")  # type: ignore[union-attr]
    ip = address.child(IP, "ip")  # type: ignore[union-attr]
    assert ip is not None
    assert ip.check_value("192.0.2.1") is None
    assert ip.check_value("192.0.2.300") is not None  # pattern of inet:ipv4-address-no-zone
    prefix_length = address.child(IP, "prefix-length")  # type: ignore[union-attr]
    assert prefix_length is not None
    assert prefix_length.check_value("32") is None
    assert prefix_length.check_value("33") is not None
    ntp_server = schema.top(SYS, "system").child(SYS, "ntp").child(SYS, "server")  # type: ignore[union-attr]
    udp = ntp_server.child(SYS, "udp")  # type: ignore[union-attr]
    assert udp is not None and udp.choice == ("transport", "udp")
    udp_address = udp.child(SYS, "address")
    assert udp_address is not None and udp_address.type is not None
    assert udp_address.type.base == "union"
    assert udp_address.check_value("ntp.example.net") is None
    assert udp_address.check_value("2001:db8::1") is None
    assert udp_address.check_value("bad host name!") is not None


def test_check_value_leafref_uses_the_target_type(schema: Schema) -> None:
    interface = schema.top(IF, "interfaces").child(IF, "interface")  # type: ignore[union-attr]
    lower = interface.child(IF, "lower-layer-if")  # type: ignore[union-attr]
    assert lower is not None and lower.type is not None and lower.type.base == "leafref"
    assert lower.type.target is not None and lower.type.target.base == "string"
    assert lower.check_value("eth0") is None


def test_decimal64_canonical_and_bounds(schema: Schema) -> None:
    # ietf-system has no decimal64; ietf-hardware's sensor value is an int; build one here
    from agent.schema import TypeInfo

    info = TypeInfo(
        name="d",
        base="decimal64",
        fraction_digits=2,
        ranges=(((-1, 10),),),
    )
    assert info.check("1.25") is None
    assert info.check("1.255") is not None
    assert info.check("11") is not None
    assert info.canonical("01.50") == "1.5"
    assert info.canonical("2") == "2.0"


def test_find_walks_through_wrappers(schema: Schema) -> None:
    data = etree.fromstring(
        f'<rpc-reply xmlns="{NC}"><data><product-analytics xmlns="{PA}">'
        "<transport><retry><max-attempts>3</max-attempts></retry></transport>"
        "<unknown/></product-analytics></data></rpc-reply>"
    )
    leaf = data.find(f".//{{{PA}}}max-attempts")
    assert leaf is not None
    node = schema.find(leaf)
    assert node is not None
    assert node.path() == "/pa:product-analytics/pa:transport/pa:retry/pa:max-attempts"
    assert schema.find(data) is None
    unknown = data.find(f".//{{{PA}}}unknown")
    assert unknown is not None and schema.find(unknown) is None


def test_yin_form_is_xml(schema: Schema) -> None:
    yin = schema.yin("ietf-datastores")
    assert yin is not None
    root = etree.fromstring(yin.encode())
    assert root.tag == "{urn:ietf:params:xml:ns:yang:yin:1}module"
    assert root.get("name") == "ietf-datastores"
    assert schema.yin("no-such-module") is None


def test_missing_module_fails_loudly() -> None:
    with pytest.raises(SchemaError, match="no-such-module"):
        Schema.load(["no-such-module"])


def test_yang_errors_fail_loudly(tmp_path: Path) -> None:
    (tmp_path / "broken.yang").write_text(
        'module broken { yang-version 1.1; namespace "urn:broken"; prefix b;\n'
        "  leaf x { type no-such-type; } }\n"
    )
    with pytest.raises(SchemaError, match="no-such-type"):
        Schema.load(["broken"], [tmp_path])


def test_search_path_comes_first(tmp_path: Path) -> None:
    (tmp_path / "extra.yang").write_text(
        'module extra { yang-version 1.1; namespace "urn:extra"; prefix ex;\n'
        "  import ietf-inet-types { prefix inet; }\n"
        '  container top { presence "p"; leaf host { type inet:host; default "a.example"; }\n'
        "    choice how { default fast; case fast { leaf speed { type uint8; default 3; } }\n"
        "      case slow { leaf delay { type uint8; } } }\n"
        '    list item { key "k1 k2"; ordered-by user; leaf k1 { type string; }\n'
        "      leaf k2 { type int8; } leaf-list tag { type string; default a; default b; } } } }\n"
    )
    schema = Schema.load(["extra"], [tmp_path])
    top = schema.top("urn:extra", "top")
    assert top is not None and top.presence
    speed = top.child("urn:extra", "speed")
    assert speed is not None and speed.choice == ("how", "fast") and speed.in_default_case
    delay = top.child("urn:extra", "delay")
    assert delay is not None and not delay.in_default_case
    item = top.child("urn:extra", "item")
    assert item is not None and item.keys == ("k1", "k2") and item.ordered_by_user
    tag = item.child("urn:extra", "tag")
    assert tag is not None and tag.kind == "leaf-list" and tag.defaults == ("a", "b")
    extra = schema.module("extra")
    assert extra is not None and extra.conformance == "implement"
    assert schema.module("ietf-inet-types") is not None
    assert schema.module("ietf-inet-types").conformance == "import"  # type: ignore[union-attr]


def test_list_keys_never_have_defaults(tmp_path: Path) -> None:
    (tmp_path / "keyed.yang").write_text(
        'module keyed { yang-version 1.1; namespace "urn:keyed"; prefix k;\n'
        "  typedef counter { type uint32; default 0; }\n"
        '  list item { key "id"; leaf id { type counter; } leaf hits { type counter; } } }\n'
    )
    schema = Schema.load(["keyed"], [tmp_path])
    item = schema.top("urn:keyed", "item")
    assert item is not None
    assert item.child("urn:keyed", "id").default is None  # type: ignore[union-attr]
    assert item.child("urn:keyed", "hits").default == "0"  # type: ignore[union-attr]


def test_loads_are_cached_until_a_yang_file_changes(tmp_path: Path) -> None:
    module = tmp_path / "cached.yang"
    head = 'module cached { yang-version 1.1; namespace "urn:cached"; prefix c;'
    module.write_text(head + " leaf a { type string; } }\n")
    first = Schema.load(["cached"], [tmp_path])
    assert Schema.load(["cached"], [tmp_path]) is first
    assert Schema.load(["cached"], [tmp_path], features={"cached": []}) is not first
    module.write_text(head + " leaf bb { type string; } }\n")
    second = Schema.load(["cached"], [tmp_path])
    assert second is not first
    assert second.top("urn:cached", "bb") is not None and second.top("urn:cached", "a") is None
