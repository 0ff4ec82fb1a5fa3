"""Discovery: RFC 8525 YANG library, RFC 6022 get-schema and schema list, hello capabilities."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lxml import etree

from agent.api import Registry, RpcContext, RpcError, StateRequest
from agent.schema import DEFAULT_MODULES, Schema
from agent.server import schemas, yang_library
from agent.server.capabilities import build_capabilities, module_capability
from agent.server.schemas import NCM_NS, get_schema_handler, schema_entries
from agent.server.yang_library import YANGLIB_NS, content_id

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
PA = "urn:product-analytics:yang:product-analytics"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
Y = f"{{{YANGLIB_NS}}}"
M = f"{{{NCM_NS}}}"
CTX = RpcContext(session_id=1, username="admin")


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load(DEFAULT_MODULES)


def providers(schema: Schema) -> dict[str, etree._Element]:
    registry = Registry()
    yang_library.register(registry, schema)
    trees = {}
    for provider in registry.state_providers:
        tree = provider.get_state(StateRequest())
        assert tree is not None
        assert (provider.namespace, provider.name) == (YANGLIB_NS, etree.QName(tree).localname)
        trees[provider.name] = tree
    return trees


def test_yang_library_tree(schema: Schema) -> None:
    tree = providers(schema)["yang-library"]
    module_set = tree.find(Y + "module-set")
    assert module_set is not None and module_set.findtext(Y + "name") == "complete"
    modules = {m.findtext(Y + "name"): m for m in module_set.findall(Y + "module")}
    assert set(modules) == set(DEFAULT_MODULES)
    pa = modules["product-analytics"]
    assert pa.findtext(Y + "revision") == "2026-12-03"
    assert pa.findtext(Y + "namespace") == PA
    netconf = modules["ietf-netconf"]
    assert "candidate" in [f.text for f in netconf.findall(Y + "feature")]
    imports = {
        (m.findtext(Y + "name"), m.findtext(Y + "revision"))
        for m in module_set.findall(Y + "import-only-module")
    }
    assert imports == {("ietf-netconf-acm", "2018-02-14"), ("iana-crypt-hash", "2014-08-06")}
    assert tree.findtext(f"{Y}schema/{Y}module-set") == "complete"
    datastores = tree.findall(Y + "datastore")
    names = []
    for entry in datastores:
        name = entry.find(Y + "name")
        assert name is not None and name.text is not None
        prefix, _, local = name.text.partition(":")
        assert name.nsmap[prefix] == DS  # identityref with a declared prefix
        names.append(local)
        assert entry.findtext(Y + "schema") == "complete"
    assert names == ["running", "candidate", "startup", "operational"]
    assert tree.findtext(Y + "content-id") == content_id(schema)


def test_yang_library_conforms_to_its_own_schema(schema: Schema) -> None:
    """Every element is known to ietf-yang-library and every leaf value is valid."""
    trees = providers(schema)
    for tree in trees.values():
        wrapper = etree.Element(f"{{{NC}}}data")
        wrapper.append(tree)
        for element in tree.iter():
            node = schema.find(element)
            assert node is not None, element.tag
            if node.kind in ("leaf", "leaf-list"):
                assert node.check_value(element.text or "", element.nsmap) is None, (
                    node.path(),
                    element.text,
                )


def test_modules_state_tree(schema: Schema) -> None:
    tree = providers(schema)["modules-state"]
    assert tree.findtext(Y + "module-set-id") == content_id(schema)
    entries = {m.findtext(Y + "name"): m for m in tree.findall(Y + "module")}
    assert entries["ietf-netconf-acm"].findtext(Y + "conformance-type") == "import"
    assert entries["product-analytics"].findtext(Y + "conformance-type") == "implement"
    assert entries["product-analytics"].findtext(Y + "revision") == "2026-12-03"


def test_provider_returns_a_fresh_copy(schema: Schema) -> None:
    provider = yang_library.YangLibraryProvider(schema)
    first = provider.get_state(StateRequest())
    second = provider.get_state(StateRequest())
    assert first is not None and second is not None and first is not second
    first.clear()
    assert len(second) > 0


def test_content_id_changes_with_the_module_set(schema: Schema) -> None:
    smaller = Schema.load(["product-analytics"])
    assert content_id(smaller) != content_id(schema)
    assert content_id(Schema.load(DEFAULT_MODULES)) == content_id(schema)


# -- get-schema and /netconf-state/schemas -------------------------------------------------


def get_schema(schema: Schema, body: str) -> list[etree._Element]:
    op = etree.fromstring(f'<get-schema xmlns="{NCM_NS}">{body}</get-schema>')

    async def call() -> list[etree._Element]:
        return await get_schema_handler(schema)(CTX, op)

    return asyncio.run(call())


def test_get_schema_returns_the_yang_source_of_every_module(schema: Schema) -> None:
    for info in schema.sources():
        reply = get_schema(schema, f"<identifier>{info.name}</identifier>")
        assert len(reply) == 1 and reply[0].tag == M + "data"
        assert reply[0].text == info.path.read_text()


def test_get_schema_with_version_and_format(schema: Schema) -> None:
    reply = get_schema(
        schema,
        "<identifier>product-analytics</identifier><version>2026-12-03</version>"
        "<format>yang</format>",
    )
    assert (reply[0].text or "").startswith("module product-analytics {")
    prefixed = get_schema(
        schema,
        f'<identifier>ietf-datastores</identifier><format xmlns:n="{NCM_NS}">n:yin</format>',
    )
    module = prefixed[0][0]
    assert module.tag == "{urn:ietf:params:xml:ns:yang:yin:1}module"
    assert module.get("name") == "ietf-datastores"


@pytest.mark.parametrize(
    ("body", "tag", "app_tag"),
    [
        ("<identifier>no-such-module</identifier>", "invalid-value", None),
        (
            "<identifier>product-analytics</identifier><version>1999-01-01</version>",
            "invalid-value",
            None,
        ),
        ("<identifier>product-analytics</identifier><format>xsd</format>", "invalid-value", None),
        (
            '<identifier>product-analytics</identifier><format xmlns:x="urn:x">x:yang</format>',
            "invalid-value",
            None,
        ),
        ("<version>2026-12-03</version>", "missing-element", None),
    ],
)
def test_get_schema_errors(schema: Schema, body: str, tag: str, app_tag: str | None) -> None:
    with pytest.raises(RpcError) as info:
        get_schema(schema, body)
    assert info.value.tag == tag
    assert info.value.app_tag == app_tag


def test_get_schema_two_revisions_without_version_is_data_not_unique(tmp_path: Path) -> None:
    old = tmp_path / "old"
    new = tmp_path / "new"
    old.mkdir()
    new.mkdir()
    text = (
        'module twice {{ yang-version 1.1; namespace "urn:twice"; prefix t;\n'
        "  import twice-base {{ prefix b; revision-date {rev}; }} leaf x {{ type b:t; }} }}\n"
    )
    base = (
        'module twice-base {{ namespace "urn:tb"; prefix tb; revision {rev};\n'
        " typedef t {{ type string; }} }}\n"
    )
    (old / "twice-base@2020-01-01.yang").write_text(base.format(rev="2020-01-01"))
    (new / "twice-base@2021-01-01.yang").write_text(base.format(rev="2021-01-01"))
    (new / "twice.yang").write_text(text.format(rev="2020-01-01"))
    (new / "other.yang").write_text(
        'module other { yang-version 1.1; namespace "urn:other"; prefix o;\n'
        "  import twice-base { prefix b; revision-date 2021-01-01; } leaf y { type b:t; } }\n"
    )
    schema = Schema.load(["twice", "other"], [new, old])
    assert sorted(i.revision or "" for i in schema.sources() if i.name == "twice-base") == [
        "2020-01-01",
        "2021-01-01",
    ]
    with pytest.raises(RpcError) as info:
        get_schema(schema, "<identifier>twice-base</identifier>")
    assert info.value.tag == "operation-failed"
    assert info.value.app_tag == "data-not-unique"
    reply = get_schema(schema, "<identifier>twice-base</identifier><version>2021-01-01</version>")
    assert "revision 2021-01-01" in (reply[0].text or "")


def test_schema_entries(schema: Schema) -> None:
    entries = schema_entries(schema)
    assert len(entries) == 2 * len(schema.sources())
    keys = set()
    for entry in entries:
        identifier = entry.findtext(M + "identifier")
        version = entry.findtext(M + "version")
        fmt = entry.find(M + "format")
        assert fmt is not None and fmt.text in ("yang", "yin")
        assert fmt.nsmap[None] == NCM_NS  # an unprefixed identity is in the default namespace
        local = fmt.text
        assert entry.findtext(M + "location") == "NETCONF"
        assert entry.findtext(M + "namespace")
        keys.add((identifier, version, local))
    assert ("product-analytics", "2026-12-03", "yang") in keys
    assert len(keys) == len(entries)  # the list key (identifier, version, format) is unique


def test_register_adds_get_schema(schema: Schema) -> None:
    registry = Registry()
    schemas.register(registry, schema)
    assert (NCM_NS, "get-schema") in registry.rpcs


# -- capabilities --------------------------------------------------------------------------

PROTOCOL = [
    "urn:ietf:params:netconf:capability:writable-running:1.0",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:xpath:1.0",
]


def test_capabilities(schema: Schema) -> None:
    caps = build_capabilities(schema, PROTOCOL)
    assert caps[:2] == ["urn:ietf:params:netconf:base:1.0", "urn:ietf:params:netconf:base:1.1"]
    assert all(p in caps for p in PROTOCOL)
    assert len(caps) == len(set(caps))
    assert (
        "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit"
        "&also-supported=report-all,report-all-tagged,trim"
    ) in caps
    assert (
        "urn:ietf:params:netconf:capability:yang-library:1.1?revision=2019-01-04"
        f"&content-id={content_id(schema)}"
    ) in caps
    module_caps = [c for c in caps if "?module=" in c]
    announced = {c.split("module=")[1].split("&")[0] for c in module_caps}
    yang_1_0 = {
        m.name for m in schema.modules() if m.conformance == "implement" and m.yang_version == "1"
    }
    assert announced == yang_1_0
    # YANG 1.1 modules (ours included) are announced through the YANG library only
    assert "product-analytics" not in announced and "ietf-interfaces" not in announced
    assert (
        "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
        "?module=ietf-netconf-monitoring&revision=2010-10-04"
    ) in caps
    netconf = next(c for c in caps if "module=ietf-netconf&" in c)
    assert netconf.startswith(f"{NC}?module=ietf-netconf&revision=2011-06-01&features=")
    assert "candidate" in netconf.split("features=")[1].split(",")
    assert not any("yang-library:1.0" in c for c in caps)


def test_legacy_yang_library_capability_on_request(schema: Schema) -> None:
    caps = build_capabilities(schema, [], legacy_yang_library=True)
    assert (
        "urn:ietf:params:netconf:capability:yang-library:1.0?revision=2019-01-04"
        f"&module-set-id={content_id(schema)}"
    ) in caps


def test_capabilities_parse_with_ncclient(schema: Schema) -> None:
    from ncclient.capabilities import Capabilities

    parsed = Capabilities(build_capabilities(schema, PROTOCOL))
    assert ":with-defaults" in parsed
    assert ":candidate" in parsed
    # what ncclient's get(with_defaults=...) checks before sending the parameter
    wd = parsed[":with-defaults"]
    assert wd.parameters["basic-mode"] == "explicit"
    assert wd.parameters["also-supported"] == "report-all,report-all-tagged,trim"
    from ncclient.operations.retrieve import _get_valid_with_defaults_modes

    assert set(_get_valid_with_defaults_modes(parsed)) == {
        "explicit",
        "report-all",
        "report-all-tagged",
        "trim",
    }


def test_module_capability_formats_deviations(schema: Schema) -> None:
    info = schema.module("ietf-system")
    assert info is not None
    assert module_capability(info) == (
        "urn:ietf:params:xml:ns:yang:ietf-system?module=ietf-system&revision=2014-08-06"
        "&features=ntp,timezone-name"
    )
