"""The shipped ``host`` policy over the host source: signature, every read, every KPI, with
the engine's own evaluators and privacy guard (no value may be dropped)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from agent.engine.clock import ManualClock
from agent.engine.kpi import compute_all
from agent.engine.policy import load_policy_file, load_trusted_keys
from agent.engine.privacy import PrivacyGuard
from agent.engine.stats import EventHistory, Statistics
from agent.engine.store import Store
from agent.engine.subscriber import Subscriber
from agent.sources.host import HostSource
from agent.sources.hostread import Address, KernelNet, Qdisc

from .host_tree import make_switch_root

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "agent/policies/host.json"
KPIS = {
    "hardware_inventory",
    "interface_types",
    "interface_speeds",
    "bridges_vlans",
    "link_aggregation",
    "ipv6_in_use",
    "dns_configured",
    "ntp_configured",
    "static_routing",
    "ospf",
    "bgp",
    "dynamic_routing_protocols",
    "firewall_rules",
    "qos_enabled",
    "virtual_routing_forwarding",
    "ip_forwarding",
}


def evaluate(source: HostSource) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Read every source of the shipped policy once and compute its KPIs and identity."""
    info = load_policy_file(POLICY, load_trusted_keys(), 0.0)
    assert info.source != "built-in", info.rejection_reason
    policy = info.policy
    clock = ManualClock(1_760_000_000.0)
    stats = Statistics(clock)
    events = EventHistory(clock)
    store = Store(stats, None)
    store.ensure_tables(policy.tables())
    try:
        asyncio.run(Subscriber(source, policy, store, stats, events, clock).refresh())
        problems = [f"{e.event} {e.context}" for e in events.entries() if e.rc != 0]
        results = compute_all(
            policy.kpis,
            store,
            stats,
            events,
            clock.time(),
            guard=PrivacyGuard.from_store(policy, store),
        )
        problems += [f"{r.name}: {r.error}" for r in results if r.error or r.value is None]
        values = {r.name: json.loads(r.value) for r in results if r.value is not None}
        identity = {
            name: str(rows[0][0]) if (rows := store.query(query)) and rows[0][0] is not None else ""
            for name, query in policy.device.items()
        }
        return values, identity, problems
    finally:
        store.close()


def test_host_policy_on_this_machine() -> None:
    values, identity, problems = evaluate(HostSource())
    assert problems == []
    assert set(values) == KPIS
    for value in values.values():
        assert isinstance(value, list)
    assert identity["software-version"].startswith("Linux ")
    assert values["hardware_inventory"][0]["cpus"] >= 1


def test_host_policy_on_a_linux_switch(tmp_path: Path) -> None:
    kernel = KernelNet(
        kinds={"br0": "bridge", "blue": "vrf", "eth0.10": "vlan", "bond0": "bond"},
        vrf_tables={"blue": 10},
        addresses={
            "br0": [Address(4, "10.0.1.2", 24), Address(6, "2001:db8:1::2", 64)],
            "eth0.10": [Address(4, "10.0.10.1", 24)],
        },
        qdiscs=[
            Qdisc("eth0", 0, 0xFFFFFFFF, "pfifo_fast"),
            Qdisc("eth1", 0x10000, 0xFFFFFFFF, "htb"),
            Qdisc("eth2", 0x10000, 0xFFFFFFFF, "tbf"),
        ],
    )
    source = HostSource(make_switch_root(tmp_path / "root"), kernel_reader=lambda: kernel)
    values, identity, problems = evaluate(source)
    assert problems == []
    assert values == {
        "hardware_inventory": [
            {
                "PID": "AS4630-54PE",
                "SN": "EC2045000123",
                "VID": "R01",
                "vendor": "Edgecore",
                "cpus": 2,
                "storage_drives": 1,
                "ports": 4,
            }
        ],
        "interface_types": [
            {"type": "bridge", "count": 1, "up": 1},
            {"type": "ethernetCsmacd", "count": 4, "up": 3},
            {"type": "ieee8023adLag", "count": 1, "up": 1},
            {"type": "l2vlan", "count": 1, "up": 1},
            {"type": "other", "count": 1, "up": 1},
            {"type": "softwareLoopback", "count": 1, "up": 0},
        ],
        "interface_speeds": [{"speed_mbps": 1000, "count": 1}, {"speed_mbps": 10000, "count": 2}],
        "bridges_vlans": [
            {"bridging": "true", "bridges": 1, "bridge_ports": 1, "vlan_interfaces": 1}
        ],
        "link_aggregation": [{"enabled": "true", "lag_cnt": 1, "member_cnt": 2}],
        "ipv6_in_use": [{"enabled": "true", "interfaces": 1}],
        "dns_configured": [{"enabled": "true", "servers": 2}],
        "ntp_configured": [{"enabled": "true", "servers": 2}],
        "static_routing": [
            {
                "enabled": "true",
                "ipv4_routes": 2,
                "ipv6_routes": 1,
                "default_route": "true",
                "frr_static_routes": 2,
            }
        ],
        "ospf": [{"enabled": "true", "ospfv2_instances": 2, "ospfv3_instances": 0}],
        "bgp": [{"enabled": "true", "instances": 1}],
        "dynamic_routing_protocols": [{"enabled": "true", "protocols": "bgp,ospfv2"}],
        "firewall_rules": [{"enabled": "true", "rulesets": 5, "rules": 6, "kernel_rulesets": 2}],
        "qos_enabled": [{"enabled": "true", "qdisc_cnt": 2, "kinds": "htb,tbf"}],
        "virtual_routing_forwarding": [{"enabled": "true", "vrf_cnt": 1, "member_cnt": 1}],
        "ip_forwarding": [{"ipv4": "true", "ipv6": "false"}],
    }
    assert identity == {
        "software-version": "Linux 6.1.0-18-arm64",
        "serial-number": "EC2045000123",
        "product-identifier": "AS4630-54PE",
        "vendor-identifier": "R01",
    }
