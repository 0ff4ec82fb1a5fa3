"""The Lua sandbox: what a KPI script can do, what it cannot reach, and its limits."""

from __future__ import annotations

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
