"""The Lua sandbox: what a KPI script can do, what it cannot reach, and its limits."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent.engine.lua_sandbox import LuaSandbox, LuaSandboxError, SandboxLimits

ROWS = {
    "optics": [{"pid": "GLC-SX-MMD", "slot": 9}, {"pid": "GLC-SX-MMD", "slot": 10}],
    "chassis": [{"name": "Switch1", "serial": "FOC2320V0J9", "missing": None}],
}

# Small limits keep the failing cases fast.
FAST = SandboxLimits(max_instructions=2_000_000, max_seconds=2.0, max_memory=4 * 1024 * 1024)


@pytest.fixture
def sandbox() -> LuaSandbox:
    return LuaSandbox(FAST)


def fails(sandbox: LuaSandbox, script: str, reason: str) -> str:
    with pytest.raises(LuaSandboxError) as info:
        sandbox.run(script, ROWS)
    assert info.value.reason == reason, info.value
    return info.value.message


def test_rows_arrive_as_lua_tables_and_results_convert(sandbox: LuaSandbox) -> None:
    script = """
    local counts = {}
    for _, row in ipairs(tables.optics) do counts[row.pid] = (counts[row.pid] or 0) + 1 end
    local out = {}
    for pid, n in pairs(counts) do out[#out + 1] = object("PID", pid, "COUNT", n) end
    return out
    """
    assert sandbox.run(script, ROWS) == [{"PID": "GLC-SX-MMD", "COUNT": 2}]


def test_object_keeps_key_order_and_plain_tables_sort(sandbox: LuaSandbox) -> None:
    ordered = sandbox.run('return { object("CN", "a", "SN", "b", "PID", "c") }', ROWS)
    assert isinstance(ordered, list)
    assert list(ordered[0]) == ["CN", "SN", "PID"]
    plain = sandbox.run("return { { z = 1, a = 2, m = 3 } }", ROWS)
    assert isinstance(plain, list)
    assert list(plain[0]) == ["a", "m", "z"]


def test_null_columns_are_absent_and_types_survive(sandbox: LuaSandbox) -> None:
    script = """
    local c = tables.chassis[1]
    return { tostring(c.missing), math.type(tables.optics[1].slot), #tables.optics,
             1.5, true, {} }
    """
    assert sandbox.run(script, ROWS) == ["nil", "integer", 2, 1.5, True, []]


@pytest.mark.parametrize(
    "name", ["io", "os", "require", "package", "debug", "dofile", "loadfile", "python"]
)
def test_dangerous_globals_are_absent(sandbox: LuaSandbox, name: str) -> None:
    assert sandbox.run(f"return {{ type({name}) }}", ROWS) == ["nil"]


def test_more_dangerous_functions_are_absent(sandbox: LuaSandbox) -> None:
    script = """
    return { type(string.dump), type(("").dump), type(collectgarbage), type(coroutine),
             type(getmetatable("")), type(rawget(_G, "os")) }
    """
    assert sandbox.run(script, ROWS) == ["nil", "nil", "nil", "nil", "boolean", "nil"]


def test_load_accepts_text_only(sandbox: LuaSandbox) -> None:
    assert sandbox.run('return { load("return 40 + 2")() }', ROWS) == [42]
    # A binary chunk (the "\27Lua" signature) is refused in text mode.
    result = sandbox.run('local f, err = load("\\27Lua\\84\\0") return { f == nil, err }', ROWS)
    assert isinstance(result, list)
    assert result[0] is True
    assert "binary" in str(result[1])
    # A loaded chunk runs in the sandbox too.
    assert sandbox.run('return { load("return type(os)")() }', ROWS) == ["nil"]


def test_python_objects_are_unreachable(sandbox: LuaSandbox) -> None:
    # Rows are plain Lua tables, not Python proxies with attributes to climb.
    assert sandbox.run("return { type(tables.chassis[1]) }", ROWS) == ["table"]
    assert sandbox.run("return { tostring(tables.chassis[1].__class__) }", ROWS) == ["nil"]


def test_infinite_loop_hits_the_instruction_limit(sandbox: LuaSandbox) -> None:
    assert "instructions" in fails(sandbox, "while true do end", "instruction-limit")


def test_pcall_cannot_swallow_the_limit(sandbox: LuaSandbox) -> None:
    script = "while true do pcall(function() while true do end end) end"
    fails(sandbox, script, "instruction-limit")
    fails(sandbox, "while true do pcall(error) end", "instruction-limit")


def test_cpu_time_limit() -> None:
    # A huge instruction budget leaves only the CPU-time limit to stop the loop.
    sandbox = LuaSandbox(SandboxLimits(max_instructions=10**12, max_seconds=0.05))
    with pytest.raises(LuaSandboxError) as info:
        sandbox.run("local x = 0 while true do x = x + 1 end", ROWS)
    assert info.value.reason == "time-limit"


@pytest.mark.parametrize(
    "script",
    [
        "local t = {} while true do t[#t + 1] = string.rep('x', 1000) .. #t end",
        "local s = 'x' while true do s = s .. s end",
        "local ok = pcall(function() local t = {} while true do t[#t + 1] = {} end end) "
        "return { ok }",
    ],
)
def test_memory_bomb_hits_the_memory_limit(sandbox: LuaSandbox, script: str) -> None:
    fails(sandbox, script, "memory-limit")


def test_memory_limit_is_beyond_the_input_rows() -> None:
    # Input rows larger than the script's own allowance still load.
    big = {"t": [{"v": "x" * 100, "i": i} for i in range(20_000)]}
    sandbox = LuaSandbox(SandboxLimits(max_memory=1024 * 1024))
    assert sandbox.run("return { #tables.t }", big) == [20_000]


def test_runtime_and_syntax_errors(sandbox: LuaSandbox) -> None:
    assert "boom" in fails(sandbox, 'error("boom")', "runtime")
    assert "nil value" in fails(sandbox, "return os.time()", "runtime")
    fails(sandbox, "this is not lua", "syntax")


@pytest.mark.parametrize(
    ("script", "needle"),
    [
        ("return function() end", "function"),
        ("return 0/0", "nan"),
        ("return { [1] = 1, a = 2 }", "mixes"),
        ("return { 1, 2, nil, 4 }", "mixes"),
        ("local t = {} t.t = t return t", "nested"),
        ("return { [true] = 1 }", "mixes"),
    ],
)
def test_results_without_a_json_form_are_refused(
    sandbox: LuaSandbox, script: str, needle: str
) -> None:
    assert needle in fails(sandbox, script, "bad-result")


def test_no_state_carries_over_between_runs(sandbox: LuaSandbox) -> None:
    sandbox.run("leaked = 1 string.upper = nil return {}", ROWS)
    assert sandbox.run("return { type(leaked), type(string.upper) }", ROWS) == [
        "nil",
        "function",
    ]


@pytest.mark.parametrize(
    "script",
    ["return { string.char(255) }", "return { [string.char(255)] = 1 }", "error(string.char(255))"],
)
def test_invalid_utf8_fails_cleanly(sandbox: LuaSandbox, script: str) -> None:
    with pytest.raises(LuaSandboxError):
        sandbox.run(script, ROWS)


# Runs one script in a fresh interpreter, limited to 0.2 s of CPU time, and prints the
# outcome as JSON once the sandbox (and its Lua runtime) is gone: script code that escaped
# the limits (it ran after the hook was removed, or in a finalizer, where Lua switches hooks
# off) would hang there, and the parent sees a timeout instead of a failure of the test run.
_ISOLATED = """
import gc, json, sys
from agent.engine.lua_sandbox import LuaSandbox, LuaSandboxError, SandboxLimits

def outcome():
    sandbox = LuaSandbox(SandboxLimits(max_instructions=10**12, max_seconds=0.2))
    try:
        return {"value": sandbox.run(sys.argv[1], {})}
    except LuaSandboxError as exc:
        return {"reason": exc.reason, "message": exc.message}

result = outcome()
gc.collect()
print(json.dumps(result))
"""
LOOP = "function() while true do end end"


def run_isolated(script: str) -> dict[str, object]:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _ISOLATED, script],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the script escaped the sandbox's limits and never ended: {script}")
    outcome: dict[str, object] = json.loads(done.stdout)
    return outcome


@pytest.mark.parametrize(
    ("script", "reason", "needle"),
    [
        # An error object's __tostring runs while the limits still apply.
        (f"error(setmetatable({{}}, {{__tostring = {LOOP}}}))", "time-limit", "CPU time"),
        # Finalizers run with hooks off, during the run or when the runtime is closed.
        (f"setmetatable({{}}, {{__gc = {LOOP}}}) return {{ 1 }}", "runtime", "__gc"),
        (
            f"local mt = {{__gc = {LOOP}}} for i = 1, 1e5 do setmetatable({{}}, mt) end",
            "runtime",
            "__gc",
        ),
        ("setmetatable({}, {__gc = true}) return { 1 }", "runtime", "__gc"),
        # The environment's metatable: the sandbox's own clean-up after the run is raw.
        (
            f"tables = nil setmetatable(_G, {{__newindex = {LOOP}, __index = {LOOP}}}) "
            "return { 1 }",
            None,
            None,
        ),
        # To-be-closed variables close inside the protected call, under the limits.
        (
            f"local x <close> = setmetatable({{}}, {{__close = {LOOP}}}) return {{}}",
            "time-limit",
            "",
        ),
        (
            f"local x <close> = setmetatable({{}}, {{__close = {LOOP}}}) error('x')",
            "time-limit",
            "",
        ),
    ],
)
def test_script_code_never_runs_outside_the_limits(
    script: str, reason: str | None, needle: str | None
) -> None:
    outcome = run_isolated(script)
    if reason is None:
        assert outcome == {"value": [1]}
    else:
        assert outcome["reason"] == reason, outcome
        assert needle is not None and needle in str(outcome["message"]), outcome


def test_a_metatable_without_gc_is_still_allowed(sandbox: LuaSandbox) -> None:
    script = """
    local mt = { __index = function(t, k) return k .. "!" end, __mode = "k" }
    local t = setmetatable({}, mt)
    mt.__gc = function() end  -- too late: Lua marks objects when the metatable is set
    return { t.x, getmetatable(t) == mt }
    """
    assert sandbox.run(script, ROWS) == ["x!", True]


def test_results_convert_with_raw_access(sandbox: LuaSandbox) -> None:
    # The result's metamethods are not called: converting it runs no script code.
    script = f"""
    local mt = {{ __index = {LOOP}, __len = {LOOP}, __pairs = {LOOP}, __tostring = {LOOP},
                 __name = "x", __eq = {LOOP}, __call = {LOOP} }}
    return setmetatable({{ setmetatable({{ a = 1 }}, mt) }}, mt)
    """
    assert sandbox.run(script, ROWS) == [{"a": 1}]
    key = f"return {{ [setmetatable({{}}, {{ __tostring = {LOOP} }})] = 1 }}"
    assert "mixes" in fails(sandbox, key, "bad-result")


def test_error_objects_are_described(sandbox: LuaSandbox) -> None:
    assert fails(sandbox, "error(42)", "runtime") == "42"
    assert "table" in fails(sandbox, "error({})", "runtime")
    tostring = 'error(setmetatable({}, { __tostring = function() return "custom" end }))'
    assert fails(sandbox, tostring, "runtime") == "custom"
    bad = "error(setmetatable({}, { __tostring = function() return {} end }))"
    assert fails(sandbox, bad, "runtime") == "(error object is a table value)"
