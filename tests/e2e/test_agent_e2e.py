"""End to end: ``pa-agent serve`` as a subprocess, a sped-up clock, a signed test policy, a
snapshot source; the grace period expires by itself, a reporting interval passes, and the
report, its KPIs and the statistics are read over a real ncclient session."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from lxml import etree
from ncclient import manager

PA = "urn:product-analytics:yang:product-analytics"
NS = {"pa": PA}
IF_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
HW_NS = "urn:ietf:params:xml:ns:yang:ietf-hardware"
PASSWORD = "e2e-admin-password"
TIME_SCALE = 3600.0  # one agent hour per real second
REPORTING_INTERVAL = 4 * 3600  # agent seconds: a report every ~4 s real time
GRACE_PERIOD = 2 * 3600  # agent seconds: the grace period ends after ~2 s real time
DEADLINE = 90.0  # real seconds to wait for anything before the test fails

T = TypeVar("T")

POLICY: dict[str, Any] = {
    "policy-version": "e2e-1",
    "file-version": 7,
    "reporting-interval": REPORTING_INTERVAL,
    "namespaces": {"if": IF_NS, "hw": HW_NS},
    "sources": [
        {
            "id": "interfaces",
            "subtree": f'<interfaces xmlns="{IF_NS}"/>',
            "period": 600,
            "tables": [
                {
                    "name": "interface",
                    "row-path": "if:interfaces/if:interface",
                    "columns": {
                        "name": "if:name",
                        "type": {"path": "if:type", "vocabulary": True},
                        "enabled": {"path": "if:enabled", "type": "bool"},
                    },
                }
            ],
        },
        {
            "id": "chassis",
            "datastore": "operational",
            "xpath": "/hw:hardware/hw:component[hw:class='chassis']",
            "period": 3600,
            "tables": [
                {
                    "name": "chassis",
                    "row-path": "hw:hardware/hw:component",
                    "columns": {
                        "serial": {"path": "hw:serial-num", "vocabulary": True},
                        "model": {"path": "hw:model-name", "vocabulary": True},
                        "sw": {"path": "hw:software-rev", "vocabulary": True},
                        "hw": {"path": "hw:hardware-rev", "vocabulary": True},
                    },
                }
            ],
        },
    ],
    "kpis": [
        {
            "name": "ethernet_ports",
            "kind": "sql",
            "query": "SELECT json_group_array(json_object('enabled', up, 'count', n)) FROM "
            "(SELECT CASE enabled WHEN 1 THEN 'true' ELSE 'false' END AS up, count(*) AS n "
            "FROM interface WHERE type = 'ethernetCsmacd' GROUP BY up ORDER BY up)",
        },
        {
            "name": "interface_total",
            "kind": "lua",
            "tables": ["interface"],
            "script": "return {{count = #tables.interface}}",
        },
    ],
    "device": {
        "software-version": {"query": "SELECT sw FROM chassis"},
        "serial-number": {"query": "SELECT serial FROM chassis"},
        "product-identifier": {"query": "SELECT model FROM chassis"},
        "vendor-identifier": {"query": "SELECT hw FROM chassis"},
    },
}

INTERFACES = f"""<interfaces xmlns="{IF_NS}">
  <interface><name>ge1</name><type>ethernetCsmacd</type><enabled>true</enabled></interface>
  <interface><name>ge2</name><type>ethernetCsmacd</type><enabled>true</enabled></interface>
  <interface><name>ge3</name><type>ethernetCsmacd</type><enabled>false</enabled></interface>
  <interface><name>lo</name><type>softwareLoopback</type><enabled>true</enabled></interface>
</interfaces>"""

HARDWARE = f"""<hardware xmlns="{HW_NS}">
  <component><name>Switch1</name><class>chassis</class><serial-num>E2E0001</serial-num>
    <model-name>E2E-SWITCH-4P</model-name><hardware-rev>V03</hardware-rev>
    <software-rev>9.9.1</software-rev></component>
</hardware>"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], T | None], what: str) -> T:
    """Poll ``check`` until it returns something (not a timing assertion: the deadline is
    only there so a broken agent fails the test instead of hanging it)."""
    end = time.monotonic() + DEADLINE
    while True:
        try:
            result = check()
        except Exception:
            result = None
            if time.monotonic() > end:
                raise
        if result is not None and result is not False:
            return result
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


class AgentProcess:
    def __init__(self, tmp_path: Path) -> None:
        key = ed25519.Ed25519PrivateKey.generate()
        pub = tmp_path / "e2e.pub"
        pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        policy = tmp_path / "e2e-policy.json"
        policy.write_bytes(json.dumps(POLICY, indent=2).encode())
        signature = base64.b64encode(key.sign(policy.read_bytes())).decode()
        policy.with_name("e2e-policy.json.sig").write_text(signature + "\n")
        config = tmp_path / "agent.toml"
        config.write_text(f'[engine]\ntrusted-keys = ["{pub}"]\ngrace-period = {GRACE_PERIOD}\n')
        snapshot = tmp_path / "snapshot" / "operational"
        snapshot.mkdir(parents=True)
        (snapshot / "interfaces.xml").write_text(INTERFACES)
        (snapshot / "hardware.xml").write_text(HARDWARE)
        self.port = free_port()
        self.log = tmp_path / "agent.log"
        self._log_file = self.log.open("w")
        env = dict(os.environ, PA_AGENT_PASSWORD=PASSWORD)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent.cli.pa_agent",
                "serve",
                "--config",
                str(config),
                "--state-dir",
                str(tmp_path / "state"),
                "--port",
                str(self.port),
                "--time-scale",
                str(TIME_SCALE),
                "--policy",
                str(policy),
                "--source",
                f"snapshot:{snapshot.parent}",
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def connect(self) -> manager.Manager:
        def attempt() -> manager.Manager | None:
            if self.proc.poll() is not None:
                pytest.fail(f"pa-agent exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                return manager.connect(
                    host="127.0.0.1",
                    port=self.port,
                    username="admin",
                    password=PASSWORD,
                    hostkey_verify=False,
                    look_for_keys=False,
                    allow_agent=False,
                    timeout=30,
                )
            except Exception:
                return None

        return wait_for(attempt, "the agent to accept a NETCONF session")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    process = AgentProcess(tmp_path)
    try:
        yield process
    finally:
        process.stop()


def pa_state(session: manager.Manager) -> etree._Element:
    reply = session.get(filter=("subtree", f'<product-analytics xmlns="{PA}"/>'))
    node = reply.data_ele.find("pa:product-analytics", NS)
    assert node is not None
    return node


@pytest.mark.slow
def test_grace_period_expires_and_a_report_is_generated(agent: AgentProcess) -> None:
    session = agent.connect()
    try:
        first = pa_state(session)
        # Boot: nothing configured, the grace period runs (or has just ended on a slow host).
        assert first.findtext("pa:status/pa:state", namespaces=NS) in ("grace-period", "available")
        assert first.findtext("pa:policy/pa:source", namespaces=NS) == "file"
        assert first.findtext("pa:policy/pa:policy-version", namespaces=NS) == "e2e-1"
        assert first.findtext("pa:policy/pa:signature-valid", namespaces=NS) == "true"

        # The grace period expires by itself: enabled true in running and in startup.
        def enabled_in(datastore: str) -> bool:
            reply = session.get_config(
                source=datastore, filter=("subtree", f'<product-analytics xmlns="{PA}"/>')
            )
            return (
                reply.data_ele.findtext("pa:product-analytics/pa:enabled", namespaces=NS) == "true"
            )

        wait_for(lambda: enabled_in("running"), "enabled true in running")
        assert enabled_in("startup")
        assert pa_state(session).findtext("pa:status/pa:state", namespaces=NS) == "available"

        # A reporting interval passes: a report appears by itself.
        report = wait_for(
            lambda: pa_state(session).find("pa:reports/pa:report", NS), "the first report"
        )
        report_id = int(report.findtext("pa:report-id", namespaces=NS) or 0)
        assert report_id > time.time()  # agent time runs ahead of real time
        assert report.findtext("pa:policy-version", namespaces=NS) == "e2e-1"
        assert report.findtext("pa:file-version", namespaces=NS) == "7"
        assert report.findtext("pa:serial-number", namespaces=NS) == "E2E0001"
        assert report.findtext("pa:product-identifier", namespaces=NS) == "E2E-SWITCH-4P"
        assert report.findtext("pa:vendor-identifier", namespaces=NS) == "V03"
        assert report.findtext("pa:software-version", namespaces=NS) == "9.9.1"
        kpis = {
            k.findtext("pa:name", namespaces=NS): k.findtext("pa:value", namespaces=NS)
            for k in report.findall("pa:kpi", NS)
        }
        assert json.loads(kpis["ethernet_ports"]) == [
            {"enabled": "false", "count": 1},
            {"enabled": "true", "count": 2},
        ]
        assert json.loads(kpis["interface_total"]) == [{"count": 4}]
        events = {e.findtext("pa:context", namespaces=NS) for e in report.findall("pa:event", NS)}
        assert {"ethernet_ports", "interface_total"} <= events

        # The statistics show the work.
        stats = pa_state(session).find("pa:statistics", NS)
        assert stats is not None

        def count(path: str) -> int:
            return int(stats.findtext(path + "/pa:count", namespaces=NS) or 0)

        assert count("pa:data-source/pa:periodic-reads") >= 2
        assert count("pa:data-source/pa:periodic-read-batches") >= 2
        assert count("pa:data-store/pa:writes") >= 2
        assert count("pa:data-store/pa:queries") >= 1
        assert count("pa:kpi/pa:sql-computations") >= 1
        assert count("pa:kpi/pa:lua-computations") >= 1
        assert stats.findtext("pa:data-source/pa:read-errors", namespaces=NS) == "0"
        history = [e.findtext("pa:event", namespaces=NS) for e in stats.findall(".//pa:event", NS)]
        assert "DSRC_PERIOD_RD" in history and "DST_STORE_END" in history

        # generate-report ends the period now.
        reply = session.dispatch(etree.fromstring(f'<generate-report xmlns="{PA}"/>'))
        new_id = int(
            etree.fromstring(reply.xml.encode()).findtext(".//pa:report-id", namespaces=NS) or 0
        )
        assert new_id > report_id
    finally:
        session.close_session()
    assert agent.stop() == 0
    log = agent.log.read_text()
    assert "%PA-5-GRACE_STARTED" in log and "%PA-5-GRACE_EXPIRED" in log


def test_bad_source_is_a_clear_startup_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli.pa_agent",
            "serve",
            "--state-dir",
            str(tmp_path / "state"),
            "--port",
            str(free_port()),
            "--source",
            f"snapshot:{tmp_path / 'missing'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PA_AGENT_PASSWORD=PASSWORD),
    )
    assert result.returncode == 2
    assert "pa-agent: --source snapshot:" in result.stderr
    assert "does not exist" in result.stderr
