"""The subscriber: normalisation into rows, periodic reads, on-change pushes, failing sources."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from engine_helpers import IF_NS, minimal_policy, run_async, write_snapshot
from lxml import etree

from agent.engine.clock import ManualClock
from agent.engine.policy import parse_policy
from agent.engine.stats import Counter, EventHistory, Statistics
from agent.engine.store import Store
from agent.engine.subscriber import CompiledTable, Subscriber
from agent.sources.base import OnChange, ReadRequest, SourceError
from agent.sources.snapshot import SnapshotSource

DATA_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


class FlakySource:
    """A source that fails its first ``failures`` reads, then answers from a snapshot; it
    can also push changes (watch) when ``pushes`` is true."""

    name = "flaky"

    def __init__(self, inner: SnapshotSource, failures: int, *, pushes: bool = False) -> None:
        self.inner = inner
        self.failures = failures
        self.pushes = pushes
        self.reads: list[ReadRequest] = []
        self.callbacks: list[OnChange] = []

    async def read(self, request: ReadRequest) -> etree._Element:
        self.reads.append(request)
        if self.failures > 0:
            self.failures -= 1
            raise SourceError("device unreachable")
        return await self.inner.read(request)

    def watch(self, request: ReadRequest, callback: OnChange) -> bool:
        if self.pushes:
            self.callbacks.append(callback)
        return self.pushes

    async def close(self) -> None:
        pass


def parts(tmp_path: Path, policy: dict | None = None) -> tuple:  # type: ignore[type-arg]
    clock = ManualClock()
    stats = Statistics(clock)
    events = EventHistory(clock)
    store = Store(stats, tmp_path, "in-memory")
    parsed = parse_policy(json.dumps(policy or minimal_policy()))
    store.ensure_tables(parsed.tables())
    return clock, stats, events, store, parsed


def test_normalize_types_and_missing_values() -> None:
    policy = parse_policy(
        json.dumps(
            minimal_policy(
                sources=[
                    {
                        "id": "s",
                        "subtree": f'<interfaces xmlns="{IF_NS}"/>',
                        "period": 10,
                        "tables": [
                            {
                                "name": "t",
                                "row-path": "if:interfaces/if:interface",
                                "columns": {
                                    "name": "if:name",
                                    "up": {"path": "if:enabled", "type": "bool"},
                                    "flag": {"path": "if:flag", "type": "bool"},
                                    "speed": {"path": "if:speed", "type": "int"},
                                    "load": {"path": "if:load", "type": "real"},
                                    "n_ip": {"path": "count(if:ip)", "type": "int"},
                                    "has_ip": {"path": "boolean(if:ip)", "type": "bool"},
                                    "kind": {"path": "substring-after(if:type, ':')"},
                                },
                            }
                        ],
                    }
                ],
                kpis=[],
                device={},
            )
        )
    )
    data = etree.fromstring(
        f"""<data xmlns="{DATA_NS}"><interfaces xmlns="{IF_NS}" xmlns:ianaift="x">
          <interface><name> eth0 </name><enabled>true</enabled><flag/><speed>100</speed>
            <load>0.5</load><ip>a</ip><ip>b</ip><type>ianaift:ethernetCsmacd</type></interface>
          <interface><name>eth1</name><enabled>false</enabled><speed>fast</speed></interface>
        </interfaces></data>"""
    )
    table = CompiledTable.compile(policy.tables()[0], policy.sources[0].namespaces)
    rows, errors = table.normalize(data, 5.0)
    assert rows[0] == {
        "name": "eth0",
        "up": 1,
        "flag": 1,
        "speed": 100,
        "load": 0.5,
        "n_ip": 2,
        "has_ip": 1,
        "kind": "ethernetCsmacd",
        "_ts": 5.0,
    }
    assert rows[1]["up"] == 0 and rows[1]["flag"] is None and rows[1]["load"] is None
    assert rows[1]["speed"] is None and rows[1]["n_ip"] == 0 and rows[1]["has_ip"] == 0
    assert errors == ["column speed: 'fast' is not int"]


@run_async
async def test_poll_reads_normalises_and_stores(tmp_path: Path) -> None:
    clock, stats, events, store, policy = parts(tmp_path)
    source = SnapshotSource(write_snapshot(tmp_path / "snap"))
    subscriber = Subscriber(source, policy, store, stats, events, clock)
    assert await subscriber.poll(policy.sources[0])
    assert await subscriber.poll(policy.sources[1])
    assert store.query("SELECT name, type, enabled, speed FROM interface ORDER BY name") == [
        ("eth0", "ethernetCsmacd", 1, 1000000000),
        ("eth1", "ethernetCsmacd", 0, None),
        ("lo", "softwareLoopback", 1, None),
    ]
    assert store.query("SELECT serial, model, sw, hw FROM chassis") == [
        ("SN123", "TEST-8P", "1.2.3", "V01")
    ]
    assert stats.count(Counter.PERIODIC_READS) == 2
    assert stats.count(Counter.PERIODIC_READ_BATCHES) == 2
    assert stats.count(Counter.WRITES) == 2
    seen = {(e.event, e.rc, e.context): e.count for e in events.entries()}
    assert seen[("DSRC_PERIOD_RD", 0, "interfaces")] == 1
    assert seen[("DSRC_NORMALIZE", 0, "interface")] == 1
    assert seen[("DST_STORE_BEGIN", 0, "")] == 2
    assert seen[("DST_STORE_END", 0, "")] == 2
    # "latest" tables are replaced by each read, not appended to.
    assert await subscriber.poll(policy.sources[0])
    assert store.row_count("interface") == 3


@run_async
async def test_periodic_reads_follow_the_period(tmp_path: Path) -> None:
    clock, stats, events, store, policy = parts(tmp_path)
    source = FlakySource(SnapshotSource(write_snapshot(tmp_path / "snap")), failures=0)
    subscriber = Subscriber(source, policy, store, stats, events, clock)
    subscriber.start()
    await clock.advance(0)
    assert len(source.reads) == 2  # both sources read at once
    await clock.advance(60)
    assert len(source.reads) == 3  # interfaces every 60 s
    await clock.advance(540)
    assert len(source.reads) == 13  # 10 interface reads + 2 hardware reads + first
    assert stats.count(Counter.PERIODIC_READS) == 13
    await subscriber.stop()
    await clock.advance(600)
    assert len(source.reads) == 13


@run_async
async def test_failing_source_backs_off_and_never_stops_others(tmp_path: Path) -> None:
    clock, stats, events, store, policy = parts(tmp_path)
    snap = SnapshotSource(write_snapshot(tmp_path / "snap"))
    source = FlakySource(snap, failures=0)

    async def read(request: ReadRequest) -> etree._Element:
        source.reads.append(request)
        if "hardware" in request.filter:
            raise SourceError("device unreachable")
        return await snap.read(request)

    source.read = read  # type: ignore[method-assign]
    subscriber = Subscriber(source, policy, store, stats, events, clock)
    subscriber.start()
    await clock.advance(0)
    hardware = lambda: sum("hardware" in r.filter for r in source.reads)  # noqa: E731
    assert hardware() == 1
    # Backoff 1, 2, 4, 8, ... seconds: reads at t=1, 3, 7, 15, 31, 63.
    await clock.advance(63)
    assert hardware() == 7
    interface_reads = sum("interfaces" in r.filter for r in source.reads)
    assert interface_reads == 2  # t=0 and t=60: the failing source did not hold them up
    assert stats.count(Counter.READ_ERRORS) == 7
    assert store.row_count("interface") == 3
    failed = [e for e in events.entries() if e.rc == 1]
    assert failed[0].event == "DSRC_PERIOD_RD"
    assert failed[0].context == "hardware: device unreachable"
    assert failed[0].count == 7
    assert subscriber.failures == {"hardware": 7}
    # The backoff is capped at the source's period (600 s).
    await clock.advance(2000)
    assert hardware() <= 7 + 4 + 4
    await subscriber.stop()


@run_async
async def test_recovers_after_failures(tmp_path: Path) -> None:
    clock, stats, events, store, policy = parts(tmp_path)
    source = FlakySource(SnapshotSource(write_snapshot(tmp_path / "snap")), failures=3)
    subscriber = Subscriber(source, policy, store, stats, events, clock)
    subscriber.start()
    await clock.advance(10)
    assert store.row_count("interface") == 3 and store.row_count("chassis") == 1
    assert stats.count(Counter.READ_ERRORS) == 3
    assert subscriber.failures == {}
    await subscriber.stop()


@run_async
async def test_on_change_pushes_replace_polling(tmp_path: Path) -> None:
    data = minimal_policy()
    data["sources"][0]["on-change"] = True
    clock, stats, events, store, policy = parts(tmp_path, data)
    snap_dir = write_snapshot(tmp_path / "snap")
    source = FlakySource(SnapshotSource(snap_dir), failures=0, pushes=True)
    subscriber = Subscriber(source, policy, store, stats, events, clock)
    subscriber.start()
    await clock.advance(0)
    assert subscriber.watching == {"interfaces"}
    assert len(source.callbacks) == 1  # only the on-change source subscribes
    await clock.advance(300)
    interface_reads = sum("interfaces" in r.filter for r in source.reads)
    assert interface_reads == 1  # read once, then pushes
    pushed = etree.fromstring(
        f'<data xmlns="{DATA_NS}"><interfaces xmlns="{IF_NS}"><interface><name>new0</name>'
        "<enabled>true</enabled></interface></interfaces></data>"
    )
    on_change = source.callbacks[0]
    on_change(pushed)
    assert store.query("SELECT name FROM interface") == [("new0",)]
    assert stats.count(Counter.ON_CHANGE_READS) == 1
    assert any(e.event == "DSRC_ONCHANGE_RD" for e in events.entries())
    await subscriber.stop()
    on_change(pushed)  # ignored once stopped
    assert stats.count(Counter.ON_CHANGE_READS) == 1


@run_async
async def test_source_that_cannot_push_is_polled(tmp_path: Path) -> None:
    data = minimal_policy()
    data["sources"][0]["on-change"] = True
    clock, stats, events, store, policy = parts(tmp_path, data)
    source = FlakySource(SnapshotSource(write_snapshot(tmp_path / "snap")), failures=0)
    subscriber = Subscriber(source, policy, store, stats, events, clock)
    subscriber.start()
    await clock.advance(120)
    assert sum("interfaces" in r.filter for r in source.reads) == 3
    await subscriber.stop()


@run_async
async def test_slow_read_times_out(tmp_path: Path) -> None:
    data = minimal_policy()
    data["sources"][0]["timeout"] = 0.05
    clock, stats, events, store, policy = parts(tmp_path, data)

    class Slow(FlakySource):
        async def read(self, request: ReadRequest) -> etree._Element:
            await asyncio.sleep(10)
            raise AssertionError("not reached")

    source = Slow(SnapshotSource(write_snapshot(tmp_path / "snap")), failures=0)
    subscriber = Subscriber(source, policy, store, stats, events, clock)
    assert not await subscriber.poll(policy.sources[0])
    assert stats.count(Counter.READ_ERRORS) == 1
    assert events.entries()[0].context == "interfaces: timed out"


@pytest.mark.parametrize("history", ["latest", "period"])
@run_async
async def test_history_modes(tmp_path: Path, history: str) -> None:
    data = minimal_policy()
    data["sources"][0]["tables"][0]["history"] = history
    clock, stats, events, store, policy = parts(tmp_path, data)
    source = SnapshotSource(write_snapshot(tmp_path / "snap"))
    subscriber = Subscriber(source, policy, store, stats, events, clock)
    await subscriber.poll(policy.sources[0])
    await clock.advance(10)
    await subscriber.poll(policy.sources[0])
    assert store.row_count("interface") == (3 if history == "latest" else 6)
