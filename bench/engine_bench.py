#!/usr/bin/env python3
"""Engine benchmark: the seed's ``show product-analytics stats`` operations on realistic data.

Two workloads (``--workload``), each a 48-port switch's native data scaled 1x, 10x and 100x
(48, 480, 4800 ports and everything else in proportion), read with the real engine parts:
``SnapshotSource`` -> ``Subscriber`` (XPath normalisation) -> ``Store`` (SQLite) ->
``compute_all`` -> ``ReportBuilder``.

``seed-policy``: the shipped policy ``agent/policies/cisco-iiot.json`` (the seed's 26 KPIs and
its two serviceability KPIs, 31 tables of feature configuration and inventory) over an
industrial switch built from the IE-3200-8P2S snapshot (``bench/iiot_switch.py``).  Between
rounds the device clock moves and an operator changes one port, so two tables get a changed
batch each round and the rest read what they already hold.

``stand-in``: a 26-KPI stand-in policy (20 SQL, 6 Lua) with wide per-port tables, over a
Cisco IOS-XE native configuration (interfaces with descriptions, switchport, EtherChannel and
802.1X settings, VLANs, IPv4 ACLs), interfaces-oper with counters, and device-hardware-oper
inventory.  The interface counters move between rounds (the oper file is rewritten), so the
48-row ``port_oper`` table is rewritten every round, as on a live switch.

Every figure comes from the engine's own ``Statistics`` counters, the same ones as the
seed's: data-store writes, single writes, queries, periodic reads, periodic-read batches,
SQL and Lua computation passes.  Each scale runs ``--rounds`` rounds (four times as many at
1x, at most 3 at 100x) after a warm-up round; the median of the per-round averages is
reported with its ratio to the seed device's figure.

After the rounds, the same store work runs in a tight loop twice: through the engine, and
through plain ``sqlite3`` on a fresh connection (``raw_sqlite_floor``), to show how much of
each figure is SQLite's own cost.

    python bench/engine_bench.py                            # seed policy, 1x 10x 100x
    python bench/engine_bench.py --workload stand-in --scales 1 --rounds 5 --json

The last stdout line is a JSON object with every number when ``--json`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.engine.clock import ScaledClock  # noqa: E402
from agent.engine.kpi import compute_all  # noqa: E402
from agent.engine.lua_sandbox import LuaSandbox  # noqa: E402
from agent.engine.policy import Policy, PolicyInfo, parse_policy  # noqa: E402
from agent.engine.privacy import PrivacyGuard  # noqa: E402
from agent.engine.reports import ReportBuilder  # noqa: E402
from agent.engine.stats import TIMED, Counter, EventHistory, Statistics  # noqa: E402
from agent.engine.store import Store  # noqa: E402
from agent.engine.subscriber import Subscriber  # noqa: E402
from agent.sources.snapshot import SnapshotSource  # noqa: E402
from bench import iiot_switch  # noqa: E402

# The seed device's averages (show product-analytics stats, IE-3200-8P2S, 17.18.1), µs.
SEED_US = {
    "write": 305,
    "single_write": 52,
    "query": 119,
    "periodic_read": 13293,
    "periodic_read_batch": 5927,
    "sql_pass": 33457,
}

NATIVE = "http://cisco.com/ns/yang/Cisco-IOS-XE-native"
VLAN = "http://cisco.com/ns/yang/Cisco-IOS-XE-vlan"
ACL = "http://cisco.com/ns/yang/Cisco-IOS-XE-acl"
ETH = "http://cisco.com/ns/yang/Cisco-IOS-XE-ethernet"
SWITCH = "http://cisco.com/ns/yang/Cisco-IOS-XE-switch"
SANET = "http://cisco.com/ns/yang/Cisco-IOS-XE-sanet"
IFOPER = "http://cisco.com/ns/yang/Cisco-IOS-XE-interfaces-oper"
HWOPER = "http://cisco.com/ns/yang/Cisco-IOS-XE-device-hardware-oper"


# --- data ----------------------------------------------------------------------------------


def native_xml(scale: int) -> str:
    """Running configuration of ``scale`` stacked 48-port switches."""
    parts = [f'<native xmlns="{NATIVE}"><hostname>bench-sw-01</hostname><vlan>']
    vlans = 24 * scale
    parts += [
        f'<vlan-list xmlns="{VLAN}"><id>{10 + v}</id><name>CELL-{v}-NET</name></vlan-list>'
        for v in range(vlans)
    ]
    parts.append("</vlan><ip><access-list>")
    for a in range(4 * scale):
        rules = "".join(
            f"<access-list-seq-rule><sequence>{10 * (r + 1)}</sequence>"
            f"<ace-rule><action>{'permit' if r % 3 else 'deny'}</action><protocol>ip</protocol>"
            "</ace-rule></access-list-seq-rule>"
            for r in range(12)
        )
        parts.append(f'<extended xmlns="{ACL}"><name>ACL-CELL-{a}</name>{rules}</extended>')
    parts.append("</access-list></ip><interface>")
    for member in range(1, scale + 1):
        for port in range(1, 49):
            index = (member - 1) * 48 + port
            trunk = port > 44
            mode = f'<mode xmlns="{SWITCH}"><{"trunk" if trunk else "access"}/></mode>'
            access = (
                ""
                if trunk
                else f'<access xmlns="{SWITCH}"><vlan><vlan>{10 + index % vlans}</vlan></vlan>'
                "</access>"
            )
            channel = (
                f'<channel-group xmlns="{ETH}"><number>{member}</number>'
                f"<mode>{'active' if port % 2 else 'desirable'}</mode></channel-group>"
                if trunk
                else ""
            )
            auth = (
                f'<authentication xmlns="{SANET}"><host-mode>multi-domain</host-mode>'
                "</authentication>"
                if port % 4 == 0
                else ""
            )
            shutdown = "<shutdown/>" if port % 11 == 0 else ""
            parts.append(
                f"<GigabitEthernet><name>{member}/0/{port}</name>"
                f"<description>cell {index} robot arm {port}</description>"
                f"<switchport>{mode}{access}</switchport>{channel}{auth}{shutdown}"
                "<spanning-tree><portfast/></spanning-tree></GigabitEthernet>"
            )
    parts.append("</interface></native>")
    return "".join(parts)


def interfaces_oper_xml(scale: int, tick: int = 0) -> str:
    """Interface state and counters; the counters move with ``tick`` (one per read round)."""
    parts = [f'<interfaces xmlns="{IFOPER}">']
    for member in range(1, scale + 1):
        for port in range(1, 49):
            up = port % 7 != 0
            parts.append(
                f"<interface><name>GigabitEthernet{member}/0/{port}</name>"
                f"<interface-type>iana-iftype-ethernet-csmacd</interface-type>"
                f"<oper-status>{'if-oper-state-ready' if up else 'if-oper-state-no-pass'}"
                f"</oper-status><speed>{1000000000 if port <= 44 else 10000000000}</speed>"
                f"<statistics><in-octets>{port * 1234567 * member + tick * 1500}</in-octets>"
                f"<out-octets>{port * 7654321 + tick * 900}</out-octets>"
                f"<in-errors>{port % 5}</in-errors><out-errors>0</out-errors></statistics>"
                "</interface>"
            )
    parts.append("</interfaces>")
    return "".join(parts)


def hardware_xml(scale: int) -> str:
    parts = [f'<device-hardware-data xmlns="{HWOPER}"><device-hardware>']
    for member in range(1, scale + 1):
        parts.append(
            "<device-inventory><hw-type>hw-type-chassis</hw-type>"
            f"<hw-dev-index>{member}</hw-dev-index><version>V02</version>"
            "<part-number>IE-9320-26S2C</part-number>"
            f"<serial-number>FOC{2320 + member:04d}X0AA</serial-number>"
            f"<dev-name>Switch{member}</dev-name></device-inventory>"
        )
        for optic in range(4):
            parts.append(
                "<device-inventory><hw-type>hw-type-transceiver</hw-type>"
                f"<hw-dev-index>{member * 1000 + optic}</hw-dev-index>"
                f"<part-number>{'GLC-SX-MMD' if optic < 2 else 'SFP-10G-SR'}</part-number>"
                f"<dev-name>GigabitEthernet{member}/0/{45 + optic}</dev-name></device-inventory>"
            )
        for psu in range(2):
            parts.append(
                "<device-inventory><hw-type>hw-type-pwr-supply</hw-type>"
                f"<hw-dev-index>{member * 1000 + 100 + psu}</hw-dev-index>"
                "<part-number>PWR-RGD-AC-DC-250</part-number></device-inventory>"
            )
    parts.append(
        "<device-system-data><software-version>17.18.1</software-version>"
        "</device-system-data></device-hardware></device-hardware-data>"
    )
    return "".join(parts)


def write_snapshot(directory: Path, scale: int) -> dict[str, int]:
    (directory / "running").mkdir(parents=True)
    (directory / "operational").mkdir()
    files = {
        directory / "running" / "native.xml": native_xml(scale),
        directory / "operational" / "interfaces.xml": interfaces_oper_xml(scale),
        directory / "operational" / "hardware.xml": hardware_xml(scale),
    }
    for path, text in files.items():
        path.write_text(text)
    return {path.name: len(text) for path, text in files.items()}


# --- the stand-in policy -----------------------------------------------------------------


def col(path: str, type_: str = "text", vocabulary: bool = True) -> dict[str, Any]:
    return {"path": path, "type": type_, "vocabulary": vocabulary}


def sql_flag(name: str, condition: str, table: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "sql",
        "query": "SELECT json_array(json_object('enabled', CASE WHEN EXISTS "
        f"(SELECT 1 FROM {table} WHERE {condition}) THEN 'true' ELSE 'false' END))",
    }


def sql_count(name: str, key: str, table: str, condition: str = "1") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "sql",
        "query": f"SELECT json_array(json_object('{key}', count(*))) FROM {table} "
        f"WHERE {condition}",
    }


def lua(name: str, tables: list[str], script: str) -> dict[str, Any]:
    return {"name": name, "kind": "lua", "tables": tables, "script": script}


HISTOGRAM = """
local counts, out = {}, {}
for _, row in ipairs(tables.%s) do
  local k = %s
  if k ~= nil then counts[k] = (counts[k] or 0) + 1 end
end
for k, n in pairs(counts) do out[#out + 1] = object("%s", k, "COUNT", n) end
table.sort(out, function(a, b) return tostring(a.%s) < tostring(b.%s) end)
return out
"""


def histogram(name: str, table: str, expr: str, key: str) -> dict[str, Any]:
    return lua(name, [table], HISTOGRAM % (table, expr, key, key, key))


def stand_in_policy() -> dict[str, Any]:
    ns = {
        "ios": NATIVE,
        "vlan": VLAN,
        "acl": ACL,
        "eth": ETH,
        "sw": SWITCH,
        "sanet": SANET,
        "ifo": IFOPER,
        "hw": HWOPER,
    }
    sources = [
        {
            "id": "native",
            "datastore": "running",
            "subtree": f'<native xmlns="{NATIVE}"/>',
            "period": 3600,
            "tables": [
                {
                    "name": "port_cfg",
                    "row-path": "ios:native/ios:interface/ios:GigabitEthernet",
                    "columns": {
                        "name": col("ios:name", vocabulary=False),
                        "description": col("ios:description", vocabulary=False),
                        "trunk": col("boolean(ios:switchport/sw:mode/sw:trunk)", "bool"),
                        "access_vlan": col("ios:switchport/sw:access/sw:vlan/sw:vlan", "int"),
                        "channel": col("eth:channel-group/eth:number", "int"),
                        "channel_mode": col("eth:channel-group/eth:mode"),
                        "host_mode": col("sanet:authentication/sanet:host-mode"),
                        "shutdown": col("boolean(ios:shutdown)", "bool"),
                        "portfast": col("boolean(ios:spanning-tree/ios:portfast)", "bool"),
                    },
                },
                {
                    "name": "vlan",
                    "row-path": "ios:native/ios:vlan/vlan:vlan-list",
                    "columns": {
                        "id": col("vlan:id", "int"),
                        "name": col("vlan:name", vocabulary=False),
                    },
                },
                {
                    "name": "acl_rule",
                    "row-path": "ios:native/ios:ip/ios:access-list/acl:extended/"
                    "acl:access-list-seq-rule",
                    "columns": {
                        "acl": col("../acl:name", vocabulary=False),
                        "seq": col("acl:sequence", "int"),
                        "action": col("acl:ace-rule/acl:action"),
                    },
                },
                {
                    "name": "system",
                    "row-path": "ios:native",
                    "columns": {"hostname": col("ios:hostname", vocabulary=False)},
                },
            ],
        },
        {
            "id": "interfaces-oper",
            "subtree": f'<interfaces xmlns="{IFOPER}"/>',
            "period": 300,
            "tables": [
                {
                    "name": "port_oper",
                    "row-path": "ifo:interfaces/ifo:interface",
                    "columns": {
                        "name": col("ifo:name"),
                        "type": col("ifo:interface-type"),
                        "oper": col("ifo:oper-status"),
                        "speed": col("ifo:speed", "int"),
                        "in_octets": col("ifo:statistics/ifo:in-octets", "int"),
                        "out_octets": col("ifo:statistics/ifo:out-octets", "int"),
                        "in_errors": col("ifo:statistics/ifo:in-errors", "int"),
                    },
                }
            ],
        },
        {
            "id": "hardware",
            "subtree": f'<device-hardware-data xmlns="{HWOPER}"/>',
            "period": 86400,
            "tables": [
                {
                    "name": "inventory",
                    "row-path": "hw:device-hardware-data/hw:device-hardware/hw:device-inventory",
                    "columns": {
                        "hw_type": col("hw:hw-type"),
                        "pid": col("hw:part-number"),
                        "serial": col("hw:serial-number"),
                        "vid": col("hw:version"),
                        "cname": col("hw:dev-name"),
                    },
                },
                {
                    "name": "sw",
                    "row-path": "hw:device-hardware-data/hw:device-hardware/hw:device-system-data",
                    "columns": {"version": col("hw:software-version")},
                },
            ],
        },
    ]
    kpis = [
        sql_count("port_count", "ports", "port_cfg"),
        sql_count("ports_up", "ports", "port_oper", "oper = 'if-oper-state-ready'"),
        {
            "name": "port_speeds",
            "kind": "sql",
            "query": "SELECT json_group_array(json_object('speed', speed, 'COUNT', n)) FROM "
            "(SELECT speed, count(*) AS n FROM port_oper GROUP BY speed ORDER BY speed)",
        },
        sql_count("access_ports", "ports", "port_cfg", "NOT trunk"),
        sql_count("trunk_ports", "ports", "port_cfg", "trunk"),
        sql_flag("lacp", "channel_mode IN ('active', 'passive')", "port_cfg"),
        sql_flag("pagp_port_agg_protocol", "channel_mode IN ('auto', 'desirable')", "port_cfg"),
        sql_flag("static_etherchannel", "channel_mode = 'on'", "port_cfg"),
        sql_flag("8021x_multi_domain_auth", "host_mode = 'multi-domain'", "port_cfg"),
        sql_count("portfast_ports", "ports", "port_cfg", "portfast"),
        sql_count("shutdown_ports", "ports", "port_cfg", "shutdown"),
        sql_count("vlan_count", "vlans", "vlan"),
        {
            "name": "security_acl_ipv4",
            "kind": "sql",
            "query": "SELECT json_array(json_object('acls', count(DISTINCT acl), "
            "'rules', count(*))) FROM acl_rule",
        },
        {
            "name": "optics_modules",
            "kind": "sql",
            "query": "SELECT json_group_array(json_object('PID', pid, 'COUNT', n)) FROM "
            "(SELECT pid, count(*) AS n FROM inventory WHERE hw_type = 'hw-type-transceiver' "
            "GROUP BY pid ORDER BY pid)",
        },
        {
            "name": "hardware_inventory",
            "kind": "sql",
            "query": "SELECT json_group_array(json_object('CN', cname, 'SN', serial, "
            "'PID', pid)) FROM (SELECT * FROM inventory WHERE hw_type = 'hw-type-chassis' "
            "ORDER BY cname LIMIT 1)",
        },
        sql_count("error_ports", "ports", "port_oper", "in_errors > 0"),
        {
            "name": "traffic_class",
            "kind": "sql",
            "query": "SELECT json_array(json_object('busy_ports', "
            "sum(in_octets + out_octets > 100000000))) FROM port_oper",
        },
        {
            "name": "vlans_in_use",
            "kind": "sql",
            "query": "SELECT json_array(json_object('vlans', count(DISTINCT access_vlan))) "
            "FROM port_cfg",
        },
        sql_count("described_ports", "ports", "port_cfg", "description IS NOT NULL"),
        sql_count("stack_members", "member_cnt", "inventory", "hw_type = 'hw-type-chassis'"),
        histogram("channel_modes", "port_cfg", "row.channel_mode", "mode"),
        histogram("acl_actions", "acl_rule", "row.action", "action"),
        histogram("port_states", "port_oper", "row.oper", "state"),
        histogram("interface_types", "port_oper", "row.type", "type"),
        lua(
            "channel_sizes",
            ["port_cfg"],
            "local s = {} for _, r in ipairs(tables.port_cfg) do if r.channel then "
            "s[r.channel] = (s[r.channel] or 0) + 1 end end local m = 0 "
            "for _, n in pairs(s) do if n > m then m = n end end "
            'return { object("largest_channel", m) }',
        ),
        lua(
            "power_supplies",
            ["inventory"],
            "local n = 0 for _, r in ipairs(tables.inventory) do "
            "if r.hw_type == 'hw-type-pwr-supply' then n = n + 1 end end "
            'return { object("psu_count", n) }',
        ),
    ]
    assert len(kpis) == 26
    return {
        "policy-version": "bench-1",
        "file-version": 1,
        "namespaces": ns,
        "sources": sources,
        "kpis": kpis,
        "device": {
            "software-version": {"query": "SELECT version FROM sw LIMIT 1"},
            "serial-number": {
                "query": "SELECT serial FROM inventory WHERE hw_type = 'hw-type-chassis' "
                "ORDER BY cname LIMIT 1"
            },
            "product-identifier": {
                "query": "SELECT pid FROM inventory WHERE hw_type = 'hw-type-chassis' LIMIT 1"
            },
            "vendor-identifier": {
                "query": "SELECT vid FROM inventory WHERE hw_type = 'hw-type-chassis' LIMIT 1"
            },
        },
    }


# --- workloads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """A policy and the device data it reads, and how that data moves between rounds."""

    policy: Callable[[], Policy]
    write: Callable[[Path, int], dict[str, int]]  # snapshot directory, scale -> file sizes
    advance: Callable[[Path, int, int], None]  # snapshot directory, scale, round


def _stand_in_advance(directory: Path, scale: int, tick: int) -> None:
    (directory / "operational" / "interfaces.xml").write_text(interfaces_oper_xml(scale, tick))


WORKLOADS = {
    "seed-policy": Workload(
        policy=lambda: parse_policy(iiot_switch.POLICY.read_text()),
        write=iiot_switch.write_snapshot,
        advance=iiot_switch.advance,
    ),
    "stand-in": Workload(
        policy=lambda: parse_policy(json.dumps(stand_in_policy())),
        write=write_snapshot,
        advance=_stand_in_advance,
    ),
}


# --- measurement -------------------------------------------------------------------------


class _Engine:
    """The parts of the engine the report builder uses."""

    def __init__(self, store: Store, stats: Statistics, clock: ScaledClock, info: Any) -> None:
        self.store = store
        self.stats = stats
        self.events = EventHistory(clock)
        self.clock = clock
        self.policy_info = info
        self.transport_mode = "direct"


def avg(stats: Statistics, counter: Counter) -> float:
    """Average µs per operation, from the nanosecond total (no per-operation rounding)."""
    n = stats.count(counter)
    return stats.total_ns(counter) / n / 1000 if n else 0.0


def raw_sqlite_floor(
    store: Store, policy: Any, storage: str, directory: Path, rounds: int
) -> dict[str, float]:
    """What plain sqlite3 needs for the same work, without the engine around it.

    A fresh connection (same SQLite, same locking, journal and synchronous settings, no
    authorizer, no counters) holding the same tables and rows: every table batch (DELETE +
    the rows with one ``executemany`` of a one-row INSERT, one transaction; a single write is
    one of those rows, timed by the ``executemany``) and the SQL KPI queries (in one read
    transaction, as ``compute_all`` runs them).  Averages in µs, median over ``rounds``
    rounds.
    """
    path = ":memory:" if storage == "in-memory" else str(directory / "raw-floor.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    if storage == "on-disk":  # as the store opens its file
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    batches = []
    for spec in policy.tables():
        columns = [c.name for c in spec.columns] + ["_ts"]
        conn.execute(f'CREATE TABLE "{spec.name}" ({", ".join(columns)})')
        rows = [tuple(r[c] for c in columns) for r in store.rows(spec.name)]
        marks = ", ".join("?" * len(columns))
        insert = f'INSERT INTO "{spec.name}" ({", ".join(columns)}) VALUES ({marks})'
        batches.append((f'DELETE FROM "{spec.name}"', insert, rows))
    queries = [k.code for k in policy.kpis if k.kind == "sql"]
    per_round: dict[str, list[float]] = {"write": [], "single_write": [], "sql_query": []}
    for round_no in range(rounds + 1):
        timings: dict[str, list[int]] = {"write": [], "sql_query": []}
        stored_ns = stored_rows = 0
        for delete, insert, rows in batches:
            start = time.perf_counter_ns()
            conn.execute("BEGIN")
            conn.execute(delete)
            rows_start = time.perf_counter_ns()
            conn.executemany(insert, rows)
            stored_ns += time.perf_counter_ns() - rows_start
            stored_rows += len(rows)
            conn.execute("COMMIT")
            timings["write"].append(time.perf_counter_ns() - start)
        conn.execute("BEGIN")
        for sql in queries:
            start = time.perf_counter_ns()
            conn.execute(sql).fetchall()
            timings["sql_query"].append(time.perf_counter_ns() - start)
        conn.execute("COMMIT")
        if round_no:  # round 0 prepares the statements
            for name, values in timings.items():
                per_round[name].append(statistics.fmean(values) / 1000)
            per_round["single_write"].append(stored_ns / max(1, stored_rows) / 1000)
    conn.close()
    return {name: round(statistics.median(v), 1) for name, v in per_round.items()}


def engine_same_loop(store: Store, stats: Statistics, policy: Any, rounds: int) -> dict[str, float]:
    """The engine's figures in the same tight loop as ``raw_sqlite_floor``, to compare like
    with like: every table batch rewritten in full (each row gets its own read time, so no
    batch is an unchanged one), the same batches unchanged (one read time, as the subscriber
    writes them) and the 20 SQL KPI queries through ``Store.query`` in one snapshot."""
    tables = [(spec.name, store.rows(spec.name)) for spec in policy.tables()]
    queries = [k.code for k in policy.kpis if k.kind == "sql"]
    # One-row batches, the size the seed's counters suggest for its writes (849 single
    # writes in 630 writes: ~1.35 rows each): the policy's one-row table, rewritten.
    one_row = next((name, rows) for name, rows in tables if len(rows) == 1)
    per_round: dict[str, list[float]] = {
        "write_full": [],
        "write_unchanged": [],
        "write_one_row": [],
        "sql_query": [],
    }
    ts = 1.0e9
    for round_no in range(rounds + 1):
        ts += 1.0
        stats.clear()
        for name, rows in tables:
            batch = [{**r, "_ts": ts + i * 1e-6} for i, r in enumerate(rows)]
            store.write_batch(name, batch, replace=True)
        full = avg(stats, Counter.WRITES)
        stats.clear()
        for name, rows in tables:
            store.write_batch(name, [{**r, "_ts": ts + 0.5} for r in rows], replace=True)
        stats.clear()
        for name, rows in tables:
            store.write_batch(name, [{**r, "_ts": ts + 0.75} for r in rows], replace=True)
        unchanged = avg(stats, Counter.WRITES)
        stats.clear()
        name, rows = one_row
        column = next(c for c in rows[0] if c != "_ts")
        value = rows[0][column]
        for i in range(150):  # the value changes every time: always a rewrite
            changed = value + i if isinstance(value, int | float) else f"{value}-{i}"
            store.write_batch(name, [{**rows[0], column: changed, "_ts": ts}], replace=True)
        store.write_batch(name, [{**rows[0], "_ts": ts}], replace=True)  # as it was
        one_row_write = avg(stats, Counter.WRITES)
        stats.clear()
        with store.snapshot():
            for sql in queries:
                store.query(sql)
        if round_no:
            per_round["write_full"].append(full)
            per_round["write_unchanged"].append(unchanged)
            per_round["write_one_row"].append(one_row_write)
            per_round["sql_query"].append(avg(stats, Counter.QUERIES))
    return {name: round(statistics.median(v), 1) for name, v in per_round.items()}


async def one_scale(workload: Workload, scale: int, rounds: int, storage: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pa-engine-bench-") as tmp:
        tmp_path = Path(tmp)
        sizes = workload.write(tmp_path / "snapshot", scale)
        policy = workload.policy()
        clock = ScaledClock()
        stats = Statistics(clock)
        events = EventHistory(clock)
        store = Store(stats, tmp_path / "state", storage)  # type: ignore[arg-type]
        store.ensure_tables(policy.tables())
        source = SnapshotSource(tmp_path / "snapshot")
        subscriber = Subscriber(source, policy, store, stats, events, clock)
        info = PolicyInfo(policy=policy, source="file", signature="bench", signature_valid=True)
        engine = _Engine(store, stats, clock, info)
        builder = ReportBuilder(engine)
        per_round: dict[str, list[float]] = {}

        def keep(name: str, value: float) -> None:
            per_round.setdefault(name, []).append(value)

        # Rows written per round: every table once (replace), so the batch size is known.
        for spec in policy.sources:
            assert await subscriber.poll(spec)
        rows_per_table = {t.name: store.row_count(t.name) for t in policy.tables()}
        total_rows = sum(rows_per_table.values())
        # Each write timed on its own as well, to average the writes that store rows apart
        # from those of tables the device has nothing for (the counters only hold totals).
        with_rows: list[int] = []
        write_batch = store.write_batch

        def timed_write(table: str, rows: Any, *, replace: bool = False) -> None:
            start = time.perf_counter_ns()
            write_batch(table, rows, replace=replace)
            if rows:
                with_rows.append(time.perf_counter_ns() - start)

        store.write_batch = timed_write  # type: ignore[method-assign]
        for round_no in range(rounds + 1):  # round 0 warms caches and is not kept
            # The data moves between reads as on a live switch (see the workloads).
            workload.advance(tmp_path / "snapshot", scale, round_no + 1)
            stats.clear()
            with_rows.clear()
            for spec in policy.sources:
                ok = await subscriber.poll(spec)
                assert ok, events.entries()[0]
            reads = {c: (stats.count(c), stats.total_ns(c) / 1000) for c in TIMED}
            writes_with_rows = statistics.fmean(with_rows) / 1000
            stats.clear()
            guard = PrivacyGuard.from_store(policy, store)
            results = compute_all(policy.kpis, store, stats, events, clock.time(), guard=guard)
            failed = [r for r in results if r.value is None]
            assert not failed, failed
            kpi_queries = stats.count(Counter.QUERIES)
            query_avg = avg(stats, Counter.QUERIES)
            sql_pass = stats.total_ns(Counter.SQL_COMPUTATIONS) / 1000
            lua_pass = stats.total_ns(Counter.LUA_COMPUTATIONS) / 1000
            start = time.perf_counter_ns()
            builder.generate(clock.time() - 3600, clock.time() + round_no)
            report_us = (time.perf_counter_ns() - start) / 1000
            # The SQL KPI queries alone (no Lua row reads, no privacy-guard reads).
            stats.clear()
            sql_kpis = [k for k in policy.kpis if k.kind == "sql"]
            compute_all(sql_kpis, store, stats, events, clock.time())
            sql_query_avg = avg(stats, Counter.QUERIES)
            if round_no == 0:
                continue

            def reads_avg(counter: Counter, reads: Any = reads) -> float:
                n, total = reads[counter]
                return float(total / n) if n else 0.0

            keep("write", reads_avg(Counter.WRITES))
            keep("write_with_rows", writes_with_rows)
            keep("write_per_row", reads_avg(Counter.WRITES) * len(rows_per_table) / total_rows)
            keep("single_write", reads_avg(Counter.SINGLE_WRITES))
            keep("periodic_read", reads_avg(Counter.PERIODIC_READS))
            keep("periodic_read_batch", reads_avg(Counter.PERIODIC_READ_BATCHES))
            keep(
                "periodic_read_total",
                (reads[Counter.PERIODIC_READS][1] + reads[Counter.PERIODIC_READ_BATCHES][1])
                / max(1, reads[Counter.PERIODIC_READS][0]),
            )
            keep("query", query_avg)
            keep("sql_query", sql_query_avg)
            keep("sql_pass", float(sql_pass))
            keep("lua_pass", float(lua_pass))
            keep("report_generate", report_us)
            keep("report_binding_xml", float(builder.last_build_us))
        rows = {t.name: store.row_count(t.name) for t in policy.tables()}
        floor = raw_sqlite_floor(store, policy, storage, tmp_path, rounds)
        same_loop = engine_same_loop(store, stats, policy, rounds)
        # What a <get> of /product-analytics/reports costs: copies of the cached elements.
        report_count = len(builder.report_ids())
        for _ in range(20):
            start = time.perf_counter_ns()
            builder.reports_xml(None)
            keep("reports_xml_get", (time.perf_counter_ns() - start) / 1000)
        store.close()
        await source.close()
    medians = {name: statistics.median(values) for name, values in per_round.items()}
    return {
        "scale": scale,
        "ports": 48 * scale,
        "rows": rows,
        "total_rows": sum(rows.values()),
        "xml_bytes": sizes,
        "kpi_queries_per_pass": kpi_queries,
        "reports_in_get": report_count,
        "median_us": {k: round(v, 1) for k, v in medians.items()},
        "raw_sqlite_floor_us": floor,
        "engine_same_loop_us": same_loop,
    }


def lua_runtime_cost(repeat: int = 300) -> dict[str, float]:
    """Cost of a fresh sandboxed runtime per KPI (what LuaSandbox does) vs. the script."""
    sandbox = LuaSandbox()
    rows: dict[str, list[dict[str, Any]]] = {"t": []}
    timings = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        sandbox.run("return {}", rows)
        timings.append((time.perf_counter_ns() - start) / 1000)
    return {"fresh_runtime_run_us": round(statistics.median(timings), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scales", type=int, nargs="+", default=[1, 10, 100], help="data sizes (x 48 ports)"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds per scale (x4 at 1x, at most 3 at 100x)"
    )
    parser.add_argument("--storage", choices=["in-memory", "on-disk"], default="on-disk")
    parser.add_argument(
        "--workload",
        choices=sorted(WORKLOADS),
        default="seed-policy",
        help="seed-policy: the shipped cisco-iiot policy on an industrial switch (default); "
        "stand-in: a 26-KPI policy with wide per-port tables",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args()
    results = []
    for scale in args.scales:
        # Small scales are cheap: more rounds there make the medians steadier.
        rounds = {1: 4 * args.rounds, 10: args.rounds}.get(scale, max(1, min(args.rounds, 3)))
        results.append(
            asyncio.run(one_scale(WORKLOADS[args.workload], scale, rounds, args.storage))
        )
    lua_cost = lua_runtime_cost()
    names = [
        ("write", "data-store write (avg)"),
        ("write_with_rows", "  of those storing rows (avg)"),
        ("single_write", "single write (avg)"),
        ("write_per_row", "data-store write, per row"),
        ("query", "query (avg, whole KPI pass)"),
        ("sql_query", "query (avg, SQL KPI queries only)"),
        ("periodic_read", "periodic read (avg, source read)"),
        ("periodic_read_batch", "periodic-read batch (avg)"),
        ("periodic_read_total", "periodic read + its batches"),
        ("sql_pass", "SQL KPI computation pass"),
        ("lua_pass", "Lua KPI computation pass"),
        ("report_generate", "report generate (all)"),
        ("report_binding_xml", "report binding + XML"),
        ("reports_xml_get", "reports_xml per get (all reports)"),
    ]
    header = f"{'operation (µs, median)':36}" + "".join(
        f"{str(r['scale']) + 'x (' + str(r['total_rows']) + ' rows)':>20}" for r in results
    )
    policy = WORKLOADS[args.workload].policy()
    kinds = [k.kind for k in policy.kpis]
    print(
        f"workload {args.workload}; storage {args.storage}; --rounds {args.rounds}; "
        f"{len(kinds)} KPIs ({kinds.count('sql')} SQL, {kinds.count('lua')} Lua), "
        f"{len(policy.tables())} tables"
    )
    print(header + f"{'seed':>10}{'seed/1x':>10}")
    for key, label in names:
        line = f"{label:36}" + "".join(f"{r['median_us'][key]:>20,.1f}" for r in results)
        seed = SEED_US.get({"sql_query": "query", "write_with_rows": "write"}.get(key, key))
        if seed is not None:
            first = results[0]["median_us"][key]
            line += f"{seed:>10,}{seed / first if first else float('inf'):>9.1f}x"
        print(line)
    print("engine in the floor's tight loop (µs):")
    for key, label in (
        ("write_full", "  data-store write, all rewritten"),
        ("write_unchanged", "  data-store write, all unchanged"),
        ("write_one_row", "  data-store write, 1-row batch"),
        ("sql_query", "  SQL KPI query"),
    ):
        line = f"{label:36}" + "".join(f"{r['engine_same_loop_us'][key]:>20,.1f}" for r in results)
        seed = SEED_US["query" if key == "sql_query" else "write"]
        first = results[0]["engine_same_loop_us"][key]
        print(line + f"{seed:>10,}{seed / first if first else float('inf'):>9.1f}x")
    print("raw sqlite3 floor (same work, no engine; µs):")
    for key, label in (
        ("write", "  data-store write (one table batch)"),
        ("single_write", "  single write"),
        ("sql_query", "  SQL KPI query"),
    ):
        line = f"{label:36}" + "".join(f"{r['raw_sqlite_floor_us'][key]:>20,.1f}" for r in results)
        seed = SEED_US["query" if key == "sql_query" else key]
        first = results[0]["raw_sqlite_floor_us"][key]
        print(line + f"{seed:>10,}{seed / first if first else float('inf'):>9.1f}x")
    counts = ", ".join(f"{r['scale']}x: {r['reports_in_get']}" for r in results)
    print(f"reports held (and copied per get): {counts}")
    print(f"fresh sandboxed Lua runtime + trivial script: {lua_cost['fresh_runtime_run_us']} µs")
    if args.json:
        summary = {"workload": args.workload, "storage": args.storage, "scales": results}
        print(json.dumps({**summary, "lua": lua_cost}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
