"""The host source: standard models from this machine and from a Linux switch's files, each
validated with yanglint; filters; state providers; the real kernel in a network namespace."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from agent.api import StateRequest
from agent.sources.base import ReadRequest
from agent.sources.host import (
    HW_NS,
    IF_NS,
    IP_NS,
    PLH_NS,
    RT_NS,
    SYS_NS,
    V4UR_NS,
    V6UR_NS,
    HostSource,
    host_state_providers,
)
from agent.sources.hostread import Address, KernelNet, Qdisc

from .host_tree import make_switch_root
from .yang_check import assert_valid, yanglint

NS = {
    "if": IF_NS,
    "ip": IP_NS,
    "hw": HW_NS,
    "sys": SYS_NS,
    "rt": RT_NS,
    "v4ur": V4UR_NS,
    "v6ur": V6UR_NS,
    "plh": PLH_NS,
}


def read(source: HostSource, **kwargs: object) -> etree._Element:
    return asyncio.run(source.read(ReadRequest(**kwargs)))  # type: ignore[arg-type]


def xp(data: etree._Element, path: str) -> list[str]:
    result = data.xpath(path, namespaces=NS)
    assert isinstance(result, list)
    return [r if isinstance(r, str) else (r.text or "") for r in result]  # type: ignore[union-attr]


def iface(data: etree._Element, name: str, leaf: str) -> list[str]:
    return xp(data, f"/*/if:interfaces/if:interface[if:name='{name}']/{leaf}")


@pytest.fixture
def switch(tmp_path: Path) -> Path:
    return make_switch_root(tmp_path / "root")


# -- this machine --------------------------------------------------------------------------


def test_this_host_validates(tmp_path: Path) -> None:
    source = HostSource()
    operational = read(source)
    assert [etree.QName(c).localname for c in operational] == [
        "system",
        "system-state",
        "hardware",
        "interfaces",
        "routing",
        "linux-host",
    ]
    assert_valid(operational, tmp_path)
    running = read(source, datastore="running")
    assert_valid(running, tmp_path, config=True)
    assert xp(running, "//if:oper-status") == []
    assert running.find(f"{{{SYS_NS}}}system-state") is None


def test_this_host_facts_match_the_kernel() -> None:
    data = read(HostSource())
    names = sorted(xp(data, "/*/if:interfaces/if:interface/if:name"))
    assert names == sorted(os.listdir("/sys/class/net"))
    assert xp(data, "//sys:platform/sys:os-release") == [platform.release()]
    assert xp(data, "//sys:platform/sys:os-name") == [platform.system()]
    assert iface(data, "lo", "if:type") == ["ianaift:softwareLoopback"]
    cpus = xp(data, "//hw:component[hw:class='ianahw:cpu']/hw:name")
    assert len(cpus) == os.cpu_count()
    for name in names:
        octets = Path(f"/sys/class/net/{name}/statistics/rx_bytes").read_text().strip()
        reported = int(iface(data, name, "if:statistics/if:in-octets")[0])
        assert reported >= int(octets) - 10_000_000  # counters only grow between the reads


def test_yanglint_rejects_bad_data(tmp_path: Path) -> None:
    data = read(HostSource())
    entry = data.find(f"{{{IF_NS}}}interfaces/{{{IF_NS}}}interface/{{{IF_NS}}}type")
    assert entry is not None
    entry.text = "ianaift:no-such-type"
    assert yanglint(data, tmp_path, config=False).returncode != 0


# -- a Linux switch's files ------------------------------------------------------------------


def test_switch_models_validate(switch: Path, tmp_path: Path) -> None:
    source = HostSource(switch)
    assert_valid(read(source), tmp_path)
    assert_valid(read(source, datastore="running"), tmp_path, config=True)


def test_switch_interfaces(switch: Path) -> None:
    data = read(HostSource(switch))
    types = {
        name: iface(data, name, "if:type")[0]
        for name in xp(data, "/*/if:interfaces/if:interface/if:name")
    }
    assert types == {
        "blue": "ianaift:other",
        "bond0": "ianaift:ieee8023adLag",
        "br0": "ianaift:bridge",
        "eth0": "ianaift:ethernetCsmacd",
        "eth0.10": "ianaift:l2vlan",
        "eth1": "ianaift:ethernetCsmacd",
        "eth2": "ianaift:ethernetCsmacd",
        "eth3": "ianaift:ethernetCsmacd",
        "lo": "ianaift:softwareLoopback",
    }
    assert iface(data, "br0", "if:lower-layer-if") == ["eth0"]
    assert iface(data, "bond0", "if:lower-layer-if") == ["eth1", "eth2"]
    assert iface(data, "eth0", "if:higher-layer-if") == ["br0", "eth0.10"]
    assert iface(data, "eth0.10", "if:lower-layer-if") == ["eth0"]
    assert iface(data, "eth1", "if:speed") == ["10000000000"]
    assert iface(data, "eth3", "if:speed") == []
    assert iface(data, "eth3", "if:admin-status") == ["down"]
    assert iface(data, "eth3", "if:enabled") == ["false"]
    assert iface(data, "eth0", "if:description") == ["uplink to core, rack 12"]
    assert iface(data, "eth0", "if:phys-address") == ["02:00:00:00:00:05"]
    assert iface(data, "lo", "if:phys-address") == []
    assert iface(data, "eth0", "if:statistics/if:in-unicast-pkts") == ["900"]
    assert iface(data, "eth0", "if:statistics/if:in-multicast-pkts") == ["100"]
    # IPv6 from /proc/net/if_inet6 when netlink is not used
    assert iface(data, "br0", "ip:ipv6/ip:address/ip:ip") == [
        "2001:db8:1::2",
        "fe80::200:ff:fe00:5",
    ]
    assert iface(data, "br0", "ip:ipv6/ip:address/ip:origin") == ["static", "link-layer"]
    assert iface(data, "lo", "ip:ipv6/ip:mtu") == ["65536"]


def test_switch_system(switch: Path) -> None:
    data = read(HostSource(switch))
    system = "/*/sys:system"
    assert xp(data, f"{system}/sys:hostname") == ["edge-sw1"]
    assert xp(data, f"{system}/sys:clock/sys:timezone-name") == ["Europe/Zurich"]
    assert xp(data, f"{system}/sys:dns-resolver/sys:server/sys:udp-and-tcp/sys:address") == [
        "10.1.0.53",
        "fd00::53",
    ]
    assert xp(data, f"{system}/sys:dns-resolver/sys:search") == ["example.net"]
    assert xp(data, f"{system}/sys:dns-resolver/sys:options/sys:attempts") == ["3"]
    assert xp(data, f"{system}/sys:ntp/sys:server/sys:name") == [
        "2.debian.pool.ntp.org",
        "10.1.0.123",
    ]
    assert xp(data, f"{system}/sys:ntp/sys:server/sys:association-type") == ["pool", "server"]
    assert xp(data, "/*/sys:system-state/sys:platform/sys:machine") == ["aarch64"]
    assert xp(data, "/*/sys:system-state/sys:platform/sys:os-release") == ["6.1.0-18-arm64"]


def test_switch_hardware(switch: Path) -> None:
    data = read(HostSource(switch))
    chassis = "/*/hw:hardware/hw:component[hw:name='chassis']"
    assert xp(data, f"{chassis}/hw:serial-num") == ["EC2045000123"]
    assert xp(data, f"{chassis}/hw:model-name") == ["AS4630-54PE"]
    assert xp(data, f"{chassis}/hw:mfg-name") == ["Edgecore"]
    assert xp(data, f"{chassis}/hw:firmware-rev") == ["5.13.0.3"]
    names = xp(data, "/*/hw:hardware/hw:component/hw:name")
    assert names == [
        "chassis",
        "cpu0",
        "cpu1",
        "sda",
        "port-eth0",
        "port-eth1",
        "port-eth2",
        "port-eth3",
    ]
    assert xp(data, "//hw:component[hw:name='cpu1']/hw:model-name") == [
        "Intel(R) Atom(TM) CPU C3558 @ 2.20GHz"
    ]
    assert xp(data, "//hw:component[hw:name='sda']/hw:serial-num") == ["SSD0001"]


def test_switch_routing(switch: Path) -> None:
    data = read(HostSource(switch))
    v4 = "/*/rt:routing/rt:ribs/rt:rib[rt:name='ipv4-main']/rt:routes/rt:route"
    assert xp(data, f"{v4}/v4ur:destination-prefix") == [
        "0.0.0.0/0",
        "10.0.1.0/24",
        "10.0.10.0/24",
        "192.168.0.0/24",
    ]
    assert xp(data, f"{v4}/rt:source-protocol") == [
        "rt:static",
        "rt:direct",
        "rt:direct",
        "rt:static",
    ]
    assert xp(data, f"{v4}[1]/rt:next-hop/v4ur:next-hop-address") == ["10.0.1.1"]
    v6 = "/*/rt:routing/rt:ribs/rt:rib[rt:name='ipv6-main']/rt:routes/rt:route"
    assert xp(data, f"{v6}/v6ur:destination-prefix") == ["2001:db8:1::/64", "::/0", "fe80::/64"]
    assert xp(data, f"{v6}[2]/rt:next-hop/v6ur:next-hop-address") == ["2001:db8:1::1"]
    protocols = "/*/rt:routing/rt:control-plane-protocols/rt:control-plane-protocol"
    assert xp(data, f"{protocols}/rt:type") == ["rt:static", "plh:ospfv2", "plh:ospfv2", "plh:bgp"]
    assert xp(data, f"{protocols}/rt:name") == ["frr", "default", "blue", "default"]
    static = f"{protocols}[1]/rt:static-routes"
    assert xp(data, f"{static}/v4ur:ipv4/v4ur:route/v4ur:destination-prefix") == ["10.99.0.0/16"]
    assert xp(data, f"{static}/v6ur:ipv6/v6ur:route/v6ur:next-hop/v6ur:outgoing-interface") == [
        "br0"
    ]  # the route over a missing interface (nosuch0) is left out: it could not be a leafref


def test_switch_linux_facts(switch: Path) -> None:
    data = read(HostSource(switch))
    rulesets = data.xpath("/*/plh:linux-host/plh:firewall/plh:ruleset", namespaces=NS)
    assert isinstance(rulesets, list)
    found = {
        (
            r.findtext(f"{{{PLH_NS}}}origin"),
            r.findtext(f"{{{PLH_NS}}}family"),
            r.findtext(f"{{{PLH_NS}}}table"),
        ): r.findtext(f"{{{PLH_NS}}}rule-count")
        for r in rulesets
        if isinstance(r, etree._Element)
    }
    assert found == {
        ("xtables-kernel", "ip", "filter"): None,
        ("xtables-kernel", "ip", "nat"): None,
        ("nftables-config", "inet", "filter"): "3",
        ("nftables-config", "ip", "nat"): "1",
        ("iptables-config", "ip", "filter"): "2",
    }
    assert xp(data, "//plh:vrfs/plh:vrf/plh:name") == ["blue"]
    assert xp(data, "//plh:vrfs/plh:vrf/plh:member") == ["eth0.10"]
    assert xp(data, "//plh:traffic-control") == []  # qdiscs need netlink


def test_switch_with_netlink_facts(switch: Path, tmp_path: Path) -> None:
    """What pyroute2 adds (IPv4 addresses, qdiscs, link kinds, VRF tables), as plain data."""
    kernel = KernelNet(
        kinds={"br0": "bridge", "blue": "vrf", "eth0.10": "vlan", "bond0": "bond"},
        vrf_tables={"blue": 10},
        addresses={
            "br0": [Address(4, "10.0.1.2", 24), Address(6, "2001:db8:1::2", 64)],
            "eth0.10": [Address(4, "10.0.10.1", 24, permanent=False)],
        },
        qdiscs=[
            Qdisc("eth0", 0, 0xFFFFFFFF, "mq"),
            Qdisc("eth0", 0, 0x00000001, "pfifo_fast"),
            Qdisc("eth0", 0, 0x00000002, "pfifo_fast"),
            Qdisc("eth1", 0x10000, 0xFFFFFFFF, "htb"),
            Qdisc("eth1", 0xFFFF0000, 0xFFFFFFF1, "ingress"),
        ],
    )
    data = read(HostSource(switch, kernel_reader=lambda: kernel))
    assert_valid(data, tmp_path)
    assert iface(data, "br0", "ip:ipv4/ip:address/ip:ip") == ["10.0.1.2"]
    assert iface(data, "eth0.10", "ip:ipv4/ip:address/ip:origin") == ["dhcp"]
    qdisc = "//plh:traffic-control/plh:qdisc"
    assert xp(data, f"{qdisc}/plh:kind") == ["mq", "pfifo_fast", "pfifo_fast", "htb", "ingress"]
    assert xp(data, f"{qdisc}/plh:parent") == ["root", ":1", ":2", "root", "ingress"]
    assert xp(data, f"{qdisc}/plh:handle") == ["0:", "0:", "0:", "1:", "ffff:"]
    assert xp(data, f"{qdisc}/plh:default") == ["true", "true", "true", "false", "false"]
    assert xp(data, "//plh:vrf/plh:table") == ["10"]
    assert xp(data, "/*/rt:routing/rt:interfaces/rt:interface") == ["br0", "eth0.10"]


def test_filters_select_models(switch: Path) -> None:
    source = HostSource(switch)
    data = read(
        source,
        filter=f'<interfaces xmlns="{IF_NS}"><interface><name>eth1</name></interface></interfaces>',
    )
    assert [etree.QName(c).localname for c in data] == ["interfaces"]
    assert xp(data, "//if:interface/if:name") == ["eth1"]
    data = read(
        source,
        filter_type="xpath",
        filter="/sys:system-state/sys:platform/sys:os-name",
        namespaces={"sys": SYS_NS},
    )
    assert etree.tostring(data).count(b"<") - etree.tostring(data).count(b"</") == 4


def test_state_providers(switch: Path) -> None:
    providers = host_state_providers(HostSource(switch))
    assert [(p.namespace, p.name) for p in providers] == [
        (SYS_NS, "system"),
        (SYS_NS, "system-state"),
        (HW_NS, "hardware"),
        (IF_NS, "interfaces"),
        (RT_NS, "routing"),
        (PLH_NS, "linux-host"),
    ]
    for provider in providers:
        element = provider.get_state(StateRequest())
        assert element is not None
        assert etree.QName(element).namespace == provider.namespace
        assert etree.QName(element).localname == provider.name
    interfaces = providers[3].get_state(StateRequest())
    assert interfaces is not None
    assert interfaces.find(f".//{{{IF_NS}}}oper-status") is not None  # NMDA: state inline


# -- the real kernel in a network namespace --------------------------------------------------

NETNS_SCRIPT = """
import asyncio, json, subprocess
from pyroute2 import IPRoute
from lxml import etree
from agent.sources.base import ReadRequest
from agent.sources.host import HostSource
with IPRoute() as ipr:
    ipr.link("add", ifname="br-test", kind="bridge")
    ipr.link("add", ifname="veth-a", kind="veth", peer="veth-b")
    br = ipr.link_lookup(ifname="br-test")[0]
    a = ipr.link_lookup(ifname="veth-a")[0]
    b = ipr.link_lookup(ifname="veth-b")[0]
    ipr.link("set", index=a, master=br)
    for index in (br, a, b):
        ipr.link("set", index=index, state="up")
    ipr.addr("add", index=br, address="192.0.2.1", prefixlen=24)
    ipr.addr("add", index=br, address="2001:db8:5::1", prefixlen=64)
subprocess.run(["tc", "qdisc", "add", "dev", "veth-b", "root", "handle", "1:", "htb"], check=True)
data = asyncio.run(HostSource().read(ReadRequest()))
print(etree.tostring(data).decode())
"""


def test_real_kernel_bridge_and_qdisc(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("tc") is None or os.geteuid() != 0:
        pytest.skip("needs root, unshare and tc to build a network namespace")
    probe = subprocess.run(
        [unshare, "-n", "-m", "sh", "-c", "mount -t sysfs none /sys && ip link add x type bridge"],
        capture_output=True,
        timeout=30,
    )
    if probe.returncode != 0:
        pytest.skip(f"no network namespaces with bridges here: {probe.stderr!r}")
    # a private mount namespace with its own /sys, so /sys/class/net shows the new namespace
    result = subprocess.run(
        [
            unshare,
            "-n",
            "-m",
            "sh",
            "-c",
            f'mount -t sysfs none /sys && exec "{sys.executable}" -c "$0"',
            NETNS_SCRIPT,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    data = etree.fromstring(result.stdout.encode())
    assert_valid(data, tmp_path)
    assert iface(data, "br-test", "if:type") == ["ianaift:bridge"]
    assert iface(data, "br-test", "if:lower-layer-if") == ["veth-a"]
    assert iface(data, "veth-a", "if:higher-layer-if") == ["br-test"]
    assert iface(data, "br-test", "ip:ipv4/ip:address/ip:ip") == ["192.0.2.1"]
    assert "2001:db8:5::1" in iface(data, "br-test", "ip:ipv6/ip:address/ip:ip")
    qdisc = "//plh:qdisc[plh:interface='veth-b']"
    assert xp(data, f"{qdisc}/plh:kind") == ["htb"]
    assert xp(data, f"{qdisc}/plh:default") == ["false"]
    v4 = "/*/rt:routing/rt:ribs/rt:rib[rt:name='ipv4-main']/rt:routes/rt:route"
    assert xp(data, f"{v4}/v4ur:destination-prefix") == ["192.0.2.0/24"]
    json.dumps(xp(data, "//if:name"))


# -- served over NETCONF -------------------------------------------------------------------


def test_host_models_served_over_netconf(switch: Path, tmp_path: Path) -> None:
    from ncclient import manager

    from agent.api import Registry
    from agent.config import ServerConfig
    from agent.server import NetconfServer
    from agent.server.auth import UserStore

    async def body() -> tuple[str, str, list[str]]:
        UserStore(tmp_path / "state").set_password("admin", "pw")
        registry = Registry()
        for provider in host_state_providers(HostSource(switch)):
            registry.add_state_provider(provider)
        server = NetconfServer(ServerConfig(port=0), tmp_path / "state", registry)
        await server.start()

        def client() -> tuple[str, str, list[str]]:
            with manager.connect(
                host="127.0.0.1",
                port=server.port,
                username="admin",
                password="pw",
                hostkey_verify=False,
                look_for_keys=False,
                allow_agent=False,
                timeout=30,
            ) as m:
                flt = (
                    f'<interfaces xmlns="{IF_NS}"><interface><name>br0</name></interface>'
                    "</interfaces>"
                )
                interfaces = m.get(filter=("subtree", flt)).data_xml
                config = m.get_config(source="running").data_xml
                schema = str(m.get_schema("pa-linux-host").data)
                return interfaces, config, [schema]

        try:
            return await asyncio.to_thread(client)
        finally:
            await server.close()

    interfaces, config, schemas = asyncio.run(body())
    data = etree.fromstring(interfaces.encode())
    assert xp(data, "//if:interface/if:name") == ["br0"]
    assert iface(data, "br0", "if:type") == ["ianaift:bridge"]
    assert iface(data, "br0", "if:lower-layer-if") == ["eth0"]
    assert IF_NS not in config  # read-only state, never in running
    assert "module pa-linux-host" in schemas[0]
