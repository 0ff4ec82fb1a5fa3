"""The ``host`` source: the agent's own Linux host as standard native YANG models.

Models built (facts read by ``agent.sources.hostread`` from /proc, /sys, /etc and netlink):

``ietf-system``  ``/sys:system`` (hostname, clock/timezone-name, ntp servers from chrony,
    ntpd or systemd-timesyncd configuration, dns-resolver from /etc/resolv.conf) and
    ``/sys:system-state`` (platform os-name/os-release/os-version/machine from
    /proc/sys/kernel, clock current-datetime/boot-datetime).
``ietf-hardware``  ``/hw:hardware``: a ``chassis`` component (vendor, model, serial,
    hardware and firmware revision from /sys/class/dmi/id or the device tree; the kernel
    release as software-rev), one ``cpuN`` per logical processor (/proc/cpuinfo), one
    component per storage drive (/sys/block) and one ``port-IFNAME`` per physical network
    interface.
``ietf-interfaces`` + ``ietf-ip``  ``/if:interfaces``: every interface of /sys/class/net
    with its iana-if-type (ethernetCsmacd, softwareLoopback, bridge, l2vlan,
    ieee8023adLag, tunnel, ...), admin/oper status, speed, MAC, counters, the bridge/bond/
    VLAN stacking as higher-layer-if/lower-layer-if, and its IPv4/IPv6 addresses.
``ietf-routing`` (+ ipv4/ipv6 unicast routing)  ``/rt:routing``: the kernel's main-table
    IPv4/IPv6 routes in the ribs ``ipv4-main`` and ``ipv6-main`` (gateway routes are
    ``static``, others ``direct``), and the protocols FRRouting is configured for
    (/etc/frr/frr.conf) as control-plane-protocol entries (``pa-linux-host`` identities for
    OSPF, BGP, ...; ``static`` with its static routes).
``pa-linux-host``  ``/plh:linux-host``: firewall rule sets, queueing disciplines and VRFs.

A ``running`` read returns only the config-true nodes of these trees (what an operator
configured); ``operational`` returns config and state.  Over NETCONF the agent serves the same
trees read-only through ``host_state_providers()``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lxml import etree

from agent.api import StateProvider, StateRequest
from agent.datatree import filter_selects, xpath_selects
from agent.sources import hostread
from agent.sources.base import OnChange, ReadRequest, SourceError
from agent.sources.hostread import KernelNet, Link
from agent.sources.snapshot import apply_request_filter, new_data, parse_filter_children

SYS_NS = "urn:ietf:params:xml:ns:yang:ietf-system"
HW_NS = "urn:ietf:params:xml:ns:yang:ietf-hardware"
IANAHW_NS = "urn:ietf:params:xml:ns:yang:iana-hardware"
IF_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IANAIFT_NS = "urn:ietf:params:xml:ns:yang:iana-if-type"
IP_NS = "urn:ietf:params:xml:ns:yang:ietf-ip"
RT_NS = "urn:ietf:params:xml:ns:yang:ietf-routing"
V4UR_NS = "urn:ietf:params:xml:ns:yang:ietf-ipv4-unicast-routing"
V6UR_NS = "urn:ietf:params:xml:ns:yang:ietf-ipv6-unicast-routing"
PLH_NS = "urn:product-analytics:yang:linux-host"

# YANG modules (and features) the host models need, e.g. to validate them with yanglint.
HOST_MODULES = (
    "ietf-system",
    "ietf-hardware",
    "iana-hardware",
    "ietf-interfaces",
    "iana-if-type",
    "ietf-ip",
    "ietf-routing",
    "ietf-ipv4-unicast-routing",
    "ietf-ipv6-unicast-routing",
    "pa-linux-host",
)
HOST_FEATURES = {"ietf-system": ("ntp", "timezone-name"), "ietf-interfaces": ("if-mib",)}

Builder = Callable[["HostFacts", bool], etree._Element | None]


def _el(parent: etree._Element, tag: str, text: object = None) -> etree._Element:
    """Append a child element (``tag`` in Clark notation) with optional text; booleans are
    written the YANG way (``true``/``false``)."""
    child = etree.SubElement(parent, tag)
    if isinstance(text, bool):
        child.text = "true" if text else "false"
    elif text is not None:
        child.text = str(text)
    return child


def _root(tag: str, default: str, **prefixes: str) -> etree._Element:
    """A top-level element in namespace ``default`` that also declares ``prefixes``
    (identityref values such as ``ianaift:bridge`` need their prefix in scope)."""
    nsmap: dict[str | None, str] = {None: default}
    nsmap.update(prefixes)
    return etree.Element(tag, nsmap=nsmap)  # type: ignore[arg-type]


def _datetime(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


class HostFacts:
    """The host's facts for one read, each read from the system at most once and only when
    a model being built asks for it."""

    def __init__(self, root: Path, kernel_reader: Callable[[], KernelNet | None] | None) -> None:
        self.root = root
        self._kernel_reader = kernel_reader

    @cached_property
    def kernel(self) -> KernelNet | None:
        return self._kernel_reader() if self._kernel_reader is not None else None

    @cached_property
    def system(self) -> hostread.SystemInfo:
        return hostread.read_system(self.root)

    @cached_property
    def links(self) -> list[Link]:
        return hostread.read_links(self.root, self.kernel)

    @cached_property
    def _proc_ipv6(self) -> dict[str, list[hostread.Address]]:
        return hostread.read_ipv6_addresses(self.root)

    def addresses(self, name: str) -> list[hostread.Address]:
        """The interface's addresses: netlink when available, else IPv6 from /proc."""
        if self.kernel is not None:
            return self.kernel.addresses.get(name, [])
        return self._proc_ipv6.get(name, [])


# -- interface types -----------------------------------------------------------------------

_KIND_TYPES = {
    "bridge": "bridge",
    "vlan": "l2vlan",
    "bond": "ieee8023adLag",
    "team": "ieee8023adLag",
    "vrf": "other",
    "ifb": "other",
    "veth": "ethernetCsmacd",
    "dummy": "other",
    "macvlan": "ethernetCsmacd",
    "wireguard": "tunnel",
    "vxlan": "tunnel",
    "geneve": "tunnel",
    "gre": "tunnel",
    "gretap": "tunnel",
    "ip6gre": "tunnel",
    "ip6gretap": "tunnel",
    "ipip": "tunnel",
    "sit": "tunnel",
    "ip6tnl": "tunnel",
    "tun": "propVirtual",
}
# ARPHRD_* of linux/if_arp.h for links the kind does not settle.
_ARPHRD_TYPES = {
    1: "ethernetCsmacd",
    32: "infiniband",
    512: "ppp",
    768: "tunnel",
    769: "tunnel",
    772: "softwareLoopback",
    776: "tunnel",
    778: "tunnel",
    801: "ieee80211",
    823: "tunnel",
    65534: "propVirtual",
}


def link_kind(link: Link) -> str | None:
    """The link's kind: netlink's IFLA_INFO_KIND, else what /sys shows (uevent, folders)."""
    if link.kind:
        return link.kind
    if link.devtype in ("bridge", "vlan", "bond", "vrf", "wlan", "team"):
        return link.devtype
    if link.bridge:
        return "bridge"
    if link.bond:
        return "bond"
    if link.vlan:
        return "vlan"
    return None


def interface_type(link: Link) -> str:
    """The iana-if-type identity name of a link."""
    kind = link_kind(link)
    if link.arphrd == 772:
        return "softwareLoopback"
    if kind == "wlan":
        return "ieee80211"
    if kind in _KIND_TYPES:
        return _KIND_TYPES[kind]
    return _ARPHRD_TYPES.get(link.arphrd, "other")


_OPER_STATUS = {
    "up": "up",
    "down": "down",
    "testing": "testing",
    "dormant": "dormant",
    "notpresent": "not-present",
    "lowerlayerdown": "lower-layer-down",
}


# -- builders ------------------------------------------------------------------------------


def build_interfaces(facts: HostFacts, state: bool) -> etree._Element | None:
    """``/if:interfaces`` with ietf-ip addresses."""
    root = _root(f"{{{IF_NS}}}interfaces", IF_NS, ianaift=IANAIFT_NS, ip=IP_NS)
    links = facts.links
    names = {link.name for link in links}
    boot = facts.system.boot_time if state else 0.0
    for link in links:
        entry = _el(root, f"{{{IF_NS}}}interface")
        _el(entry, f"{{{IF_NS}}}name", link.name)
        if link.alias:
            _el(entry, f"{{{IF_NS}}}description", link.alias)
        _el(entry, f"{{{IF_NS}}}type", f"ianaift:{interface_type(link)}")
        up = bool(link.flags & hostread.IFF_UP)
        _el(entry, f"{{{IF_NS}}}enabled", up)
        if state:
            _el(entry, f"{{{IF_NS}}}admin-status", "up" if up else "down")
            _el(entry, f"{{{IF_NS}}}oper-status", _OPER_STATUS.get(link.operstate, "unknown"))
            _el(entry, f"{{{IF_NS}}}if-index", link.ifindex)
            if link.address and link.address != "00:00:00:00:00:00":
                _el(entry, f"{{{IF_NS}}}phys-address", link.address)
            higher = sorted({*link.uppers, *([link.master] if link.master else [])} & names)
            lower = sorted(
                {*link.lowers, *(x.name for x in links if x.master == link.name)} & names
            )
            for name in higher:
                _el(entry, f"{{{IF_NS}}}higher-layer-if", name)
            for name in lower:
                _el(entry, f"{{{IF_NS}}}lower-layer-if", name)
            if link.speed_mbps is not None and link.speed_mbps > 0:
                _el(entry, f"{{{IF_NS}}}speed", link.speed_mbps * 1_000_000)
            _add_statistics(entry, link, boot)
        _add_ip(entry, facts, link, state)
    return root


def _add_statistics(entry: etree._Element, link: Link, boot: float) -> None:
    stats = link.stats
    element = _el(entry, f"{{{IF_NS}}}statistics")
    # Linux counters start when the device is created; boot time is the earliest bound.
    _el(element, f"{{{IF_NS}}}discontinuity-time", _datetime(boot))
    c32 = 2**32

    def put(name: str, value: int | None, modulo: int | None = None) -> None:
        if value is not None:
            _el(element, f"{{{IF_NS}}}{name}", value % modulo if modulo else value)

    rx, multicast = stats.get("rx_packets"), stats.get("multicast")
    put("in-octets", stats.get("rx_bytes"))
    # Linux counts broadcasts in neither bucket separately: they are in the unicast count.
    if rx is not None:
        put("in-unicast-pkts", max(0, rx - (multicast or 0)))
    put("in-multicast-pkts", multicast)
    put("in-discards", stats.get("rx_dropped"), c32)
    put("in-errors", stats.get("rx_errors"), c32)
    put("out-octets", stats.get("tx_bytes"))
    put("out-unicast-pkts", stats.get("tx_packets"))
    put("out-discards", stats.get("tx_dropped"), c32)
    put("out-errors", stats.get("tx_errors"), c32)


def _add_ip(entry: etree._Element, facts: HostFacts, link: Link, state: bool) -> None:
    addresses = facts.addresses(link.name)
    for family in (4, 6):
        mine = [a for a in addresses if a.family == family]
        if not mine:
            continue
        if family == 6 and link.ipv6_disabled:
            continue
        container = _el(entry, f"{{{IP_NS}}}ipv{family}")
        forwarding = link.ipv4_forwarding if family == 4 else link.ipv6_forwarding
        if forwarding is not None:
            _el(container, f"{{{IP_NS}}}forwarding", forwarding)
        low, high = (68, 65535) if family == 4 else (1280, 2**32 - 1)
        if link.mtu is not None and low <= link.mtu <= high:
            _el(container, f"{{{IP_NS}}}mtu", link.mtu)
        seen: set[str] = set()
        for address in mine:
            if address.address in seen:
                continue
            seen.add(address.address)
            item = _el(container, f"{{{IP_NS}}}address")
            _el(item, f"{{{IP_NS}}}ip", address.address)
            _el(item, f"{{{IP_NS}}}prefix-length", address.prefix_length)
            if state:
                if address.scope_link and family == 6:
                    origin = "link-layer"
                elif address.permanent:
                    origin = "static"
                else:
                    origin = "dhcp" if family == 4 else "other"
                _el(item, f"{{{IP_NS}}}origin", origin)


def build_hardware(facts: HostFacts, state: bool) -> etree._Element | None:
    """``/hw:hardware``: chassis, CPUs, storage drives, network ports."""
    root = _root(f"{{{HW_NS}}}hardware", HW_NS, ianahw=IANAHW_NS)

    def component(name: str, cls: str, parent: str | None, position: int | None) -> etree._Element:
        entry = _el(root, f"{{{HW_NS}}}component")
        _el(entry, f"{{{HW_NS}}}name", name)
        _el(entry, f"{{{HW_NS}}}class", f"ianahw:{cls}")
        if parent:
            _el(entry, f"{{{HW_NS}}}parent", parent)
        if position is not None:
            _el(entry, f"{{{HW_NS}}}parent-rel-pos", position)
        return entry

    def details(entry: etree._Element, **values: str | bool | None) -> None:
        if not state:
            return
        for leaf in (
            "description",
            "hardware-rev",
            "firmware-rev",
            "software-rev",
            "serial-num",
            "mfg-name",
            "model-name",
            "is-fru",
        ):
            value = values.get(leaf.replace("-", "_"))
            if value is not None:
                _el(entry, f"{{{HW_NS}}}{leaf}", value)

    chassis = hostread.read_chassis(facts.root)
    entry = component("chassis", "chassis", None, None)
    details(
        entry,
        hardware_rev=chassis.hardware_rev,
        firmware_rev=chassis.firmware_rev,
        software_rev=facts.system.platform.os_release,
        serial_num=chassis.serial,
        mfg_name=chassis.vendor,
        model_name=chassis.model,
    )
    for cpu in hostread.read_cpus(facts.root):
        entry = component(f"cpu{cpu.index}", "cpu", "chassis", cpu.index)
        details(entry, model_name=cpu.model, mfg_name=cpu.vendor)
    for position, drive in enumerate(hostread.read_drives(facts.root)):
        entry = component(drive.name, "storage-drive", "chassis", position)
        kind = "removable" if drive.removable else "rotational" if drive.rotational else "solid"
        details(
            entry,
            description=f"{kind} drive, {drive.size_bytes} bytes",
            serial_num=drive.serial,
            mfg_name=drive.vendor,
            model_name=drive.model,
            is_fru=drive.removable or None,
        )
    for position, link in enumerate(x for x in facts.links if x.physical):
        entry = component(f"port-{link.name}", "port", "chassis", position)
        details(entry, description=f"network port {link.name}")
    return root


def build_system(facts: HostFacts, state: bool) -> etree._Element | None:
    """``/sys:system``: hostname, time zone, NTP and DNS configuration."""
    info = facts.system
    root = _root(f"{{{SYS_NS}}}system", SYS_NS)
    if info.hostname:
        _el(root, f"{{{SYS_NS}}}hostname", info.hostname)
    if info.timezone:
        clock = _el(root, f"{{{SYS_NS}}}clock")
        _el(clock, f"{{{SYS_NS}}}timezone-name", info.timezone)
    if info.ntp_servers:
        ntp = _el(root, f"{{{SYS_NS}}}ntp")
        _el(ntp, f"{{{SYS_NS}}}enabled", True)
        seen: set[str] = set()
        for server in info.ntp_servers:
            if server.address in seen:
                continue
            seen.add(server.address)
            entry = _el(ntp, f"{{{SYS_NS}}}server")
            _el(entry, f"{{{SYS_NS}}}name", server.address)
            udp = _el(entry, f"{{{SYS_NS}}}udp")
            _el(udp, f"{{{SYS_NS}}}address", server.address)
            _el(entry, f"{{{SYS_NS}}}association-type", server.association)
            _el(entry, f"{{{SYS_NS}}}iburst", server.iburst)
            _el(entry, f"{{{SYS_NS}}}prefer", server.prefer)
    resolver = _el(root, f"{{{SYS_NS}}}dns-resolver")
    for domain in info.dns_search:
        _el(resolver, f"{{{SYS_NS}}}search", domain)
    for index, address in enumerate(dict.fromkeys(info.dns_servers)):
        entry = _el(resolver, f"{{{SYS_NS}}}server")
        _el(entry, f"{{{SYS_NS}}}name", f"nameserver-{index}")
        transport = _el(entry, f"{{{SYS_NS}}}udp-and-tcp")
        _el(transport, f"{{{SYS_NS}}}address", address)
    if info.dns_timeout or info.dns_attempts:
        options = _el(resolver, f"{{{SYS_NS}}}options")
        if info.dns_timeout:
            _el(options, f"{{{SYS_NS}}}timeout", info.dns_timeout)
        if info.dns_attempts:
            _el(options, f"{{{SYS_NS}}}attempts", info.dns_attempts)
    if len(resolver) == 0:
        root.remove(resolver)
    return root


def build_system_state(facts: HostFacts, state: bool) -> etree._Element | None:
    """``/sys:system-state``: platform and clock (all config false)."""
    if not state:
        return None
    info = facts.system
    root = _root(f"{{{SYS_NS}}}system-state", SYS_NS)
    platform = _el(root, f"{{{SYS_NS}}}platform")
    for leaf, value in (
        ("os-name", info.platform.os_name),
        ("os-release", info.platform.os_release),
        ("os-version", info.platform.os_version),
        ("machine", info.platform.machine),
    ):
        if value:
            _el(platform, f"{{{SYS_NS}}}{leaf}", value)
    clock = _el(root, f"{{{SYS_NS}}}clock")
    _el(clock, f"{{{SYS_NS}}}current-datetime", _datetime(dt.datetime.now(dt.UTC).timestamp()))
    _el(clock, f"{{{SYS_NS}}}boot-datetime", _datetime(info.boot_time))
    return root


def build_routing(facts: HostFacts, state: bool) -> etree._Element | None:
    """``/rt:routing``: FRR protocols, kernel routes of the main table."""
    root = _root(f"{{{RT_NS}}}routing", RT_NS, rt=RT_NS, v4ur=V4UR_NS, v6ur=V6UR_NS, plh=PLH_NS)
    names = {link.name for link in facts.links}
    if state:
        ifaces = _el(root, f"{{{RT_NS}}}interfaces")
        for link in facts.links:
            if facts.addresses(link.name):
                _el(ifaces, f"{{{RT_NS}}}interface", link.name)
        if len(ifaces) == 0:
            root.remove(ifaces)
    frr = hostread.read_frr(facts.root)
    protocols = _el(root, f"{{{RT_NS}}}control-plane-protocols")
    static_routes = [
        r for r in frr.static_routes if r.nexthop or (r.interface and r.interface in names)
    ]
    if static_routes:
        protocol = _el(protocols, f"{{{RT_NS}}}control-plane-protocol")
        _el(protocol, f"{{{RT_NS}}}type", "rt:static")
        _el(protocol, f"{{{RT_NS}}}name", "frr")
        container = _el(protocol, f"{{{RT_NS}}}static-routes")
        for family, ns in ((4, V4UR_NS), (6, V6UR_NS)):
            mine = [r for r in static_routes if r.family == family]
            if not mine:
                continue
            af = _el(container, f"{{{ns}}}ipv{family}")
            for static in {r.prefix: r for r in mine}.values():
                entry = _el(af, f"{{{ns}}}route")
                _el(entry, f"{{{ns}}}destination-prefix", static.prefix)
                hop = _el(entry, f"{{{ns}}}next-hop")
                if static.nexthop:
                    _el(hop, f"{{{ns}}}next-hop-address", static.nexthop)
                else:
                    _el(hop, f"{{{ns}}}outgoing-interface", static.interface)
    for proto in frr.protocols:
        protocol = _el(protocols, f"{{{RT_NS}}}control-plane-protocol")
        _el(protocol, f"{{{RT_NS}}}type", f"plh:{proto.kind}")
        _el(protocol, f"{{{RT_NS}}}name", proto.name)
    if len(protocols) == 0:
        root.remove(protocols)
    ribs = _el(root, f"{{{RT_NS}}}ribs")
    for family, ns, prefix in ((4, V4UR_NS, "v4ur"), (6, V6UR_NS, "v6ur")):
        rib = _el(ribs, f"{{{RT_NS}}}rib")
        _el(rib, f"{{{RT_NS}}}name", f"ipv{family}-main")
        _el(rib, f"{{{RT_NS}}}address-family", f"{prefix}:ipv{family}-unicast")
        if not state:
            continue
        read = hostread.read_ipv4_routes if family == 4 else hostread.read_ipv6_routes
        routes = _el(rib, f"{{{RT_NS}}}routes")
        for route in read(facts.root):
            entry = _el(routes, f"{{{RT_NS}}}route")
            hop = _el(entry, f"{{{RT_NS}}}next-hop")
            if route.interface and route.interface in names:
                _el(hop, f"{{{RT_NS}}}outgoing-interface", route.interface)
            if route.gateway:
                _el(hop, f"{{{ns}}}next-hop-address", route.gateway)
            if len(hop) == 0:
                _el(hop, f"{{{RT_NS}}}special-next-hop", "receive")
            source = "static" if route.gateway else "direct"
            _el(entry, f"{{{RT_NS}}}source-protocol", f"rt:{source}")
            _el(entry, f"{{{RT_NS}}}active")
            _el(entry, f"{{{ns}}}destination-prefix", route.prefix)
        if len(routes) == 0:
            rib.remove(routes)
    return root


def _qdisc_handle(handle: int) -> str:
    """A tc handle as ``tc`` prints it: ``1:``, ``1:10``, ``:1``."""
    major, minor = handle >> 16, handle & 0xFFFF
    if minor == 0:
        return f"{major:x}:"
    return f"{major:x}:{minor:x}" if major else f":{minor:x}"


def _qdisc_parent(parent: int) -> str:
    if parent == 0xFFFFFFFF:
        return "root"
    if parent == 0xFFFFFFF1:
        return "ingress"
    return _qdisc_handle(parent)


def build_linux_host(facts: HostFacts, state: bool) -> etree._Element | None:
    """``/plh:linux-host``: firewall rule sets, qdiscs, VRFs (all config false)."""
    if not state:
        return None
    root = _root(f"{{{PLH_NS}}}linux-host", PLH_NS)
    kernel = facts.kernel
    firewall = _el(root, f"{{{PLH_NS}}}firewall")
    rulesets: dict[tuple[str, str, str], int | None] = {}
    if kernel is not None and kernel.nft_tables is not None:
        for table in kernel.nft_tables:
            rulesets[("nftables-kernel", table.family, table.name)] = table.rule_count
    for family, name in hostread.read_xtables_names(facts.root):
        rulesets[("xtables-kernel", family, name)] = None
    for table in hostread.read_nftables_conf(facts.root):
        rulesets[("nftables-config", table.family, table.name)] = table.rule_count
    for table in hostread.read_iptables_conf(facts.root):
        rulesets[("iptables-config", table.family, table.name)] = table.rule_count
    for (origin, family, name), rule_count in rulesets.items():
        entry = _el(firewall, f"{{{PLH_NS}}}ruleset")
        _el(entry, f"{{{PLH_NS}}}origin", origin)
        _el(entry, f"{{{PLH_NS}}}family", family)
        _el(entry, f"{{{PLH_NS}}}table", name)
        if rule_count is not None:
            _el(entry, f"{{{PLH_NS}}}rule-count", rule_count)
    if len(firewall) == 0:
        root.remove(firewall)
    names = {link.name for link in facts.links}
    if kernel is not None:
        control = _el(root, f"{{{PLH_NS}}}traffic-control")
        seen: set[tuple[str, str]] = set()
        for qdisc in kernel.qdiscs:
            parent = _qdisc_parent(qdisc.parent)
            if qdisc.interface not in names or (qdisc.interface, parent) in seen:
                continue
            seen.add((qdisc.interface, parent))
            entry = _el(control, f"{{{PLH_NS}}}qdisc")
            _el(entry, f"{{{PLH_NS}}}interface", qdisc.interface)
            _el(entry, f"{{{PLH_NS}}}parent", parent)
            _el(entry, f"{{{PLH_NS}}}handle", _qdisc_handle(qdisc.handle))
            _el(entry, f"{{{PLH_NS}}}kind", qdisc.kind)
            _el(entry, f"{{{PLH_NS}}}default", qdisc.handle == 0)
    vrfs = [link for link in facts.links if link_kind(link) == "vrf"]
    if vrfs:
        container = _el(root, f"{{{PLH_NS}}}vrfs")
        for vrf in vrfs:
            entry = _el(container, f"{{{PLH_NS}}}vrf")
            _el(entry, f"{{{PLH_NS}}}name", vrf.name)
            table_id = kernel.vrf_tables.get(vrf.name) if kernel else None
            if table_id is not None:
                _el(entry, f"{{{PLH_NS}}}table", table_id)
            for member in facts.links:
                if member.master == vrf.name:
                    _el(entry, f"{{{PLH_NS}}}member", member.name)
    return root


@dataclass(frozen=True)
class HostModel:
    """One top-level node of the host's models and how to build it."""

    namespace: str
    name: str
    build: Builder


HOST_MODELS = (
    HostModel(SYS_NS, "system", build_system),
    HostModel(SYS_NS, "system-state", build_system_state),
    HostModel(HW_NS, "hardware", build_hardware),
    HostModel(IF_NS, "interfaces", build_interfaces),
    HostModel(RT_NS, "routing", build_routing),
    HostModel(PLH_NS, "linux-host", build_linux_host),
)


def _selected(model: HostModel, request: ReadRequest) -> bool:
    """Whether the request's filter may select this top-level node (when unsure: yes)."""
    if not request.filter.strip():
        return True
    if request.filter_type == "subtree":
        children = parse_filter_children(request.filter)
        return filter_selects(children, model.namespace, model.name) is not None
    try:
        return bool(
            xpath_selects(request.filter, dict(request.namespaces), model.namespace, model.name)
        )
    except Exception:  # a bad expression is reported by the filter itself
        return True


class HostSource:
    """The agent's own Linux host (see the module docstring)."""

    def __init__(
        self,
        root: Path = Path("/"),
        *,
        kernel_reader: Callable[[], KernelNet | None] | None = None,
        name: str = "host",
    ) -> None:
        """``root`` is ``/`` on a live system; ``kernel_reader`` supplies the netlink facts
        (default: pyroute2 when ``root`` is ``/``, none otherwise)."""
        self.root = Path(root)
        self.name = name
        if kernel_reader is None and self.root == Path("/"):
            kernel_reader = hostread.read_kernel_net
        self._kernel_reader = kernel_reader

    def facts(self) -> HostFacts:
        """A fresh view of the host's facts (each fact is read at most once)."""
        return HostFacts(self.root, self._kernel_reader)

    def build(self, *, state: bool = True, request: ReadRequest | None = None) -> etree._Element:
        """The unfiltered ``<data>`` of the models the request may select."""
        facts = self.facts()
        data = new_data()
        for model in HOST_MODELS:
            if request is not None and not _selected(model, request):
                continue
            element = model.build(facts, state)
            if element is not None:
                data.append(element)
        return data

    async def read(self, request: ReadRequest) -> etree._Element:
        """Build the selected models from the host's current state and filter them."""
        state = request.datastore == "operational"
        try:
            # File reads and netlink are blocking: keep them off the event loop.
            data = await asyncio.to_thread(self.build, state=state, request=request)
        except (OSError, ValueError) as exc:
            raise SourceError(f"host: cannot read the host's state: {exc}") from exc
        return apply_request_filter(data, request)

    def watch(self, request: ReadRequest, callback: OnChange) -> bool:
        """The host is polled."""
        return False

    async def close(self) -> None:
        """Nothing to release."""


class HostStateProvider:
    """Serves one top-level node of the host's models read-only over NETCONF ``get``.

    The trees hold config-true nodes too (NMDA: what the system itself configured, which is
    not in the agent's running datastore) next to their state.
    """

    def __init__(self, source: HostSource, model: HostModel) -> None:
        self.namespace = model.namespace
        self.name = model.name
        self._source = source
        self._model = model

    def get_state(self, request: StateRequest) -> etree._Element | None:
        return self._model.build(self._source.facts(), True)


def host_state_providers(source: HostSource | None = None) -> list[StateProvider]:
    """StateProviders for ``/sys:system``, ``/sys:system-state``, ``/hw:hardware``,
    ``/if:interfaces``, ``/rt:routing`` and ``/plh:linux-host`` of the agent's host.

    Register them when the source is ``host`` (their modules must be in the server's
    module set: see ``HOST_MODULES``).
    """
    source = source or HostSource()
    return [HostStateProvider(source, model) for model in HOST_MODELS]
