"""The subscriber: reads every policy source on its period and stores what it read as rows.

Each policy source gets its own task, so a slow or failing source never delays the others.
A read returns a ``<data>`` element; each of the source's tables turns it into rows
(``normalize``) and writes them in one transaction.  A failing read is counted, recorded in
the event history and retried with exponential backoff (1 s doubling up to the source's
period, agent time).  Sources that can push changes (``Source.watch``) are read once and then
on every push when the policy asks for on-change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from agent.engine.clock import Clock
from agent.engine.policy import ColumnSpec, Policy, SourceSpec, TableSpec
from agent.engine.stats import Counter, Event, EventHistory, Statistics
from agent.engine.store import TS_COLUMN, Store
from agent.sources.base import ReadRequest, Source

log = logging.getLogger(__name__)

# Counter names as plain strings (cheaper dict keys than the enum members, see stats.py).
_PERIODIC_READS = Counter.PERIODIC_READS.value
_PERIODIC_READ_BATCHES = Counter.PERIODIC_READ_BATCHES.value

INITIAL_BACKOFF = 1.0  # agent seconds before the first retry of a failed read

Row = dict[str, object]


class NormalizeError(ValueError):
    """A value could not be converted to its column's type."""


def _convert(result: object, column: ColumnSpec) -> object:
    """Turn an XPath result into the column's SQLite value (see docs/policy.md)."""
    if isinstance(result, list):
        if not result:
            return None
        first = result[0]
        if isinstance(first, etree._Element):
            text = (first.text or "").strip()
            if column.type == "bool" and not text:
                return 1  # a present empty leaf or presence container
        else:
            text = str(first).strip()
    elif isinstance(result, bool):
        return int(result) if column.type in ("bool", "int") else str(result).lower()
    elif isinstance(result, float):
        if column.type == "text":
            return str(int(result)) if result.is_integer() else str(result)
        if math.isnan(result):
            return None
        return int(result) if column.type in ("int", "bool") else result
    else:
        text = str(result).strip()
    if column.type == "text":
        return text
    if column.type == "bool":
        lowered = text.lower()
        if lowered in ("true", "1"):
            return 1
        if lowered in ("false", "0"):
            return 0
        raise NormalizeError(f"column {column.name}: {text!r} is not a boolean")
    try:
        return int(text) if column.type == "int" else float(text)
    except ValueError:
        raise NormalizeError(f"column {column.name}: {text!r} is not {column.type}") from None


@dataclass
class CompiledTable:
    """A table spec with its XPaths compiled once."""

    spec: TableSpec
    rows: etree.XPath
    columns: list[tuple[ColumnSpec, etree.XPath]]

    @classmethod
    def compile(cls, spec: TableSpec, namespaces: Mapping[str, str]) -> CompiledTable:
        ns = dict(namespaces)
        return cls(
            spec,
            etree.XPath(spec.row_path, namespaces=ns),
            [(c, etree.XPath(c.path, namespaces=ns)) for c in spec.columns],
        )

    def normalize(self, data: etree._Element, ts: float) -> tuple[list[Row], list[str]]:
        """Rows for ``data``, and the conversion errors (their values are NULL)."""
        found = self.rows(data)
        nodes = found if isinstance(found, list) else []
        rows: list[Row] = []
        errors: list[str] = []
        for node in nodes:
            if not isinstance(node, etree._Element):
                continue
            row: Row = {}
            for column, path in self.columns:
                try:
                    row[column.name] = _convert(path(node), column)
                except NormalizeError as exc:
                    row[column.name] = None
                    errors.append(str(exc))
            row[TS_COLUMN] = ts
            rows.append(row)
        return rows, errors


def read_request(spec: SourceSpec) -> ReadRequest:
    return ReadRequest(
        datastore=spec.datastore,
        filter_type=spec.filter_type,
        filter=spec.filter,
        namespaces=dict(spec.namespaces),
        timeout=spec.timeout,
    )


class Subscriber:
    """Runs the reads of one policy against one source."""

    def __init__(
        self,
        source: Source,
        policy: Policy,
        store: Store,
        stats: Statistics,
        events: EventHistory,
        clock: Clock,
    ) -> None:
        self._source = source
        self._store = store
        self._stats = stats
        self._events = events
        self._clock = clock
        self._specs = policy.sources
        self._tables = {
            spec.id: [CompiledTable.compile(t, spec.namespaces) for t in spec.tables]
            for spec in policy.sources
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._active = False
        self.watching: set[str] = set()
        self.failures: dict[str, int] = {}  # consecutive failures per source id

    @property
    def running(self) -> bool:
        return self._active

    def start(self) -> None:
        """Start one task per source (the first read happens at once)."""
        if self._active:
            return
        self._active = True
        self._tasks = [
            asyncio.create_task(self._run(spec), name=f"pa-read-{spec.id}") for spec in self._specs
        ]

    def cancel(self) -> list[asyncio.Task[None]]:
        """Stop every read now (a read in flight is abandoned at its next await, never
        between a batch's rows); pushes that arrive later are ignored."""
        self._active = False
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        return tasks

    async def stop(self) -> None:
        """``cancel`` and wait until every read task has ended."""
        for task in self.cancel():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def refresh(self) -> None:
        """Read every source once now (before a report, so it sees the device as it is)."""
        await asyncio.gather(*(self.poll(spec) for spec in self._specs))

    async def _run(self, spec: SourceSpec) -> None:
        if spec.on_change and spec.id not in self.watching:
            request = read_request(spec)
            if self._source.watch(request, lambda data: self._on_change(spec, data)):
                self.watching.add(spec.id)
        backoff = INITIAL_BACKOFF
        while True:
            if await self.poll(spec):
                backoff = INITIAL_BACKOFF
                if spec.id in self.watching:
                    return  # pushes keep the tables current from now on
                await self._clock.sleep(spec.period)
            else:
                await self._clock.sleep(min(backoff, spec.period))
                backoff = min(backoff * 2, spec.period)

    async def poll(self, spec: SourceSpec) -> bool:
        """One periodic read of ``spec`` and its store; False when the read failed."""
        request = read_request(spec)
        start = time.perf_counter_ns()
        try:
            data = await asyncio.wait_for(self._source.read(request), request.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of one source must not stop the others
            self._stats.record_ns(_PERIODIC_READS, time.perf_counter_ns() - start)
            self._stats.increment(Counter.READ_ERRORS)
            self._events.add(Event.DSRC_PERIOD_RD, 1, f"{spec.id}: {_reason(exc)}")
            failures = self.failures.get(spec.id, 0) + 1
            self.failures[spec.id] = failures
            if failures == 1:
                log.warning("%%PA-4-READ_FAILED: source %s: %s (retrying)", spec.id, _reason(exc))
            return False
        self._stats.record_ns(_PERIODIC_READS, time.perf_counter_ns() - start)
        self._events.add(Event.DSRC_PERIOD_RD, 0, spec.id)
        if self.failures.pop(spec.id, 0):
            log.info("%%PA-5-READ_RECOVERED: source %s is read again", spec.id)
        self._store_tables(spec, data, _PERIODIC_READ_BATCHES)
        return True

    def _on_change(self, spec: SourceSpec, data: etree._Element) -> None:
        if not self._active:
            return
        with self._stats.timed(Counter.ON_CHANGE_READS):
            self._events.add(Event.DSRC_ONCHANGE_RD, 0, spec.id)
            self._store_tables(spec, data, None)

    def _store_tables(self, spec: SourceSpec, data: etree._Element, counter: str | None) -> None:
        ts = self._clock.time()
        for table in self._tables[spec.id]:
            start = time.perf_counter_ns()
            try:
                rows, errors = table.normalize(data, ts)
                self._events.add(Event.DSRC_NORMALIZE, 1 if errors else 0, table.spec.name)
                if errors:
                    log.debug("normalising %s: %s", table.spec.name, "; ".join(errors[:3]))
                self._events.add(Event.DST_STORE_BEGIN, 0, "")
                try:
                    self._store.write_batch(
                        table.spec.name, rows, replace=table.spec.history == "latest"
                    )
                except Exception as exc:
                    self._events.add(Event.DST_STORE_END, 1, f"{table.spec.name}: {exc}")
                    log.error("%%PA-3-STORE_FAILED: table %s: %s", table.spec.name, exc)
                    continue
                self._events.add(Event.DST_STORE_END, 0, "")
            finally:
                if counter is not None:
                    self._stats.record_ns(counter, time.perf_counter_ns() - start)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
