"""A small Linux switch's /proc, /sys and /etc files, laid out as the kernel and the usual
packages lay them out, for testing the host source on more than this machine has (bridges,
VLANs, bonds, VRFs, FRR, chrony, nftables, DMI)."""

from __future__ import annotations

import os
from pathlib import Path

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Atom(TM) CPU C3558 @ 2.20GHz

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Atom(TM) CPU C3558 @ 2.20GHz
"""

# Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
br0\t00000000\t0101000A\t0003\t0\t0\t0\t00000000\t0\t0\t0
br0\t0001000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0.10\t000A000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
bond0\t0000A8C0\t0202000A\t0003\t0\t0\t100\t00FFFFFF\t0\t0\t0
"""

# dest plen src plen nexthop metric refcnt use flags device
IPV6_ROUTE = (
    "20010db8000100000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001 br0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "20010db8000100000000000000000001 00000400 00000002 00000000 00000003 br0\n"
    "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000002 00000000 00000001 br0\n"
    "20010db8000100000000000000000002 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000003 00000000 80200001 br0\n"
    "ff000000000000000000000000000000 08 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000003 00000000 00000001 br0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n"
)

IF_INET6 = (
    "20010db8000100000000000000000002 05 40 00 80 br0\n"
    "fe80000000000000020000fffe000005 05 40 20 80 br0\n"
    "00000000000000000000000000000001 01 80 10 80 lo\n"
)

FRR = """frr version 8.4
hostname edge-sw1
!
ip route 10.99.0.0/16 10.1.0.254
ipv6 route 2001:db8:99::/48 br0
ip route 10.98.0.0/16 nosuch0
!
router ospf
 ospf router-id 10.1.0.1
 network 10.1.0.0/24 area 0
!
router ospf vrf blue
!
router bgp 65001
 neighbor 10.1.0.2 remote-as 65002
!
"""

NFTABLES = """#!/usr/sbin/nft -f
flush ruleset

table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif "lo" accept
    tcp dport { 22, 830 } accept
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
  }
}
table ip nat {
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "br0" masquerade
  }
}
"""

RULES_V4 = """*filter
:INPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp --dport 22 -j ACCEPT
COMMIT
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _link(
    root: Path,
    name: str,
    *,
    ifindex: int,
    arphrd: int = 1,
    flags: int = 0x1003,
    operstate: str = "up",
    mac: str = "02:00:00:00:00:01",
    mtu: int = 1500,
    speed: int | None = None,
    devtype: str | None = None,
    physical: bool = False,
    master: str | None = None,
    alias: str = "",
) -> Path:
    path = root / "sys/class/net" / name
    path.mkdir(parents=True)
    uevent = f"INTERFACE={name}\nIFINDEX={ifindex}\n"
    if devtype:
        uevent = f"DEVTYPE={devtype}\n" + uevent
    files = {
        "uevent": uevent,
        "ifindex": f"{ifindex}\n",
        "type": f"{arphrd}\n",
        "flags": f"{flags:#x}\n",
        "operstate": f"{operstate}\n",
        "address": f"{mac}\n",
        "addr_len": "6\n",
        "mtu": f"{mtu}\n",
        "ifalias": f"{alias}\n",
    }
    if speed is not None:
        files["speed"] = f"{speed}\n"
    for filename, text in files.items():
        _write(path / filename, text)
    for counter, value in {
        "rx_bytes": 123456789,
        "rx_packets": 1000,
        "multicast": 100,
        "rx_dropped": 2,
        "rx_errors": 1,
        "tx_bytes": 987654,
        "tx_packets": 800,
        "tx_dropped": 0,
        "tx_errors": 0,
    }.items():
        _write(path / "statistics" / counter, f"{value}\n")
    if physical:
        (path / "device").mkdir()
    if master:
        os.symlink(f"../{master}", path / "master")
        os.symlink(f"../{name}", root / "sys/class/net" / master / f"lower_{name}")
        os.symlink(f"../{master}", path / f"upper_{master}")
    _write(root / "proc/sys/net/ipv4/conf" / name / "forwarding", "1\n")
    _write(root / "proc/sys/net/ipv6/conf" / name / "forwarding", "0\n")
    _write(root / "proc/sys/net/ipv6/conf" / name / "disable_ipv6", "0\n")
    return path


def make_switch_root(root: Path) -> Path:
    """Lay out the files of a small Linux switch under ``root`` and return it."""
    kernel = root / "proc/sys/kernel"
    for name, text in {
        "hostname": "edge-sw1",
        "ostype": "Linux",
        "osrelease": "6.1.0-18-arm64",
        "version": "#1 SMP Debian 6.1.76-1",
        "arch": "aarch64",
    }.items():
        _write(kernel / name, text + "\n")
    _write(root / "proc/uptime", "3600.50 7000.00\n")
    _write(root / "proc/cpuinfo", CPUINFO)
    _write(root / "proc/net/route", ROUTE)
    _write(root / "proc/net/ipv6_route", IPV6_ROUTE)
    _write(root / "proc/net/if_inet6", IF_INET6)
    _write(root / "proc/net/ip_tables_names", "filter\nnat\n")
    _write(root / "proc/net/vlan/eth0.10", "eth0.10  VID: 10\n")

    (root / "sys/class/net").mkdir(parents=True)
    _link(
        root,
        "lo",
        ifindex=1,
        arphrd=772,
        flags=0x9,
        operstate="unknown",
        mac="00:00:00:00:00:00",
        mtu=65536,
    )
    _link(root, "br0", ifindex=2, devtype="bridge", mac="02:00:00:00:00:02")
    (root / "sys/class/net/br0/bridge").mkdir()
    _link(root, "bond0", ifindex=3, devtype="bond", mac="02:00:00:00:00:03")
    (root / "sys/class/net/bond0/bonding").mkdir()
    _link(root, "blue", ifindex=4, devtype="vrf", mac="02:00:00:00:00:04")
    _link(
        root,
        "eth0",
        ifindex=5,
        speed=1000,
        physical=True,
        master="br0",
        mac="02:00:00:00:00:05",
        alias="uplink to core, rack 12",
    )
    _link(
        root, "eth1", ifindex=6, speed=10000, physical=True, master="bond0", mac="02:00:00:00:00:06"
    )
    _link(
        root, "eth2", ifindex=7, speed=10000, physical=True, master="bond0", mac="02:00:00:00:00:07"
    )
    _link(
        root,
        "eth3",
        ifindex=8,
        flags=0x1002,
        operstate="down",
        physical=True,
        mac="02:00:00:00:00:08",
    )
    vlan = _link(root, "eth0.10", ifindex=9, devtype="vlan", master="blue", mac="02:00:00:00:00:05")
    os.symlink("../eth0", vlan / "lower_eth0")
    os.symlink("../eth0.10", root / "sys/class/net/eth0/upper_eth0.10")

    dmi = root / "sys/class/dmi/id"
    for name, text in {
        "sys_vendor": "Edgecore",
        "product_name": "AS4630-54PE",
        "product_serial": "EC2045000123",
        "product_version": "R01",
        "bios_version": "5.13.0.3",
    }.items():
        _write(dmi / name, text + "\n")
    for name, size, rotational, model in (("sda", 62521344, 0, "SATA SSD"), ("loop0", 8, 0, None)):
        block = root / "sys/block" / name
        _write(block / "size", f"{size}\n")
        _write(block / "removable", "0\n")
        _write(block / "queue/rotational", f"{rotational}\n")
        if model:
            _write(block / "device/model", model + "\n")
            _write(block / "device/vendor", "ATA\n")
            _write(block / "device/serial", "SSD0001\n")

    _write(
        root / "etc/resolv.conf",
        "search example.net\nnameserver 10.1.0.53\nnameserver fd00::53\n"
        "options timeout:2 attempts:3\n",
    )
    _write(root / "etc/timezone", "Europe/Zurich\n")
    _write(
        root / "etc/chrony/chrony.conf",
        "pool 2.debian.pool.ntp.org iburst\nserver 10.1.0.123 prefer\n",
    )
    _write(root / "etc/frr/frr.conf", FRR)
    _write(root / "etc/nftables.conf", NFTABLES)
    _write(root / "etc/iptables/rules.v4", RULES_V4)
    return root
