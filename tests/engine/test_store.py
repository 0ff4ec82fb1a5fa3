"""The SQLite data store: batches, single writes, read-only queries, modes, pruning, reports."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.engine.clock import ManualClock
from agent.engine.policy import ColumnSpec, TableSpec
from agent.engine.stats import Counter, Statistics
from agent.engine.store import DB_FILE, Store, StoreError

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


def test_single_writes_are_counted(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path)
    store.write_single("samples", {"value": 1.5, "_ts": 10.0})
    store.write_single("samples", {"value": 2.5, "_ts": 11.0})
    assert stats.count(Counter.SINGLE_WRITES) == 2
    assert store.query("SELECT sum(value) FROM samples") == [(4.0,)]


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
    store.write_single("iface", {"name": "b", "_ts": 2.0})
    assert store.row_count("iface") == 2


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
    conn = sqlite3.connect(tmp_path / DB_FILE)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    store.close()
    again = make_store(stats, tmp_path, "on-disk")
    assert again.reports() == {42: "doc"}
    assert again.row_count("iface") == 1
    again.close()
    # Booting in-memory with a file left from on-disk takes the data and removes the file.
    memory = make_store(stats, tmp_path, "in-memory")
    assert memory.reports() == {42: "doc"}
    assert not (tmp_path / DB_FILE).exists()


def test_on_disk_needs_a_state_dir(stats: Statistics) -> None:
    with pytest.raises(StoreError):
        Store(stats, None, "on-disk")


def test_snapshot_gives_queries_one_view(stats: Statistics, tmp_path: Path) -> None:
    store = make_store(stats, tmp_path, "on-disk")
    store.write_batch("iface", [{"name": "a", "_ts": 1.0}])
    other = sqlite3.connect(tmp_path / DB_FILE)
    with store.snapshot():
        assert store.query("SELECT count(*) FROM iface") == [(1,)]
        other.execute("INSERT INTO iface (name, _ts) VALUES ('b', 2.0)")
        other.commit()
        assert store.query("SELECT count(*) FROM iface") == [(1,)]  # same view
        with store.snapshot():  # nesting is harmless
            assert store.query("SELECT count(*) FROM iface") == [(1,)]
    assert store.query("SELECT count(*) FROM iface") == [(2,)]
    other.close()
