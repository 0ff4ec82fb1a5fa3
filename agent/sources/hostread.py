"""Readers of the Linux host's facts: /proc, /sys, the usual /etc files, and netlink.

Each reader returns plain dataclasses; ``agent.sources.host`` turns them into YANG data.
Every path is taken under ``root`` (``/`` on a live system), so the readers can be tested on
a copy of a machine's files.  A file that is missing or unreadable (e.g. DMI serial numbers
readable only by root) just leaves the fact out.

Netlink is used, through pyroute2, only for what no file shows: link kinds (bridge, vlan,
bond, vrf...), IPv4 addresses, queueing disciplines and nftables tables.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# /proc/net/route and /proc/net/ipv6_route flags (linux/route.h, linux/ipv6_route.h).
RTF_UP = 0x0001
RTF_GATEWAY = 0x0002
RTF_REJECT = 0x0200
RTF_ADDRCONF = 0x40000
RTF_CACHE = 0x01000000
RTF_LOCAL = 0x80000000

IFF_UP = 0x1


def read_text(path: Path) -> str | None:
    """The stripped text of a small file, or None when it is missing or unreadable."""
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def read_int(path: Path) -> int | None:
    text = read_text(path)
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def config_lines(path: Path) -> Iterator[list[str]]:
    """Whitespace-split, non-comment lines of a configuration file (nothing if missing)."""
    text = read_text(path)
    if not text:
        return
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            yield words


# -- system ------------------------------------------------------------------------------


@dataclass
class Platform:
    os_name: str | None
    os_release: str | None
    os_version: str | None
    machine: str


@dataclass
class NtpServer:
    address: str
    association: str  # server | pool
    iburst: bool = False
    prefer: bool = False
    origin: str = ""  # the file it came from


@dataclass
class SystemInfo:
    hostname: str | None
    timezone: str | None
    dns_servers: list[str]
    dns_search: list[str]
    dns_timeout: int | None
    dns_attempts: int | None
    ntp_servers: list[NtpServer]
    platform: Platform
    boot_time: float  # Unix seconds


def read_system(root: Path) -> SystemInfo:
    """Host name, time zone, resolvers, NTP servers, platform and boot time."""
    kernel = root / "proc/sys/kernel"
    servers: list[str] = []
    search: list[str] = []
    timeout = attempts = None
    for words in config_lines(root / "etc/resolv.conf"):
        if words[0] == "nameserver" and len(words) > 1:
            with contextlib.suppress(ValueError):
                ipaddress.ip_address(words[1].split("%")[0])
                servers.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            for option in words[1:]:
                name, _, value = option.partition(":")
                if name == "timeout" and value.isdigit():
                    timeout = min(int(value), 255)
                elif name == "attempts" and value.isdigit():
                    attempts = min(int(value), 255)
    uname = os.uname()
    platform = Platform(
        os_name=read_text(kernel / "ostype"),
        os_release=read_text(kernel / "osrelease"),
        os_version=read_text(kernel / "version"),
        machine=read_text(kernel / "arch") or uname.machine,
    )
    uptime_text = read_text(root / "proc/uptime")
    uptime = float(uptime_text.split()[0]) if uptime_text else 0.0
    return SystemInfo(
        hostname=read_text(kernel / "hostname"),
        timezone=read_timezone(root),
        dns_servers=servers,
        dns_search=search,
        dns_timeout=timeout,
        dns_attempts=attempts,
        ntp_servers=read_ntp_servers(root),
        platform=platform,
        boot_time=time.time() - uptime,
    )


def read_timezone(root: Path) -> str | None:
    """The IANA time zone name from /etc/timezone or the /etc/localtime link."""
    name = read_text(root / "etc/timezone")
    if name:
        return name.split()[0]
    try:
        target = os.readlink(root / "etc/localtime")
    except OSError:
        return None
    _, marker, zone = target.partition("zoneinfo/")
    return zone if marker and zone else None


def read_ntp_servers(root: Path) -> list[NtpServer]:
    """NTP servers configured for chrony, ntpd/ntpsec or systemd-timesyncd."""
    found: list[NtpServer] = []
    chrony = [root / "etc/chrony/chrony.conf", root / "etc/chrony.conf"]
    for folder in (root / "etc/chrony/sources.d", root / "etc/chrony/conf.d"):
        if folder.is_dir():
            chrony.extend(sorted(folder.glob("*.sources")) + sorted(folder.glob("*.conf")))
    ntpd = [root / "etc/ntp.conf", root / "etc/ntpsec/ntp.conf"]
    for path in chrony + ntpd:
        for words in config_lines(path):
            if words[0] in ("server", "pool", "peer") and len(words) > 1:
                found.append(
                    NtpServer(
                        address=words[1],
                        association="pool" if words[0] == "pool" else words[0],
                        iburst="iburst" in words[2:],
                        prefer="prefer" in words[2:],
                        origin=str(path.relative_to(root)),
                    )
                )
    timesyncd = [root / "etc/systemd/timesyncd.conf"]
    dropins = root / "etc/systemd/timesyncd.conf.d"
    if dropins.is_dir():
        timesyncd.extend(sorted(dropins.glob("*.conf")))
    for path in timesyncd:
        for words in config_lines(path):
            # Only NTP= counts as configured; FallbackNTP= is the distribution's default.
            if words[0].startswith("NTP="):
                addresses = [words[0].removeprefix("NTP="), *words[1:]]
                found.extend(
                    NtpServer(a, "server", origin=str(path.relative_to(root)))
                    for a in addresses
                    if a
                )
    return found


# -- hardware ------------------------------------------------------------------------------


@dataclass
class Chassis:
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    hardware_rev: str | None = None
    firmware_rev: str | None = None


@dataclass
class Cpu:
    index: int
    model: str | None
    vendor: str | None


@dataclass
class Drive:
    name: str
    model: str | None
    vendor: str | None
    serial: str | None
    size_bytes: int
    rotational: bool | None
    removable: bool


def read_chassis(root: Path) -> Chassis:
    """Chassis identity from DMI (PCs, servers) or the device tree (ARM boards)."""
    dmi = root / "sys/class/dmi/id"
    if dmi.is_dir():
        return Chassis(
            vendor=_meaningful(read_text(dmi / "sys_vendor")),
            model=_meaningful(read_text(dmi / "product_name")),
            serial=_meaningful(read_text(dmi / "product_serial")),
            hardware_rev=_meaningful(read_text(dmi / "product_version")),
            firmware_rev=_meaningful(read_text(dmi / "bios_version")),
        )
    tree = root / "proc/device-tree"
    model = read_text(tree / "model")
    chassis = Chassis(
        model=model.rstrip("\x00") if model else None,
        serial=(read_text(tree / "serial-number") or "").rstrip("\x00") or None,
    )
    compatible = read_text(tree / "compatible")
    if compatible and "," in compatible:
        chassis.vendor = compatible.split(",", 1)[0]
    return chassis


def _meaningful(value: str | None) -> str | None:
    """DMI fields often hold placeholders; those are no information."""
    if not value:
        return None
    if value.lower() in {"to be filled by o.e.m.", "default string", "not specified", "none"}:
        return None
    return value


def read_cpus(root: Path) -> list[Cpu]:
    """One entry per logical processor of /proc/cpuinfo."""
    text = read_text(root / "proc/cpuinfo") or ""
    cpus: list[Cpu] = []
    shared: dict[str, str] = {}  # ARM lists the model once, after the processors
    blocks = [b for b in text.split("\n\n") if b.strip()]
    parsed: list[dict[str, str]] = []
    for block in blocks:
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        if "processor" in fields and fields["processor"].isdigit():
            parsed.append(fields)
        else:
            shared.update(fields)
    for fields in parsed:
        model = fields.get("model name") or shared.get("model name") or shared.get("hardware")
        vendor = fields.get("vendor_id") or shared.get("vendor_id")
        if model is None and "cpu part" in fields:
            model = f"CPU part {fields['cpu part']}"
        cpus.append(Cpu(int(fields["processor"]), model, vendor))
    return cpus


_VIRTUAL_BLOCK = re.compile(r"^(loop|ram|zram|dm-|md|nbd|sr)\d*")


def read_drives(root: Path) -> list[Drive]:
    """Storage drives of /sys/block (not loop, RAM, zram, device-mapper or RAID volumes)."""
    drives: list[Drive] = []
    block = root / "sys/block"
    if not block.is_dir():
        return drives
    for entry in sorted(block.iterdir(), key=lambda p: p.name):
        if _VIRTUAL_BLOCK.match(entry.name):
            continue
        device = entry / "device"
        sectors = read_int(entry / "size") or 0
        rotational = read_int(entry / "queue/rotational")
        drives.append(
            Drive(
                name=entry.name,
                model=read_text(device / "model") or None,
                vendor=read_text(device / "vendor") or None,
                serial=read_text(device / "serial") or None,
                size_bytes=sectors * 512,
                rotational=None if rotational is None else bool(rotational),
                removable=read_int(entry / "removable") == 1,
            )
        )
    return drives


# -- network -------------------------------------------------------------------------------


@dataclass
class Address:
    family: int  # 4 or 6
    address: str
    prefix_length: int
    permanent: bool = True
    scope_link: bool = False


@dataclass
class Qdisc:
    interface: str
    handle: int
    parent: int
    kind: str


@dataclass
class NftTable:
    family: str
    name: str
    rule_count: int


@dataclass
class KernelNet:
    """What only netlink tells (read with pyroute2; see ``read_kernel_net``)."""

    kinds: dict[str, str] = field(default_factory=dict)  # ifname -> IFLA_INFO_KIND
    vrf_tables: dict[str, int] = field(default_factory=dict)  # VRF ifname -> table
    addresses: dict[str, list[Address]] = field(default_factory=dict)  # ifname -> addresses
    qdiscs: list[Qdisc] = field(default_factory=list)
    nft_tables: list[NftTable] | None = None  # None: not readable (no CAP_NET_ADMIN)


@dataclass
class Link:
    name: str
    ifindex: int
    arphrd: int
    flags: int
    operstate: str
    address: str | None
    mtu: int | None
    speed_mbps: int | None
    alias: str | None
    devtype: str | None
    physical: bool
    master: str | None
    lowers: list[str]
    uppers: list[str]
    bridge: bool
    bond: bool
    vlan: bool
    kind: str | None  # netlink kind when known
    stats: dict[str, int]
    ipv4_forwarding: bool | None
    ipv6_forwarding: bool | None
    ipv6_disabled: bool | None


_STATS = (
    "rx_bytes",
    "rx_packets",
    "multicast",
    "rx_dropped",
    "rx_errors",
    "tx_bytes",
    "tx_packets",
    "tx_dropped",
    "tx_errors",
)


def read_links(root: Path, kernel: KernelNet | None) -> list[Link]:
    """Every network interface of /sys/class/net with its attributes and counters."""
    net = root / "sys/class/net"
    links: list[Link] = []
    if not net.is_dir():
        return links
    for path in sorted(net.iterdir(), key=lambda p: p.name):
        name = path.name
        uevent = dict(
            line.partition("=")[::2] for line in (read_text(path / "uevent") or "").splitlines()
        )
        master = None
        with contextlib.suppress(OSError):
            master = os.path.basename(os.readlink(path / "master"))
        lowers: list[str] = []
        uppers: list[str] = []
        with contextlib.suppress(OSError):
            for child in sorted(os.listdir(path)):
                if child.startswith("lower_"):
                    lowers.append(child.removeprefix("lower_"))
                elif child.startswith("upper_"):
                    uppers.append(child.removeprefix("upper_"))
        addr_len = read_int(path / "addr_len") or 0
        address = read_text(path / "address") if addr_len else None
        stats = {}
        for counter in _STATS:
            value = read_int(path / "statistics" / counter)
            if value is not None:
                stats[counter] = value
        conf4 = root / "proc/sys/net/ipv4/conf" / name
        conf6 = root / "proc/sys/net/ipv6/conf" / name
        forwarding4 = read_int(conf4 / "forwarding")
        forwarding6 = read_int(conf6 / "forwarding")
        disabled6 = read_int(conf6 / "disable_ipv6")
        links.append(
            Link(
                name=name,
                ifindex=read_int(path / "ifindex") or 0,
                arphrd=read_int(path / "type") or 0,
                flags=read_int(path / "flags") or 0,
                operstate=read_text(path / "operstate") or "unknown",
                address=address,
                mtu=read_int(path / "mtu"),
                speed_mbps=read_int(path / "speed"),  # EINVAL (None) when the link is down
                alias=read_text(path / "ifalias") or None,
                devtype=uevent.get("DEVTYPE"),
                physical=(path / "device").exists(),
                master=master,
                lowers=lowers,
                uppers=uppers,
                bridge=(path / "bridge").is_dir(),
                bond=(path / "bonding").is_dir(),
                vlan=(root / "proc/net/vlan" / name).exists(),
                kind=kernel.kinds.get(name) if kernel else None,
                stats=stats,
                ipv4_forwarding=None if forwarding4 is None else forwarding4 == 1,
                ipv6_forwarding=None if forwarding6 is None else forwarding6 == 1,
                ipv6_disabled=None if disabled6 is None else disabled6 == 1,
            )
        )
    return links


def read_ipv6_addresses(root: Path) -> dict[str, list[Address]]:
    """IPv6 addresses from /proc/net/if_inet6 (used when netlink is not available)."""
    result: dict[str, list[Address]] = {}
    for words in config_lines(root / "proc/net/if_inet6"):
        if len(words) < 6:
            continue
        addr = str(ipaddress.IPv6Address(bytes.fromhex(words[0])))
        scope, flags = int(words[3], 16), int(words[4], 16)
        result.setdefault(words[5], []).append(
            Address(6, addr, int(words[2], 16), bool(flags & 0x80), scope == 0x20)
        )
    return result


_NETLINK_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pa-netlink")


def read_kernel_net() -> KernelNet | None:
    """Link kinds, addresses, qdiscs and nftables tables over netlink (pyroute2).

    Returns None when netlink cannot be used at all; nftables tables stay None without
    CAP_NET_ADMIN.  pyroute2's synchronous API drives an asyncio loop of its own, which
    cannot run in a thread whose loop is already running (the agent's), so it always runs
    in a worker thread of its own.
    """
    return _NETLINK_THREAD.submit(_read_kernel_net).result()


def _read_kernel_net() -> KernelNet | None:
    try:
        from pyroute2 import IPRoute
    except ImportError:  # pragma: no cover - pyroute2 is a dependency
        return None
    kernel = KernelNet()
    try:
        with IPRoute() as ipr:
            names: dict[int, str] = {}
            for link in ipr.get_links():
                name = link.get_attr("IFLA_IFNAME")
                names[link["index"]] = name
                info = link.get_attr("IFLA_LINKINFO")
                kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
                if kind:
                    kernel.kinds[name] = kind
                if kind == "vrf":
                    data = info.get_attr("IFLA_INFO_DATA")
                    table = data.get_attr("IFLA_VRF_TABLE") if data is not None else None
                    if table is not None:
                        kernel.vrf_tables[name] = int(table)
            for msg in ipr.get_addr():
                name = names.get(msg["index"])
                address = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
                if name is None or address is None:
                    continue
                flags = msg.get_attr("IFA_FLAGS") or msg["flags"]
                kernel.addresses.setdefault(name, []).append(
                    Address(
                        family=4 if msg["family"] == 2 else 6,
                        address=address,
                        prefix_length=msg["prefixlen"],
                        permanent=bool(flags & 0x80),
                        scope_link=msg["scope"] == 253,
                    )
                )
            for msg in ipr.get_qdiscs():
                name = names.get(msg["index"])
                kind = msg.get_attr("TCA_KIND")
                if name is not None and kind:
                    kernel.qdiscs.append(Qdisc(name, msg["handle"], msg["parent"], kind))
    except Exception as exc:  # netlink unavailable (seccomp, old kernel): leave it out
        log.warning("netlink not readable: %r", exc)
        return None
    kernel.nft_tables = _read_nft_tables()
    return kernel


_NFT_FAMILIES = {1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}


def _read_nft_tables() -> list[NftTable] | None:
    try:
        from pyroute2.nftables.main import NFTables

        with contextlib.closing(NFTables(nfgen_family=0)) as nft:
            rules: dict[tuple[int, str], int] = {}
            for rule in nft.get_rules():
                key = (rule["nfgen_family"], rule.get_attr("NFTA_RULE_TABLE"))
                rules[key] = rules.get(key, 0) + 1
            return [
                NftTable(
                    _NFT_FAMILIES.get(t["nfgen_family"], str(t["nfgen_family"])),
                    t.get_attr("NFTA_TABLE_NAME"),
                    rules.get((t["nfgen_family"], t.get_attr("NFTA_TABLE_NAME")), 0),
                )
                for t in nft.get_tables()
            ]
    except Exception as exc:  # EPERM without CAP_NET_ADMIN, or no nf_tables in the kernel
        log.debug("nftables not readable: %r", exc)
        return None


def read_xtables_names(root: Path) -> list[tuple[str, str]]:
    """Legacy iptables tables loaded in the kernel: (family, table)."""
    found: list[tuple[str, str]] = []
    for family, filename in (("ip", "ip_tables_names"), ("ip6", "ip6_tables_names")):
        text = read_text(root / "proc/net" / filename) or ""
        found.extend((family, name) for name in text.split())
    text = read_text(root / "proc/net/arp_tables_names") or ""
    found.extend(("arp", name) for name in text.split())
    return found


def read_nftables_conf(root: Path) -> list[NftTable]:
    """Tables declared in /etc/nftables.conf, with the rules of their chains.

    A line-oriented reading of nft's syntax (no library parses it): inside ``table FAMILY
    NAME { chain X { ... } }`` every statement line is a rule except the chain's ``type ...
    hook`` and ``policy`` lines.
    """
    tables: list[NftTable] = []
    current: NftTable | None = None
    blocks: list[str] = []  # kinds of the open { } blocks: table, chain or other
    for words in config_lines(root / "etc/nftables.conf"):
        head = words[0]
        if head == "table" and not blocks:
            names = [w for w in (w.strip("{}") for w in words[1:]) if w]
            family, name = ("ip", names[0]) if len(names) == 1 else (names[0], names[-1])
            current = NftTable(family, name, 0)
            tables.append(current)
        elif (
            current is not None
            and blocks
            and blocks[-1] == "chain"
            and head not in ("type", "policy", "comment", "}")
        ):
            current.rule_count += 1
        kind = head if head in ("table", "chain") else "other"
        for word in words:
            for char in word:
                if char == "{":
                    blocks.append(kind)
                elif char == "}" and blocks:
                    blocks.pop()
        if not blocks:
            current = None
    return tables


def read_iptables_conf(root: Path) -> list[NftTable]:
    """Tables of iptables-persistent's /etc/iptables/rules.v4 and rules.v6 (``-A`` lines)."""
    tables: list[NftTable] = []
    for family, filename in (("ip", "rules.v4"), ("ip6", "rules.v6")):
        current: NftTable | None = None
        for words in config_lines(root / "etc/iptables" / filename):
            if words[0].startswith("*"):
                current = NftTable(family, words[0][1:], 0)
                tables.append(current)
            elif words[0] == "-A" and current is not None:
                current.rule_count += 1
    return tables


# -- routing -------------------------------------------------------------------------------


@dataclass
class Route:
    family: int
    prefix: str  # "10.0.0.0/8"
    gateway: str | None
    interface: str | None
    metric: int
    from_ra: bool = False


def read_ipv4_routes(root: Path) -> list[Route]:
    """The main table's IPv4 routes from /proc/net/route (hex, host byte order)."""
    routes: list[Route] = []
    for words in list(config_lines(root / "proc/net/route"))[1:]:
        if len(words) < 8:
            continue
        flags = int(words[3], 16)
        if not flags & RTF_UP:
            continue
        dest = _ipv4_le(words[1])
        mask = _ipv4_le(words[7])
        prefix = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        gateway = _ipv4_le(words[2]) if flags & RTF_GATEWAY else None
        routes.append(
            Route(4, str(prefix), gateway, None if words[0] == "*" else words[0], int(words[6]))
        )
    return routes


def _ipv4_le(hex_text: str) -> str:
    return str(ipaddress.IPv4Address(int(hex_text, 16).to_bytes(4, "little")))


_MULTICAST6 = ipaddress.IPv6Network("ff00::/8")


def read_ipv6_routes(root: Path) -> list[Route]:
    """IPv6 unicast routes from /proc/net/ipv6_route (local, cached and rejected left out)."""
    routes: list[Route] = []
    for words in config_lines(root / "proc/net/ipv6_route"):
        if len(words) < 10:
            continue
        flags = int(words[8], 16)
        if not flags & RTF_UP or flags & (RTF_LOCAL | RTF_CACHE | RTF_REJECT):
            continue
        prefix = ipaddress.IPv6Network(
            (ipaddress.IPv6Address(bytes.fromhex(words[0])), int(words[1], 16)), strict=False
        )
        if prefix.subnet_of(_MULTICAST6):
            continue
        gateway = str(ipaddress.IPv6Address(bytes.fromhex(words[4])))
        routes.append(
            Route(
                6,
                str(prefix),
                gateway if flags & RTF_GATEWAY else None,
                None if words[9] == "lo" else words[9],
                int(words[5], 16),
                from_ra=bool(flags & RTF_ADDRCONF),
            )
        )
    return routes


@dataclass
class FrrProtocol:
    kind: str  # ospfv2, ospfv3, bgp, isis, rip, eigrp, babel
    name: str  # instance name: "default" or the VRF


@dataclass
class FrrStaticRoute:
    family: int
    prefix: str
    nexthop: str | None  # address
    interface: str | None


@dataclass
class FrrConfig:
    present: bool = False
    protocols: list[FrrProtocol] = field(default_factory=list)
    static_routes: list[FrrStaticRoute] = field(default_factory=list)


_FRR_ROUTERS = {
    "ospf": "ospfv2",
    "ospf6": "ospfv3",
    "bgp": "bgp",
    "isis": "isis",
    "rip": "rip",
    "ripng": "rip",
    "eigrp": "eigrp",
    "babel": "babel",
}


def read_frr(root: Path) -> FrrConfig:
    """Routing protocols and static routes configured in /etc/frr/frr.conf."""
    path = root / "etc/frr/frr.conf"
    config = FrrConfig(present=path.is_file())
    seen: set[tuple[str, str]] = set()
    for words in config_lines(path):
        if words[0] == "router" and len(words) > 1 and words[1] in _FRR_ROUTERS:
            kind = _FRR_ROUTERS[words[1]]
            vrf = words[words.index("vrf") + 1] if "vrf" in words[:-1] else "default"
            if (kind, vrf) not in seen:
                seen.add((kind, vrf))
                config.protocols.append(FrrProtocol(kind, vrf))
        elif words[0] in ("ip", "ipv6") and len(words) > 3 and words[1] == "route":
            family = 4 if words[0] == "ip" else 6
            try:
                prefix = str(ipaddress.ip_network(words[2], strict=False))
            except ValueError:
                continue
            target = words[3]
            try:
                ipaddress.ip_address(target)
                config.static_routes.append(FrrStaticRoute(family, prefix, target, None))
            except ValueError:
                config.static_routes.append(FrrStaticRoute(family, prefix, None, target))
    return config
