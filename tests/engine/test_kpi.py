"""KPI evaluators: SQL and Lua values, validation, failures, privacy drops, statistics."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from kpi_helpers import SEED_PERIOD_END, SEED_VALUES, FakeEngine, fill, make_engine, make_policy

from agent.engine.kpi import (
    KpiError,
    KpiResult,
    SqlEvaluator,
    compute_all,
    evaluator_for,
    register,
    to_value_text,
)
from agent.engine.lua_sandbox import LuaSandbox, SandboxLimits
from agent.engine.policy import KpiSpec
from agent.engine.privacy import PrivacyGuard
from agent.engine.stats import Counter
from agent.engine.store import DB_FILE, QueryLimits, Store


def run(engine: FakeEngine, guard: PrivacyGuard | None = None) -> dict[str, KpiResult]:
    results = compute_all(
        engine.policy_info.policy.kpis,
        engine.store,
        engine.stats,
        engine.events,
        SEED_PERIOD_END,
        guard=guard,
    )
    return {r.name: r for r in results}


def events(engine: FakeEngine) -> list[tuple[str, int, str]]:
    return [(e.event, e.rc, e.context) for e in engine.events.entries()]


def test_seed_kpis_compute_the_seed_values(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    fill(engine.store)
    guard = PrivacyGuard.from_store(engine.policy_info.policy, engine.store)
    results = run(engine, guard)
    assert {name: r.value for name, r in results.items()} == SEED_VALUES
    assert all(r.error is None and r.computed_at == SEED_PERIOD_END for r in results.values())
    assert results["counters"].category == "serviceability"
    # One computation pass per kind, as the seed's stats count them.
    assert engine.stats.count(Counter.SQL_COMPUTATIONS) == 1
    assert engine.stats.count(Counter.LUA_COMPUTATIONS) == 1
    assert engine.stats.count(Counter.KPI_ERRORS) == 0
    assert engine.stats.count(Counter.QUERIES) >= 4  # SQL KPIs and Lua row reads
    assert events(engine) == []


def test_values_follow_the_data(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    fill(engine.store)
    engine.store.write_batch("ospf_process", [{"id": 1}])
    engine.store.write_batch("transceiver", [{"pid": "GLC-SX-MMD"}])
    engine.store.write_batch("stack", [{"member": 2}])
    results = run(engine)
    assert results["ospf"].value == '[{"enabled":"true"}]'
    assert results["optics_modules"].value == '[{"PID":"GLC-SX-MMD","COUNT":3}]'
    assert results["stack_members"].value == '[{"member_cnt":2}]'


BAD_KPIS: list[tuple[dict[str, Any], str]] = [
    ({"kind": "sql", "query": "SELECT json_array(x) FROM no_such_table"}, "SQL error"),
    ({"kind": "sql", "query": "SELECT '[1'"}, "not JSON"),
    ({"kind": "sql", "query": "SELECT '{\"a\": 1}'"}, "JSON array, not an object"),
    ({"kind": "sql", "query": "SELECT NULL"}, "returned NULL"),
    ({"kind": "sql", "query": "SELECT 1, 2"}, "not 2 columns"),
    ({"kind": "sql", "query": "SELECT '[]' FROM transceiver"}, "not more than 1 row"),
    ({"kind": "sql", "query": "SELECT '[]' WHERE 0"}, "not 0 rows"),
    # A huge string or blob is refused when asked for, not built.
    (
        {"kind": "sql", "query": "SELECT json_array(length(zeroblob(100000000)))"},
        "string or blob too big",
    ),
    ({"kind": "sql", "query": "DELETE FROM chassis"}, "SQL error"),
    ({"kind": "lua", "tables": ["stack"], "script": "while true do end"}, "instruction-limit"),
    (
        {"kind": "lua", "tables": [], "script": "local s = 'x' while true do s = s .. s end"},
        "memory",
    ),
    ({"kind": "lua", "tables": [], "script": "return 42"}, "JSON array, not a number"),
    ({"kind": "lua", "tables": [], "script": "error('bad day')"}, "bad day"),
    ({"kind": "lua", "tables": [], "script": "error(('long '):rep(1e4))"}, "long lo..."),
]


@pytest.mark.parametrize(("kpi", "needle"), BAD_KPIS)
def test_a_failing_kpi_is_recorded_and_the_others_go_on(
    tmp_path: Path, kpi: dict[str, Any], needle: str
) -> None:
    from kpi_helpers import SEED_KPIS

    engine = make_engine(tmp_path, make_policy([SEED_KPIS[0], {"name": "bad", **kpi}]))
    register_fast_lua()
    fill(engine.store)
    results = run(engine)
    assert results["ospf"].value == SEED_VALUES["ospf"]
    bad = results["bad"]
    assert bad.value is None
    assert bad.error is not None and needle in bad.error
    assert engine.stats.count(Counter.KPI_ERRORS) == 1
    [(event, rc, context)] = events(engine)
    assert (event, rc) == ("KPI_ERROR", 1)
    assert context.startswith("bad: ") and needle in context
    assert len(bad.error) <= 240
    if kpi["kind"] == "sql":
        assert engine.stats.count(Counter.QUERY_ERRORS) >= ("SQL error" in needle)
    # The store is unchanged by a KPI trying to write.
    assert engine.store.row_count("chassis") == 1


def register_fast_lua() -> None:
    """Small sandbox limits for the failure cases (restored by the autouse fixture)."""
    from agent.engine.kpi import LuaEvaluator

    register(LuaEvaluator(LuaSandbox(SandboxLimits(max_instructions=1_000_000))))


@pytest.fixture(autouse=True)
def restore_evaluators() -> Any:
    originals = [evaluator_for("lua"), evaluator_for("sql")]
    yield
    for original in originals:
        register(original)


RUNAWAY_SQL = [
    # Never ends: an unbounded recursive CTE.
    "SELECT json_array(count(*)) FROM "
    "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)",
    # Ends, after far too long: a cross join of the CTE with itself.
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) "
    "SELECT json_array(count(*)) FROM c AS a, c AS b",
]


@pytest.mark.parametrize("query", RUNAWAY_SQL)
def test_a_runaway_sql_kpi_is_stopped_and_the_others_go_on(tmp_path: Path, query: str) -> None:
    from kpi_helpers import SEED_KPIS

    kpis = [SEED_KPIS[0], {"name": "runaway", "kind": "sql", "query": query}, SEED_KPIS[5]]
    engine = make_engine(tmp_path, make_policy(kpis))
    register(SqlEvaluator(QueryLimits(max_seconds=0.2, max_rows=1)))
    fill(engine.store)
    # Without a deadline the query would never end: interrupt it after 10 s and fail.
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        engine.store._conn.interrupt()

    watchdog = threading.Timer(10.0, stop)
    watchdog.start()
    try:
        results = run(engine)
    finally:
        watchdog.cancel()
    assert not fired.is_set(), "the SQL KPI ran on without a deadline"
    assert results["runaway"].value is None
    assert results["runaway"].error == "SQL error: interrupted"
    assert [(e, rc, c) for e, rc, c in events(engine)] == [
        ("KPI_ERROR", 1, "runaway: SQL error: interrupted")
    ]
    assert engine.stats.count(Counter.QUERY_ERRORS) == 1
    assert engine.stats.count(Counter.KPI_ERRORS) == 1
    assert results["ospf"].value == SEED_VALUES["ospf"]
    assert results["counters"].value == SEED_VALUES["counters"]
    # The limit applies to that KPI's query only: the store's own work is not limited.
    engine.store.write_batch("stack", [{"member": m, "_ts": 2.0} for m in range(2000)])
    assert engine.store.row_count("stack") == 2001


LEAKY_KPIS: list[dict[str, Any]] = [
    {
        "name": "leak_hostname",
        "kind": "sql",
        "query": "SELECT json_array(json_object('host', hostname)) FROM system",
    },
    {
        "name": "leak_ip",
        "kind": "sql",
        "query": "SELECT json_array(json_object('ip', mgmt_ip)) FROM system",
    },
    {
        "name": "leak_description",
        "kind": "lua",
        "tables": ["interface"],
        "script": "return { { d = tables.interface[1].description } }",
    },
    {
        "name": "leak_free_text",
        "kind": "lua",
        "tables": ["interface"],
        "script": "return { { d = tables.interface[3].description } }",
    },
    {
        "name": "leak_in_key",
        "kind": "lua",
        "tables": ["system"],
        "script": "return { { [tables.system[1].hostname .. '-count'] = 1 } }",
    },
    {
        "name": "interface_count",
        "kind": "sql",
        "query": "SELECT json_array(json_object('count', count(*))) FROM interface",
    },
]


def test_leaky_policy_values_are_dropped(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, make_policy(LEAKY_KPIS))
    fill(engine.store)
    guard = PrivacyGuard.from_store(engine.policy_info.policy, engine.store)
    results = run(engine, guard)
    expected_rules = {
        "leak_hostname": "operator text",
        "leak_ip": "IPv4 address",
        "leak_description": "operator text",
        "leak_free_text": "free text",
        "leak_in_key": "operator text",
    }
    for name, rule in expected_rules.items():
        result = results[name]
        assert result.value is None and result.privacy_dropped, name
        assert result.error is not None and rule in result.error, (name, result.error)
    assert results["interface_count"].value == '[{"count":3}]'
    assert engine.stats.count(Counter.KPI_ERRORS) == len(expected_rules)
    dropped = {c.split(":")[0] for e, rc, c in events(engine) if e == "PRIVACY_DROP" and rc == 1}
    assert dropped == set(expected_rules)
    # The event history names the rule, never the leaked value.
    assert not any("line7" in c or "10.20" in c or "hall" in c for _, _, c in events(engine))


def test_patterns_apply_even_without_a_guard(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, make_policy(LEAKY_KPIS))
    fill(engine.store)
    results = run(engine, None)
    assert results["leak_ip"].privacy_dropped
    assert results["leak_hostname"].value == '[{"host":"line7-sw-east"}]'  # needs the store


def test_value_text_is_compact_and_validated() -> None:
    assert to_value_text([{"a": "ü", "b": [1, 2.5, None, True]}]) == (
        '[{"a":"ü","b":[1,2.5,null,true]}]'
    )
    with pytest.raises(KpiError):
        to_value_text({"a": 1})
    with pytest.raises(KpiError):
        to_value_text([float("nan")])
    with pytest.raises(KpiError):
        to_value_text(["x" * 70_000])


def test_kinds_are_plugins(tmp_path: Path) -> None:
    class Constant:
        kind = "sql"

        def evaluate(self, kpi: KpiSpec, store: Store) -> object:
            return [{"constant": kpi.name}]

    engine = make_engine(tmp_path, make_policy([{"name": "k", "kind": "sql", "query": "x"}]))
    results = compute_all(
        engine.policy_info.policy.kpis,
        engine.store,
        engine.stats,
        engine.events,
        0.0,
        evaluators={"sql": Constant()},
    )
    assert json.loads(results[0].value or "") == [{"constant": "k"}]
    unknown = compute_all(
        engine.policy_info.policy.kpis,
        engine.store,
        engine.stats,
        engine.events,
        0.0,
        evaluators={},
    )
    assert unknown[0].error == "unknown KPI kind 'sql'"


def test_a_pass_sees_one_view_of_the_store(tmp_path: Path) -> None:
    # Another process trying to add rows between two KPIs of one pass is refused (the
    # file is the agent's alone), so the second KPI counts what the first one saw.
    class CountThenInsert:
        kind = "sql"

        def __init__(self) -> None:
            self.other = sqlite3.connect(tmp_path / DB_FILE, isolation_level=None, timeout=0)
            self.refused = 0

        def evaluate(self, kpi: KpiSpec, store: Store) -> object:
            (count,) = store.query("SELECT count(*) FROM stack")[0]
            try:
                self.other.execute("INSERT INTO stack (member, _ts) VALUES (9, 1.0)")
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc)
                self.refused += 1
            return [{"members": count}]

    engine = make_engine(
        tmp_path, make_policy([{"name": n, "kind": "sql", "query": "x"} for n in "ab"])
    )
    fill(engine.store)
    evaluator = CountThenInsert()
    results = compute_all(
        engine.policy_info.policy.kpis,
        engine.store,
        engine.stats,
        engine.events,
        0.0,
        evaluators={"sql": evaluator},
    )
    assert [r.value for r in results] == ['[{"members":1}]', '[{"members":1}]']
    assert evaluator.refused == 2
    assert engine.store.query("SELECT count(*) FROM stack") == [(1,)]
    evaluator.other.close()
