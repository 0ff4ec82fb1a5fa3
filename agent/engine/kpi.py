"""KPI evaluators: plugins, registered by kind, that turn collected rows into JSON values.

Two kinds ship: ``sql`` (a query against the store that builds its JSON with SQLite's JSON
functions) and ``lua`` (a script in the sandbox of ``agent.engine.lua_sandbox`` over the rows
of the tables it lists).  A new kind is one class with a ``kind`` and an ``evaluate`` method,
registered with :func:`register`.

Accepted values: a JSON **array** (as all of the seed's values are, e.g.
``[{"enabled":"false"}]``), at most ``MAX_VALUE_BYTES`` long once serialised.  The value is
re-serialised compactly (no spaces, key order kept, non-ASCII kept), which is the exact text
that goes into the report.

:func:`compute_all` computes every KPI of a policy, in policy order.  A failing KPI records
``KPI_ERROR`` (rc 1, context ``<name>: <message>``) in the event history and counts on the
``kpi/errors`` counter, and the others go on.  A value that breaks the privacy rules
(``agent.engine.privacy``) is dropped the same way with ``PRIVACY_DROP``.  A failed or dropped
KPI has ``value None`` and is left out of the report (its event says why); nothing is sent in
its place.  Like the seed device, the statistics count one ``sql-computations`` and one
``lua-computations`` per pass, timed over all KPIs of that kind.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.engine.lua_sandbox import LuaSandbox, LuaSandboxError
from agent.engine.policy import KpiSpec
from agent.engine.privacy import PrivacyGuard
from agent.engine.stats import Counter, Event, EventHistory, Statistics
from agent.engine.store import KPI_QUERY_LIMITS, QueryLimitError, QueryLimits, Store

MAX_VALUE_BYTES = 64 * 1024
MAX_ERROR_CHARS = 240  # a script's error message can be anything; the history stays small
PRIVACY_DROP = "PRIVACY_DROP"


class KpiError(Exception):
    """A KPI could not be computed or its value is not acceptable."""


class KpiEvaluator(Protocol):
    """Computes the KPIs of one kind.  ``evaluate`` returns the parsed JSON value."""

    kind: str

    def evaluate(self, kpi: KpiSpec, store: Store) -> object: ...


@dataclass(frozen=True)
class KpiResult:
    """One KPI of a report: its value (compact JSON text) or why there is none."""

    name: str
    kind: str
    category: str
    computed_at: float  # agent wall time
    value: str | None
    error: str | None = None
    privacy_dropped: bool = False


class SqlEvaluator:
    """``sql``: one SELECT returning one row with one column, the KPI's JSON text.

    ``limits`` bound each query (time, rows, value length), as ``SandboxLimits`` bound a
    Lua KPI; a query over them fails like any SQL error.
    """

    kind = "sql"

    def __init__(self, limits: QueryLimits = KPI_QUERY_LIMITS) -> None:
        self.limits = limits

    def evaluate(self, kpi: KpiSpec, store: Store) -> object:
        try:
            rows = store.query(kpi.code, limits=self.limits)
        except QueryLimitError as exc:
            shape = f"more than {exc.max_rows} row" + ("s" if exc.max_rows != 1 else "")
            raise KpiError(f"query must return one row with one column, not {shape}") from exc
        except sqlite3.Error as exc:
            raise KpiError(f"SQL error: {exc}") from exc
        if len(rows) != 1 or len(rows[0]) != 1:
            shape = f"{len(rows)} rows" if len(rows) != 1 else f"{len(rows[0])} columns"
            raise KpiError(f"query must return one row with one column, not {shape}")
        text = rows[0][0]
        if not isinstance(text, str):
            what = "NULL" if text is None else type(text).__name__
            raise KpiError(f"query returned {what}, not JSON text")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise KpiError(f"query result is not JSON: {exc}") from exc


class LuaEvaluator:
    """``lua``: a sandboxed script over the rows of the tables the KPI lists."""

    kind = "lua"

    def __init__(self, sandbox: LuaSandbox | None = None) -> None:
        self.sandbox = sandbox or LuaSandbox()

    def evaluate(self, kpi: KpiSpec, store: Store) -> object:
        try:
            rows = {table: store.rows(table) for table in kpi.tables}
        except sqlite3.Error as exc:
            raise KpiError(f"cannot read rows: {exc}") from exc
        try:
            return self.sandbox.run(kpi.code, rows, name=kpi.name)  # type: ignore[arg-type]
        except LuaSandboxError as exc:
            raise KpiError(f"Lua {exc}") from exc


_EVALUATORS: dict[str, KpiEvaluator] = {}


def register(evaluator: KpiEvaluator) -> None:
    """Make ``evaluator`` the one for its kind (replacing an earlier one)."""
    _EVALUATORS[evaluator.kind] = evaluator


def evaluator_for(kind: str) -> KpiEvaluator:
    try:
        return _EVALUATORS[kind]
    except KeyError:
        raise KpiError(f"unknown KPI kind {kind!r}") from None


register(SqlEvaluator())
register(LuaEvaluator())


def to_value_text(value: object) -> str:
    """Check a KPI value and return its compact JSON text (the text that is sent)."""
    if not isinstance(value, list):
        raise KpiError(f"value must be a JSON array, not {_json_kind(value)}")
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise KpiError(f"value is not valid JSON: {exc}") from exc
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise KpiError(f"value is longer than {MAX_VALUE_BYTES} bytes")
    return text


def _shorten(message: str) -> str:
    if len(message) <= MAX_ERROR_CHARS:
        return message
    return message[: MAX_ERROR_CHARS - 3] + "..."


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def compute_all(
    kpis: Sequence[KpiSpec],
    store: Store,
    stats: Statistics,
    events: EventHistory,
    now: float,
    *,
    guard: PrivacyGuard | None = None,
    evaluators: dict[str, KpiEvaluator] | None = None,
) -> list[KpiResult]:
    """Compute every KPI, in order; failures and privacy drops are recorded, not raised.

    ``guard`` holds the operator text to check values against; without one only the
    pattern checks run (they always do).  ``now`` is the agent time stamped as computed-at.
    """
    guard = guard or PrivacyGuard()
    table = evaluators if evaluators is not None else _EVALUATORS
    elapsed_ns = {"sql": 0, "lua": 0}  # per kind, over the whole pass
    results: list[KpiResult] = []
    # One read transaction for the pass: every KPI sees the same data, and on disk no
    # query pays for starting (and ending) a read transaction of its own.
    with store.snapshot():
        for kpi in kpis:
            results.append(_compute_one(kpi, store, stats, events, now, guard, table, elapsed_ns))
    stats.record_ns(Counter.SQL_COMPUTATIONS, elapsed_ns["sql"])
    stats.record_ns(Counter.LUA_COMPUTATIONS, elapsed_ns["lua"])
    return results


def _compute_one(
    kpi: KpiSpec,
    store: Store,
    stats: Statistics,
    events: EventHistory,
    now: float,
    guard: PrivacyGuard,
    table: dict[str, KpiEvaluator],
    elapsed_ns: dict[str, int],
) -> KpiResult:
    """One KPI of ``compute_all``; its time is added to ``elapsed_ns`` under its kind."""
    start = time.perf_counter_ns()
    value: str | None = None
    error: str | None = None
    dropped = False
    try:
        evaluator = table.get(kpi.kind)
        if evaluator is None:
            raise KpiError(f"unknown KPI kind {kpi.kind!r}")
        parsed = evaluator.evaluate(kpi, store)
        value = to_value_text(parsed)
        violation = guard.check(parsed)
        if violation is not None:
            value, dropped, error = None, True, f"privacy: {violation}"
    except KpiError as exc:
        error = str(exc)
    except Exception as exc:  # an evaluator bug must not stop the other KPIs
        error = f"internal error: {type(exc).__name__}: {exc}"
    finally:
        elapsed = time.perf_counter_ns() - start
        elapsed_ns[kpi.kind] = elapsed_ns.get(kpi.kind, 0) + elapsed
    if error is not None:
        error = _shorten(error)
        stats.increment(Counter.KPI_ERRORS)
        event = PRIVACY_DROP if dropped else Event.KPI_ERROR
        events.add(event, 1, f"{kpi.name}: {error}")
    return KpiResult(kpi.name, kpi.kind, kpi.category, now, value, error, privacy_dropped=dropped)
