"""The analytics data store: SQLite through the standard library.

Collected rows live in one table per policy table (columns from the policy plus ``_ts``,
the agent time of the read).  Generated reports and a little engine state (the current
period's start) live in the store's own tables, ``_pa_reports`` and ``_pa_meta``.

Two modes, as the YANG leaf ``storage`` says: ``in-memory`` (``:memory:``, lost on restart)
and ``on-disk`` (``analytics.sqlite`` in the state directory, WAL mode, survives restart,
locked for the agent's connection alone while it runs).
``switch`` moves everything from one to the other with SQLite's online backup API, so the
data carries over.  Every operation is counted and timed in ``Statistics``, with the seed's
counters: a *write* is one transaction storing a batch (``write_batch``, or a report), a
*single write* is one row such a write stores (the seed's counters hold more single writes
than writes, and less time: rows within writes), a *query* is one read statement.

Queries coming from the policy (KPIs, device identity) run under an SQLite authorizer that
allows reading only, so a policy can never change or drop what the store holds.  They also
run under :class:`QueryLimits`: a wall-clock deadline (an SQLite progress handler aborts the
statement: the engine runs on the event loop, so a query that never ends, such as an
unbounded recursive CTE, would stop the whole agent), a cap on the rows returned and on the
length of any string or blob (``SQLITE_LIMIT_LENGTH``, which also refuses one huge
``zeroblob``/``randomblob``/``replace`` result that the progress handler could not
interrupt, as it runs between VM instructions; the connection keeps that length limit for
all but the report methods, so a collected value longer than it fails its write).  Known
limit: SQLite 3.40's ``printf('%.*c', n, 'x')`` returns NULL once ``n`` passes the length
limit but still loops ``n`` times in C (about 6 s for ``n`` = 1e9) in one uninterruptible
call; policies are signed, so such a query is a policy author's mistake, not an attack (as
with Lua patterns, see ``lua_sandbox``).  SQLite consults the authorizer when it prepares a
statement, and the sqlite3 module reuses prepared statements by their text, so policy
queries are prepared under their own text (a fixed comment in front): a policy query that
spells exactly one of the store's own write statements is prepared again, and denied,
instead of reusing the store's permitted one.

Cost (see BENCHMARKS.md, "Engine"): the store keeps SQL texts stable so every statement is
prepared once and then reused from the connection's statement cache (sized for every
table's statements), inserts a batch's rows with multi-row ``INSERT ... VALUES`` statements
of fixed sizes (fewer statement steps than one ``INSERT`` per row), stores a ``replace``
batch that repeats the table's content as one ``UPDATE`` of the read time (``write_batch``),
and times with ``perf_counter_ns`` into nanosecond totals.  On disk, WAL with
``synchronous=NORMAL``: see ``_open`` for what that risks.

Deleted rows do not linger: ``secure_delete`` overwrites deleted content with zeros (in the
database and in the WAL frames that carry the change), and clearing the collected data
(``enabled false``) checkpoints the WAL and truncates it, so the old page versions it held go
too.  Pruning and ``replace`` batches leave their old page versions in the WAL until SQLite's
next automatic checkpoint.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from time import perf_counter_ns
from typing import Literal

from agent.engine.policy import TableSpec
from agent.engine.stats import Counter, Statistics

StorageMode = Literal["in-memory", "on-disk"]
DB_FILE = "analytics.sqlite"
TS_COLUMN = "_ts"

# Counter names as plain strings: an enum member's attribute lookup and its hashing as a
# dict key cost more than the rest of a write's bookkeeping.
_WRITES = Counter.WRITES.value
_SINGLE_WRITES = Counter.SINGLE_WRITES.value
_QUERIES = Counter.QUERIES.value
_SQL_TYPES = {"int": "INTEGER", "real": "REAL", "text": "TEXT", "bool": "INTEGER"}
_READ_ONLY_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# Prepared statements the connection keeps: per table one DELETE, one UPDATE, a SELECT *
# and up to eight INSERTs, plus the policy's queries; the module's default (128) is small.
STATEMENT_CACHE_SIZE = 1024
# Rows per multi-row INSERT: powers of two up to this many (fewer if the table is wide:
# SQLite allows at least 999 host parameters per statement), so a table has a handful of
# fixed statement texts whatever its row count.
MAX_ROWS_PER_INSERT = 64
MAX_PARAMETERS = 999
# A fixed comment in front of every policy query: gives policy queries statement texts of
# their own (see the module docstring).
POLICY_QUERY_TAG = "/* product-analytics policy query */\n"
# SQLite VM instructions between two deadline checks: a clock read per thousand instructions
# reacts within microseconds, and its cost stayed within bench/engine_bench.py's noise.
PROGRESS_EVERY = 1000
_NO_DEADLINE = 1 << 62  # perf_counter_ns never gets there: the store's own work
_LENGTH = sqlite3.SQLITE_LIMIT_LENGTH
# Longest string or blob a policy query may make or read, and the connection's setting
# outside the store's report methods (see ``Store._connect``).
MAX_VALUE_BYTES = 16 * 1024 * 1024
# What the report methods lift it to: SQLite caps it at its compile-time maximum (1e9).
_REPORT_VALUE_BYTES = 2**31 - 1
# How long opening the on-disk file waits for another process to let go of it (an agent
# being restarted whose predecessor is still closing); the engine waits on its event loop.
LOCK_WAIT_SECONDS = 2.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS _pa_reports (report_id INTEGER PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _pa_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(Exception):
    """A store operation other than a policy query failed."""


class QueryLimitError(sqlite3.OperationalError):
    """A policy query returned more than ``max_rows`` rows (its limits allow no more)."""

    def __init__(self, max_rows: int) -> None:
        noun = "row" if max_rows == 1 else "rows"
        super().__init__(f"query returns more than {max_rows} {noun}")
        self.max_rows = max_rows


@dataclass(frozen=True)
class QueryLimits:
    """Limits for one policy query (KPI, device identity, privacy guard read).

    A query over its deadline fails with ``sqlite3.OperationalError`` ("interrupted"), one
    making a longer string or blob with ``sqlite3.DataError`` ("string or blob too big"), one
    returning more rows with :class:`QueryLimitError`; each counts a query error.
    """

    max_seconds: float = 2.0  # wall clock: the event loop waits that long at most
    max_rows: int = 1_000_000  # the privacy guard reads every distinct operator text
    max_value_bytes: int = MAX_VALUE_BYTES  # longest string or blob made or read


# A SQL KPI returns one row (its JSON text); the other limits are the defaults.
KPI_QUERY_LIMITS = QueryLimits(max_rows=1)


def quote(identifier: str) -> str:
    """An SQL identifier, double-quoted."""
    return '"' + identifier.replace('"', '""') + '"'


def _uniform_values(
    rows: Sequence[Mapping[str, object]], columns: Sequence[str], width: int | None = None
) -> list[tuple[object, ...]] | None:
    """The rows' values in ``columns`` order when every row has exactly ``width`` keys
    (``len(columns)`` unless told) and all of ``columns``, else None: the usual case, one
    normalisation makes every row alike.  map and itemgetter fetch the values in C."""
    if not columns:
        return None
    if set(map(len, rows)) - {len(columns) if width is None else width}:
        return None
    get = itemgetter(*columns)
    try:
        if len(columns) == 1:
            return [(get(row),) for row in rows]
        return list(map(get, rows))
    except KeyError:
        return None


_READ_TIME = itemgetter(TS_COLUMN)
_ALL_BUT_LAST = itemgetter(slice(None, -1))


class _Content:
    """What a ``replace`` batch left in its table: its columns (``_ts`` last) and rows.

    A later batch matches when its values without the read time are equal, in order.
    Equal is not always alike once stored: 1, 1.0 and True are equal in Python, and an
    INTEGER or REAL column stores them alike, but a TEXT column stores '1', '1.0' and '1'.
    So when a TEXT column (or one the policy does not declare) holds anything but text and
    NULL, the value types must match too; text is only ever equal to text and NULL to NULL,
    so otherwise equality is enough.  All this is worked out when a batch is first compared
    with this one, so a batch that is never repeated costs nothing here.
    """

    __slots__ = ("_first", "_get", "_rest", "_rows", "_spec", "_types", "columns", "count")

    def __init__(
        self, columns: tuple[str, ...], rows: list[tuple[object, ...]], spec: TableSpec | None
    ) -> None:
        self.columns = columns
        self.count = len(rows)
        self._get = itemgetter(*columns[:-1])  # a row's values without the read time
        self._first = self._get(dict(zip(columns, rows[0], strict=True))) if rows else None
        self._rows: list[tuple[object, ...]] | None = rows
        self._spec = spec  # the policy's column types, if the table is the policy's
        self._rest: list[tuple[object, ...]] | None = None
        self._types: list[type] | None = None  # every value's type, when they matter

    def may_match(self, first: Mapping[str, object]) -> bool:
        """A cheap early answer: False when the first row already differs."""
        return bool(self._get(first) == self._first)

    def matches(self, rest: list[tuple[object, ...]]) -> bool:
        """Whether ``rest`` (values without the read time) are this content."""
        if self._rest is None:
            assert self._rows is not None
            self._rest, self._rows = list(map(_ALL_BUT_LAST, self._rows)), None
            declared = {c.name: c.type for c in self._spec.columns} if self._spec else {}
            # TEXT columns, and columns the policy does not declare (no known conversion).
            typed = [
                i for i, c in enumerate(self.columns[:-1]) if declared.get(c, "text") == "text"
            ]
            if typed:
                picked = map(itemgetter(*typed), self._rest)
                values = picked if len(typed) == 1 else chain.from_iterable(picked)
                if set(map(type, values)) - {str, type(None)}:
                    self._types = list(map(type, chain.from_iterable(self._rest)))
        if rest != self._rest:
            return False
        return self._types is None or list(map(type, chain.from_iterable(rest))) == self._types


@functools.lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _insert_sql(table: str, columns: tuple[str, ...], rows: int) -> str:
    """``INSERT`` of ``rows`` rows; the text is stable, so the statement is prepared once."""
    one = "(" + ", ".join("?" * len(columns)) + ")"
    return (
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES {', '.join(repeat(one, rows))}"
    )


@functools.lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _policy_sql(sql: str) -> str:
    """A policy query's own statement text (see the module docstring); the same string
    object every time, so the statement cache does not hash it again."""
    return POLICY_QUERY_TAG + sql


@functools.lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _update_ts_sql(table: str) -> str:
    return f"UPDATE {quote(table)} SET {quote(TS_COLUMN)} = ?"


@functools.lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _delete_sql(table: str) -> str:
    return f"DELETE FROM {quote(table)}"


@functools.lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _select_all_sql(table: str) -> str:
    return f"SELECT * FROM {quote(table)}"


def _aligned(
    rows: Sequence[Mapping[str, object]], columns: tuple[str, ...]
) -> tuple[tuple[str, ...], list[list[object]]]:
    """Rows with different columns: every column any row has, NULL where a row has none."""
    names = list(columns)
    known = set(names)
    for row in rows:
        for key in row:
            if key not in known:
                known.add(key)
                names.append(key)
    return tuple(names), [[row.get(c) for c in names] for row in rows]


def _insert_rows(
    conn: sqlite3.Cursor,
    table: str,
    columns: tuple[str, ...],
    values: Sequence[Sequence[object]],
) -> None:
    """Insert ``values`` (rows in ``columns`` order) with multi-row INSERTs.

    One statement step per row costs more than binding its values, so rows go in chunks
    of ``chunk`` (a power of two) through one statement, and the remainder through one
    statement each of the remainder's binary digits (25 rows: 16 + 8 + 1).  A table thus
    uses at most log2(chunk) + 1 statement texts, each prepared once and cached.
    """
    width = len(columns)
    chunk = MAX_ROWS_PER_INSERT
    while chunk > 1 and chunk * width > MAX_PARAMETERS:
        chunk //= 2
    flat = list(chain.from_iterable(values))
    count = len(values)
    step = chunk * width
    full = count // chunk
    if full:
        conn.executemany(
            _insert_sql(table, columns, chunk),
            [flat[i : i + step] for i in range(0, full * step, step)],
        )
    done = full * chunk
    size = chunk // 2
    while done < count:
        if count - done >= size:
            conn.execute(
                _insert_sql(table, columns, size), flat[done * width : (done + size) * width]
            )
            done += size
        size //= 2


class Store:
    """The SQLite data store; used from one thread (the engine's event loop) at a time."""

    def __init__(
        self,
        stats: Statistics,
        state_dir: Path | None,
        mode: StorageMode = "in-memory",
        *,
        query_limits: QueryLimits | None = None,
    ) -> None:
        if mode == "on-disk" and state_dir is None:
            raise StoreError("on-disk storage needs a state directory")
        self._stats = stats
        # Limits of policy queries that do not bring their own (device identity, privacy
        # guard reads); SQL KPIs bring theirs (kpi.SqlEvaluator).
        self.query_limits = query_limits or QueryLimits()
        self._deadline: float = _NO_DEADLINE  # perf_counter_ns at which a policy query stops
        self._state_dir = state_dir
        self._tables: dict[str, TableSpec] = {}
        self._read_only = False
        # What the last ``replace`` batch of each table stored (see ``write_batch``), valid
        # while nothing else changed the table.  Nothing outside the store can: on disk the
        # file is locked for this connection alone (``_open``).
        self._latest: dict[str, _Content] = {}
        self.mode: StorageMode = mode
        self._conn = self._open(mode)
        # Reused by the hot paths (writes, queries): a new cursor per statement costs more
        # than some of the statements.  Every use runs to completion before the next.
        self._cursor = self._conn.cursor()
        if mode == "in-memory" and self.disk_path is not None and self.disk_path.exists():
            # Storage was switched to in-memory while the agent was down: bring the data
            # along, as a switch at run time would, and leave nothing behind on disk.  The
            # file is opened locked, as for on-disk storage: a file another agent holds
            # fails here (the backup API would wait for it without end).
            try:
                disk = self._open("on-disk")
            except StoreError:
                self._conn.close()
                raise
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
        conn = sqlite3.connect(
            target,
            timeout=LOCK_WAIT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=STATEMENT_CACHE_SIZE,
        )
        conn.set_authorizer(self._authorize)
        # Installed once (setting and removing it per query costs more than its calls): it
        # stops a statement once a policy query's deadline is past; outside policy queries
        # the deadline is never reached.
        conn.set_progress_handler(self._past_deadline, PROGRESS_EVERY)
        # Strings and blobs stay within a policy query's limit, which also bounds what one
        # SQL function call can allocate; only the report methods, whose documents hold
        # many KPI values, lift it while they run (``_long_values``).  Collected values are
        # device leaves, far shorter.
        conn.setlimit(_LENGTH, MAX_VALUE_BYTES)
        conn.execute("PRAGMA temp_store=MEMORY")  # sorts and DISTINCTs never touch a file
        # Deleted content is overwritten with zeros, not left in free pages (see the module
        # docstring); set per connection, so the connection a switch opens has it too.
        conn.execute("PRAGMA secure_delete=ON")
        # The page cache stays at SQLite's default (2 MiB): a 4 800-port switch's tables
        # take about 1 MiB of pages, so every read after the first is served from memory.
        return conn

    def _open(self, mode: StorageMode) -> sqlite3.Connection:
        if mode == "in-memory":
            return self._connect(":memory:")
        assert self.disk_path is not None
        self.disk_path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect(self.disk_path)
        try:
            # The agent alone uses the file while it runs: no other process can change the
            # collected rows or a report before it is sent (what an operator audits over
            # NETCONF is what leaves the device), and a second agent started on the same
            # state directory stops here instead of writing alongside.  It also makes every
            # transaction cheaper: no file locks to take and release, and the WAL index
            # lives in this process's memory (no -shm file), as it is set before WAL mode.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            # WAL with synchronous=NORMAL: a commit appends to the WAL file without an
            # fsync (the WAL is synced at checkpoints).  A power loss can lose the last
            # transactions (the last reads, a report generated just before), never corrupt
            # the file: SQLite ignores a WAL tail that was not completely written.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Take the lock now (the first read does), so a busy file fails here.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            conn.close()
            raise StoreError(
                f"{self.disk_path}: {exc} (another agent using the same state directory?)"
            ) from exc
        # A WAL index file left by a version of the agent that shared the file is unused now.
        with contextlib.suppress(FileNotFoundError):
            self.disk_path.with_name(self.disk_path.name + "-shm").unlink()
        return conn

    def _past_deadline(self) -> bool:
        return perf_counter_ns() > self._deadline

    @contextlib.contextmanager
    def _long_values(self) -> Iterator[sqlite3.Connection]:
        """The connection, with the string/blob length limit lifted (report documents)."""
        conn = self._conn
        conn.setlimit(_LENGTH, _REPORT_VALUE_BYTES)
        try:
            yield conn
        finally:
            conn.setlimit(_LENGTH, MAX_VALUE_BYTES)

    def _remove_disk_files(self) -> None:
        assert self.disk_path is not None
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                self.disk_path.with_name(self.disk_path.name + suffix).unlink()

    def switch(self, mode: StorageMode) -> None:
        """Move the whole store to ``mode``; the data carries over (SQLite backup API)."""
        if mode == self.mode:
            return
        if mode == "on-disk" and self.disk_path is None:
            raise StoreError("on-disk storage needs a state directory")
        # On disk this takes the file's lock first, so a file another agent holds is left
        # alone (StoreError).  A file left from an earlier run is overwritten whole by the
        # backup, and the checkpoints leave none of its pages in the WAL or past the end.
        new = self._open(mode)
        try:
            if mode == "on-disk":
                new.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            self._conn.backup(new)
            if mode == "on-disk":
                new.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            new.close()
            raise StoreError(f"cannot move the data store to {mode}: {exc}") from exc
        self._forget_contents()
        old, self._conn, self.mode = self._conn, new, mode
        self._cursor = new.cursor()
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
        cursor = self._cursor  # no new cursor object for BEGIN and COMMIT
        cursor.execute("BEGIN")
        try:
            yield self._conn
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def _forget_contents(self) -> None:
        """Rows changed other than by a ``replace`` batch: no table's content is known."""
        self._latest.clear()

    # --- tables -------------------------------------------------------------------------

    def ensure_tables(self, tables: Sequence[TableSpec]) -> None:
        """Create the policy's tables; recreate those whose columns changed, drop the rest.

        Rows of a table whose definition changed cannot be trusted by the new policy's
        KPIs, so they go.
        """
        wanted = {t.name: t for t in tables}
        self._forget_contents()
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
        """Insert ``rows`` (column -> value) in one transaction, counted as one write, and
        each row it stores as a single write, timed by the statements that store the rows
        (a multi-row INSERT's time is shared by its rows).

        ``replace`` first deletes the table's rows (a table keeping only the latest read).
        Columns missing from a row are NULL.

        A ``replace`` batch whose rows are exactly the ones the previous ``replace`` batch of
        the table stored (same columns, values, value types and order; only the read time
        differs, one time for every row) is stored as one ``UPDATE`` of the read time: the
        table ends up exactly as a delete and re-insert would leave it, at a fraction of the
        cost.  Configuration read every period is mostly unchanged, so most of its batches
        take this path.  The store trusts a table's remembered content only while nothing
        else has changed the table: its own prunes, clears and appends forget it.
        """
        start = perf_counter_ns()
        try:
            columns = tuple(rows[0]) if rows else ()
            if TS_COLUMN in columns and columns[-1] != TS_COLUMN:
                columns = (*(c for c in columns if c != TS_COLUMN), TS_COLUMN)
            cursor = self._cursor
            with self._transaction():
                if replace and self._store_if_unchanged(cursor, table, rows, columns):
                    return
                self._latest.pop(table, None)
                if replace:
                    cursor.execute(_delete_sql(table))
                uniform = _uniform_values(rows, columns) if rows else []
                values: Sequence[Sequence[object]]
                if uniform is None:
                    columns, values = _aligned(rows, columns)
                else:
                    values = uniform
                    if replace and len(columns) > 1 and columns[-1] == TS_COLUMN:
                        self._latest[table] = _Content(columns, uniform, self._tables.get(table))
                if values:
                    stored = perf_counter_ns()
                    _insert_rows(cursor, table, columns, values)
                    self._stats.record_ns(_SINGLE_WRITES, perf_counter_ns() - stored, len(values))
        except BaseException:
            self._latest.pop(table, None)
            raise
        finally:
            self._stats.record_ns(_WRITES, perf_counter_ns() - start)

    def _store_if_unchanged(
        self,
        cursor: sqlite3.Cursor,
        table: str,
        rows: Sequence[Mapping[str, object]],
        columns: tuple[str, ...],
    ) -> bool:
        """Update the read time alone if ``rows`` are the table's content (see write_batch)."""
        known = self._latest.get(table)
        if known is None or known.columns != columns or known.count != len(rows):
            return False
        try:
            if not known.may_match(rows[0]):
                return False
        except KeyError:
            return False
        # One read time for every row, and every row has the same keys (the columns).
        try:
            times = set(map(_READ_TIME, rows))
        except (KeyError, TypeError):  # no read time, or an unhashable one
            return False
        if len(times) != 1:
            return False
        rest = _uniform_values(rows, columns[:-1], len(columns))
        if rest is None or not known.matches(rest):
            return False
        start = perf_counter_ns()
        cursor.execute(_update_ts_sql(table), (times.pop(),))
        self._stats.record_ns(_SINGLE_WRITES, perf_counter_ns() - start, len(rows))
        return True

    def prune(self, before: float) -> int:
        """Delete rows read before ``before`` from the tables that keep a period's history
        (a report now covers them); returns how many rows went."""
        removed = 0
        self._forget_contents()
        with self._transaction() as conn:
            for spec in self._tables.values():
                if spec.history == "period":
                    cur = conn.execute(
                        f"DELETE FROM {quote(spec.name)} WHERE {TS_COLUMN} < ?", (before,)
                    )
                    removed += cur.rowcount
        return removed

    def clear_collected(self) -> None:
        """Delete every collected row (``enabled false``); reports stay.

        The rows are gone from the files too: ``secure_delete`` zeroes them in the database,
        and on disk the WAL, which still holds the pages as they were, is checkpointed into
        the database and truncated to zero bytes.
        """
        self._forget_contents()
        with self._transaction() as conn:
            for name in self._tables:
                conn.execute(f"DELETE FROM {quote(name)}")
        if self.mode == "on-disk" and not self._conn.in_transaction:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def row_count(self, table: str) -> int:
        (count,) = self._conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()
        return int(count)

    # --- queries ------------------------------------------------------------------------

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run several queries in one read transaction: no query pays for starting its own
        (about 1.5 µs each on disk).  Nothing else writes meanwhile: the engine runs them
        one after the other, and no other process can open the file (``_open``)."""
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def query(
        self, sql: str, params: Sequence[object] = (), *, limits: QueryLimits | None = None
    ) -> list[tuple[object, ...]]:
        """Run a read-only policy query (KPIs, device identity); counted and timed as a query.

        ``limits`` (the store's ``query_limits`` unless given) bound its time, rows and
        value lengths.  A failure (syntax, missing table, an attempt to write, a limit)
        counts a query error and raises ``sqlite3.Error``.
        """
        start = perf_counter_ns()
        if limits is None:
            limits = self.query_limits
        max_rows, longest = limits.max_rows, limits.max_value_bytes
        # The progress handler aborts the running statement once this is past (its step
        # fails with "interrupted").
        self._deadline = start + limits.max_seconds * 1e9
        if longest != MAX_VALUE_BYTES:  # the connection's own setting needs no calls
            self._conn.setlimit(_LENGTH, longest)
        self._read_only = True
        try:
            cursor = self._cursor.execute(_policy_sql(sql), params)
            rows = cursor.fetchmany(max_rows + 1)  # these steps run under the deadline too
            if len(rows) > max_rows:
                # The statement is not finished: closing its cursor resets it, so it holds
                # no read transaction open.
                cursor.close()
                self._cursor = self._conn.cursor()
                raise QueryLimitError(max_rows)
            return rows
        except sqlite3.Error:
            self._stats.increment(Counter.QUERY_ERRORS)
            raise
        finally:
            self._read_only = False
            self._deadline = _NO_DEADLINE
            if longest != MAX_VALUE_BYTES:
                self._conn.setlimit(_LENGTH, MAX_VALUE_BYTES)
            self._stats.record_ns(_QUERIES, perf_counter_ns() - start)

    def rows(self, table: str) -> list[dict[str, object]]:
        """Every row of a policy table as column -> value (for Lua KPIs); counted as a query."""
        if table not in self._tables:
            raise sqlite3.OperationalError(f"no such table: {table}")
        start = perf_counter_ns()
        self._read_only = True
        try:
            cur = self._cursor.execute(_select_all_sql(table))
            names = [d[0] for d in cur.description]
            # map/zip build the dicts without a Python-level loop per row.
            return list(map(dict, map(zip, repeat(names), cur.fetchall())))
        finally:
            self._read_only = False
            self._stats.record_ns(_QUERIES, perf_counter_ns() - start)

    # --- reports and engine state -------------------------------------------------------

    def put_report(self, report_id: int, document: str, *, replace: bool = False) -> None:
        """Store a report document; an existing id is an error unless ``replace``.

        One statement in its own transaction: one write of one row (a single write)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        start = perf_counter_ns()
        stored = False
        try:
            with self._long_values() as conn:
                conn.execute(
                    f"{verb} INTO _pa_reports (report_id, document) VALUES (?, ?)",
                    (report_id, document),
                )
            stored = True
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"report {report_id} already exists") from exc
        finally:  # a failed write counts, as a failed batch does; it stored no row
            took = perf_counter_ns() - start
            self._stats.record_ns(_WRITES, took)
            if stored:
                self._stats.record_ns(_SINGLE_WRITES, took)

    def reports(self) -> dict[int, str]:
        """Every stored report, id -> document, in id order."""
        with self._long_values() as conn:
            cur = conn.execute("SELECT report_id, document FROM _pa_reports ORDER BY report_id")
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
