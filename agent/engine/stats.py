"""Engine statistics and the event history (``show product-analytics stats``).

``Statistics`` holds the counters of ``/pa:product-analytics/statistics``: timed counters
(count, total and average microseconds) and plain counters.  Timing uses the real
``perf_counter_ns`` whatever the agent's time scale; totals are kept in nanoseconds and only
turned into microseconds when read, so operations of a few microseconds are not rounded
down one by one.  ``EventHistory`` aggregates events the way the seed device does: one entry
per (event, rc, context) with ``#Times``, newest first, bounded.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from agent.api import PA_NS
from agent.engine.clock import Clock, date_and_time


class Counter(StrEnum):
    """Every counter, named by its path under ``statistics`` in the YANG module."""

    WRITES = "data-store/writes"
    SINGLE_WRITES = "data-store/single-writes"
    QUERIES = "data-store/queries"
    QUERY_ERRORS = "data-store/query-errors"
    PERIODIC_READS = "data-source/periodic-reads"
    PERIODIC_READ_BATCHES = "data-source/periodic-read-batches"
    ON_CHANGE_READS = "data-source/on-change-reads"
    READ_ERRORS = "data-source/read-errors"
    SQL_COMPUTATIONS = "kpi/sql-computations"
    LUA_COMPUTATIONS = "kpi/lua-computations"
    KPI_ERRORS = "kpi/errors"


TIMED = (
    Counter.WRITES,
    Counter.SINGLE_WRITES,
    Counter.QUERIES,
    Counter.PERIODIC_READS,
    Counter.PERIODIC_READ_BATCHES,
    Counter.ON_CHANGE_READS,
    Counter.SQL_COMPUTATIONS,
    Counter.LUA_COMPUTATIONS,
)
PLAIN = (Counter.QUERY_ERRORS, Counter.READ_ERRORS, Counter.KPI_ERRORS)


class Event(StrEnum):
    """Event names, as the seed device shows them."""

    CRASH = "CRASH"
    POLICY_LOADED = "POLICY_LOADED"
    POLICY_REJECTED = "POLICY_REJECTED"
    DSRC_PERIOD_RD = "DSRC_PERIOD_RD"
    DSRC_ONCHANGE_RD = "DSRC_ONCHANGE_RD"
    DSRC_NORMALIZE = "DSRC_NORMALIZE"
    DST_STORE_BEGIN = "DST_STORE_BEGIN"
    DST_STORE_END = "DST_STORE_END"
    DST_PRUNE = "DST_PRUNE"
    DST_STORAGE_SWITCH = "DST_STORAGE_SWITCH"
    KPI_ADD = "KPI_ADD"
    KPI_ERROR = "KPI_ERROR"
    SERVICEABILITY_ADD = "SERVICEABILITY_ADD"
    REPORT_GENERATED = "REPORT_GENERATED"


class Statistics:
    """The engine's counters; cheap to update, cheap to turn into XML."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.counts: dict[str, int] = {}
        self.totals_ns: dict[str, int] = {}
        self.last_cleared: float | None = None
        self.clear(record=False)

    def clear(self, *, record: bool = True) -> None:
        """Reset every counter (``clear-statistics``)."""
        # Keyed by the members' value strings: hot paths pass those (a member's attribute
        # lookup and its hashing as a key cost more than the counting itself).
        self.counts = {c.value: 0 for c in Counter}
        self.totals_ns = {c.value: 0 for c in TIMED}
        if record:
            self.last_cleared = self._clock.time()

    def record(self, counter: str, microseconds: int) -> None:
        """Count one operation of a timed counter that took ``microseconds``."""
        self.record_ns(counter, int(microseconds) * 1000)

    def record_ns(self, counter: str, nanoseconds: int, count: int = 1) -> None:
        """Count ``count`` operations of a timed counter that took ``nanoseconds`` together
        (the hot paths pass a ``perf_counter_ns`` difference straight in; several when one
        statement stores several rows, see ``Store.write_batch``)."""
        self.counts[counter] += count
        if nanoseconds > 0:
            self.totals_ns[counter] += nanoseconds

    def increment(self, counter: str, by: int = 1) -> None:
        """Count on a plain counter (errors)."""
        self.counts[counter] += by

    @contextmanager
    def timed(self, counter: str) -> Iterator[None]:
        """Time the block and count it on ``counter`` (also when it raises)."""
        start = time.perf_counter_ns()
        try:
            yield
        finally:
            self.record_ns(counter, time.perf_counter_ns() - start)

    def count(self, counter: str) -> int:
        return self.counts[counter]

    def total_us(self, counter: str) -> int:
        return self.totals_ns[counter] // 1000

    def total_ns(self, counter: str) -> int:
        return self.totals_ns[counter]

    def average_us(self, counter: str) -> int:
        n = self.counts[counter]
        return self.totals_ns[counter] // (1000 * n) if n else 0

    def to_xml(self, events: EventHistory) -> etree._Element:
        """The ``<statistics>`` container, with the event history."""
        ns = f"{{{PA_NS}}}"
        root = etree.Element(ns + "statistics", nsmap={None: PA_NS})  # type: ignore[dict-item]
        if self.last_cleared is not None:
            etree.SubElement(root, ns + "last-cleared").text = date_and_time(self.last_cleared)
        groups: dict[str, etree._Element] = {}
        for counter in Counter:
            group_name, leaf = counter.value.split("/")
            group = groups.get(group_name)
            if group is None:
                group = groups[group_name] = etree.SubElement(root, ns + group_name)
            if counter in PLAIN:
                etree.SubElement(group, ns + leaf).text = str(self.counts[counter])
                continue
            node = etree.SubElement(group, ns + leaf)
            etree.SubElement(node, ns + "count").text = str(self.counts[counter])
            etree.SubElement(node, ns + "total-time").text = str(self.total_us(counter))
            etree.SubElement(node, ns + "average-time").text = str(self.average_us(counter))
        history = etree.SubElement(root, ns + "event-history")
        events.add_xml(history)
        return root


@dataclass
class EventEntry:
    """One aggregated event-history entry."""

    event: str
    rc: int
    context: str
    timestamp: float
    count: int = 1


class EventHistory:
    """Events aggregated by (event, rc, context), newest first, at most ``limit`` entries.

    rc is part of the key so that failures are not hidden among successes of the same
    read (the seed shows only successes, so it cannot tell).
    """

    def __init__(self, clock: Clock, limit: int = 256) -> None:
        self._clock = clock
        self.limit = limit
        self._entries: OrderedDict[tuple[str, int, str], EventEntry] = OrderedDict()

    def add(self, event: str, rc: int = 0, context: str = "") -> None:
        """Record one event now."""
        key = (str(event), int(rc), context)
        entry = self._entries.get(key)
        now = self._clock.time()
        if entry is None:
            self._entries[key] = EventEntry(str(event), int(rc), context, now)
            if len(self._entries) > self.limit:
                self._entries.popitem(last=False)
        else:
            entry.count += 1
            entry.timestamp = now
            self._entries.move_to_end(key)

    def entries(self) -> list[EventEntry]:
        """Newest first."""
        return list(reversed(self._entries.values()))

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def add_xml(self, parent: etree._Element) -> None:
        """Append the YANG ``event`` list entries to ``parent`` (same namespace)."""
        ns = f"{{{PA_NS}}}"
        for index, entry in enumerate(self.entries()):
            node = etree.SubElement(parent, ns + "event")
            etree.SubElement(node, ns + "index").text = str(index)
            etree.SubElement(node, ns + "timestamp").text = date_and_time(entry.timestamp)
            etree.SubElement(node, ns + "count").text = str(entry.count)
            etree.SubElement(node, ns + "event").text = entry.event
            etree.SubElement(node, ns + "rc").text = str(entry.rc)
            etree.SubElement(node, ns + "context").text = entry.context
