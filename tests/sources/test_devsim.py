"""tools/devsim.py as operators run it: a subprocess serving a snapshot, read with ncclient."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError

ROOT = Path(__file__).resolve().parents[2]
IOS = "http://cisco.com/ns/yang/Cisco-IOS-XE-native"
HW = "http://cisco.com/ns/yang/Cisco-IOS-XE-device-hardware-oper"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
PASSWORD = "devsim-pw"


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    root = tmp_path / "snapshot"
    (root / "running").mkdir(parents=True)
    (root / "operational").mkdir()
    (root / "running/native.xml").write_text(
        f'<native xmlns="{IOS}"><hostname>Switch1</hostname></native>'
    )
    (root / "operational/hw.xml").write_text(
        f'<device-hardware-data xmlns="{HW}"><device-hardware><device-inventory>'
        f"<hw-type>hw-type-chassis</hw-type><hw-dev-index>0</hw-dev-index>"
        f"<serial-number>FOC2320V0J9</serial-number></device-inventory>"
        f"</device-hardware></device-hardware-data>"
    )
    return root


@pytest.fixture
def devsim(snapshot: Path, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "tools/devsim.py",
            "--port",
            "0",
            "--snapshot",
            str(snapshot),
            "--user",
            "netops",
            "--password",
            PASSWORD,
            "--state-dir",
            str(tmp_path / "state"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "port" not in line:
        process.kill()
        pytest.fail(
            f"devsim did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
        )
    port = int(line.split(" port ")[1].split()[0])
    yield port, process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def connect(port: int) -> manager.Manager:
    return manager.connect(
        host="127.0.0.1",
        port=port,
        username="netops",
        password=PASSWORD,
        hostkey_verify=False,
        look_for_keys=False,
        allow_agent=False,
        timeout=20,
    )


def test_devsim_serves_the_snapshot(devsim: tuple[int, subprocess.Popen[str]]) -> None:
    port, process = devsim
    with connect(port) as m:
        config = m.get_config(source="running").data_ele
        assert config.findtext(f"{{{IOS}}}native/{{{IOS}}}hostname") == "Switch1"
        assert config.find(f".//{{{HW}}}serial-number") is None
        state = m.get(filter=("subtree", f'<device-hardware-data xmlns="{HW}"/>')).data_ele
        assert state.findtext(f".//{{{HW}}}serial-number") == "FOC2320V0J9"
        both = m.get().data_ele
        assert both.findtext(f".//{{{IOS}}}hostname") == "Switch1"
        assert both.findtext(f".//{{{HW}}}serial-number") == "FOC2320V0J9"
        # the device's native configuration is read-only in the simulator
        edit = (
            f'<config xmlns="{NC}"><native xmlns="{IOS}"><hostname>Other</hostname></native>'
            f"</config>"
        )
        with pytest.raises(RPCError):
            m.edit_config(target="running", config=edit)
        after = m.get_config(source="running").data_ele
        assert after.findtext(f"{{{IOS}}}native/{{{IOS}}}hostname") == "Switch1"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def test_devsim_rejects_wrong_password(devsim: tuple[int, subprocess.Popen[str]]) -> None:
    port, _ = devsim
    with pytest.raises(Exception, match=r"(?i)auth"):
        manager.connect(
            host="127.0.0.1",
            port=port,
            username="netops",
            password="wrong",
            hostkey_verify=False,
            look_for_keys=False,
            allow_agent=False,
            timeout=20,
        )


def test_devsim_bad_snapshot(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "tools/devsim.py", "--port", "0", "--snapshot", str(tmp_path / "no")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_ie3200_snapshot_is_served(tmp_path: Path) -> None:
    snapshot = ROOT / "tools/snapshots/ie-3200-8p2s"
    if not (snapshot / "running").is_dir():
        pytest.skip("the IE-3200 snapshot is not there yet")
    process = subprocess.Popen(
        [
            sys.executable,
            "tools/devsim.py",
            "--port",
            "0",
            "--snapshot",
            str(snapshot),
            "--user",
            "netops",
            "--password",
            PASSWORD,
            "--state-dir",
            str(tmp_path / "s"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = int(line.split(" port ")[1].split()[0])
        with connect(port) as m:
            config = m.get_config(source="running").data_ele
            assert config.find(f"{{{IOS}}}native") is not None
            data = m.get().data_ele
            assert len(data) > len(config)
            text = etree.tostring(data).decode()
            assert "FOC2320V0J9" in text
    finally:
        process.terminate()
        process.wait(timeout=20)
