"""Statistics counters and the event history, and their XML."""

from __future__ import annotations

import pytest

from agent.api import PA_NS
from agent.engine.clock import ManualClock, date_and_time
from agent.engine.stats import Counter, EventHistory, Statistics

NS = {"pa": PA_NS}


def test_timed_counters() -> None:
    stats = Statistics(ManualClock())
    stats.record(Counter.WRITES, 300)
    stats.record(Counter.WRITES, 100)
    assert (stats.count(Counter.WRITES), stats.total_us(Counter.WRITES)) == (2, 400)
    assert stats.average_us(Counter.WRITES) == 200
    assert stats.average_us(Counter.QUERIES) == 0
    with stats.timed(Counter.SQL_COMPUTATIONS):
        sum(range(1000))
    with pytest.raises(ValueError), stats.timed(Counter.LUA_COMPUTATIONS):
        raise ValueError("counted anyway")
    assert stats.count(Counter.SQL_COMPUTATIONS) == 1
    assert stats.count(Counter.LUA_COMPUTATIONS) == 1
    stats.increment(Counter.KPI_ERRORS)
    assert stats.count(Counter.KPI_ERRORS) == 1


def test_nanosecond_totals_are_not_rounded_per_operation() -> None:
    stats = Statistics(ManualClock())
    for _ in range(3):
        stats.record_ns(Counter.SINGLE_WRITES, 1_500)  # 1.5 µs each
    stats.record_ns(Counter.SINGLE_WRITES, -5)  # a clock step back counts, adds nothing
    assert stats.count(Counter.SINGLE_WRITES) == 4
    assert stats.total_ns(Counter.SINGLE_WRITES) == 4_500
    # 4.5 µs in all: per-operation rounding to whole µs would have said 3.
    assert stats.total_us(Counter.SINGLE_WRITES) == 4
    assert stats.average_us(Counter.SINGLE_WRITES) == 1


def test_clear_resets_everything_and_records_when() -> None:
    clock = ManualClock(1000.0)
    stats = Statistics(clock)
    assert stats.last_cleared is None
    stats.record(Counter.QUERIES, 5)
    stats.increment(Counter.READ_ERRORS)
    stats.clear()
    assert all(v == 0 for v in stats.counts.values())
    assert all(v == 0 for v in stats.totals_ns.values())
    assert stats.last_cleared == 1000.0


def test_event_history_aggregates_newest_first() -> None:
    clock = ManualClock(100.0)
    events = EventHistory(clock, limit=3)
    events.add("DSRC_PERIOD_RD", 0, "interfaces")
    clock._now = 101.0
    events.add("DST_STORE_BEGIN", 0, "")
    clock._now = 102.0
    events.add("DSRC_PERIOD_RD", 0, "interfaces")
    events.add("DSRC_PERIOD_RD", 1, "interfaces: timed out")
    entries = events.entries()
    assert [(e.event, e.rc, e.count) for e in entries] == [
        ("DSRC_PERIOD_RD", 1, 1),
        ("DSRC_PERIOD_RD", 0, 2),
        ("DST_STORE_BEGIN", 0, 1),
    ]
    assert entries[1].timestamp == 102.0
    events.add("CRASH", 0, "crash with builtin policy")  # bounded: the oldest goes
    assert len(events) == 3
    assert [e.event for e in events.entries()][-1] == "DSRC_PERIOD_RD"
    events.clear()
    assert events.entries() == []


def test_statistics_xml_follows_the_yang() -> None:
    clock = ManualClock(1_747_988_540.0)
    stats = Statistics(clock)
    events = EventHistory(clock)
    stats.record(Counter.WRITES, 305)
    stats.increment(Counter.QUERY_ERRORS, 2)
    events.add("CRASH", 0, "crash with builtin policy")
    xml = stats.to_xml(events)
    assert xml.tag == f"{{{PA_NS}}}statistics"
    assert xml.find("pa:last-cleared", NS) is None
    assert xml.findtext("pa:data-store/pa:writes/pa:count", namespaces=NS) == "1"
    assert xml.findtext("pa:data-store/pa:writes/pa:average-time", namespaces=NS) == "305"
    assert xml.findtext("pa:data-store/pa:query-errors", namespaces=NS) == "2"
    assert xml.findtext("pa:data-source/pa:on-change-reads/pa:count", namespaces=NS) == "0"
    assert xml.findtext("pa:kpi/pa:lua-computations/pa:total-time", namespaces=NS) == "0"
    assert xml.findtext("pa:kpi/pa:errors", namespaces=NS) == "0"
    event = xml.find("pa:event-history/pa:event", NS)
    assert event is not None
    assert event.findtext("pa:index", namespaces=NS) == "0"
    assert event.findtext("pa:timestamp", namespaces=NS) == "2025-05-23T08:22:20.000Z"
    assert event.findtext("pa:context", namespaces=NS) == "crash with builtin policy"
    stats.clear()
    assert stats.to_xml(events).findtext("pa:last-cleared", namespaces=NS) == date_and_time(
        clock.time()
    )


def test_date_and_time_format() -> None:
    assert date_and_time(0) == "1970-01-01T00:00:00.000Z"
    assert date_and_time(1.9996) == "1970-01-01T00:00:02.000Z"
    assert date_and_time(1_747_988_540.226) == "2025-05-23T08:22:20.226Z"
