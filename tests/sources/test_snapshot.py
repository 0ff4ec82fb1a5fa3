"""The snapshot source: layout, wrappers, merging, filters, re-reading, errors; open_source."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from lxml import etree

from agent.sources import SourceSpecError, open_source
from agent.sources.base import ReadRequest, SourceError
from agent.sources.host import HostSource
from agent.sources.netconf import NetconfSource
from agent.sources.snapshot import SnapshotSource

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
IOS = "http://cisco.com/ns/yang/Cisco-IOS-XE-native"
HW = "http://cisco.com/ns/yang/Cisco-IOS-XE-device-hardware-oper"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def read(source: SnapshotSource, **kwargs: object) -> etree._Element:
    return asyncio.run(source.read(ReadRequest(**kwargs)))  # type: ignore[arg-type]


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    write(
        tmp_path / "running/native.xml",
        f'<native xmlns="{IOS}"><hostname>Switch1</hostname>'
        f"<ip><access-list><standard><name>10</name></standard></access-list></ip></native>",
    )
    # a <data> wrapper holding two top-level nodes
    write(
        tmp_path / "running/interfaces.xml",
        f'<data xmlns="{NC}"><interfaces xmlns="{IF}"><interface><name>Gi1/1</name>'
        f"<enabled>true</enabled></interface></interfaces>"
        f'<other xmlns="urn:example:other"><x>1</x></other></data>',
    )
    # a whole rpc-reply as captured from a device
    write(
        tmp_path / "operational/hardware.xml",
        f'<rpc-reply xmlns="{NC}" message-id="1"><data>'
        f'<device-hardware-data xmlns="{HW}"><device-hardware><device-inventory>'
        f"<hw-type>hw-type-chassis</hw-type><hw-dev-index>0</hw-dev-index>"
        f"<serial-number>FOC2320V0J9</serial-number></device-inventory>"
        f"</device-hardware></device-hardware-data></data></rpc-reply>",
    )
    # state for a node that running also has: merged by list key
    write(
        tmp_path / "operational/interfaces.xml",
        f'<interfaces xmlns="{IF}"><interface><name>Gi1/1</name><oper-status>up</oper-status>'
        f"</interface><interface><name>Gi1/2</name><oper-status>down</oper-status></interface>"
        f"</interfaces>",
    )
    write(tmp_path / "operational/notes.txt", "not XML, ignored")
    return tmp_path


def tags(data: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in data]


def test_running_reads_only_configuration(snapshot: Path) -> None:
    data = read(SnapshotSource(snapshot), datastore="running")
    assert data.tag == f"{{{NC}}}data"
    assert tags(data) == ["interfaces", "other", "native"]  # files in name order
    assert data.find(f"{{{HW}}}device-hardware-data") is None


def test_operational_merges_running_and_state(snapshot: Path) -> None:
    data = read(SnapshotSource(snapshot), datastore="operational")
    assert sorted(tags(data)) == ["device-hardware-data", "interfaces", "native", "other"]
    interfaces = data.find(f"{{{IF}}}interfaces")
    assert interfaces is not None
    entries = {e.findtext(f"{{{IF}}}name", ""): e for e in interfaces.findall(f"{{{IF}}}interface")}
    assert sorted(entries) == ["Gi1/1", "Gi1/2"]
    assert entries["Gi1/1"].findtext(f"{{{IF}}}enabled") == "true"
    assert entries["Gi1/1"].findtext(f"{{{IF}}}oper-status") == "up"


def test_subtree_filter(snapshot: Path) -> None:
    flt = f'<native xmlns="{IOS}"><hostname/></native>'
    data = read(SnapshotSource(snapshot), datastore="running", filter=flt)
    assert len(list(data.iter())) == 3  # data, native, hostname
    assert data.findtext(f"{{{IOS}}}native/{{{IOS}}}hostname") == "Switch1"


def test_two_subtree_filters(snapshot: Path) -> None:
    flt = f'<native xmlns="{IOS}"><hostname/></native><device-hardware-data xmlns="{HW}"/>'
    data = read(SnapshotSource(snapshot), filter=flt)
    assert sorted(tags(data)) == ["device-hardware-data", "native"]


def test_xpath_filter(snapshot: Path) -> None:
    data = read(
        SnapshotSource(snapshot),
        filter_type="xpath",
        filter="/hw:device-hardware-data/hw:device-hardware/hw:device-inventory/hw:serial-number",
        namespaces={"hw": HW},
    )
    assert tags(data) == ["device-hardware-data"]
    assert data.findtext(f".//{{{HW}}}serial-number") == "FOC2320V0J9"
    assert data.find(f".//{{{HW}}}hw-type") is None


def test_bad_filters_raise_source_error(snapshot: Path) -> None:
    source = SnapshotSource(snapshot)
    with pytest.raises(SourceError, match="subtree filter"):
        read(source, filter="<native")
    with pytest.raises(SourceError, match="XPath"):
        read(source, filter_type="xpath", filter="/x:native", namespaces={})
    with pytest.raises(SourceError, match="XPath"):
        read(source, filter_type="xpath", filter="/hw:a[", namespaces={"hw": HW})


def test_files_are_reread_when_they_change(snapshot: Path) -> None:
    source = SnapshotSource(snapshot)
    flt = f'<native xmlns="{IOS}"><hostname/></native>'
    assert read(source, filter=flt).findtext(f".//{{{IOS}}}hostname") == "Switch1"
    path = snapshot / "running/native.xml"
    stat = path.stat()
    path.write_text(f'<native xmlns="{IOS}"><hostname>Switch2</hostname></native>')
    # same size is possible in general: make sure the modification time differs too
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert read(source, filter=flt).findtext(f".//{{{IOS}}}hostname") == "Switch2"
    # a new file appears, one disappears
    write(snapshot / "running/zz.xml", '<extra xmlns="urn:example:extra"/>')
    (snapshot / "running/interfaces.xml").unlink()
    assert tags(read(source, datastore="running")) == ["native", "extra"]


def test_reads_return_independent_trees(snapshot: Path) -> None:
    source = SnapshotSource(snapshot)
    first = read(source, datastore="running")
    first.clear()
    assert len(read(source, datastore="running")) == 3


def test_malformed_file_is_a_source_error(snapshot: Path) -> None:
    write(snapshot / "running/broken.xml", "<native><unclosed></native>")
    with pytest.raises(SourceError, match=r"broken\.xml"):
        read(SnapshotSource(snapshot))


def test_entities_are_not_expanded(snapshot: Path) -> None:
    write(
        snapshot / "running/xxe.xml",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<x xmlns="urn:example:x">&e;</x>',
    )
    data = read(SnapshotSource(snapshot), datastore="running")
    assert "root:" not in etree.tostring(data).decode()


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        SnapshotSource(tmp_path / "nope")
    with pytest.raises(SourceError, match="neither running/ nor operational/"):
        SnapshotSource(tmp_path)
    (tmp_path / "operational").mkdir()
    assert len(read(SnapshotSource(tmp_path))) == 0


def test_watch_is_not_offered(snapshot: Path) -> None:
    assert SnapshotSource(snapshot).watch(ReadRequest(), lambda data: None) is False


# -- open_source -----------------------------------------------------------------------------


def test_open_source_kinds(snapshot: Path, tmp_path: Path) -> None:
    assert isinstance(open_source("host", state_dir=tmp_path), HostSource)
    source = open_source(f"snapshot:{snapshot}", state_dir=tmp_path)
    assert isinstance(source, SnapshotSource)
    assert source.name == "snapshot"
    nc = open_source(
        "netconf://admin@192.0.2.7:2830?hostkey=strict&timeout=5",
        state_dir=tmp_path,
        env={"PA_SOURCE_PASSWORD": "secret"},
    )
    assert isinstance(nc, NetconfSource)
    target = nc.target
    assert (target.host, target.port, target.username, target.password) == (
        "192.0.2.7",
        2830,
        "admin",
        "secret",
    )
    assert target.hostkey == "strict"
    assert target.read_timeout == 5.0
    assert target.known_hosts == tmp_path / "source_known_hosts"
    ipv6 = open_source("netconf://ops@[2001:db8::1]", state_dir=tmp_path, env={})
    assert isinstance(ipv6, NetconfSource)
    assert (ipv6.target.host, ipv6.target.port, ipv6.target.password) == ("2001:db8::1", 830, None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hots", "unknown source"),
        ("snapshot:", "needs a folder"),
        ("netconf://192.0.2.7:830", "no user"),
        ("netconf://admin@:830", "no host"),
        ("netconf://admin:pw@192.0.2.7", "PA_SOURCE_PASSWORD"),
        ("netconf://admin@192.0.2.7:99999", "bad netconf source"),
        ("netconf://admin@192.0.2.7/x", "unexpected path"),
        ("netconf://admin@192.0.2.7?hostkey=maybe", "hostkey"),
        ("netconf://admin@192.0.2.7?timeout=-1", "greater than 0"),
        ("netconf://admin@192.0.2.7?timeout=soon", "not a number"),
        ("netconf://admin@192.0.2.7?colour=red", "unknown option"),
    ],
)
def test_open_source_bad_specs(spec: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(SourceSpecError, match=message):
        open_source(spec, state_dir=tmp_path, env={})


def test_open_source_missing_snapshot(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source(f"snapshot:{tmp_path / 'nope'}", state_dir=tmp_path)
