"""get and get-config over ncclient: subtree and XPath filters, state providers,
with-defaults, monitoring, yang-library and get-schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from server_helpers import NC, PA, RunningServer, data_of

from agent.api import Registry, StateRequest

Connect = Callable[..., Any]
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YL = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"

CONFIG = f"""<config xmlns="{NC}"><product-analytics xmlns="{PA}">
  <enabled>true</enabled><transport><mode>direct</mode><url>https://c.example/pa</url>
  <retry><max-attempts>7</max-attempts></retry></transport></product-analytics></config>"""


class ReportsProvider:
    """A state provider like the engine's: config-false data under /pa:product-analytics."""

    namespace = PA
    name = "product-analytics"

    def __init__(self) -> None:
        self.requests: list[StateRequest] = []

    def get_state(self, request: StateRequest) -> etree._Element | None:
        self.requests.append(request)
        return etree.fromstring(
            f'<product-analytics xmlns="{PA}"><status><state>available</state></status>'
            "<reports><report><report-id>100</report-id><kpi><name>a</name><value>1</value>"
            "</kpi><kpi><name>b</name><value>2</value></kpi></report>"
            "<report><report-id>200</report-id><kpi><name>a</name><value>3</value></kpi>"
            "</report></reports></product-analytics>"
        )


@pytest.fixture
def with_state(tmp_path: Path) -> Any:
    provider = ReportsProvider()
    registry = Registry()
    registry.add_state_provider(provider)
    server = RunningServer(tmp_path / "s", registry=registry)
    m = server.connect()
    m.edit_config(target="running", config=CONFIG)
    try:
        yield server, m, provider
    finally:
        m.close_session()
        server.stop()


def test_get_merges_config_and_state(with_state: Any) -> None:
    _, m, _ = with_state
    data = data_of(m.get(filter=("subtree", f'<product-analytics xmlns="{PA}"/>')))
    top = data.find(f"{{{PA}}}product-analytics")
    assert top is not None
    assert top.findtext(f"{{{PA}}}enabled") == "true"
    assert top.findtext(f"{{{PA}}}status/{{{PA}}}state") == "available"
    # get-config never shows state
    data = data_of(m.get_config(source="running"))
    assert data.find(f".//{{{PA}}}status") is None


def test_provider_asked_only_when_selected(with_state: Any) -> None:
    _, m, provider = with_state
    m.get(filter=("subtree", f'<netconf-state xmlns="{NCM}"><statistics/></netconf-state>'))
    assert provider.requests == []
    m.get(filter=("subtree", f'<product-analytics xmlns="{PA}"><reports/></product-analytics>'))
    assert len(provider.requests) == 1
    selection = provider.requests[0].selection
    assert selection is not None and selection.find(f"{{{PA}}}reports") is not None
    m.get(filter=("xpath", ({"n": NCM}, "/n:netconf-state/n:statistics")))
    assert len(provider.requests) == 1


def test_subtree_content_match_on_list_keys(with_state: Any) -> None:
    _, m, _ = with_state
    data = data_of(
        m.get(
            filter=(
                "subtree",
                f'<product-analytics xmlns="{PA}"><reports><report><report-id>200</report-id>'
                "<kpi/></report></reports></product-analytics>",
            )
        )
    )
    reports = data.findall(f".//{{{PA}}}report")
    assert [r.findtext(f"{{{PA}}}report-id") for r in reports] == ["200"]
    assert [k.findtext(f"{{{PA}}}value") for k in reports[0].iter(f"{{{PA}}}kpi")] == ["3"]
    # nothing else of the module, and no other module
    assert data.find(f".//{{{PA}}}enabled") is None
    assert [etree.QName(e).localname for e in data] == ["product-analytics"]


def test_xpath_filter_with_prefixes_from_filter_element(with_state: Any) -> None:
    _, m, _ = with_state
    data = data_of(
        m.get(
            filter=(
                "xpath",
                ({"x": PA}, "/x:product-analytics/x:reports/x:report[x:report-id='100']/x:kpi"),
            )
        )
    )
    kpis = data.findall(f".//{{{PA}}}kpi")
    assert [k.findtext(f"{{{PA}}}name") for k in kpis] == ["a", "b"]
    # the ancestor list entry keeps its key
    assert data.findtext(f".//{{{PA}}}report/{{{PA}}}report-id") == "100"
    # on get-config too
    data = data_of(
        m.get_config(source="running", filter=("xpath", ({"p": PA}, "//p:retry/p:max-attempts")))
    )
    assert data.findtext(f".//{{{PA}}}max-attempts") == "7"
    assert data.find(f".//{{{PA}}}mode") is None


def test_bad_xpath_and_unknown_prefix(with_state: Any) -> None:
    _, m, _ = with_state
    for expr in ("/q:product-analytics", "/p:product-analytics[", "count(/p:x)"):
        with pytest.raises(RPCError) as info:
            m.get(filter=("xpath", ({"p": PA}, expr)))
        assert info.value.tag == "invalid-value", expr
    assert m.get_config(source="running").ok


def test_empty_filter_selects_nothing(with_state: Any) -> None:
    _, m, _ = with_state
    reply = m.dispatch(
        etree.fromstring(
            f'<get-config xmlns="{NC}"><source><running/></source><filter/></get-config>'
        )
    )
    assert len(data_of(reply)) == 0


def test_with_defaults_modes(with_state: Any) -> None:
    _, m, _ = with_state

    def get_config(mode: str | None) -> etree._Element:
        wd = f'<with-defaults xmlns="{WD}">{mode}</with-defaults>' if mode else ""
        return data_of(
            m.dispatch(
                etree.fromstring(
                    f'<get-config xmlns="{NC}"><source><running/></source>{wd}</get-config>'
                )
            )
        )

    explicit = get_config(None)
    assert explicit.find(f".//{{{PA}}}storage") is None
    report_all = get_config("report-all")
    assert report_all.findtext(f".//{{{PA}}}storage") == "on-disk"
    assert report_all.findtext(f".//{{{PA}}}initial-interval") == "60"
    tagged = get_config("report-all-tagged")
    storage = tagged.find(f".//{{{PA}}}storage")
    assert storage is not None
    assert storage.get("{urn:ietf:params:xml:ns:netconf:default:1.0}default") == "true"
    # trim removes a value equal to its default
    m.edit_config(
        target="running",
        config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}"><storage>on-disk</storage>'
        "</product-analytics></config>",
    )
    assert get_config(None).findtext(f".//{{{PA}}}storage") == "on-disk"
    assert get_config("trim").find(f".//{{{PA}}}storage") is None
    with pytest.raises(RPCError) as info:
        get_config("everything")
    assert info.value.tag == "invalid-value"


def test_monitoring(running: RunningServer, connect: Connect) -> None:
    a = connect()
    b = connect()
    a.lock(target="candidate")
    data = data_of(b.get(filter=("subtree", f'<netconf-state xmlns="{NCM}"/>')))
    state = data.find(f"{{{NCM}}}netconf-state")
    assert state is not None
    caps = [c.text for c in state.iter(f"{{{NCM}}}capability")]
    assert "urn:ietf:params:netconf:base:1.1" in caps
    stores = {
        d.findtext(f"{{{NCM}}}name"): d.findtext(f".//{{{NCM}}}locked-by-session")
        for d in state.iter(f"{{{NCM}}}datastore")
    }
    assert stores == {"running": None, "candidate": a.session_id, "startup": None}
    sessions = {s.findtext(f"{{{NCM}}}session-id") for s in state.iter(f"{{{NCM}}}session")}
    assert {a.session_id, b.session_id} <= sessions
    schemas = {s.findtext(f"{{{NCM}}}identifier") for s in state.iter(f"{{{NCM}}}schema")}
    assert {"product-analytics", "ietf-netconf-monitoring", "ietf-interfaces"} <= schemas
    stats = state.find(f"{{{NCM}}}statistics")
    assert stats is not None and int(stats.findtext(f"{{{NCM}}}in-rpcs") or 0) >= 2


def test_yang_library_and_modules_state(connect: Connect) -> None:
    m = connect()
    data = data_of(m.get(filter=("subtree", f'<yang-library xmlns="{YL}"/>')))
    names = {e.text for e in data.iter(f"{{{YL}}}name")}
    assert "product-analytics" in names
    assert data.findtext(f".//{{{YL}}}content-id")
    data = data_of(m.get(filter=("subtree", f'<modules-state xmlns="{YL}"/>')))
    assert data.findtext(f".//{{{YL}}}module-set-id")


def test_get_schema(connect: Connect) -> None:
    m = connect()
    reply = m.get_schema("product-analytics")
    assert "module product-analytics" in reply.data
    reply = m.get_schema("ietf-interfaces")
    assert "module ietf-interfaces" in reply.data
    with pytest.raises(RPCError) as info:
        m.get_schema("no-such-module")
    assert info.value.tag == "invalid-value"
    assert m.get_config(source="running").ok


def test_xpath_prefixes_in_scope_and_module_name_fallback(with_state: Any) -> None:
    server, _, _ = with_state
    from server_helpers import RawSession, run_raw

    async def scenario(raw: RawSession) -> list[etree._Element]:
        await raw.hello()
        replies = []
        # the prefix is declared on <rpc>, not on <filter>: still in scope of <filter>
        raw.send(
            f'<rpc xmlns="{NC}" xmlns:q="{PA}" message-id="1"><get-config><source><running/>'
            '</source><filter type="xpath" select="/q:product-analytics/q:enabled"/>'
            "</get-config></rpc>".encode()
        )
        reply = await raw.read_message()
        assert reply is not None
        replies.append(etree.fromstring(reply))
        # no declaration at all: the module name and the module prefix resolve (fallback)
        for select in ("/product-analytics:product-analytics/product-analytics:enabled",
                       "/pa:product-analytics/pa:enabled"):  # fmt: skip
            replies.append(
                await raw.rpc(
                    "<get-config><source><running/></source>"
                    f'<filter type="xpath" select="{select}"/></get-config>'
                )
            )
        return replies

    for reply in run_raw(server.port, scenario):
        data = reply.find(f"{{{NC}}}data")
        assert data is not None, etree.tostring(reply)
        assert data.findtext(f".//{{{PA}}}enabled") == "true"
        assert data.find(f".//{{{PA}}}transport") is None


def test_copy_config_with_defaults_report_all(with_state: Any) -> None:
    _, m, _ = with_state
    m.dispatch(
        etree.fromstring(
            f'<copy-config xmlns="{NC}"><target><startup/></target><source><running/></source>'
            f'<with-defaults xmlns="{WD}">report-all-tagged</with-defaults></copy-config>'
        )
    )
    startup = data_of(m.get_config(source="startup"))
    storage = startup.find(f".//{{{PA}}}storage")
    assert storage is not None and storage.text == "on-disk"
    # defaults become explicit configuration, never a tagged attribute
    assert not storage.attrib
    running = data_of(m.get_config(source="running"))
    assert running.find(f".//{{{PA}}}storage") is None
