"""A sandboxed Lua runtime (lupa, Lua 5.4) for Lua KPIs.

A Lua KPI is a chunk of Lua text that reads the collected rows from the global ``tables``
(``tables.NAME`` is an array of rows, each a table column name -> value; SQL NULLs are
absent keys) and returns a table, which is converted to Python lists/dicts for the JSON
value.  Lua has no key order, so the keys of a plain table come out sorted; the sandbox's
``object("k1", v1, "k2", v2, ...)`` makes an object that keeps its keys in that order.

What the script can reach is a fresh environment table holding only pure functions:
``assert error ipairs next pairs select tonumber tostring type rawequal rawlen rawget rawset
setmetatable getmetatable pcall xpcall load`` and copies of ``math string table utf8``.
Not reachable: ``io``, ``os``, ``require``, ``package``, ``debug``, ``dofile``, ``loadfile``,
``collectgarbage``, ``coroutine`` (a new coroutine does not inherit the instruction hook, so a
loop inside one could not be stopped), ``string.dump`` (removed from the real string table too,
since string methods reach it through the string metatable), lupa's ``python`` module, and
any Python object: rows are copied into plain Lua tables, never passed as Python proxies.
``load`` only accepts text (mode ``"t"``) and compiles into the same sandbox environment.
``setmetatable`` refuses a metatable with ``__gc``: Lua runs finalizers with hooks off (and
when the runtime is closed, after the run), where no limit could stop them.  No other script
code runs outside the limits: an error object's ``__tostring`` is called while the hook is
still set, and after the run the sandbox touches the environment, the result and the error
only with raw access (``__close`` handlers run inside the protected call, under the hook).

Limits, each making that one run fail with :class:`LuaSandboxError`:

* instructions: a count hook (``debug.sethook``, installed by trusted setup code before the
  environment is sealed) counts VM instructions and checks CPU time every ``HOOK_EVERY``
  instructions.  Once a limit is hit the hook raises on every tick, and the sandbox's
  ``pcall``/``xpcall`` re-raise it, so a script cannot swallow it.
* memory: lupa's ``max_memory`` allocator limit.  The rows handed in are loaded first (under
  their own, larger limit), then the limit is set to what they use plus ``max_memory`` for
  the script itself.

A fresh runtime is made per run (about 60 µs, see ``bench/engine_bench.py``): no state, global
or memory garbage carries over from one KPI to the next.

Known limit: the hook runs between VM instructions, so one long call into C is not
interrupted.  Lua patterns backtrack: ``string.find(("a"):rep(22), ("a?"):rep(22) ..
("a"):rep(22))`` spends 0.6 s inside one call, and every further ``a?`` doubles that.  Policies
are signed, so such a pattern is a policy author's mistake, not an attack; a hard wall-clock
limit for it would need the script to run in a separate process that can be killed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lupa import lua54

# Count-hook period: small enough to stop a loop promptly, large enough to cost little.
HOOK_EVERY = 1000
# Nesting depth and size limits for a returned value (a cycle hits the depth limit).
MAX_RESULT_DEPTH = 32
MAX_RESULT_ITEMS = 100_000

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
RowValue = None | bool | int | float | str | bytes


class LuaSandboxError(Exception):
    """A Lua KPI failed: syntax error, runtime error, a limit, or a bad return value.

    ``reason`` is one of ``syntax``, ``runtime``, ``instruction-limit``, ``time-limit``,
    ``memory-limit``, ``bad-result``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one Lua KPI run."""

    max_instructions: int = 10_000_000
    max_seconds: float = 2.0  # CPU seconds (os.clock), checked every HOOK_EVERY instructions
    max_memory: int = 32 * 1024 * 1024  # bytes the script may allocate beyond its input rows
    max_input_memory: int = 512 * 1024 * 1024  # bytes the rows handed in may take in Lua


# Trusted setup code: runs with the full standard library, captures what it needs as upvalues,
# and returns the only entry point, ``run``.  Nothing below is visible to KPI scripts except
# through ``env``.
_SETUP = """
local max_instructions, max_seconds, hook_every = ...
local real_pcall, real_xpcall, real_error, real_load = pcall, xpcall, error, load
local real_setmetatable, rawget, rawset, tostring = setmetatable, rawget, rawset, tostring
local clock, sethook = os.clock, debug.sethook
local pairs, type = pairs, type

string.dump = nil
getmetatable("").__metatable = false

local exceeded = nil
local executed = 0
local deadline = 0

local function hook()
  executed = executed + hook_every
  if exceeded == nil then
    if executed > max_instructions then
      exceeded = "instruction-limit: more than " .. max_instructions .. " instructions"
    elseif clock() > deadline then
      exceeded = "time-limit: more than " .. max_seconds .. " s of CPU time"
    end
  end
  if exceeded ~= nil then real_error(exceeded, 0) end
end

local function copy(lib)
  local c = {}
  for k, v in pairs(lib) do c[k] = v end
  return c
end

-- After a protected call, a hit limit or an out-of-memory error is raised again so that
-- the script's own pcall cannot swallow it.
local function rethrow(ok, ...)
  if exceeded ~= nil then real_error(exceeded, 0) end
  if not ok and (...) == "not enough memory" then real_error("not enough memory", 0) end
  return ok, ...
end

local env = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
  select = select, tonumber = tonumber, tostring = tostring, type = type,
  rawequal = rawequal, rawlen = rawlen, rawget = rawget, rawset = rawset,
  getmetatable = getmetatable,
  math = copy(math), string = copy(string), table = copy(table), utf8 = copy(utf8),
  _VERSION = _VERSION,
}
env._G = env
env.pcall = function(f, ...) return rethrow(real_pcall(f, ...)) end
env.xpcall = function(f, handler, ...) return rethrow(real_xpcall(f, handler, ...)) end
-- A finalizer runs with debug hooks off (Lua's GC disables them), during the run or when
-- the runtime is closed after it, so no limit could stop it: a metatable with __gc is
-- refused.  Lua marks an object for finalization only if __gc is present when the metatable
-- is set (raw lookup), so adding it to the metatable later has no effect.
env.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    real_error("setmetatable: __gc metamethods are not allowed", 2)
  end
  return real_setmetatable(t, mt)
end
-- object(k1, v1, k2, v2, ...): a JSON object that keeps its keys in this order (plain
-- tables have no key order; their keys are sorted when converted).
local key_order = setmetatable({}, {__mode = "k"})
env.object = function(...)
  local n = select("#", ...)
  local t, order = {}, {}
  for i = 1, n, 2 do
    local k, v = select(i, ...)
    if type(k) ~= "string" then real_error("object: keys must be strings", 2) end
    if t[k] == nil then order[#order + 1] = k end
    t[k] = v
  end
  key_order[t] = order
  return t
end
local function order_of(t) return key_order[t] end
env.load = function(chunk, name)
  if type(chunk) ~= "string" then real_error("load: only text chunks are allowed", 2) end
  return real_load(chunk, name, "t", env)
end

-- An error value as text.  Called while the hook is still set: an error object's
-- __tostring metamethod is script code and counts against the limits like the rest.
local function describe(err)
  local kind = type(err)
  if kind == "string" then return err end
  if kind == "number" then return tostring(err) end  -- numbers have no metamethods here
  local ok, text = real_pcall(tostring, err)
  if ok and type(text) == "string" then return text end
  return "(error object is a " .. kind .. " value)"
end

-- No script code may run once the hook is removed: everything after ``sethook()`` uses raw
-- access only (the script can give its environment, the result and the error object
-- metatables), and converting the result in Python reads tables raw too.
local function run(source, name, tables)
  local fn, err = real_load(source, "=" .. name, "t", env)
  if fn == nil then return false, "syntax", err end
  rawset(env, "tables", tables)
  executed, exceeded, deadline = 0, nil, clock() + max_seconds
  sethook(hook, "", hook_every)
  local ok, result = real_pcall(fn)
  local message = nil
  if not ok and exceeded == nil and result ~= "not enough memory" then
    local described
    described, message = real_pcall(describe, result)
    if not described then message = "(error object cannot be described)" end
  end
  sethook()
  rawset(env, "tables", nil)
  if exceeded ~= nil then return false, "limit", exceeded end
  if ok then return true, result end
  if result == "not enough memory" or message == "not enough memory" then
    return false, "memory-limit", "not enough memory"
  end
  return false, "runtime", message
end

return run, order_of
"""


def _deny_attribute(obj: object, name: object, is_setting: bool) -> object:
    # Defense in depth: no Python object is ever handed to a script, but if one were, its
    # attributes (and through them the interpreter) stay out of reach.
    raise AttributeError("Python attributes are not accessible from Lua KPIs")


class LuaSandbox:
    """Runs Lua KPI scripts in fresh, sandboxed Lua 5.4 runtimes."""

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()

    def run(
        self,
        script: str,
        rows: Mapping[str, Sequence[Mapping[str, RowValue]]],
        *,
        name: str = "kpi",
    ) -> JsonValue:
        """Run ``script`` with ``rows`` (table name -> rows) as the global ``tables``.

        Returns the script's result converted to JSON-compatible values.

        Raises LuaSandboxError on any failure.  The result must be a table (array or
        string-keyed map, nested as needed) of strings, finite numbers and booleans.
        """
        limits = self.limits
        runtime = lua54.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            attribute_filter=_deny_attribute,
            max_memory=limits.max_memory + limits.max_input_memory,
        )
        try:
            run, order_of = runtime.execute(
                _SETUP, limits.max_instructions, limits.max_seconds, HOOK_EVERY
            )
            # table_from leaves out None values, so SQL NULLs are absent keys in Lua.
            lua_rows = runtime.table_from(dict(rows), recursive=True)
            runtime.set_max_memory(runtime.get_memory_used() + limits.max_memory)
            outcome = run(script, name, lua_rows)
            ok, first, *rest = outcome if isinstance(outcome, tuple) else (outcome,)
            if not ok:
                message = str(rest[0]) if rest else ""
                reason = str(first)
                if reason == "limit":
                    reason, _, message = message.partition(": ")
                raise LuaSandboxError(reason, message)
            return _Converter(order_of).convert(first, 0)
        except lua54.LuaMemoryError as exc:
            raise LuaSandboxError("memory-limit", str(exc) or "not enough memory") from exc
        except lua54.LuaError as exc:  # errors outside the protected call, e.g. in table_from
            raise LuaSandboxError("runtime", str(exc)) from exc
        except UnicodeDecodeError as exc:  # Lua strings are bytes; text must be UTF-8
            raise LuaSandboxError("bad-result", f"a string is not valid UTF-8: {exc}") from exc


class _Converter:
    """Converts a Lua result into JSON-compatible Python values (lists and dicts)."""

    def __init__(self, order_of: Any) -> None:
        self._order_of = order_of
        self._items = 0

    def convert(self, value: Any, depth: int) -> JsonValue:
        self._items += 1
        if self._items > MAX_RESULT_ITEMS:
            raise LuaSandboxError("bad-result", f"more than {MAX_RESULT_ITEMS} values")
        if value is None or isinstance(value, bool | str | int):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise LuaSandboxError("bad-result", f"number {value} has no JSON form")
            return value
        kind = lua54.lua_type(value)
        if kind != "table":
            raise LuaSandboxError(
                "bad-result", f"a {kind or type(value).__name__} has no JSON form"
            )
        if depth >= MAX_RESULT_DEPTH:
            raise LuaSandboxError("bad-result", f"nested deeper than {MAX_RESULT_DEPTH} levels")
        items = dict(value.items())
        # Keys exactly 1..n (or none) make an array; otherwise every key must be a string.
        if all(type(key) is int for key in items) and sorted(items) == list(
            range(1, len(items) + 1)
        ):
            return [self.convert(items[index], depth + 1) for index in range(1, len(items) + 1)]
        for key in items:
            if not isinstance(key, str):
                raise LuaSandboxError(
                    "bad-result", f"table mixes array and object keys ({key!r} is not a string)"
                )
        order = self._order_of(value)
        first = [str(key) for key in order.values()] if order is not None else []
        keys = [key for key in first if key in items]
        keys += sorted(key for key in items if key not in set(first))
        return {key: self.convert(items[key], depth + 1) for key in keys}
