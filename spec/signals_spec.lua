-- Process policy belongs to the program, not the library: maro.core loaded
-- into a plain lua5.4 leaves SIGINT and SIGTERM as they were, while
-- marohost catches them (to raise an error in the script, and leave).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")

-- The signals a process catches, as /proc/PID/status says (SigCgt).
local function caught(pid)
  local f = assert(io.open("/proc/" .. pid .. "/status"))
  local s = f:read("a")
  f:close()
  local mask = tonumber(assert(s:match("SigCgt:%s*(%x+)")), 16)
  return { INT = mask & (1 << 1) ~= 0, TERM = mask & (1 << 14) ~= 0 }
end

local build = procs.MAROHOST:match("^(.*)/[^/]+$")
local lualib = here .. "../lualib/"

local function plain_lua_works()
  local cmd = ("LUA_CPATH=%s/lua/?.so LUA_PATH='%s?.lua;%s?/init.lua' lua5.4 -e "
    .. "'require(\"maro\")' 2>&1"):format(procs.quote(build), lualib, lualib)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

describe("signals", function()
  after_each(function()
    procs.cleanup()
  end)

  it("are left alone by maro.core in a plain lua5.4", function()
    local ok, why = plain_lua_works()
    if not ok then
      -- e.g. a sanitizer build, whose module needs its runtime loaded first
      pending("this build's maro/core.so does not load into lua5.4: " .. why)
      return
    end
    local dir = procs.tmpdir()
    local script = dir .. "/run.sh"
    local f = assert(io.open(script, "w"))
    f:write(("#!/bin/sh\nLUA_CPATH=%s/lua/?.so LUA_PATH='%s?.lua;%s?/init.lua' exec lua5.4 %s\n")
      :format(procs.quote(build), lualib, lualib, procs.quote(here .. "scripts/signals_wait.lua")))
    f:close()
    os.execute("chmod +x " .. procs.quote(script))
    -- procs.spawn runs marohost; here the plain interpreter runs instead.
    local p = io.popen(("sh -c 'echo $$; exec %s' >%s/out 2>&1 &"):format(script, dir))
    p:close()
    local out
    procs.wait_until(function()
      out = procs.read_file(dir .. "/out") or ""
      return out:find("ready", 1, true)
    end, 20, "lua5.4 to open its group")
    local pid = tonumber(out:match("^(%d+)"))
    local c = caught(pid)
    os.execute("kill -KILL " .. pid)
    assert.is_false(c.TERM, "SIGTERM is caught in a plain lua5.4 that loaded maro.core")
  end)

  it("are caught by marohost while a script runs", function()
    local p = procs.spawn(here .. "scripts/signals_wait.lua", {}, {})
    p:wait_output("ready")
    local c = caught(p.pid)
    assert.is_true(c.TERM)
    assert.is_true(c.INT)
    p:kill("TERM")
    assert.are.equal(143, p:wait(20), p:report())
  end)
end)
