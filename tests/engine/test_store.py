"""The SQLite data store: batches, single writes, read-only queries, modes, pruning, reports."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.engine import store as store_module
from agent.engine.clock import ManualClock
from agent.engine.policy import ColumnSpec, TableSpec
from agent.engine.stats import Counter, Statistics
from agent.engine.store import (
    DB_FILE,
    MAX_VALUE_BYTES,
    QueryLimitError,
    QueryLimits,
    Store,
    StoreError,
)

IFACE = TableSpec(
    "iface",
    "x",
    (
        ColumnSpec("name", "n", "text"),
        ColumnSpec("speed", "s", "int"),
        ColumnSpec("up", "u", "bool"),
    ),
)
SAMPLES = TableSpec("samples", "x", (ColumnSpec("value", "v", "real"),), history="period")


@pytest.fixture
def stats() -> Statistics:
    return Statistics(ManualClock())


def make_store(stats: Statistics, tmp_path: Path, mode: str = "in-memory") -> Store:
    store = Store(stats, tmp_path, mode)  # type: ignore[arg-type]
    store.ensure_tables([IFACE, SAMPLES])
    return store


def test_write_batch_is_one_counted_transaction(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path)
    rows = [{"name": f"eth{i}", "speed": 1000, "up": 1, "_ts": 1.0} for i in range(50)]
    store.write_batch("iface", rows)
    assert store.row_count("iface") == 50
    assert stats.count(Counter.WRITES) == 1
    store.write_batch("iface", rows[:2], replace=True)
    assert store.row_count("iface") == 2
    assert stats.count(Counter.WRITES) == 2
    # A failing batch leaves nothing half-written and is still counted.
    with pytest.raises(sqlite3.Error):
        store.write_batch("iface", [{"name": "a", "_ts": 1.0}, {"nope": 1}], replace=True)
    assert store.row_count("iface") == 2
    assert stats.count(Counter.WRITES) == 3


@pytest.mark.parametrize("mode", ["in-memory", "on-disk"])
def test_single_writes_count_the_rows_writes_store(
    stats: Statistics, tmp_path: Path, mode: str
) -> None:
    # As on the seed device, whose counters hold more single writes than writes and less
    # time: a single write is one row a write stores.
    store = make_store(stats, tmp_path, mode)
    store.write_batch("samples", [{"value": 1.5, "_ts": 10.0}, {"value": 2.5, "_ts": 11.0}])
    assert (stats.count(Counter.WRITES), stats.count(Counter.SINGLE_WRITES)) == (1, 2)
    rows = [{"name": f"eth{i}", "speed": 10, "up": 1, "_ts": 12.0} for i in range(25)]
    store.write_batch("iface", rows, replace=True)  # 16 + 8 + 1 rows in three INSERTs
    assert (stats.count(Counter.WRITES), stats.count(Counter.SINGLE_WRITES)) == (2, 27)
    unchanged = [{**row, "_ts": 13.0} for row in rows]
    store.write_batch("iface", unchanged, replace=True)  # 25 rows get their read time
    assert (stats.count(Counter.WRITES), stats.count(Counter.SINGLE_WRITES)) == (3, 52)
    store.write_batch("iface", [], replace=True)  # a write that stores no row
    assert (stats.count(Counter.WRITES), stats.count(Counter.SINGLE_WRITES)) == (4, 52)
    store.put_report(1, "doc")  # its own transaction: a write of one row
    assert (stats.count(Counter.WRITES), stats.count(Counter.SINGLE_WRITES)) == (5, 53)
    with pytest.raises(StoreError):
        store.put_report(1, "again")  # a failed write: counted, but it stored no row
    assert (stats.count(Counter.WRITES), stats.count(Counter.SINGLE_WRITES)) == (6, 53)
    assert 0 < stats.total_ns(Counter.SINGLE_WRITES) < stats.total_ns(Counter.WRITES)
    assert store.query("SELECT sum(value) FROM samples") == [(4.0,)]
    assert store.row_count("iface") == 0


def test_queries_are_read_only_and_errors_counted(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path)
    store.write_batch("iface", [{"name": "a", "speed": 10, "up": 1, "_ts": 1.0}])
    assert store.query(
        "SELECT json_group_array(json_object('name', name, 'speed', speed)) FROM iface"
    ) == [('[{"name":"a","speed":10}]',)]
    assert store.query("SELECT count(*) FROM json_each(?)", ("[1,2,3]",)) == [(3,)]
    for sql in (
        "DELETE FROM iface",
        "DROP TABLE iface",
        "INSERT INTO iface (name) VALUES ('x')",
        "UPDATE iface SET speed = 0",
        "PRAGMA writable_schema = 1",
        "ATTACH DATABASE ':memory:' AS other",
        "SELECT * FROM no_such_table",
        "SELEC 1",
    ):
        with pytest.raises(sqlite3.Error):
            store.query(sql)
    assert stats.count(Counter.QUERY_ERRORS) == 8
    assert stats.count(Counter.QUERIES) == 10
    assert store.row_count("iface") == 1
    # Writes still work after a refused query.
    store.write_batch("iface", [{"name": "b", "_ts": 2.0}])
    assert store.row_count("iface") == 2


def test_policy_query_cannot_reuse_the_stores_own_write_statements(
    stats: Statistics, tmp_path: Path
) -> None:
    # SQLite authorizes a statement when it is prepared, and the sqlite3 module reuses
    # prepared statements by their text: a policy query spelling exactly a statement the
    # store prepared for itself must still be refused, not run from the cache.
    store = make_store(stats, tmp_path)
    row = {"name": "a", "speed": 10, "up": 1, "_ts": 1.0}
    store.write_batch("iface", [row], replace=True)  # prepares 'DELETE FROM "iface"'
    store.write_batch("iface", [row])  # prepares the one-row INSERT
    insert = 'INSERT INTO "iface" ("name", "speed", "up", "_ts") VALUES (?, ?, ?, ?)'
    for sql, params in (('DELETE FROM "iface"', ()), (insert, ("x", 1, 1, 1.0))):
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            store.query(sql, params)
    assert store.row_count("iface") == 2
    store.write_batch("iface", [row], replace=True)  # the store's own statement still works
    assert store.row_count("iface") == 1


@pytest.mark.parametrize("count", [1, 2, 31, 63, 64, 65, 129, 200])
def test_batches_of_any_size_keep_every_row_in_order(
    stats: Statistics, tmp_path: Path, count: int
) -> None:
    store = make_store(stats, tmp_path)
    rows = [{"name": f"eth{i}", "speed": i, "up": i % 2, "_ts": 1.0} for i in range(count)]
    store.write_batch("iface", rows, replace=True)
    assert store.rows("iface") == rows
    assert stats.count(Counter.WRITES) == 1


def test_wide_tables_stay_within_the_parameter_limit(stats: Statistics, tmp_path: Path) -> None:
    wide = TableSpec("wide", "x", tuple(ColumnSpec(f"c{i}", "x", "int") for i in range(300)))
    store = Store(stats, tmp_path)
    store.ensure_tables([wide])
    rows = [{**{f"c{i}": r * 1000 + i for i in range(300)}, "_ts": 2.0} for r in range(37)]
    store.write_batch("wide", rows)
    assert store.rows("wide") == rows
    # Rows with different columns: NULL where a row has none.
    store.write_batch("wide", [{"c0": 1, "_ts": 3.0}, {"c1": 2, "_ts": 3.0}], replace=True)
    assert store.query("SELECT c0, c1, c2, _ts FROM wide") == [
        (1, None, None, 3.0),
        (None, 2, None, 3.0),
    ]


def batch(ts: float, names: str = "abc") -> list[dict[str, object]]:
    return [{"name": n, "speed": 1000 + i, "up": i % 2, "_ts": ts} for i, n in enumerate(names)]


def traced(store: Store) -> list[str]:
    """The SQL the store runs from now on (white-box: which statements a write used)."""
    seen: list[str] = []
    store._conn.set_trace_callback(seen.append)
    return seen


@pytest.mark.parametrize("mode", ["in-memory", "on-disk"])
def test_an_unchanged_batch_only_updates_the_read_time(
    stats: Statistics, tmp_path: Path, mode: str
) -> None:
    store = make_store(stats, tmp_path, mode)
    store.write_batch("iface", batch(1.0), replace=True)
    seen = traced(store)
    store.write_batch("iface", batch(2.0), replace=True)
    assert any(sql.startswith("UPDATE") for sql in seen)
    assert not any(sql.startswith(("DELETE", "INSERT")) for sql in seen)
    assert store.rows("iface") == batch(2.0)
    # A changed row, a changed order, a row more: a full rewrite each time, in read order.
    for names in ("abd", "dba", "dbae"):
        seen.clear()
        store.write_batch("iface", batch(3.0, names), replace=True)
        assert any(sql.startswith("DELETE") for sql in seen)
        assert store.rows("iface") == batch(3.0, names)
    # Rows with different read times are stored as they are.
    mixed = [{**row, "_ts": 4.0 + i} for i, row in enumerate(batch(0.0, "dbae"))]
    store.write_batch("iface", mixed, replace=True)
    assert store.rows("iface") == mixed
    store.write_batch("iface", [], replace=True)
    assert store.rows("iface") == []
    assert stats.count(Counter.WRITES) == 7
    store.close()


def test_equal_values_of_another_type_are_rewritten_in_text_columns(
    stats: Statistics, tmp_path: Path
) -> None:
    store = make_store(stats, tmp_path)
    store.write_batch("iface", [{"name": "a", "speed": 1, "up": 1, "_ts": 1.0}], replace=True)
    # INTEGER columns store 1.0 and True as 1: alike, no rewrite needed.
    seen = traced(store)
    store.write_batch("iface", [{"name": "a", "speed": 1.0, "up": True, "_ts": 2.0}], replace=True)
    assert not any(sql.startswith("DELETE") for sql in seen)
    assert store.query("SELECT typeof(speed), typeof(up), _ts FROM iface") == [
        ("integer", "integer", 2.0)
    ]
    # 1.0 == 1 in Python, but a TEXT column stores '1.0' and '1'.
    store.write_batch("iface", [{"name": 1, "speed": 1, "up": 1, "_ts": 3.0}], replace=True)
    store.write_batch("iface", [{"name": 1.0, "speed": 1, "up": 1, "_ts": 4.0}], replace=True)
    assert store.query("SELECT name, typeof(name), _ts FROM iface") == [("1.0", "text", 4.0)]
    seen.clear()
    store.write_batch("iface", [{"name": 1.0, "speed": 1, "up": 1, "_ts": 5.0}], replace=True)
    assert not any(sql.startswith("DELETE") for sql in seen)  # the same types again
    assert store.query("SELECT name, _ts FROM iface") == [("1.0", 5.0)]


def test_the_remembered_content_is_forgotten_when_the_table_changes(
    stats: Statistics, tmp_path: Path
) -> None:
    store = make_store(stats, tmp_path, "on-disk")
    changes = [
        lambda: store.write_batch("iface", batch(0.5)),  # appended, not replaced
        store.clear_collected,
        lambda: store.prune(before=float("inf")),  # iface keeps the latest read: no effect
        lambda: (
            store.ensure_tables([TableSpec("iface", "x", (ColumnSpec("n", "n", "text"),))]),
            store.ensure_tables([IFACE, SAMPLES]),  # back, but the table is new and empty
        ),
    ]
    for ts, change in enumerate(changes, start=1):
        store.write_batch("iface", batch(float(ts)), replace=True)
        change()
        store.write_batch("iface", batch(ts + 0.5), replace=True)
        assert store.rows("iface") == batch(ts + 0.5), ts
    # A batch that fails is rolled back whole, and the next one is stored in full.
    with pytest.raises(sqlite3.Error):
        store.write_batch("iface", [*batch(9.0), {"nope": 1}], replace=True)
    store.write_batch("iface", batch(10.0), replace=True)
    assert store.rows("iface") == batch(10.0)
    store.switch("in-memory")
    store.write_batch("iface", batch(11.0), replace=True)
    assert store.rows("iface") == batch(11.0)
    store.close()


def test_rows_for_lua(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path)
    store.write_batch("iface", [{"name": "a", "speed": None, "up": 0, "_ts": 1.0}])
    assert store.rows("iface") == [{"name": "a", "speed": None, "up": 0, "_ts": 1.0}]
    with pytest.raises(sqlite3.Error):
        store.rows("_pa_reports")


def test_tables_follow_the_policy(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path)
    store.write_batch("iface", [{"name": "a", "_ts": 1.0}])
    store.write_batch("samples", [{"value": 1.0, "_ts": 1.0}])
    changed = TableSpec("iface", "x", (ColumnSpec("name", "n", "text"),))
    store.ensure_tables([changed, SAMPLES])
    # The changed table starts empty, the unchanged one keeps its rows.
    assert store.row_count("iface") == 0
    assert store.row_count("samples") == 1
    store.ensure_tables([changed])
    with pytest.raises(sqlite3.Error):
        store.query("SELECT * FROM samples")


def test_prune_and_clear(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path)
    store.write_batch("samples", [{"value": float(t), "_ts": float(t)} for t in range(10)])
    store.write_batch("iface", [{"name": "a", "_ts": 1.0}])
    assert store.prune(before=5.0) == 5
    assert store.query("SELECT min(_ts) FROM samples") == [(5.0,)]
    assert store.row_count("iface") == 1  # latest-only tables are not pruned by time
    store.put_report(1, "{}")
    store.clear_collected()
    assert store.row_count("samples") == 0 and store.row_count("iface") == 0
    assert store.reports() == {1: "{}"}


def test_reports_and_meta(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path)
    store.put_report(20, '{"b": 2}')
    store.put_report(10, '{"a": 1}')
    assert store.reports() == {10: '{"a": 1}', 20: '{"b": 2}'}
    assert list(store.reports()) == [10, 20]
    assert store.report_count() == 2
    with pytest.raises(StoreError, match="already exists"):
        store.put_report(10, "{}")
    store.put_report(10, "{}", replace=True)
    assert store.reports()[10] == "{}"
    assert store.delete_report(10) and not store.delete_report(10)
    assert store.get_meta("k") is None
    store.set_meta("k", "v")
    assert store.get_meta("k") == "v"
    store.set_meta("k", None)
    assert store.get_meta("k") is None


def test_switch_carries_data_both_ways(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path)
    store.write_batch("iface", [{"name": "a", "_ts": 1.0}])
    store.put_report(7, "r7")
    store.set_meta("period-start", "5.0")
    store.switch("on-disk")
    assert store.mode == "on-disk"
    assert (tmp_path / DB_FILE).exists()
    assert store.rows("iface")[0]["name"] == "a"
    assert store.reports() == {7: "r7"}
    store.switch("in-memory")
    assert not (tmp_path / DB_FILE).exists()
    assert store.reports() == {7: "r7"} and store.get_meta("period-start") == "5.0"
    assert store.row_count("iface") == 1


def test_on_disk_is_wal_and_survives_restart(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path, "on-disk")
    store.put_report(42, "doc")
    store.write_batch("iface", [{"name": "a", "_ts": 1.0}])
    store.close()
    conn = sqlite3.connect(tmp_path / DB_FILE)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    again = make_store(stats, tmp_path, "on-disk")
    assert again.reports() == {42: "doc"}
    assert again.row_count("iface") == 1
    again.close()
    # Booting in-memory with a file left from on-disk takes the data and removes the file.
    memory = make_store(stats, tmp_path, "in-memory")
    assert memory.reports() == {42: "doc"}
    assert not (tmp_path / DB_FILE).exists()


def test_switching_to_on_disk_overwrites_a_file_left_behind(
    stats: Statistics, tmp_path: Path
) -> None:
    # A file from an earlier run (with a WAL index file of an older version beside it) is
    # replaced whole: none of its rows or reports mix in, none of its text stays in the files.
    old = make_store(stats, tmp_path, "on-disk")
    old.write_batch("iface", [{"name": f"stale-{i}", "_ts": 1.0} for i in range(500)])
    old.put_report(1, "stale report")
    old.close()
    shm = tmp_path / (DB_FILE + "-shm")
    shm.write_bytes(b"\0" * 32768)
    store = Store(stats, None, "in-memory")
    store._state_dir = tmp_path  # its state directory is set only now: the file stays
    store.ensure_tables([IFACE, SAMPLES])
    store.write_batch("iface", [{"name": "fresh", "_ts": 2.0}])
    store.switch("on-disk")
    assert store.rows("iface") == [{"name": "fresh", "speed": None, "up": None, "_ts": 2.0}]
    assert store.reports() == {}
    assert not shm.exists()
    assert b"stale" not in _file_bytes(tmp_path)
    store.close()


def test_on_disk_needs_a_state_dir(stats: Statistics) -> None:
    with pytest.raises(StoreError):
        Store(stats, None, "on-disk")


def test_snapshot_runs_queries_in_one_read_transaction(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path, "on-disk")
    store.write_batch("iface", [{"name": "a", "_ts": 1.0}])
    with store.snapshot():
        assert store.query("SELECT count(*) FROM iface") == [(1,)]
        with store.snapshot():  # nesting is harmless
            assert store.query("SELECT count(*) FROM iface") == [(1,)]
    # After it, writes go on as before.
    store.write_batch("iface", [{"name": "b", "_ts": 2.0}])
    assert store.query("SELECT count(*) FROM iface") == [(2,)]


def test_on_disk_the_file_is_the_agents_alone(
    stats: Statistics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No other process can read or change the rows and reports while the agent runs, and a
    # second agent on the same state directory stops with a clear error.
    monkeypatch.setattr(store_module, "LOCK_WAIT_SECONDS", 0.05)
    store = make_store(stats, tmp_path, "on-disk")
    store.write_batch("iface", [{"name": "a", "_ts": 1.0}])
    store.put_report(1, "doc")
    other = sqlite3.connect(tmp_path / DB_FILE, timeout=0, isolation_level=None)
    for sql in ("SELECT count(*) FROM iface", "DELETE FROM _pa_reports"):
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute(sql).fetchall()
    other.close()
    assert not (tmp_path / (DB_FILE + "-shm")).exists()  # the WAL index is in memory
    second = Statistics(ManualClock(0.0))
    for mode in ("on-disk", "in-memory"):  # in-memory would import the file and remove it
        with pytest.raises(StoreError, match="another agent"):
            Store(second, tmp_path, mode)  # type: ignore[arg-type]
    # Nor can a second agent's switch to on-disk take the file over.
    elsewhere = Store(second, None, "in-memory")
    elsewhere._state_dir = tmp_path
    elsewhere.put_report(2, "other")
    with pytest.raises(StoreError, match="another agent"):
        elsewhere.switch("on-disk")
    assert elsewhere.mode == "in-memory" and elsewhere.reports() == {2: "other"}
    elsewhere.close()
    assert store.reports() == {1: "doc"} and store.row_count("iface") == 1
    store.close()
    again = make_store(stats, tmp_path, "on-disk")  # free again once the first one closed
    assert again.reports() == {1: "doc"}
    again.close()


@contextlib.contextmanager
def watchdog(store: Store, seconds: float = 10.0) -> Iterator[None]:
    """Fails the test, instead of hanging it, if a query in the block has no deadline: after
    ``seconds`` the store's connection is interrupted from another thread."""
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        store._conn.interrupt()

    timer = threading.Timer(seconds, stop)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        assert not fired.is_set(), "a policy query ran on without a deadline"


RUNAWAY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@contextlib.contextmanager
def interrupted(store: Store) -> Iterator[None]:
    """The block's policy query must fail with "interrupted", by its deadline."""
    with watchdog(store), pytest.raises(sqlite3.OperationalError, match="interrupted"):
        yield


@pytest.mark.parametrize("mode", ["in-memory", "on-disk"])
def test_a_policy_query_has_a_deadline(stats: Statistics, tmp_path: Path, mode: str) -> None:
    store = make_store(stats, tmp_path, mode)
    store.query_limits = QueryLimits(max_seconds=0.2)
    with interrupted(store):
        store.query(RUNAWAY)
    # Also while the rows are fetched: the statement steps after the first row too.
    every_row = RUNAWAY.replace("count(*)", "x")
    with interrupted(store):
        store.query(every_row, limits=QueryLimits(max_seconds=0.1, max_rows=10**9))
    with store.snapshot():  # inside a KPI pass's read transaction as well
        with interrupted(store):
            store.query(RUNAWAY, limits=QueryLimits(max_seconds=0.1))
        assert store.query("SELECT count(*) FROM iface") == [(0,)]
    # With no time at all, a query of more than PROGRESS_EVERY instructions fails ...
    with interrupted(store):
        store.query(RUNAWAY.replace("FROM c)", "FROM c WHERE x < 100000)"), limits=QueryLimits(0))
    assert stats.count(Counter.QUERY_ERRORS) == 4
    # ... and the deadline goes with it: the store's own bigger work runs after it.
    rows = [{"name": f"eth{i}", "speed": i, "up": 1, "_ts": 1.0} for i in range(5000)]
    store.write_batch("iface", rows, replace=True)
    assert store.rows("iface") == rows


def test_a_policy_query_has_a_row_limit(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path, "on-disk")
    store.write_batch("iface", [{"name": f"eth{i}", "_ts": 1.0} for i in range(5)])
    three = QueryLimits(max_rows=3)
    assert len(store.query("SELECT name FROM iface LIMIT 3", limits=three)) == 3
    with pytest.raises(QueryLimitError, match="more than 3 rows") as info:
        store.query("SELECT name FROM iface", limits=three)
    assert info.value.max_rows == 3
    assert stats.count(Counter.QUERY_ERRORS) == 1
    # The unfinished statement was reset: it holds no read transaction, so a checkpoint
    # is not kept waiting by it.
    assert store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    assert len(store.query("SELECT name FROM iface")) == 5  # the default limit is far higher


def test_a_policy_query_has_a_value_length_limit(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path)
    small = QueryLimits(max_value_bytes=1000)
    assert store.query("SELECT length(zeroblob(1000))", limits=small) == [(1000,)]
    for sql in (
        "SELECT zeroblob(1001)",
        "SELECT replace(hex(zeroblob(400)), '0', 'xx')",
        "SELECT hex(zeroblob(600))",
    ):
        with pytest.raises(sqlite3.DataError, match="too big"):
            store.query(sql, limits=small)
    # The default limit is back for other queries; reports may be longer still.
    assert store.query("SELECT length(zeroblob(5000))") == [(5000,)]
    with pytest.raises(sqlite3.DataError, match="too big"):
        store.query(f"SELECT zeroblob({MAX_VALUE_BYTES + 1})")
    document = "x" * (MAX_VALUE_BYTES + 1)
    store.put_report(1, document)
    assert store.reports() == {1: document}
    assert store.query("SELECT count(*) FROM _pa_reports") == [(1,)]


def _file_bytes(tmp_path: Path) -> bytes:
    found = b""
    for suffix in ("", "-wal"):
        path = tmp_path / (DB_FILE + suffix)
        if path.exists():
            found += path.read_bytes()
    return found


def test_cleared_data_leaves_no_trace_in_the_files(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path, "on-disk")
    secret = "operator-secret-7f3a9c"
    # Several versions of the rows (replace batches, appends) and a big table, so the
    # deleted content sits in cells, free pages and many WAL frames.
    for ts in range(5):
        rows = [{"name": f"{secret}-{i}", "speed": ts, "_ts": float(ts)} for i in range(300)]
        store.write_batch("iface", rows, replace=True)
        store.write_batch("samples", [{"value": float(i), "_ts": float(ts)} for i in range(50)])
    store.write_batch("iface", [{"name": secret, "_ts": 9.0}])
    store.put_report(1, '{"kept": true}')
    assert secret.encode() in _file_bytes(tmp_path)  # the check below can see the text
    store.clear_collected()
    data = _file_bytes(tmp_path)
    assert secret.encode() not in data
    assert (tmp_path / (DB_FILE + "-wal")).stat().st_size == 0
    # The store goes on: reports stay, new rows are written and read.
    assert store.reports() == {1: '{"kept": true}'}
    store.write_batch("iface", [{"name": "after", "_ts": 10.0}], replace=True)
    assert store.query("SELECT name FROM iface") == [("after",)]
    store.close()
    assert secret.encode() not in _file_bytes(tmp_path)


def test_cleared_data_leaves_no_trace_after_a_switch_to_disk(
    stats: Statistics, tmp_path: Path
) -> None:
    # The connection a switch opens deletes securely too.
    store = make_store(stats, tmp_path, "in-memory")
    secret = "moved-secret-41b2"
    store.write_batch("iface", [{"name": f"{secret}-{i}", "_ts": 1.0} for i in range(300)])
    store.switch("on-disk")
    store.write_batch("iface", [{"name": f"{secret}-x{i}", "_ts": 2.0} for i in range(300)])
    assert secret.encode() in _file_bytes(tmp_path)
    store.clear_collected()
    assert secret.encode() not in _file_bytes(tmp_path)
    store.close()
