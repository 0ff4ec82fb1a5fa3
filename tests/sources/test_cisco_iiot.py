"""The shipped ``cisco-iiot`` policy against the Cisco IE-3200-8P2S snapshot.

Golden test: the ``netconf`` source polling the device simulator (real NETCONF/SSH) that
serves ``tools/snapshots/ie-3200-8p2s`` yields exactly the KPI names and values of the
seed's ``show product-analytics kpi report 1747988540`` and the seed's report identity.
Then the same policy against modified copies of the snapshot: every KPI turns when the
feature it stands for is configured (or removed), and nothing else changes.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from agent.engine.clock import ManualClock
from agent.engine.kpi import compute_all
from agent.engine.policy import Policy, load_policy_file, load_trusted_keys, parse_policy
from agent.engine.privacy import PrivacyGuard
from agent.engine.stats import EventHistory, Statistics
from agent.engine.store import Store
from agent.engine.subscriber import Subscriber
from agent.sources import open_source
from agent.sources.base import Source
from agent.sources.simulator import DeviceSimulator
from agent.sources.snapshot import SnapshotSource

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tools/snapshots/ie-3200-8p2s"
POLICY = ROOT / "agent/policies/cisco-iiot.json"
PASSWORD = "ie3200-sim"

C = "http://cisco.com/ns/yang/Cisco-IOS-XE-"
IOS = C + "native"
NS = {
    "ios": IOS,
    "acl": C + "acl",
    "sanet": C + "sanet",
    "ptp": C + "ptp",
    "mrp": C + "mrp",
    "vlan": C + "vlan",
    "hw": C + "device-hardware-oper",
    "plat": C + "platform-oper",
}

# `show product-analytics kpi report 1747988540` of the seed, value text as printed there.
SEED_KPIS = {
    "ospf": '[{"enabled":"false"}]',
    "bgp_ipv4": '[{"enabled":"false"}]',
    "fhrp_hsrp": '[{"enabled":"false"}]',
    "hsr_support": '[{"enabled":"false"}]',
    "qos_enabled": '[{"enabled":"false"}]',
    "ptp_over_prp": '[{"enabled":"false"}]',
    "alarm_support": '[{"enabled":"true"}]',
    "stack_members": '[{"member_cnt":1}]',
    "erspan_support": '[{"enabled":"false"}]',
    "modbus_support": '[{"enabled":"false"}]',
    "optics_modules": '[{"PID":"GLC-SX-MMD","COUNT":2}]',
    "ptp_power_2011": '[{"enabled":"true"}]',
    "profinet_support": '[{"enabled":"true"}]',
    "device_level_ring": '[{"enabled":"false"}]',
    "security_acl_ipv4": '[{"enabled":"true"}]',
    "hardware_inventory": '[{"CN":"Switch1","SN":"FOC2320V0J9","PID":"IE-3200-8P2S"}]',
    "hsr_prp_dual_redbox": '[{"enabled":"false"}]',
    "pagp_port_agg_protocol": '[{"enabled":"false"}]',
    "8021x_multi_domain_auth": '[{"enabled":"true"}]',
    "avb_stream_res_protocol": '[{"enabled":"false"}]',
    "rspan_vlan_port_channel": '[{"enabled":"false"}]',
    "media_redundancy_protocol": '[{"enabled":"false"}]',
    "common_industrial_protocol": '[{"enabled":"false"}]',
    "virtual_routing_forwarding": '[{"enabled":"false"}]',
    "resilient_ethernet_protocol": '[{"enabled":"false"}]',
    "parallel_redundancy_protocol": '[{"enabled":"false"}]',
}
SEED = {name: json.loads(text) for name, text in SEED_KPIS.items()}
SEED_IDENTITY = {
    "software-version": "17.18.01.0.218947.1743507540..IOSXE",
    "serial-number": "FOC2320V0J9",
    "product-identifier": "IE-3200-8P2S",
    "vendor-identifier": "V02",
}
SERVICEABILITY = {"counters", "tdl_counters"}
ON = [{"enabled": "true"}]
OFF = [{"enabled": "false"}]


@dataclass
class Outcome:
    """What one pass of the policy over a source produced."""

    kpis: dict[str, Any]  # feature KPI name -> parsed JSON value
    serviceability: dict[str, Any]
    identity: dict[str, str]
    errors: list[str]  # read errors, KPI errors and privacy drops
    texts: dict[str, str]  # KPI name -> value text as the report carries it
    event_names: list[str] = field(default_factory=list)


def _policy() -> Policy:
    """The shipped policy, loaded the way the agent loads it (signature checked)."""
    info = load_policy_file(POLICY, load_trusted_keys(), 0.0)
    assert info.source != "built-in", info.rejection_reason
    return info.policy


async def _evaluate(source: Source, policy: Policy | None = None) -> Outcome:
    """Read every policy source once, then compute the KPIs and the report identity."""
    policy = policy or _policy()
    clock = ManualClock(1_747_988_540.0)
    stats = Statistics(clock)
    events = EventHistory(clock)
    store = Store(stats, None)
    store.ensure_tables(policy.tables())
    try:
        subscriber = Subscriber(source, policy, store, stats, events, clock)
        await subscriber.refresh()
        read_errors = [f"{e.event} {e.context}" for e in events.entries() if e.rc != 0]
        guard = PrivacyGuard.from_store(policy, store)
        results = compute_all(policy.kpis, store, stats, events, clock.time(), guard=guard)
        errors = list(read_errors) + [f"{r.name}: {r.error}" for r in results if r.error]
        texts = {r.name: r.value for r in results if r.value is not None}
        kpis = {r.name: json.loads(r.value) for r in results if r.category == "feature" and r.value}
        serviceability = {
            r.name: json.loads(r.value) for r in results if r.category != "feature" and r.value
        }
        identity = {
            name: str(rows[0][0]) if (rows := store.query(query)) and rows[0][0] is not None else ""
            for name, query in policy.device.items()
        }
        events_seen = [e.event for e in events.entries()]
        return Outcome(kpis, serviceability, identity, errors, texts, events_seen)
    finally:
        store.close()
        await source.close()


def _via_snapshot(root: Path, policy: Policy | None = None) -> Outcome:
    return asyncio.run(_evaluate(SnapshotSource(root), policy))


def _via_netconf(root: Path, state_dir: Path) -> Outcome:
    async def body() -> Outcome:
        simulator = DeviceSimulator(root, password=PASSWORD, state_dir=state_dir / "devsim")
        await simulator.start()
        try:
            source = open_source(
                f"netconf://admin@127.0.0.1:{simulator.port}?hostkey=off&timeout=20",
                state_dir=state_dir,
                env={"PA_SOURCE_PASSWORD": PASSWORD},
            )
            return await _evaluate(source)
        finally:
            await simulator.close()

    return asyncio.run(body())


# --- modified snapshots -------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One change to a snapshot file: remove the nodes ``target`` selects, set their text,
    or append the elements of ``add`` to the first one (a new file when ``target`` is empty
    and ``add`` is the whole document)."""

    file: str
    target: str = ""
    add: str = ""
    remove: bool = False
    text: str | None = None


def _apply(root: Path, edits: Sequence[Edit]) -> None:
    parser = etree.XMLParser(remove_blank_text=True)
    for edit in edits:
        path = root / edit.file
        if not edit.target:
            path.write_text(edit.add)
            continue
        tree = etree.parse(str(path), parser)
        nodes = tree.xpath(edit.target, namespaces=NS)
        assert isinstance(nodes, list) and nodes, f"{edit.target} selects nothing in {edit.file}"
        first = nodes[0]
        assert isinstance(first, etree._Element)
        if edit.remove:
            for node in nodes:
                assert isinstance(node, etree._Element)
                parent = node.getparent()
                assert parent is not None
                parent.remove(node)
        if edit.text is not None:
            for node in nodes:
                assert isinstance(node, etree._Element)
                node.text = edit.text
        if edit.add:
            for child in etree.fromstring(f"<add>{edit.add}</add>", parser):
                first.append(child)
        tree.write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _variant(tmp_path: Path, edits: Sequence[Edit]) -> Path:
    root = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, root)
    _apply(root, edits)
    return root


RUNNING = "running/native.xml"
HARDWARE = "operational/device-hardware-data.xml"
COMPONENTS = "operational/components.xml"
NATIVE = "/ios:native"
GI = "/ios:native/ios:interface/ios:GigabitEthernet"


def _ns(module: str) -> str:
    return f'xmlns="{C}{module}"'


def _transceiver(index: int, pid: str, port: str) -> str:
    return (
        f"<device-inventory {_ns('device-hardware-oper')}><hw-type>hw-type-transceiver</hw-type>"
        f"<hw-dev-index>{index}</hw-dev-index><version>V01</version><part-number>{pid}</part-number>"
        f"<serial-number>AGM2301X{index:03d}</serial-number><hw-description>SFP</hw-description>"
        f"<dev-name>{port}</dev-name><field-replaceable>true</field-replaceable>"
        f"<hw-class>hw-class-physical</hw-class></device-inventory>"
    )


OSPF = Edit(
    RUNNING,
    NATIVE,
    f"<router {_ns('native')}><router-ospf {_ns('ospf')}><ospf><process-id><id>10</id>"
    "</process-id></ospf></router-ospf></router>",
)
THIRD_OPTIC = Edit(
    HARDWARE,
    "/hw:device-hardware-data/hw:device-hardware",
    _transceiver(8, "GLC-SX-MMD", "GigabitEthernet1/8"),
)
SECOND_MEMBER = Edit(
    COMPONENTS,
    "/plat:components",
    f"<component {_ns('platform-oper')}><cname>Switch2</cname><state><type>comp-chassis</type>"
    "<description>IE-3200-8P2S</description><mfg-name>Cisco Systems Inc</mfg-name>"
    "<version>V02</version><serial-no>FOC2331X1KQ</serial-no><part-no>IE-3200-8P2S</part-no>"
    "<empty>false</empty><removable>true</removable><status>status-active</status></state>"
    "</component>",
)
# the model wants the Port-channel before its members
PORT_CHANNEL = Edit(
    RUNNING,
    "/ios:native/ios:interface",
    f"<Port-channel {_ns('native')}><name>1</name></Port-channel>",
)
HSR_OPER = (
    f'<hsr-oper-data xmlns="{C}hsr-oper">'
    "<hsr-ring-summary><id>1</id><name>HSR-ring1</name><state>hsr-ring-in-use-state</state>"
    "<redbox-mode>{mode_a}</redbox-mode></hsr-ring-summary>{second}</hsr-oper-data>"
)

# (name, edits, expected KPI values that differ from the seed's)
VARIANTS: list[tuple[str, list[Edit], dict[str, Any]]] = [
    ("ospf", [OSPF], {"ospf": ON}),
    (
        "ospf-vrf",
        [
            Edit(
                RUNNING,
                NATIVE,
                f"<vrf {_ns('native')}><definition><name>OT-CELL2</name><address-family><ipv4/>"
                "</address-family></definition></vrf>"
                f"<router {_ns('native')}><router-ospf {_ns('ospf')}><ospf><process-id-vrf>"
                "<id>20</id><vrf>OT-CELL2</vrf></process-id-vrf></ospf></router-ospf></router>",
            )
        ],
        {"ospf": ON, "virtual_routing_forwarding": ON},
    ),
    (
        "bgp-ipv4-neighbor",
        [
            Edit(
                RUNNING,
                NATIVE,
                f"<router {_ns('native')}><bgp {_ns('bgp')}><id>65001</id><neighbor>"
                "<id>10.30.2.1</id><remote-as>65002</remote-as></neighbor></bgp></router>",
            )
        ],
        {"bgp_ipv4": ON},
    ),
    (
        "hsrp",
        [
            Edit(
                RUNNING,
                "/ios:native/ios:interface/ios:Vlan",
                f"<standby {_ns('native')}><standby-list><group-number>1</group-number>"
                "<priority>110</priority><preempt/></standby-list></standby>",
            )
        ],
        {"fhrp_hsrp": ON},
    ),
    (
        "hsr-ring",
        [
            Edit(
                "operational/hsr-oper-data.xml",
                add=HSR_OPER.format(mode_a="hsr-ring-rebox-mode-hsr-san", second=""),
            )
        ],
        {"hsr_support": ON},
    ),
    (
        "hsr-prp-dual-redbox",
        [
            Edit(
                "operational/hsr-oper-data.xml",
                add=HSR_OPER.format(
                    mode_a="hsr-ring-rebox-mode-hsr-prp-lan-a",
                    second="<hsr-ring-summary><id>2</id><name>HSR-ring2</name>"
                    "<redbox-mode>hsr-ring-rebox-mode-hsr-prp-lan-b</redbox-mode>"
                    "</hsr-ring-summary>",
                ),
            )
        ],
        {"hsr_support": ON, "hsr_prp_dual_redbox": ON},
    ),
    (
        "qos",
        [
            Edit(
                RUNNING,
                NATIVE,
                f"<policy {_ns('native')}><policy-map {_ns('policy')}><name>PN-PRIO</name>"
                "</policy-map></policy>",
            ),
            Edit(
                RUNNING,
                f"{GI}[ios:name='1/1']",
                f"<service-policy {_ns('policy')}><input>PN-PRIO</input></service-policy>",
            ),
        ],
        {"qos_enabled": ON},
    ),
    (
        "prp",
        [
            Edit(
                RUNNING,
                f"{GI}[ios:name='1/9']",
                f"<prp-channel-group {_ns('prp')}><id>1</id></prp-channel-group>",
            ),
            Edit(
                RUNNING,
                f"{GI}[ios:name='1/10']",
                f"<prp-channel-group {_ns('prp')}><id>1</id></prp-channel-group>",
            ),
        ],
        {"parallel_redundancy_protocol": ON, "ptp_over_prp": ON},
    ),
    ("no-ptp", [Edit(RUNNING, "/ios:native/ios:ptp", remove=True)], {"ptp_power_2011": OFF}),
    (
        "ptp-power-2017",
        [
            Edit(RUNNING, "//ptp:profile/ptp:power", remove=True),
            Edit(RUNNING, "//ptp:domain/ptp:profile", f"<power-2017 {_ns('ptp')}/>"),
        ],
        {"ptp_power_2011": OFF},
    ),
    (
        "no-alarm",
        [Edit(RUNNING, "/ios:native/ios:alarm-contact", remove=True)],
        {"alarm_support": OFF},
    ),
    (
        "alarm-facility-26.1",
        [
            Edit(RUNNING, "/ios:native/ios:alarm-contact", remove=True),
            Edit(
                RUNNING,
                NATIVE,
                f"<alarm {_ns('alarm')}><facility><power-supply><notifies/></power-supply>"
                "</facility></alarm>",
            ),
        ],
        {},
    ),
    (
        "stack-of-two",
        [SECOND_MEMBER],
        {
            "stack_members": [{"member_cnt": 2}],
            "hardware_inventory": [
                {"CN": "Switch1", "SN": "FOC2320V0J9", "PID": "IE-3200-8P2S"},
                {"CN": "Switch2", "SN": "FOC2331X1KQ", "PID": "IE-3200-8P2S"},
            ],
        },
    ),
    ("third-optic", [THIRD_OPTIC], {"optics_modules": [{"PID": "GLC-SX-MMD", "COUNT": 3}]}),
    (
        "other-optic",
        [
            Edit(
                HARDWARE,
                "/hw:device-hardware-data/hw:device-hardware",
                _transceiver(8, "GLC-LH-SMD", "GigabitEthernet1/8"),
            )
        ],
        {
            "optics_modules": [
                {"PID": "GLC-LH-SMD", "COUNT": 1},
                {"PID": "GLC-SX-MMD", "COUNT": 2},
            ]
        },
    ),
    (
        "erspan",
        [
            Edit(
                RUNNING,
                NATIVE,
                f"<monitor {_ns('native')}><session><id>1</id><type><erspan-source><source>"
                "<interface><name>GigabitEthernet1/1</name></interface></source>"
                "</erspan-source></type></session></monitor>",
            )
        ],
        {"erspan_support": ON},
    ),
    (
        "modbus-26.1",
        [
            Edit(
                RUNNING,
                NATIVE,
                f"<scada {_ns('scada')}><modbus><tcp><server><enable/><port>502</port>"
                "</server></tcp></modbus></scada>",
            )
        ],
        {"modbus_support": ON},
    ),
    (
        "profinet-off",
        [Edit(RUNNING, "/ios:native/mrp:profinet/mrp:mrp", text="false")],
        {"profinet_support": OFF},
    ),
    (
        "mrp-ring",
        [
            Edit(RUNNING, "/ios:native/mrp:profinet/mrp:mrp", text="false"),
            Edit(
                RUNNING,
                NATIVE,
                f"<mrp {_ns('mrp')}><ring><id>1</id><mode><auto-manager><vlan-id>1</vlan-id>"
                "</auto-manager></mode></ring></mrp>",
            ),
        ],
        {"profinet_support": OFF, "media_redundancy_protocol": ON},
    ),
    (
        "mrp-by-profinet",
        [
            Edit(
                "operational/mrp-oper-data.xml",
                add=f'<mrp-oper-data xmlns="{C}mrp-oper"><mrp-ring-detail><ring-id>1</ring-id>'
                "<info><src>mrp-src-profinet</src></info></mrp-ring-detail></mrp-oper-data>",
            )
        ],
        {"media_redundancy_protocol": ON},
    ),
    (
        "dlr",
        [
            Edit(
                RUNNING,
                NATIVE,
                f"<dlr {_ns('dlr')}><ring><id>1</id></ring></dlr>",
            )
        ],
        {"device_level_ring": ON},
    ),
    (
        "only-system-acls",
        [
            Edit(
                RUNNING,
                "//acl:standard | //acl:extended[acl:name != 'preauth_ipv4_acl'] "
                "| //ios:ip/ios:access-group",
                remove=True,
            )
        ],
        {"security_acl_ipv4": OFF},
    ),
    (
        "pagp",
        [
            Edit(
                RUNNING,
                f"{GI}[ios:name='1/9']",
                f"<channel-group {_ns('ethernet')}><number>1</number><mode>desirable</mode>"
                "</channel-group>",
            ),
            PORT_CHANNEL,
        ],
        {"pagp_port_agg_protocol": ON},
    ),
    (
        "lacp-is-not-pagp",
        [
            Edit(
                RUNNING,
                f"{GI}[ios:name='1/9']",
                f"<channel-group {_ns('ethernet')}><number>1</number><mode>active</mode>"
                "</channel-group>",
            ),
            PORT_CHANNEL,
        ],
        {},
    ),
    (
        "dot1x-multi-auth",
        [Edit(RUNNING, f"{GI}/sanet:authentication/sanet:host-mode", text="multi-auth")],
        {"8021x_multi_domain_auth": OFF},
    ),
    (
        "dot1x-access-session",
        [
            Edit(RUNNING, f"{GI}/sanet:authentication/sanet:host-mode", text="multi-auth"),
            Edit(
                RUNNING,
                f"{GI}[ios:name='1/4']",
                f"<access-session {_ns('native')}><host-mode-config><modes>multi-domain</modes>"
                "</host-mode-config></access-session>",
            ),
        ],
        {},
    ),
    ("avb", [Edit(RUNNING, NATIVE, f"<avb {_ns('native')}/>")], {"avb_stream_res_protocol": ON}),
    (
        "rspan",
        [
            Edit(
                RUNNING,
                "/ios:native/ios:vlan",
                f"<vlan-list {_ns('vlan')}><id>900</id><remote-span/></vlan-list>",
            ),
            Edit(
                RUNNING,
                NATIVE,
                f"<monitor {_ns('native')}><session><id>2</id><destination><remote><vlan>900"
                "</vlan></remote></destination><source><interface><name>GigabitEthernet1/1"
                "</name></interface></source></session></monitor>",
            ),
        ],
        {"rspan_vlan_port_channel": ON},
    ),
    (
        "span-of-port-channel",
        [
            Edit(
                RUNNING,
                NATIVE,
                f"<monitor {_ns('native')}><session><id>3</id><source><interface>"
                "<name>Port-channel1</name></interface></source></session></monitor>",
            )
        ],
        {"rspan_vlan_port_channel": ON},
    ),
    (
        "cip-26.1",
        [
            Edit(
                RUNNING,
                "/ios:native/ios:interface/ios:Vlan",
                f"<cip {_ns('cip')}><enable/></cip>",
            )
        ],
        {"common_industrial_protocol": ON},
    ),
    (
        "management-vrf-only",
        [
            Edit(
                RUNNING,
                NATIVE,
                f"<vrf {_ns('native')}><definition><name>Mgmt-vrf</name></definition></vrf>",
            )
        ],
        {},
    ),
    (
        "rep",
        [
            Edit(
                RUNNING,
                NATIVE,
                f"<rep {_ns('switch')}><admin><vlan><name>100</name></vlan></admin></rep>",
            )
        ],
        {"resilient_ethernet_protocol": ON},
    ),
]


# --- tests --------------------------------------------------------------------------------


def test_shipped_policy_is_signed_and_covers_the_seed_kpis() -> None:
    policy = _policy()
    features = [k.name for k in policy.kpis if k.category == "feature"]
    assert sorted(features) == sorted(SEED_KPIS)
    assert {k.name for k in policy.kpis if k.category == "serviceability"} == SERVICEABILITY
    kinds = {k.kind for k in policy.kpis}
    assert kinds == {"sql", "lua"}
    assert set(policy.device) == set(SEED_IDENTITY)


def test_golden_report_over_netconf(tmp_path: Path) -> None:
    outcome = _via_netconf(SNAPSHOT, tmp_path)
    assert outcome.errors == []
    assert outcome.kpis == SEED
    # the report carries exactly the seed's text (compact JSON, keys in the seed's order)
    assert {k: v for k, v in outcome.texts.items() if k in SEED_KPIS} == SEED_KPIS
    assert set(outcome.serviceability) == SERVICEABILITY
    assert outcome.identity == SEED_IDENTITY
    assert "DSRC_PERIOD_RD" in outcome.event_names


def test_golden_report_from_snapshot_files() -> None:
    outcome = _via_snapshot(SNAPSHOT)
    assert outcome.errors == []
    assert outcome.kpis == SEED
    assert outcome.identity == SEED_IDENTITY


def test_serviceability_counters_carry_no_operator_data() -> None:
    outcome = _via_snapshot(SNAPSHOT)
    assert outcome.errors == []
    counters = outcome.serviceability["counters"]
    assert counters == [
        {
            "uptime_hours": 76,
            "reload_severity": "normal",
            "alarms_critical": 1,
            "alarms_major": 0,
            "alarms_minor": 0,
            "alarms_info": 0,
        }
    ]
    tdl = {entry["table"]: entry["rows"] for entry in outcome.serviceability["tdl_counters"]}
    assert tdl["transceiver"] == 2 and tdl["chassis"] == 1 and tdl["ospf_process"] == 0
    assert set(tdl) == {t.name for t in _policy().tables()}
    text = json.dumps(outcome.serviceability)
    for operator_text in ("PLANT3", "Jane Doe", "10.30.", "jdoe", "CELL2", "cabinet"):
        assert operator_text not in text


@pytest.mark.parametrize(
    ("edits", "changed"),
    [(edits, changed) for _, edits, changed in VARIANTS],
    ids=[name for name, _, _ in VARIANTS],
)
def test_modified_snapshot_changes_only_its_kpis(
    tmp_path: Path, edits: list[Edit], changed: dict[str, Any]
) -> None:
    outcome = _via_snapshot(_variant(tmp_path, edits))
    assert outcome.errors == []
    assert outcome.kpis == {**SEED, **changed}


@pytest.mark.parametrize(
    ("edits", "changed"),
    [
        ([OSPF], {"ospf": ON}),
        ([THIRD_OPTIC], {"optics_modules": [{"PID": "GLC-SX-MMD", "COUNT": 3}]}),
        ([SECOND_MEMBER], {"stack_members": [{"member_cnt": 2}]}),
    ],
    ids=["ospf", "third-optic", "two-stack-members"],
)
def test_modified_snapshot_over_netconf(
    tmp_path: Path, edits: list[Edit], changed: dict[str, Any]
) -> None:
    outcome = _via_netconf(_variant(tmp_path, edits), tmp_path)
    assert outcome.errors == []
    for name, value in changed.items():
        assert outcome.kpis[name] == value
    unchanged = {
        k: v for k, v in outcome.kpis.items() if k not in changed and k != "hardware_inventory"
    }
    assert unchanged == {
        k: v for k, v in SEED.items() if k not in changed and k != "hardware_inventory"
    }


def test_operator_text_of_the_snapshot_never_reaches_a_report() -> None:
    """The same policy plus deliberately leaky KPIs: the host name, a port description and
    the management address are in the snapshot; the engine drops those values and keeps the
    26 honest ones."""
    document = json.loads(POLICY.read_text())
    native = next(s for s in document["sources"] if s["id"] == "native_config")
    native["tables"] += [
        {"name": "leak_host", "row-path": "ios:native", "columns": {"name": "ios:hostname"}},
        {
            "name": "leak_port",
            "row-path": "ios:native/ios:interface/*[ios:description]",
            "columns": {"text": "ios:description"},
        },
        {
            "name": "leak_addr",
            "row-path": "ios:native/ios:interface/ios:Vlan/ios:ip/ios:address/ios:primary",
            "columns": {"ip": {"path": "ios:address", "vocabulary": True}},
        },
    ]
    document["kpis"] += [
        {
            "name": "leak_hostname",
            "kind": "sql",
            "query": "SELECT json_array(json_object('host', lower(name))) FROM leak_host",
        },
        {
            "name": "leak_description",
            "kind": "lua",
            "tables": ["leak_port"],
            "script": "local t = rows or tables\nreturn {{port = t.leak_port[1].text}}",
        },
        {
            "name": "leak_address",
            "kind": "sql",
            "query": "SELECT json_array(json_object('mgmt', ip)) FROM leak_addr",
        },
    ]
    outcome = _via_snapshot(SNAPSHOT, parse_policy(json.dumps(document)))
    assert outcome.kpis == SEED
    assert sorted(e.split(":")[0] for e in outcome.errors) == [
        "leak_address",
        "leak_description",
        "leak_hostname",
    ]
    assert all("privacy" in e for e in outcome.errors)
    assert "PRIVACY_DROP" in outcome.event_names
