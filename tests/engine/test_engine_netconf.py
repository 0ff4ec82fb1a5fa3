"""The engine behind a real NETCONF server, over real ncclient sessions.

The engine runs on the server's loop with a manual clock, so the tests move agent time
(grace period, reporting interval) without waiting.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import PolicySigner, minimal_policy, write_snapshot
from lxml import etree
from ncclient.operations.rpc import RPCError

from agent.api import PA_NS, Registry
from agent.config import EngineConfig
from agent.engine.clock import ManualClock
from agent.engine.engine import Engine
from agent.engine.store import DB_FILE
from agent.sources.snapshot import SnapshotSource

# S1's helpers (a NetconfServer on a free port in a thread, ncclient without its 0.1 s
# polling delay), loaded by path: the test folders are not packages.
_spec = importlib.util.spec_from_file_location(
    "server_helpers", Path(__file__).resolve().parents[1] / "server" / "server_helpers.py"
)
assert _spec is not None and _spec.loader is not None
server_fixtures = importlib.util.module_from_spec(_spec)
sys.modules["server_helpers"] = server_fixtures
_spec.loader.exec_module(server_fixtures)
RunningServer = server_fixtures.RunningServer

NS = {"pa": PA_NS}
DAY = 86400.0
PA_FILTER = f'<product-analytics xmlns="{PA_NS}"/>'


class Agent:
    """A server with the engine registered, a manual clock, and an ncclient session."""

    def __init__(self, tmp_path: Path, signer: PolicySigner, **engine_args: Any) -> None:
        self.clock = ManualClock(1_750_000_000.0)
        self.signer = signer
        policy = signer.write(tmp_path / "policy.json", minimal_policy())
        config = EngineConfig(
            policy=str(policy),
            trusted_keys=[str(signer.public_path)],
            grace_period=7 * DAY,
            **engine_args,
        )
        self.state_dir = tmp_path / "state"
        self.state_dir.mkdir()
        self.snapshot = write_snapshot(tmp_path / "snap")
        source = SnapshotSource(self.snapshot)
        self.engine = Engine(config, self.state_dir, self.clock, source)
        registry = Registry()
        self.engine.register(registry)
        self.running = RunningServer(self.state_dir, registry=registry)
        self.running.call(self.engine.start(self.running.server.config_writer))
        self.session = self.running.connect()

    def advance(self, seconds: float) -> None:
        self.running.call(self.clock.advance(seconds))

    def state(self) -> etree._Element:
        reply = self.session.get(filter=("subtree", PA_FILTER))
        node = reply.data_ele.find("pa:product-analytics", NS)
        assert node is not None
        return node

    def text(self, path: str) -> str | None:
        return self.state().findtext(path, namespaces=NS)

    def rpc(self, xml: str) -> etree._Element:
        reply = self.session.dispatch(etree.fromstring(xml))
        return etree.fromstring(reply.xml.encode())

    def edit(self, body: str) -> None:
        self.session.edit_config(
            target="running",
            config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            f'<product-analytics xmlns="{PA_NS}">{body}</product-analytics></config>',
        )

    def config(self, source: str) -> etree._Element | None:
        reply = self.session.get_config(source=source, filter=("subtree", PA_FILTER))
        return reply.data_ele.find("pa:product-analytics", NS)

    def close(self) -> None:
        try:
            if self.session.connected:
                self.session.close_session()
            self.running.call(self.engine.stop())
        finally:
            self.running.stop()


@pytest.fixture
def agent(tmp_path: Path, signer: PolicySigner) -> Iterator[Agent]:
    instance = Agent(tmp_path, signer)
    try:
        yield instance
    finally:
        instance.close()


def test_grace_period_state_then_self_enable(agent: Agent) -> None:
    state = agent.state()
    assert state.findtext("pa:status/pa:state", namespaces=NS) == "grace-period"
    assert state.findtext("pa:status/pa:grace-period-remaining", namespaces=NS) == str(7 * 86400)
    assert state.findtext("pa:status/pa:report-count", namespaces=NS) == "0"
    assert state.findtext("pa:policy/pa:source", namespaces=NS) == "file"
    assert state.findtext("pa:policy/pa:file-version", namespaces=NS) == "3"
    # Nothing is collected during the grace period.
    agent.advance(DAY)
    assert agent.text("pa:statistics/pa:data-source/pa:periodic-reads/pa:count") == "0"
    assert agent.config("running") is None
    agent.advance(6 * DAY)
    assert agent.text("pa:status/pa:state") == "available"
    for datastore in ("running", "startup"):
        config = agent.config(datastore)
        assert config is not None, datastore
        assert config.findtext("pa:enabled", namespaces=NS) == "true"
    assert int(agent.text("pa:statistics/pa:data-source/pa:periodic-reads/pa:count") or 0) >= 2


def test_enable_collect_generate_and_read_report(agent: Agent) -> None:
    agent.edit("<enabled>true</enabled>")
    assert agent.text("pa:status/pa:state") == "available"
    agent.advance(60)
    reply = agent.rpc(f'<generate-report xmlns="{PA_NS}"/>')
    report_id = reply.findtext(".//pa:report-id", namespaces=NS)
    assert report_id == str(int(agent.clock.time()))
    state = agent.state()
    assert state.findtext("pa:status/pa:report-count", namespaces=NS) == "1"
    report = state.find(f"pa:reports/pa:report[pa:report-id='{report_id}']", NS)
    assert report is not None
    assert report.findtext("pa:serial-number", namespaces=NS) == "SN123"
    assert report.findtext("pa:product-identifier", namespaces=NS) == "TEST-8P"
    kpis = {k.findtext("pa:name", namespaces=NS): k for k in report.findall("pa:kpi", NS)}
    assert kpis["interfaces_enabled"].findtext("pa:value", namespaces=NS) == '[{"count":2}]'
    assert kpis["interface_count"].findtext("pa:value", namespaces=NS) == '[{"count":3}]'
    stats = state.find("pa:statistics", NS)
    assert stats is not None
    assert int(stats.findtext("pa:data-source/pa:periodic-reads/pa:count", namespaces=NS)) >= 2
    assert int(stats.findtext("pa:data-store/pa:writes/pa:count", namespaces=NS)) >= 2
    assert stats.findtext("pa:kpi/pa:sql-computations/pa:count", namespaces=NS) == "1"
    assert stats.findtext("pa:kpi/pa:lua-computations/pa:count", namespaces=NS) == "1"
    events = [e.findtext("pa:event", namespaces=NS) for e in stats.findall(".//pa:event", NS)]
    assert "DSRC_PERIOD_RD" in events and "DST_STORE_END" in events
    # The reporting interval (1 h in the test policy) produces the next report by itself.
    agent.advance(3600)
    assert agent.text("pa:status/pa:report-count") == "2"


def test_generate_report_refused_in_grace_period(agent: Agent) -> None:
    with pytest.raises(RPCError) as info:
        agent.rpc(f'<generate-report xmlns="{PA_NS}"/>')
    assert info.value.tag == "operation-failed"
    assert "grace-period" in str(info.value)
    assert agent.text("pa:status/pa:state") == "grace-period"  # session still works


def test_disable_stops_and_deletes_collected_data(agent: Agent) -> None:
    agent.edit("<enabled>true</enabled>")
    agent.advance(1)
    store = agent.engine.store
    assert store is not None and store.row_count("interface") == 3
    agent.edit("<enabled>false</enabled>")
    assert agent.text("pa:status/pa:state") == "disabled"
    assert store.row_count("interface") == 0
    reads = agent.text("pa:statistics/pa:data-source/pa:periodic-reads/pa:count")
    agent.advance(DAY)
    assert agent.text("pa:statistics/pa:data-source/pa:periodic-reads/pa:count") == reads
    assert store.row_count("interface") == 0


def test_storage_switch_at_run_time(agent: Agent) -> None:
    agent.edit("<enabled>true</enabled>")
    agent.advance(1)
    agent.rpc(f'<generate-report xmlns="{PA_NS}"/>')
    assert (agent.state_dir / DB_FILE).exists()
    agent.edit("<storage>in-memory</storage>")
    assert not (agent.state_dir / DB_FILE).exists()
    assert agent.text("pa:status/pa:report-count") == "1"
    agent.edit("<storage>on-disk</storage>")
    assert (agent.state_dir / DB_FILE).exists()
    assert agent.text("pa:status/pa:report-count") == "1"


def test_clear_statistics(agent: Agent) -> None:
    agent.edit("<enabled>true</enabled>")
    agent.advance(1)
    assert agent.text("pa:statistics/pa:data-source/pa:periodic-reads/pa:count") != "0"
    reply = agent.rpc(f'<clear-statistics xmlns="{PA_NS}"/>')
    assert reply.find("{urn:ietf:params:xml:ns:netconf:base:1.0}ok") is not None
    stats = agent.state().find("pa:statistics", NS)
    assert stats is not None
    assert stats.findtext("pa:data-source/pa:periodic-reads/pa:count", namespaces=NS) == "0"
    assert stats.findtext("pa:last-cleared", namespaces=NS)
    assert stats.find("pa:event-history/pa:event", NS) is None


def _install(agent: Agent, policy: bytes, signature: str) -> etree._Element:
    from xml.sax.saxutils import escape

    return agent.rpc(
        f'<install-policy xmlns="{PA_NS}"><policy>{escape(policy.decode())}</policy>'
        f"<signature>{signature}</signature></install-policy>"
    )


def test_install_policy(agent: Agent) -> None:
    import json

    new = minimal_policy(**{"policy-version": "test-2", "file-version": 4})
    data = json.dumps(new, indent=1).encode()
    reply = _install(agent, data, agent.signer.sign(data))
    assert reply.findtext(".//pa:policy-version", namespaces=NS) == "test-2"
    assert reply.findtext(".//pa:file-version", namespaces=NS) == "4"
    assert agent.text("pa:policy/pa:policy-version") == "test-2"
    assert (agent.state_dir / "policy" / "installed.json").read_bytes() == data


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("bad-signature", "does not verify"),
        ("bad-kind", "kpis[0].kind: unknown kind 'python'"),
        ("bad-json", "not valid JSON"),
        ("bad-base64", "not valid base64"),
    ],
)
def test_install_policy_refused(agent: Agent, problem: str, message: str) -> None:
    import json

    new = minimal_policy(**{"policy-version": "test-2"})
    if problem == "bad-kind":
        new["kpis"][0]["kind"] = "python"
    data = json.dumps(new).encode()
    if problem == "bad-json":
        data = data[:-3]
    signature = agent.signer.sign(data)
    if problem == "bad-signature":
        signature = agent.signer.sign(data + b" ")
    if problem == "bad-base64":
        signature = "!!not-base64!!"
    with pytest.raises(RPCError) as info:
        _install(agent, data, signature)
    assert info.value.tag == "invalid-value"
    assert message in str(info.value)
    assert agent.text("pa:policy/pa:policy-version") == "test-1"
    assert message in (agent.text("pa:policy/pa:rejection-reason") or "")
    assert not (agent.state_dir / "policy" / "installed.json").exists()


def _refused_and_nothing_changed(agent: Agent, policy: dict[str, Any], version: str) -> RPCError:
    """Install ``policy`` (signed); it must be refused with the policy ``version`` still
    in use and on disk as before.  Returns the error."""
    import json

    installed = agent.state_dir / "policy" / "installed.json"
    before = installed.read_bytes() if installed.exists() else None
    data = json.dumps(policy).encode()  # JSON escapes keep the XML of the RPC well-formed
    with pytest.raises(RPCError) as info:
        _install(agent, data, agent.signer.sign(data))
    assert (installed.read_bytes() if installed.exists() else None) == before
    assert agent.text("pa:policy/pa:policy-version") == version
    return info.value


def test_install_policy_of_text_xml_cannot_carry_is_refused_and_nothing_changes(
    agent: Agent,
) -> None:
    new = minimal_policy(**{"policy-version": "1.0\u0001", "file-version": 2})
    error = _refused_and_nothing_changed(agent, new, "test-1")
    assert error.tag == "invalid-value"
    assert "policy-version: character U+0001 is not allowed" in str(error)
    assert not (agent.state_dir / "policy" / "installed.json").exists()
    agent.session.get()  # the whole state still serialises


def _fail_switching_to(agent: Agent, version: str) -> None:
    switch = agent.engine.switch_policy

    def failing_switch(info: Any) -> None:
        if info.policy.policy_version == version:
            raise RuntimeError("no room for the new tables")
        switch(info)

    agent.engine.switch_policy = failing_switch  # type: ignore[method-assign]


def test_install_policy_that_cannot_be_switched_to_leaves_everything_as_it_was(
    agent: Agent,
) -> None:
    _fail_switching_to(agent, "test-3")
    error = _refused_and_nothing_changed(
        agent, minimal_policy(**{"policy-version": "test-3"}), "test-1"
    )
    assert error.tag == "operation-failed"
    assert "no room for the new tables" in str(error)
    assert not (agent.state_dir / "policy" / "installed.json").exists()


def test_failed_switch_puts_the_earlier_installed_policy_back(agent: Agent) -> None:
    import json

    data = json.dumps(minimal_policy(**{"policy-version": "test-2"})).encode()
    _install(agent, data, agent.signer.sign(data))
    _fail_switching_to(agent, "test-3")
    error = _refused_and_nothing_changed(
        agent, minimal_policy(**{"policy-version": "test-3"}), "test-2"
    )
    assert error.tag == "operation-failed"
    assert (agent.state_dir / "policy" / "installed.json").read_bytes() == data


def test_reports_selected_by_a_filter_node_without_namespace(agent: Agent) -> None:
    agent.edit("<enabled>true</enabled>")
    agent.advance(100)
    reply = agent.rpc(f'<generate-report xmlns="{PA_NS}"/>')
    report_id = reply.findtext(".//pa:report-id", namespaces=NS)
    no_ns = (
        f'<product-analytics xmlns="{PA_NS}"><reports><report xmlns="">'
        f"<report-id>{report_id}</report-id></report></reports></product-analytics>"
    )
    data = agent.session.get(filter=("subtree", no_ns)).data_ele
    ids = [r.findtext("pa:report-id", namespaces=NS) for r in data.iterfind(".//pa:report", NS)]
    assert ids == [report_id]


def _restart(agent: Agent) -> Engine:
    """A second engine on the same state directory (a reboot of the agent's engine)."""
    agent.running.call(agent.engine.stop())
    engine = Engine(
        agent.engine.config, agent.state_dir, agent.clock, SnapshotSource(agent.snapshot)
    )
    agent.running.call(engine.start(agent.running.server.config_writer))
    return engine


def test_reports_and_period_survive_a_restart_on_disk(agent: Agent) -> None:
    agent.edit("<enabled>true</enabled>")
    agent.advance(100)
    reply = agent.rpc(f'<generate-report xmlns="{PA_NS}"/>')
    report_id = reply.findtext(".//pa:report-id", namespaces=NS)
    period_start = agent.text("pa:status/pa:period-start")
    engine = _restart(agent)
    try:
        state = engine.state_xml(None)
        assert state is not None
        ids = [
            r.findtext("pa:report-id", namespaces=NS) for r in state.iterfind(".//pa:report", NS)
        ]
        assert ids == [report_id]
        assert state.findtext("pa:status/pa:state", namespaces=NS) == "available"
        assert state.findtext("pa:status/pa:period-start", namespaces=NS) == period_start
    finally:
        agent.running.call(engine.stop())
        agent.engine = engine


def test_installed_policy_is_used_after_a_restart(agent: Agent) -> None:
    import json

    data = json.dumps(minimal_policy(**{"policy-version": "test-9"})).encode()
    _install(agent, data, agent.signer.sign(data))
    engine = _restart(agent)
    try:
        assert engine.policy_info.policy.policy_version == "test-9"
        assert engine.policy_info.file_path == str(agent.state_dir / "policy" / "installed.json")
    finally:
        agent.running.call(engine.stop())
        agent.engine = engine


def test_builtin_policy_after_a_bad_signature(tmp_path: Path, signer: PolicySigner) -> None:
    agent = Agent(tmp_path, signer)
    try:
        # Break the policy file's signature and restart: the built-in policy takes over.
        policy = Path(agent.engine.config.policy)
        policy.write_bytes(policy.read_bytes() + b" ")
        agent.engine = _restart(agent)
        state = agent.engine.state_xml(None)  # the server still asks the first engine
        assert state is not None
        assert state.findtext("pa:policy/pa:source", namespaces=NS) == "built-in"
        assert state.findtext("pa:policy/pa:policy-version", namespaces=NS) == "built-in"
        assert "does not verify" in (
            state.findtext("pa:policy/pa:rejection-reason", namespaces=NS) or ""
        )
        events = [
            (e.findtext("pa:event", namespaces=NS), e.findtext("pa:context", namespaces=NS))
            for e in state.iterfind("pa:statistics/pa:event-history/pa:event", NS)
        ]
        assert ("CRASH", "crash with builtin policy") in events
    finally:
        agent.close()


def test_project_key_does_not_authorize_install_policy(agent: Agent) -> None:
    """The project key's private half is in the open repository: a policy it signs may be
    shipped, but never installed over NETCONF unless the operator opts in."""
    import base64
    import json

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    repo = Path(__file__).resolve().parents[2]
    key = load_pem_private_key(
        (repo / "tools" / "keys" / "project-policy-ed25519.pem").read_bytes(), password=None
    )
    data = json.dumps(minimal_policy(**{"policy-version": "rogue"})).encode()
    signature = base64.b64encode(key.sign(data)).decode()  # type: ignore[call-arg,union-attr]
    with pytest.raises(RPCError) as info:
        _install(agent, data, signature)
    assert info.value.tag == "invalid-value"
    assert "does not verify" in str(info.value)
    assert agent.text("pa:policy/pa:policy-version") == "test-1"
