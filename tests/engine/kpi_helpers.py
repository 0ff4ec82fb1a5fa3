"""A seed-like policy and a filled store, shared by the KPI, privacy and report tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.engine.clock import ManualClock
from agent.engine.policy import Policy, PolicyInfo, parse_policy
from agent.engine.stats import EventHistory, Statistics
from agent.engine.store import Store

SEED_PERIOD_START = 1747713125.0  # 05/20/2025 03:52:05 UTC
SEED_PERIOD_END = 1747988540.0  # 05/23/2025 08:22:20 UTC


def column(path: str, type_: str = "text", vocabulary: bool = True) -> dict[str, Any]:
    return {"path": path, "type": type_, "vocabulary": vocabulary}


TABLES: dict[str, dict[str, dict[str, Any]]] = {
    "chassis": {
        "cname": column("c"),
        "serial": column("s"),
        "pid": column("p"),
        "vid": column("v"),
        "sw": column("w"),
    },
    "transceiver": {"pid": column("p")},
    "stack": {"member": column("m", "int")},
    "ospf_process": {"id": column("i", "int")},
    "interface": {
        "name": column("n", vocabulary=False),
        "description": column("d", vocabulary=False),
        "type": column("t"),
    },
    "system": {"hostname": column("h", vocabulary=False), "mgmt_ip": column("a")},
}

SEED_KPIS: list[dict[str, Any]] = [
    {
        "name": "ospf",
        "kind": "sql",
        "query": "SELECT json_array(json_object('enabled', "
        "CASE WHEN count(*) > 0 THEN 'true' ELSE 'false' END)) FROM ospf_process",
    },
    {
        "name": "stack_members",
        "kind": "lua",
        "tables": ["stack"],
        "script": 'return { object("member_cnt", #tables.stack) }',
    },
    {
        "name": "optics_modules",
        "kind": "sql",
        "query": "SELECT json_group_array(json_object('PID', pid, 'COUNT', n)) FROM "
        "(SELECT pid, count(*) AS n FROM transceiver GROUP BY pid ORDER BY pid)",
    },
    {
        "name": "hardware_inventory",
        "kind": "sql",
        "query": "SELECT json_group_array(json_object('CN', cname, 'SN', serial, 'PID', pid)) "
        "FROM chassis",
    },
    {
        "name": "profinet_support",
        "kind": "lua",
        "tables": ["interface"],
        "script": 'return { object("enabled", "true") }',
    },
    {
        "name": "counters",
        "kind": "sql",
        "category": "serviceability",
        "query": "SELECT json_array(json_object('interfaces', count(*))) FROM interface",
    },
]

SEED_VALUES = {
    "ospf": '[{"enabled":"false"}]',
    "stack_members": '[{"member_cnt":1}]',
    "optics_modules": '[{"PID":"GLC-SX-MMD","COUNT":2}]',
    "hardware_inventory": '[{"CN":"Switch1","SN":"FOC2320V0J9","PID":"IE-3200-8P2S"}]',
    "profinet_support": '[{"enabled":"true"}]',
    "counters": '[{"interfaces":3}]',
}

DEVICE = {
    "software-version": {"query": "SELECT sw FROM chassis LIMIT 1"},
    "serial-number": {"query": "SELECT serial FROM chassis LIMIT 1"},
    "product-identifier": {"query": "SELECT pid FROM chassis LIMIT 1"},
    "vendor-identifier": {"query": "SELECT vid FROM chassis LIMIT 1"},
}


def make_policy(kpis: list[dict[str, Any]] | None = None) -> Policy:
    """A valid policy with the test tables and ``kpis`` (default: the seed-like ones)."""
    document = {
        "policy-version": "17.18.1",
        "file-version": 1,
        "sources": [
            {
                "id": "all",
                "subtree": "<x/>",
                "period": 60,
                "tables": [
                    {"name": name, "row-path": "r", "columns": columns}
                    for name, columns in TABLES.items()
                ],
            }
        ],
        "kpis": SEED_KPIS if kpis is None else kpis,
        "device": DEVICE,
    }
    return parse_policy(json.dumps(document))


def fill(store: Store) -> None:
    """The seed device's data: one chassis, two optics, one stack member, no OSPF."""
    store.write_batch(
        "chassis",
        [
            {
                "cname": "Switch1",
                "serial": "FOC2320V0J9",
                "pid": "IE-3200-8P2S",
                "vid": "V02",
                "sw": "17.18.01.0.218947.1743507540..IOSXE",
                "_ts": 1.0,
            }
        ],
    )
    store.write_batch("transceiver", [{"pid": "GLC-SX-MMD"}, {"pid": "GLC-SX-MMD"}])
    store.write_batch("stack", [{"member": 1}])
    store.write_batch(
        "interface",
        [
            {"name": "GigabitEthernet1/1", "description": "plant-floor-uplink", "type": "eth"},
            {"name": "GigabitEthernet1/2", "description": None, "type": "eth"},
            {"name": "Vlan1", "description": "to core switch in hall 3", "type": "vlan"},
        ],
    )
    store.write_batch("system", [{"hostname": "line7-sw-east", "mgmt_ip": "10.20.30.40"}])


@dataclass
class FakeEngine:
    """The parts of the engine the report builder uses."""

    store: Store
    stats: Statistics
    events: EventHistory
    clock: ManualClock
    policy_info: PolicyInfo
    transport_mode: str = "off"
    extra: dict[str, Any] = field(default_factory=dict)


def make_engine(
    tmp_path: Path, policy: Policy | None = None, *, mode: str = "on-disk"
) -> FakeEngine:
    clock = ManualClock(SEED_PERIOD_END)
    stats = Statistics(clock)
    store = Store(stats, tmp_path, mode)  # type: ignore[arg-type]
    policy = policy or make_policy()
    store.ensure_tables(policy.tables())
    info = PolicyInfo(
        policy=policy,
        source="file",
        file_path=str(tmp_path / "p.json"),
        signature="c2lnbmF0dXJl",
        signature_valid=True,
    )
    return FakeEngine(store, stats, EventHistory(clock), clock, info)
