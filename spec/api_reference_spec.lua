-- docs/api.md names everything the project offers: this spec walks what the
-- modules export (the tables of require("maro") and maro.testing, the fields
-- of a message, the methods of a register table, of a proxy of a
-- maro.testing group, of a dist worker, of a group and of a log limiter),
-- the options of the marohost command (and of launch and status) and every
-- environment variable the sources read, and fails with the name of each
-- one the reference lacks.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local maro = require("maro")
local testing = require("maro.testing")

local ROOT = here .. "../"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local DOC = read(ROOT .. "docs/api.md")

-- True when the reference names `name`: the text followed by something that
-- cannot continue a name (so "maro.log" is not found in "maro.logger").
local function documented(doc, name)
  local init = 1
  while true do
    local s, e = doc:find(name, init, true)
    if not s then
      return false
    end
    local after = doc:sub(e + 1, e + 1)
    if not after:match("[%w_]") then
      return true
    end
    init = s + 1
  end
end

-- The names of `list` that the reference lacks, as one line for a failure.
local function missing(doc, list)
  local out = {}
  for _, name in ipairs(list) do
    if not documented(doc, name) then
      out[#out + 1] = name
    end
  end
  table.sort(out)
  return out
end

local function assert_documented(list, what)
  local absent = missing(DOC, list)
  assert(#absent == 0, string.format("docs/api.md does not name %d of the %d %s: %s",
    #absent, #list, what, table.concat(absent, ", ")))
end

-- Public keys of a table: strings that do not start with "_".
local function public_keys(t)
  local out = {}
  for k in pairs(t) do
    if type(k) == "string" and not k:match("^_") then
      out[#out + 1] = k
    end
  end
  table.sort(out)
  return out
end

-- Every name reachable from a module table, qualified: "maro.log.info", ...
local function walk(t, prefix, out, seen)
  out, seen = out or {}, seen or {}
  seen[t] = true
  for _, k in ipairs(public_keys(t)) do
    local v = t[k]
    out[#out + 1] = prefix .. "." .. k
    if type(v) == "table" and not seen[v] then
      walk(v, prefix .. "." .. k, out, seen)
    end
  end
  return out
end

-- The methods (functions) and other names of an object's __index table.
local function index_names(obj, method_prefix, field_prefix)
  local mt = getmetatable(obj)
  assert(type(mt) == "table" and type(mt.__index) == "table",
    tostring(obj) .. " has no __index table to walk")
  local out = {}
  for _, k in ipairs(public_keys(mt.__index)) do
    out[#out + 1] = (type(mt.__index[k]) == "function" and method_prefix or field_prefix) .. k
  end
  return out
end

describe("docs/api.md", function()
  local g

  before_each(function()
    g = testing.group{ master = 1, worker = 1 }
  end)

  after_each(function()
    g:close()
  end)

  it("names everything in require(\"maro\")", function()
    local names = walk(maro, "maro")
    assert.is_true(#names > 30, "walked only " .. #names .. " names")
    assert_documented(names, "names of require(\"maro\")")
    assert.are.equal(maro, require("maro.communication"))
    assert_documented({ "maro.communication", "maro.testing" }, "module names")
  end)

  it("names everything in require(\"maro.testing\")", function()
    assert_documented(walk(testing, "testing"), "names of maro.testing")
  end)

  it("names the fields of a message", function()
    -- The message lists its fields when it is given one it does not have.
    local m = maro.Message{ tag = "t", source = "s", destination = "d" }
    local err = select(2, pcall(function() m.no_such_field = 1 end))
    local list = assert(tostring(err):match("%(fields: ([^)]*)%)"), err)
    local names = {}
    for f in list:gmatch("[%w_]+") do
      names[#names + 1] = "msg." .. f
    end
    assert.is_true(#names >= 8, list)
    assert_documented(names, "fields of a message")
  end)

  it("names the methods of a register table", function()
    local rt <close> = maro.RegisterTable(nil)
    assert_documented(index_names(rt, "rt:", "rt."), "methods of a register table")
  end)

  it("names the methods and fields of a proxy", function()
    local proxy = g.worker[1]
    local names = index_names(proxy, "proxy:", "proxy.")
    assert.is_true(#names >= 15, table.concat(names, ", "))
    -- Fields the proxy computes on each read, which its __index table does
    -- not list.
    for _, k in ipairs({ "address", "peers", "peers_version", "buffered", "dropped", "closed" }) do
      assert.is_not_nil(proxy[k], "a proxy has no field " .. k)
      names[#names + 1] = "proxy." .. k
    end
    assert_documented(names, "methods and fields of a proxy")
  end)

  it("names the methods of a dist worker and of a group", function()
    local w = maro.dist(g.worker[1], { ["master_1:x:1"] = print })(function() return {} end)()
    local names = {}
    for _, k in ipairs({ "launch", "step", "stop", "reload" }) do
      assert.are.equal("function", type(w[k]))
      names[#names + 1] = "w:" .. k
    end
    assert_documented(names, "methods of a dist worker")
    names = index_names(g, "g:", "g.")
    for _, k in ipairs(public_keys(g)) do
      if k ~= "master" and k ~= "worker" then -- the members, g[type]
        names[#names + 1] = "g." .. k
      end
    end
    assert_documented(names, "methods and fields of a group")
  end)

  it("names the methods and fields of a log limiter", function()
    local lim = maro.log.limiter(1)
    local names = index_names(lim, "lim:", "lim.")
    for _, k in ipairs(public_keys(lim)) do
      names[#names + 1] = "lim." .. k
    end
    assert_documented(names, "methods and fields of a log limiter")
  end)

  it("names every option of the marohost command, of marohost launch and of status", function()
    local function options(cmd)
      local p = io.popen(procs.quote(procs.MAROHOST) .. " " .. cmd .. " 2>&1")
      local out = p:read("a")
      p:close()
      local list = {}
      for line in out:gmatch("[^\n]+") do
        for opt in (line:match("^  (%-%S*.-)  ") or ""):gmatch("%-%-?[%w-]*") do
          list[#list + 1] = "`" .. opt
        end
      end
      assert.is_true(#list >= 3, "no options found in the output of marohost " .. cmd
        .. ":\n" .. out)
      return list
    end
    assert_documented(options("--help"), "options of marohost")
    assert_documented(options("launch --help"), "options of marohost launch")
    assert_documented(options("status --help"), "options of marohost status")
  end)

  it("names every environment variable the sources read", function()
    local names, seen = {}, {}
    local p = io.popen("grep -rhoE 'getenv\\(\"[A-Z_0-9]+\"\\)|env\\(\"[A-Z_0-9]+\"\\)' "
      .. procs.quote(ROOT .. "host") .. " " .. procs.quote(ROOT .. "lualib"))
    for name in p:read("a"):gmatch('"([A-Z_0-9]+)"') do
      if not seen[name] then
        seen[name] = true
        names[#names + 1] = "`" .. name .. "`"
      end
    end
    p:close()
    assert.is_true(#names >= 8, "found only " .. #names .. " variables")
    assert_documented(names, "environment variables")
  end)

  it("fails on a name it lacks, and names it", function()
    local doc = "`maro.now()` and maro.logger"
    assert.are.same({}, missing(doc, { "maro.now" }))
    assert.are.same({ "maro.log" }, missing(doc, { "maro.now", "maro.log" }))
    local ok, err = pcall(function()
      local absent = missing(doc, { "maro.Nothing" })
      assert(#absent == 0, "docs/api.md does not name " .. table.concat(absent, ", "))
    end)
    assert.is_false(ok)
    assert.matches("maro.Nothing", err, 1, true)
  end)
end)
