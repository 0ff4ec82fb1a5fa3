"""The analytics data store: SQLite through the standard library.

Collected rows live in one table per policy table (columns from the policy plus ``_ts``,
the agent time of the read).  Generated reports and a little engine state (the current
period's start) live in the store's own tables, ``_pa_reports`` and ``_pa_meta``.

Two modes, as the YANG leaf ``storage`` says: ``in-memory`` (``:memory:``, lost on restart)
and ``on-disk`` (``analytics.sqlite`` in the state directory, WAL mode, survives restart).
``switch`` moves everything from one to the other with SQLite's online backup API, so the
data carries over.  Every operation is counted and timed in ``Statistics``.

Queries coming from the policy (KPIs, device identity) run under an SQLite authorizer that
allows reading only, so a policy can never change or drop what the store holds.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Literal

from agent.engine.policy import TableSpec
from agent.engine.stats import Counter, Statistics

StorageMode = Literal["in-memory", "on-disk"]
DB_FILE = "analytics.sqlite"
TS_COLUMN = "_ts"

_SQL_TYPES = {"int": "INTEGER", "real": "REAL", "text": "TEXT", "bool": "INTEGER"}
_READ_ONLY_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS _pa_reports (report_id INTEGER PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _pa_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(Exception):
    """A store operation other than a policy query failed."""


def quote(identifier: str) -> str:
    """An SQL identifier, double-quoted."""
    return '"' + identifier.replace('"', '""') + '"'


def _uniform_values(
    rows: Sequence[Mapping[str, object]], columns: list[str]
) -> list[Sequence[object]] | None:
    """The rows' values in ``columns`` order when every row has exactly those columns (the
    usual case: one normalisation makes every row alike), else None.  Same length and every
    column present means the same key set; itemgetter fetches the values in C."""
    width = len(columns)
    if any(len(row) != width for row in rows):
        return None
    get = itemgetter(*columns)
    try:
        if width == 1:
            return [(get(row),) for row in rows]
        return [get(row) for row in rows]
    except KeyError:
        return None


class Store:
    """The SQLite data store; used from one thread (the engine's event loop) at a time."""

    def __init__(
        self, stats: Statistics, state_dir: Path | None, mode: StorageMode = "in-memory"
    ) -> None:
        if mode == "on-disk" and state_dir is None:
            raise StoreError("on-disk storage needs a state directory")
        self._stats = stats
        self._state_dir = state_dir
        self._tables: dict[str, TableSpec] = {}
        self._read_only = False
        self.mode: StorageMode = mode
        self._conn = self._open(mode)
        if mode == "in-memory" and self.disk_path is not None and self.disk_path.exists():
            # Storage was switched to in-memory while the agent was down: bring the data
            # along, as a switch at run time would, and leave nothing behind on disk.
            disk = self._connect(self.disk_path)
            try:
                disk.backup(self._conn)
            finally:
                disk.close()
            self._remove_disk_files()
        self._conn.executescript(_SCHEMA)

    # --- connection management --------------------------------------------------------

    @property
    def disk_path(self) -> Path | None:
        return self._state_dir / DB_FILE if self._state_dir is not None else None

    def _connect(self, target: Path | str) -> sqlite3.Connection:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        conn.set_authorizer(self._authorize)
        return conn

    def _open(self, mode: StorageMode) -> sqlite3.Connection:
        if mode == "in-memory":
            return self._connect(":memory:")
        assert self.disk_path is not None
        self.disk_path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect(self.disk_path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _remove_disk_files(self) -> None:
        assert self.disk_path is not None
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                self.disk_path.with_name(self.disk_path.name + suffix).unlink()

    def switch(self, mode: StorageMode) -> None:
        """Move the whole store to ``mode``; the data carries over (SQLite backup API)."""
        if mode == self.mode:
            return
        if mode == "on-disk":
            if self.disk_path is None:
                raise StoreError("on-disk storage needs a state directory")
            self._remove_disk_files()  # a stale file from an earlier run must not mix in
        new = self._open(mode)
        try:
            self._conn.backup(new)
        except sqlite3.Error as exc:
            new.close()
            raise StoreError(f"cannot move the data store to {mode}: {exc}") from exc
        old, self._conn, self.mode = self._conn, new, mode
        old.close()
        if mode == "in-memory":
            self._remove_disk_files()

    def close(self) -> None:
        self._conn.close()

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None
    ) -> int:
        if not self._read_only or action in _READ_ONLY_ACTIONS:
            return sqlite3.SQLITE_OK
        # SQLite itself reports an UPDATE of sqlite_master when a table-valued function
        # such as json_each is first used; user SQL cannot write sqlite_master (that needs
        # PRAGMA writable_schema, which is denied), so this one is let through.
        if action == sqlite3.SQLITE_UPDATE and arg1 in ("sqlite_master", "sqlite_temp_master"):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- tables -------------------------------------------------------------------------

    def ensure_tables(self, tables: Sequence[TableSpec]) -> None:
        """Create the policy's tables; recreate those whose columns changed, drop the rest.

        Rows of a table whose definition changed cannot be trusted by the new policy's
        KPIs, so they go.
        """
        wanted = {t.name: t for t in tables}
        with self._transaction() as conn:
            existing = [
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' "
                    "AND name NOT LIKE '\\_pa\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            for name in existing:
                spec = wanted.get(name)
                have = [
                    (row[1], row[2]) for row in conn.execute(f"PRAGMA table_info({quote(name)})")
                ]
                if spec is None or have != self._columns(spec):
                    conn.execute(f"DROP TABLE {quote(name)}")
            for spec in tables:
                cols = ", ".join(f"{quote(c)} {t}" for c, t in self._columns(spec))
                conn.execute(f"CREATE TABLE IF NOT EXISTS {quote(spec.name)} ({cols})")
        self._tables = wanted

    @staticmethod
    def _columns(spec: TableSpec) -> list[tuple[str, str]]:
        return [(c.name, _SQL_TYPES[c.type]) for c in spec.columns] + [(TS_COLUMN, "REAL")]

    def table_names(self) -> list[str]:
        return list(self._tables)

    # --- writes -------------------------------------------------------------------------

    def write_batch(
        self, table: str, rows: Sequence[Mapping[str, object]], *, replace: bool = False
    ) -> None:
        """Insert ``rows`` (column -> value) in one transaction, counted as one write.

        ``replace`` first deletes the table's rows (a table keeping only the latest read).
        Columns missing from a row are NULL.
        """
        start = time.perf_counter_ns()
        try:
            with self._transaction() as conn:
                if replace:
                    conn.execute(f"DELETE FROM {quote(table)}")
                if rows:
                    columns = list(rows[0])
                    values = _uniform_values(rows, columns)
                    if values is None:  # rows with different columns: NULL where missing
                        known = set(columns)
                        for row in rows:
                            for key in row:
                                if key not in known:
                                    known.add(key)
                                    columns.append(key)
                        values = [[row.get(c) for c in columns] for row in rows]
                    conn.executemany(self._insert_sql(table, tuple(columns)), values)
        finally:
            self._stats.record(Counter.WRITES, (time.perf_counter_ns() - start) // 1000)

    def write_single(self, table: str, row: Mapping[str, object]) -> None:
        """Insert one row (its own implicit transaction), counted as a single write."""
        start = time.perf_counter_ns()
        try:
            self._conn.execute(self._insert_sql(table, tuple(row)), tuple(row.values()))
        finally:
            self._stats.record(Counter.SINGLE_WRITES, (time.perf_counter_ns() - start) // 1000)

    @staticmethod
    @functools.lru_cache(maxsize=256)
    def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
        return (
            f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )

    def prune(self, before: float) -> int:
        """Delete rows read before ``before`` from the tables that keep a period's history
        (a report now covers them); returns how many rows went."""
        removed = 0
        with self._transaction() as conn:
            for spec in self._tables.values():
                if spec.history == "period":
                    cur = conn.execute(
                        f"DELETE FROM {quote(spec.name)} WHERE {TS_COLUMN} < ?", (before,)
                    )
                    removed += cur.rowcount
        return removed

    def clear_collected(self) -> None:
        """Delete every collected row (``enabled false``); reports stay."""
        with self._transaction() as conn:
            for name in self._tables:
                conn.execute(f"DELETE FROM {quote(name)}")

    def row_count(self, table: str) -> int:
        (count,) = self._conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()
        return int(count)

    # --- queries ------------------------------------------------------------------------

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run several queries on one consistent view of the store (a report's KPIs see
        the same data), in one read transaction: on disk this also saves each query the
        cost of starting its own."""
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run a read-only query (KPIs, device identity); counted and timed as a query.

        A failure (syntax, missing table, an attempt to write) counts a query error and
        raises ``sqlite3.Error``.
        """
        start = time.perf_counter_ns()
        self._read_only = True
        try:
            return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error:
            self._stats.increment(Counter.QUERY_ERRORS)
            raise
        finally:
            self._read_only = False
            self._stats.record(Counter.QUERIES, (time.perf_counter_ns() - start) // 1000)

    def rows(self, table: str) -> list[dict[str, object]]:
        """Every row of a policy table as column -> value (for Lua KPIs); counted as a query."""
        if table not in self._tables:
            raise sqlite3.OperationalError(f"no such table: {table}")
        start = time.perf_counter_ns()
        self._read_only = True
        try:
            cur = self._conn.execute(f"SELECT * FROM {quote(table)}")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            self._read_only = False
            self._stats.record(Counter.QUERIES, (time.perf_counter_ns() - start) // 1000)

    # --- reports and engine state -------------------------------------------------------

    def put_report(self, report_id: int, document: str, *, replace: bool = False) -> None:
        """Store a report document; an existing id is an error unless ``replace``."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self._stats.timed(Counter.SINGLE_WRITES):
            try:
                self._conn.execute(
                    f"{verb} INTO _pa_reports (report_id, document) VALUES (?, ?)",
                    (report_id, document),
                )
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"report {report_id} already exists") from exc

    def reports(self) -> dict[int, str]:
        """Every stored report, id -> document, in id order."""
        cur = self._conn.execute("SELECT report_id, document FROM _pa_reports ORDER BY report_id")
        return {int(rid): str(doc) for rid, doc in cur.fetchall()}

    def report_count(self) -> int:
        (count,) = self._conn.execute("SELECT count(*) FROM _pa_reports").fetchone()
        return int(count)

    def delete_report(self, report_id: int) -> bool:
        cur = self._conn.execute("DELETE FROM _pa_reports WHERE report_id = ?", (report_id,))
        return cur.rowcount > 0

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM _pa_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self._conn.execute("DELETE FROM _pa_meta WHERE key = ?", (key,))
        else:
            self._conn.execute(
                "INSERT OR REPLACE INTO _pa_meta (key, value) VALUES (?, ?)", (key, value)
            )
