"""A 48-port industrial switch's native data, for the engine benchmark's seed-policy workload.

The shipped policy ``agent/policies/cisco-iiot.json`` (the seed's 26 KPIs and its two
serviceability KPIs) reads feature configuration and inventory, not traffic counters.  This
module makes the data it reads for a switch of 48 ports per stack member, out of the
IE-3200-8P2S snapshot in ``tools/snapshots`` (real IOS XE 17.18.1 model data): the
snapshot's ten port configurations become 48 (ports 1-44 cycle through its eight access
ports: PLC and HMI ports, 802.1X multi-domain ports, shut spares; ports 45-48 are fibre
uplinks, 47-48 an LACP EtherChannel), every fourth access port gets an input QoS policy,
VLANs (24 per member), extended ACLs (4 per member), a SPAN session, and per member a chassis,
its CPU, memory and storage, and four SFPs.  ``scale`` stack members make the 10x and 100x
data.

Between rounds the data moves as on a running switch: the device clock
(``device-system-data/current-time``) advances, and an operator changes one port (the
802.1X host mode of GigabitEthernet1/0/3 alternates), so two of the policy's 31 tables get a
changed batch each round and the others read what they already hold.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tools" / "snapshots" / "ie-3200-8p2s"
POLICY = ROOT / "agent" / "policies" / "cisco-iiot.json"
PORTS = 48
ACCESS_PORTS = 44
NATIVE = "http://cisco.com/ns/yang/Cisco-IOS-XE-native"
VLAN = "http://cisco.com/ns/yang/Cisco-IOS-XE-vlan"
ACL = "http://cisco.com/ns/yang/Cisco-IOS-XE-acl"
ETH = "http://cisco.com/ns/yang/Cisco-IOS-XE-ethernet"
POL = "http://cisco.com/ns/yang/Cisco-IOS-XE-policy"
SANET = "http://cisco.com/ns/yang/Cisco-IOS-XE-sanet"
HW = "http://cisco.com/ns/yang/Cisco-IOS-XE-device-hardware-oper"
PLAT = "http://cisco.com/ns/yang/Cisco-IOS-XE-platform-oper"
BOOT = datetime(2025, 5, 20, 3, 46, 31, tzinfo=UTC)


def _load(relative: str) -> etree._Element:
    return etree.parse(str(SNAPSHOT / relative), etree.XMLParser(remove_blank_text=True)).getroot()


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        child.text = text
    return child


def native_xml(scale: int, tick: int = 0) -> bytes:
    """The running configuration; ``tick`` picks the changing port's 802.1X host mode."""
    native = _load("running/native.xml")
    n = f"{{{NATIVE}}}"
    interfaces = native.find(f"{n}interface")
    assert interfaces is not None
    templates = interfaces.findall(f"{n}GigabitEthernet")
    for port in templates:
        interfaces.remove(port)
    access, uplinks = templates[:8], templates[8:]
    ports = []
    for member in range(1, scale + 1):
        for number in range(1, PORTS + 1):
            if number <= ACCESS_PORTS:
                port = copy.deepcopy(access[(number - 1) % len(access)])
            else:
                port = copy.deepcopy(uplinks[number % len(uplinks)])
            port.find(f"{n}name").text = f"{member}/0/{number}"  # type: ignore[union-attr]
            if number <= ACCESS_PORTS and number % 4 == 1:
                policy = _sub(port, POL, "service-policy")
                _sub(policy, POL, "input", "CELL-QOS-IN")
            if number > PORTS - 2:
                group = _sub(port, ETH, "channel-group")
                _sub(group, ETH, "number", str(member))
                _sub(group, ETH, "mode", "active")
            ports.append(port)
    changing = ports[2].find(f"{{{SANET}}}authentication/{{{SANET}}}host-mode")
    assert changing is not None  # GigabitEthernet1/0/3 is an 802.1X port
    changing.text = "multi-domain" if tick % 2 == 0 else "multi-auth"
    for index, port in enumerate(ports):
        interfaces.insert(index, port)
    vlans = native.find(f"{n}vlan")
    assert vlans is not None
    for number in range(24 * scale):
        entry = _sub(vlans, VLAN, "vlan-list")
        _sub(entry, VLAN, "id", str(100 + number))
        _sub(entry, VLAN, "name", f"CELL{number}-NET")
    access_lists = native.find(f"{n}ip/{n}access-list")
    assert access_lists is not None
    sample = access_lists.find(f"{{{ACL}}}extended")
    assert sample is not None
    for number in range(4 * scale):
        acl = copy.deepcopy(sample)
        acl.find(f"{{{ACL}}}name").text = f"CELL{number}-PLC-IN"  # type: ignore[union-attr]
        access_lists.append(acl)
    session = _sub(_sub(native, NATIVE, "monitor"), NATIVE, "session")
    _sub(session, NATIVE, "id", "1")
    source = _sub(_sub(session, NATIVE, "source"), NATIVE, "interface")
    _sub(source, NATIVE, "name", "GigabitEthernet1/0/1")
    destination = _sub(_sub(session, NATIVE, "destination"), NATIVE, "interface")
    _sub(destination, NATIVE, "name", "GigabitEthernet1/0/44")
    return etree.tostring(native, xml_declaration=True, encoding="UTF-8")


def hardware_xml(scale: int, tick: int = 0) -> bytes:
    """Device inventory per member; ``tick`` minutes after boot plus three days on the clock."""
    data = _load("operational/device-hardware-data.xml")
    h = f"{{{HW}}}"
    hardware = data.find(f"{h}device-hardware")
    assert hardware is not None
    inventory = hardware.findall(f"{h}device-inventory")
    fixed = [e for e in inventory if e.findtext(f"{h}hw-type") != "hw-type-transceiver"]
    optic = next(e for e in inventory if e.findtext(f"{h}hw-type") == "hw-type-transceiver")
    for entry in inventory:
        hardware.remove(entry)
    entries = []
    for member in range(1, scale + 1):
        for template in fixed:
            entry = copy.deepcopy(template)
            entry.find(f"{h}hw-dev-index").text = str(member)  # type: ignore[union-attr]
            serial = entry.find(f"{h}serial-number")
            if serial is not None:
                serial.text = f"{serial.text[:-3]}{member:03d}"
            entries.append(entry)
        for number in range(PORTS - 3, PORTS + 1):
            entry = copy.deepcopy(optic)
            entry.find(f"{h}hw-dev-index").text = str(member * 100 + number)  # type: ignore[union-attr]
            entry.find(f"{h}serial-number").text = f"AGM2214{member:03d}{number}"  # type: ignore[union-attr]
            entry.find(f"{h}dev-name").text = f"GigabitEthernet{member}/0/{number}"  # type: ignore[union-attr]
            entries.append(entry)
    for index, entry in enumerate(entries):
        hardware.insert(index, entry)
    now = BOOT + timedelta(days=3, minutes=tick)
    hardware.find(f"{h}device-system-data/{h}current-time").text = now.isoformat()  # type: ignore[union-attr]
    return etree.tostring(data, xml_declaration=True, encoding="UTF-8")


def components_xml(scale: int) -> bytes:
    data = _load("operational/components.xml")
    p = f"{{{PLAT}}}"
    components = data.findall(f"{p}component")
    for component in components:
        data.remove(component)
    for member in range(1, scale + 1):
        for template in components:
            component = copy.deepcopy(template)
            for name in (component.find(f"{p}cname"), component.find(f"{p}state/{p}parent")):
                if name is not None and name.text:
                    name.text = name.text.replace("Switch1", f"Switch{member}")
            serial = component.find(f"{p}state/{p}serial-no")
            if serial is not None and serial.text:
                serial.text = f"{serial.text[:-3]}{member:03d}"
            data.append(component)
    return etree.tostring(data, xml_declaration=True, encoding="UTF-8")


def write_snapshot(directory: Path, scale: int) -> dict[str, int]:
    """The snapshot directory the ``snapshot`` source reads; returns bytes per file."""
    (directory / "running").mkdir(parents=True)
    (directory / "operational").mkdir()
    files = {
        directory / "running" / "native.xml": native_xml(scale),
        directory / "operational" / "device-hardware-data.xml": hardware_xml(scale),
        directory / "operational" / "components.xml": components_xml(scale),
        directory / "operational" / "install-oper-data.xml": (
            SNAPSHOT / "operational" / "install-oper-data.xml"
        ).read_bytes(),
    }
    for path, data in files.items():
        path.write_bytes(data)
    return {path.name: len(data) for path, data in files.items()}


def advance(directory: Path, scale: int, tick: int) -> None:
    """The changes between two rounds: the clock, and one port's configuration."""
    (directory / "running" / "native.xml").write_bytes(native_xml(scale, tick))
    (directory / "operational" / "device-hardware-data.xml").write_bytes(hardware_xml(scale, tick))
