"""The netconf source against the device simulator over real NETCONF/SSH sessions: reads,
filters, rpc-errors, an unreachable device, a session dropped mid-poll, a slow device,
reconnection with backoff, authentication and host-key checking."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from lxml import etree

from agent.api import StateRequest
from agent.sources.base import ReadRequest, SourceError
from agent.sources.netconf import NetconfSource, NetconfTarget
from agent.sources.simulator import DeviceSimulator

IOS = "http://cisco.com/ns/yang/Cisco-IOS-XE-native"
HW = "http://cisco.com/ns/yang/Cisco-IOS-XE-device-hardware-oper"
TEST = "urn:example:test-behaviour"
PASSWORD = "sim-secret"
T = TypeVar("T")


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    root = tmp_path / "snapshot"
    (root / "running").mkdir(parents=True)
    (root / "operational").mkdir()
    (root / "running/native.xml").write_text(
        f'<native xmlns="{IOS}"><hostname>Switch1</hostname><version>17.18</version></native>'
    )
    (root / "operational/hw.xml").write_text(
        f'<device-hardware-data xmlns="{HW}"><device-hardware><device-inventory>'
        f"<hw-type>hw-type-chassis</hw-type><hw-dev-index>0</hw-dev-index>"
        f"<serial-number>FOC2320V0J9</serial-number></device-inventory>"
        f"<device-inventory><hw-type>hw-type-transceiver</hw-type><hw-dev-index>1</hw-dev-index>"
        f"<part-number>GLC-SX-MMD</part-number></device-inventory>"
        f"</device-hardware></device-hardware-data>"
    )
    return root


class Behaviour:
    """A state provider that makes the device misbehave on demand while serving
    ``<behaviour>``: sleep (a slow device) or kill the session (a drop mid-poll)."""

    namespace = TEST
    name = "behaviour"

    def __init__(self) -> None:
        self.sleep = 0.0
        self.kill_sessions: Callable[[], None] | None = None

    def get_state(self, request: StateRequest) -> etree._Element | None:
        if self.kill_sessions is not None:
            kill, self.kill_sessions = self.kill_sessions, None
            kill()
        if self.sleep:
            time.sleep(self.sleep)  # blocks the device's loop, like a busy device
        element = etree.Element(f"{{{TEST}}}behaviour")
        etree.SubElement(element, f"{{{TEST}}}ok").text = "true"
        return element


def target(port: int, tmp_path: Path, **kwargs: object) -> NetconfTarget:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "username": "admin",
        "password": PASSWORD,
        "hostkey": "accept-new",
        "known_hosts": tmp_path / "known_hosts",
        "connect_timeout": 5.0,
        "backoff_initial": 0.2,
        "backoff_max": 0.4,
    }
    values.update(kwargs)
    return NetconfTarget(**values)  # type: ignore[arg-type]


def run(body: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(body())


def simulator(snapshot: Path, tmp_path: Path, **kwargs: object) -> DeviceSimulator:
    state_dir = kwargs.pop("state_dir", tmp_path / "sim-state")
    return DeviceSimulator(
        snapshot,
        password=PASSWORD,
        state_dir=state_dir,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def kill_all(sim: DeviceSimulator) -> Callable[[], None]:
    def kill() -> None:
        for session in list(sim.server.sessions.values()):
            session.kill()

    return kill


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_reads_over_one_session(snapshot: Path, tmp_path: Path) -> None:
    async def body() -> None:
        sim = simulator(snapshot, tmp_path)
        await sim.start()
        source = NetconfSource(target(sim.port, tmp_path))
        try:
            running = await source.read(ReadRequest(datastore="running"))
            assert running.findtext(f"{{{IOS}}}native/{{{IOS}}}hostname") == "Switch1"
            assert running.find(f"{{{HW}}}device-hardware-data") is None
            oper = await source.read(ReadRequest(filter=f'<device-hardware-data xmlns="{HW}"/>'))
            assert [etree.QName(c).localname for c in oper] == ["device-hardware-data"]
            parts = oper.findall(f".//{{{HW}}}part-number")
            assert [p.text for p in parts] == ["GLC-SX-MMD"]
            xpath = await source.read(
                ReadRequest(
                    datastore="running",
                    filter_type="xpath",
                    filter="/ios:native/ios:version",
                    namespaces={"ios": IOS},
                )
            )
            assert xpath.findtext(f"{{{IOS}}}native/{{{IOS}}}version") == "17.18"
            assert xpath.find(f".//{{{IOS}}}hostname") is None
            assert source.connects == 1
            assert source.connected
            # the direct write replaced ncclient's queued send on this session
            assert source._manager._session.send.func.__name__ == "_direct_send"
        finally:
            await source.close()
            await sim.close()

    run(body)


def test_rpc_error_keeps_the_session(snapshot: Path, tmp_path: Path) -> None:
    async def body() -> None:
        sim = simulator(snapshot, tmp_path)
        await sim.start()
        source = NetconfSource(target(sim.port, tmp_path))
        try:
            with pytest.raises(SourceError, match="rpc-error"):
                await source.read(ReadRequest(filter_type="xpath", filter="/nope:x", namespaces={}))
            data = await source.read(ReadRequest(datastore="running"))
            assert len(data) == 1
            assert source.connects == 1
        finally:
            await source.close()
            await sim.close()

    run(body)


def test_unreachable_device_backs_off_then_connects(snapshot: Path, tmp_path: Path) -> None:
    async def body() -> None:
        port = free_port()
        source = NetconfSource(target(port, tmp_path, backoff_initial=0.5, backoff_max=0.5))
        try:
            with pytest.raises(SourceError, match="cannot connect"):
                await source.read(ReadRequest())
            # within the backoff delay no connection is attempted
            with pytest.raises(SourceError, match="next attempt in"):
                await source.read(ReadRequest())
            sim = simulator(snapshot, tmp_path, port=port)
            await sim.start()
            try:
                await asyncio.sleep(0.6)
                data = await source.read(ReadRequest(datastore="running"))
                assert data.findtext(f".//{{{IOS}}}hostname") == "Switch1"
                assert source.connects == 1
            finally:
                await source.close()
                await sim.close()
        finally:
            await source.close()

    run(body)


def test_session_dropped_mid_poll(snapshot: Path, tmp_path: Path) -> None:
    async def body() -> None:
        behaviour = Behaviour()
        sim = simulator(snapshot, tmp_path, extra_state_providers=[behaviour])
        await sim.start()
        source = NetconfSource(target(sim.port, tmp_path))
        request = ReadRequest(filter=f'<behaviour xmlns="{TEST}"/>', timeout=5.0)
        try:
            assert (await source.read(request)).findtext(f".//{{{TEST}}}ok") == "true"
            behaviour.kill_sessions = kill_all(sim)
            with pytest.raises(SourceError, match=r"session lost|no reply"):
                await source.read(request)
            assert not source.connected
            # the next poll reconnects at once (no backoff after a drop)
            assert (await source.read(request)).findtext(f".//{{{TEST}}}ok") == "true"
            assert source.connects == 2
        finally:
            await source.close()
            await sim.close()

    run(body)


def test_slow_device_times_out_and_recovers(snapshot: Path, tmp_path: Path) -> None:
    async def body() -> None:
        behaviour = Behaviour()
        sim = simulator(snapshot, tmp_path, extra_state_providers=[behaviour])
        await sim.start()
        source = NetconfSource(target(sim.port, tmp_path))
        request = ReadRequest(filter=f'<behaviour xmlns="{TEST}"/>', timeout=0.3)
        try:
            await source.read(request)
            behaviour.sleep = 1.0
            with pytest.raises(SourceError, match=r"no reply within 0\.3 s"):
                await source.read(request)
            assert not source.connected  # a late reply must not be taken for the next one
            behaviour.sleep = 0.0
            await asyncio.sleep(1.0)  # let the device finish its slow reply
            assert (await source.read(request)).findtext(f".//{{{TEST}}}ok") == "true"
            assert source.connects == 2
        finally:
            await source.close()
            await sim.close()

    run(body)


def test_wrong_password(snapshot: Path, tmp_path: Path) -> None:
    async def body() -> None:
        sim = simulator(snapshot, tmp_path)
        await sim.start()
        source = NetconfSource(target(sim.port, tmp_path, password="wrong"))
        try:
            with pytest.raises(SourceError, match="cannot open NETCONF session"):
                await source.read(ReadRequest())
            assert source.connects == 0
        finally:
            await source.close()
            await sim.close()

    run(body)


def test_host_keys(snapshot: Path, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"

    async def body() -> None:
        sim = simulator(snapshot, tmp_path, state_dir=tmp_path / "device-a")
        await sim.start()
        port = sim.port
        try:
            strict = NetconfSource(target(port, tmp_path, hostkey="strict"))
            with pytest.raises(SourceError, match="unknown host key"):
                await strict.read(ReadRequest(datastore="running"))
            await strict.close()
            assert not known.exists()
            first = NetconfSource(target(port, tmp_path))
            await first.read(ReadRequest(datastore="running"))
            await first.close()
            assert f"[127.0.0.1]:{port}" in known.read_text()
            strict = NetconfSource(target(port, tmp_path, hostkey="strict"))
            await strict.read(ReadRequest(datastore="running"))
            await strict.close()
        finally:
            await sim.close()
        # another device (another host key) answers on the same address
        other = simulator(snapshot, tmp_path, state_dir=tmp_path / "device-b", port=port)
        await other.start()
        try:
            for mode in ("accept-new", "strict"):
                source = NetconfSource(target(port, tmp_path, hostkey=mode))
                with pytest.raises(SourceError, match=r"host key of .* changed"):
                    await source.read(ReadRequest(datastore="running"))
                await source.close()
            unchecked = NetconfSource(target(port, tmp_path, hostkey="off"))
            await unchecked.read(ReadRequest(datastore="running"))
            await unchecked.close()
        finally:
            await other.close()

    run(body)


# -- the engine's subscriber over the netconf source -----------------------------------------


def test_subscriber_records_failures_and_recovers(snapshot: Path, tmp_path: Path) -> None:
    """Device unreachable, session dropped mid-poll, slow device: each failed poll is counted
    and in the event history with its reason; the next poll after recovery stores rows."""
    from agent.engine.clock import ManualClock
    from agent.engine.policy import parse_policy
    from agent.engine.stats import Counter, Event, EventHistory, Statistics
    from agent.engine.store import Store
    from agent.engine.subscriber import Subscriber

    policy = parse_policy(
        json.dumps(
            {
                "policy-version": "t",
                "file-version": 1,
                "namespaces": {"hw": HW, "t": TEST},
                "sources": [
                    {
                        "id": "inventory",
                        "subtree": f'<device-hardware-data xmlns="{HW}"/>'
                        f'<behaviour xmlns="{TEST}"/>',
                        "period": 60,
                        "timeout": 0.5,
                        "tables": [
                            {
                                "name": "inventory",
                                "row-path": "hw:device-hardware-data/hw:device-hardware/"
                                "hw:device-inventory",
                                "columns": {"hw_type": {"path": "hw:hw-type", "vocabulary": True}},
                            }
                        ],
                    }
                ],
            }
        )
    )
    spec = policy.sources[0]
    port = free_port()

    async def body() -> list[tuple[str, int, str, int]]:
        clock = ManualClock(1_760_000_000.0)
        stats = Statistics(clock)
        events = EventHistory(clock)
        store = Store(stats, None)
        store.ensure_tables(policy.tables())
        behaviour = Behaviour()
        source = NetconfSource(target(port, tmp_path, backoff_initial=0.1, backoff_max=0.1))
        subscriber = Subscriber(source, policy, store, stats, events, clock)
        sim = simulator(snapshot, tmp_path, port=port, extra_state_providers=[behaviour])
        try:
            assert await subscriber.poll(spec) is False  # unreachable
            assert stats.count(Counter.READ_ERRORS) == 1
            await sim.start()
            await asyncio.sleep(0.2)
            assert await subscriber.poll(spec) is True
            assert len(store.rows("inventory")) == 2
            behaviour.kill_sessions = kill_all(sim)
            assert await subscriber.poll(spec) is False  # dropped mid-poll
            behaviour.sleep = 1.0
            assert await subscriber.poll(spec) is False  # slow device
            behaviour.sleep = 0.0
            await asyncio.sleep(1.0)
            assert await subscriber.poll(spec) is True
            assert stats.count(Counter.READ_ERRORS) == 3
            assert stats.count(Counter.PERIODIC_READS) == 5
            return [(e.event, e.rc, e.context, e.count) for e in events.entries()]
        finally:
            await source.close()
            await sim.close()
            store.close()

    history = run(body)
    reads = [h for h in history if h[0] == Event.DSRC_PERIOD_RD]
    assert ("DSRC_PERIOD_RD", 0, "inventory", 2) in reads
    failures = [h[2] for h in reads if h[1] == 1]
    assert any("cannot connect" in f for f in failures), failures
    assert any("session lost" in f or "no reply" in f for f in failures), failures
    assert any("no reply within" in f or "timed out" in f.lower() for f in failures), failures
