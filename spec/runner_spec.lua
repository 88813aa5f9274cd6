-- marohost as a command: the stock lua command line, errors, and the modules
-- loading both inside marohost and in a plain lua5.4.
local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  local pwd = os.getenv("PWD") or io.popen("pwd"):read("l")
  return pwd .. "/" .. p
end

local MAROHOST = abspath(os.getenv("MAROHOST") or "build/marohost")
local ROOT = MAROHOST:match("^(.*)/[^/]+/[^/]+$")  -- <root>/<builddir>/marohost

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  os.remove(path)
  return s
end

-- Runs a shell command; returns exit code, stdout, stderr.
local function run(cmd, stdin)
  local out, err = os.tmpname(), os.tmpname()
  local full = cmd .. " >" .. out .. " 2>" .. err
  if stdin then
    local inp = os.tmpname()
    local f = assert(io.open(inp, "wb"))
    f:write(stdin)
    f:close()
    full = full .. " <" .. inp
  else
    full = full .. " </dev/null"
  end
  local _, _, code = os.execute(full)
  return code, slurp(out), slurp(err)
end

local function script(text)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

describe("marohost", function()
  it("runs a script with its arguments in arg and ...", function()
    local s = script([[
      local a, b = ...
      print(select("#", ...), a, b, arg[0] == ..., arg[1], arg[2], type(arg[-1]))
    ]])
    local code, out = run(quote(MAROHOST) .. " " .. s .. " one 'two words'")
    assert.are.equal(0, code)
    assert.are.equal("2\tone\ttwo words\tfalse\tone\ttwo words\tstring\n", out)
    local _, out0 = run(quote(MAROHOST) .. " -e 'print(arg[0])' " .. s .. " x")
    os.remove(s)
    assert.matches("%.lua$", out0:match("[^\n]*"))
  end)

  it("has the maro modules built in, from any working directory", function()
    local code, out = run("cd / && " .. quote(MAROHOST) ..
      [[ -e 'local m = require("maro"); print(m.VERSION, require("maro.communication") == m)']])
    assert.are.equal(0, code)
    assert.matches("^%d+%.%d+%.%d+\ttrue\n$", out)
  end)

  it("executes -e statements and -l libraries in order", function()
    local code, out = run(quote(MAROHOST) .. [[ -e 'x = 1' -l maro -e 'print(x, type(maro.Message))' -l m=maro.communication -e 'print(m == maro)']])
    assert.are.equal(0, code)
    assert.are.equal("1\tfunction\ntrue\n", out)
  end)

  it("runs standard input for -", function()
    local code, out = run(quote(MAROHOST) .. " - a b", "local a, b = ...; print(a, b, arg[1])")
    assert.are.equal(0, code)
    assert.are.equal("a\tb\ta\n", out)
  end)

  it("runs standard input when given no script and stdin is not a terminal", function()
    local code, out = run(quote(MAROHOST), "print('from stdin')")
    assert.are.equal(0, code)
    assert.are.equal("from stdin\n", out)
  end)

  it("prints its version for -v and --version", function()
    for _, flag in ipairs({ "-v", "--version" }) do
      local code, out = run(quote(MAROHOST) .. " " .. flag)
      assert.are.equal(0, code)
      assert.matches("^marohost %d+%.%d+%.%d+ %(Lua 5%.4", out)
    end
  end)

  it("prints help for --help and -h", function()
    for _, flag in ipairs({ "-h", "--help" }) do
      local code, out = run(quote(MAROHOST) .. " " .. flag)
      assert.are.equal(0, code)
      assert.matches("usage: ", out)
      assert.matches("%-%-log%-level", out)
    end
  end)

  it("rejects an unknown option and a missing option argument", function()
    local code, _, err = run(quote(MAROHOST) .. " --frobnicate")
    assert.are.equal(1, code)
    assert.matches("unrecognized option '%-%-frobnicate'", err)
    code, _, err = run(quote(MAROHOST) .. " -e")
    assert.are.equal(1, code)
    assert.matches("'%-e' needs an argument", err)
    code, _, err = run(quote(MAROHOST) .. " --log-level loud -e 'print(1)'")
    assert.are.equal(1, code)
    assert.matches("unknown log level 'loud'", err)
  end)

  it("prints a traceback and exits 1 on an uncaught error", function()
    local s = script("local function inner() error('boom here') end\ninner()\n")
    local code, _, err = run(quote(MAROHOST) .. " " .. s)
    os.remove(s)
    assert.are.equal(1, code)
    assert.matches("boom here", err)
    assert.matches("stack traceback:", err)
    assert.matches("in local 'inner'", err)
  end)

  it("reports a syntax error and exits 1", function()
    local s = script("local = 1\n")
    local code, _, err = run(quote(MAROHOST) .. " " .. s)
    os.remove(s)
    assert.are.equal(1, code)
    assert.matches("^[^\n]*%.lua:1: <name> expected near '='", err)
  end)

  it("says so when the script is missing or unreadable", function()
    local code, _, err = run(quote(MAROHOST) .. " /nonexistent/job.lua")
    assert.are_not.equal(0, code)
    assert.matches("cannot open /nonexistent/job%.lua", err)
    local s = script("print(1)")
    os.execute("chmod 000 " .. s)
    -- root reads anything; only check the message when the file really is unreadable
    local f = io.open(s, "rb")
    if not f then
      code, _, err = run(quote(MAROHOST) .. " " .. s)
      assert.are_not.equal(0, code)
      assert.matches("cannot open", err)
    else
      f:close()
    end
    os.remove(s)
  end)

  it("passes os.exit codes through", function()
    local code = run(quote(MAROHOST) .. " -e 'os.exit(7)'")
    assert.are.equal(7, code)
  end)

  it("logs to stderr with a level chosen by --log-level or MARO_LOG_LEVEL", function()
    local prog = [[ -e 'local log = require("maro").log; log.debug("d %d", 1); log.info("i"); log.warn("w")']]
    local code, out, err = run(quote(MAROHOST) .. prog)
    assert.are.equal(0, code)
    assert.are.equal("", out)
    assert.matches("info: i\n", err)
    assert.matches("warn: w\n", err)
    assert.is_nil(err:find("debug: d 1", 1, true))
    _, _, err = run(quote(MAROHOST) .. " --log-level debug" .. prog)
    assert.matches("debug: d 1\n", err)
    _, _, err = run("MARO_LOG_LEVEL=warn " .. quote(MAROHOST) .. prog)
    assert.is_nil(err:find("info: i", 1, true))
    assert.matches("warn: w\n", err)
    _, _, err = run("MARO_LOG_LEVEL=chatty " .. quote(MAROHOST) .. prog)
    assert.matches("MARO_LOG_LEVEL=chatty is not one of", err)
  end)

  it("turns Lua warnings on with -W, and off and on with @off and @on", function()
    local prog = [[ -e 'warn("one ", "piece") warn("@off") warn("hidden") warn("@on") warn("two")']]
    local code, _, err = run(quote(MAROHOST) .. " -W" .. prog)
    assert.are.equal(0, code)
    assert.are.equal("Lua warning: one piece\nLua warning: two\n", err)
    code, _, err = run(quote(MAROHOST) .. [[ -e 'warn("not on")']])
    assert.are.equal(0, code)
    assert.are.equal("", err)
  end)

  it("keeps values intact through its allocator, at every size and resize", function()
    -- Strings of every length up to past the pooled sizes, tables grown one
    -- element at a time and shrunk again, all checked after collections.
    local prog = [[
      local keep = {}
      for round = 1, 3 do
        for n = 1, 1100, round do
          keep[n] = string.rep(string.char(65 + n % 26), n)
        end
        local t = {}
        for i = 1, 3000 do t[i] = i * round; t["k" .. i] = i end
        for i = 3000, 1, -1 do t[i] = nil end
        collectgarbage()
        for i = 1, 3000 do assert(t["k" .. i] == i) end
        for n, s in pairs(keep) do
          assert(#s == n and s == string.rep(string.char(65 + n % 26), n), n)
        end
      end
      print("intact")
    ]]
    local code, out, err = run(quote(MAROHOST) .. " -", prog)
    assert.are.equal(0, code, err)
    assert.are.equal("intact\n", out)
  end)

  it("lets C modules that a script loads resolve the Lua API from marohost", function()
    -- lfs is a C module built against the interpreter, as busted's dependencies are
    local code, out = run(quote(MAROHOST) .. [[ -e 'print(type(require("lfs").currentdir()))']])
    assert.are.equal(0, code)
    assert.are.equal("string\n", out)
  end)
end)

describe("the maro modules in a plain lua5.4", function()
  it("load from the build output on package.path and package.cpath", function()
    local env = ("LUA_PATH=%s LUA_CPATH=%s "):format(
      quote(ROOT .. "/lualib/?.lua;;"), quote(ROOT .. "/build/lua/?.so;;"))
    local code, out, err = run("cd / && " .. env .. [[lua5.4 -e '
      local maro = require("maro")
      local core = require("maro.core")
      package.loaded["maro.core"] = nil
      local again = require("maro.core")  -- a second luaopen in the same state
      local m = maro.Message{tag = "t", source = "s", destination = "d", payload = {1, 2}}
      local h, p = again.wire_encode(m)
      print(core ~= again, #maro.wire.decode(h, p).payload)']])
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal("true\t2\n", out)
  end)
end)
