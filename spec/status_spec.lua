-- marohost status (docs/api.md, "marohost status"), run as a user would,
-- against a private redis-server and real members:
-- - every live member, with its type, its address and the counts it
--   publishes with its heartbeat, in the table (aligned, sorted by type then
--   name) and in JSON;
-- - names with any byte are escaped in JSON and harmless in the table;
-- - a closed group: verified with --group-key (a registration written
--   without the key is not shown), marked unverified without it;
-- - Redis with a password in a redis:// URL; a wrong one is an error that
--   names host:port and never the password;
-- - --watch prints table after table and ends with 0 on SIGINT or SIGTERM;
-- - an empty group, and the errors of the command line.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local maro = require("maro")
local core = require("maro.core")

local quote = procs.quote

-- A JSON decoder for what the command prints: objects, arrays, strings
-- with their escapes (\uXXXX as UTF-8), numbers, true, false and null
-- (decoded as json.null). Raises on anything else, and on trailing text.
local json = { null = setmetatable({}, { __tostring = function() return "null" end }) }
do
  local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
                    r = "\r", t = "\t" }
  local value
  local function skip(s, i)
    return s:find("[^ \t\r\n]", i) or #s + 1
  end
  local function str(s, i) -- s:sub(i, i) == '"'
    local out, j = {}, i + 1
    while true do
      local c = s:sub(j, j)
      if c == "" then error("unterminated string at " .. i) end
      if c == '"' then return table.concat(out), j + 1 end
      if c == "\\" then
        local e = s:sub(j + 1, j + 1)
        if e == "u" then
          local hex = s:sub(j + 2, j + 5)
          assert(hex:match("^%x%x%x%x$"), "bad \\u escape at " .. j)
          out[#out + 1] = utf8.char(tonumber(hex, 16))
          j = j + 6
        else
          out[#out + 1] = assert(ESCAPES[e], "bad escape \\" .. e .. " at " .. j)
          j = j + 2
        end
      else
        assert(c:byte() >= 0x20, "raw control character in a string at " .. j)
        out[#out + 1] = c
        j = j + 1
      end
    end
  end
  function value(s, i)
    i = skip(s, i)
    local c = s:sub(i, i)
    if c == "{" then
      local t = {}
      i = skip(s, i + 1)
      if s:sub(i, i) == "}" then return t, i + 1 end
      while true do
        assert(s:sub(i, i) == '"', "a key expected at " .. i)
        local k
        k, i = str(s, i)
        i = skip(s, i)
        assert(s:sub(i, i) == ":", "':' expected at " .. i)
        t[k], i = value(s, i + 1)
        i = skip(s, i)
        c = s:sub(i, i)
        if c == "}" then return t, i + 1 end
        assert(c == ",", "',' or '}' expected at " .. i)
        i = skip(s, i + 1)
      end
    elseif c == "[" then
      local t = {}
      i = skip(s, i + 1)
      if s:sub(i, i) == "]" then return t, i + 1 end
      while true do
        t[#t + 1], i = value(s, i)
        i = skip(s, i)
        c = s:sub(i, i)
        if c == "]" then return t, i + 1 end
        assert(c == ",", "',' or ']' expected at " .. i)
        i = i + 1
      end
    elseif c == '"' then
      return str(s, i)
    end
    for word, v in pairs({ ["true"] = true, ["false"] = false, null = json.null }) do
      if s:sub(i, i + #word - 1) == word then return v, i + #word end
    end
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    assert(num and num ~= "", "a value expected at " .. i .. ": " .. s:sub(i, i + 20))
    return math.tointeger(tonumber(num)) or tonumber(num), i + #num
  end
  function json.decode(s)
    local v, i = value(s, 1)
    assert(skip(s, i) == #s + 1, "trailing text after the document: " .. s:sub(i))
    return v
  end
end

-- Runs `marohost status args...` with only the given MARO_ variables;
-- returns stdout, stderr and the exit status.
local function run_status(args, env)
  local parts = { "env", "-u", "MARO_GROUP", "-u", "MARO_REDIS", "-u", "MARO_GROUP_KEY_FILE" }
  for k, v in pairs(env or {}) do
    parts[#parts + 1] = quote(k .. "=" .. v)
  end
  parts[#parts + 1] = quote(procs.MAROHOST)
  parts[#parts + 1] = "status"
  for _, a in ipairs(args) do
    parts[#parts + 1] = quote(a)
  end
  local err_file = procs.tmpdir() .. "/err"
  local p = io.popen(table.concat(parts, " ") .. " 2>" .. quote(err_file))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, procs.read_file(err_file) or "", code
end

local function keygen(path)
  local p = io.popen(quote(procs.MAROHOST) .. " keygen " .. quote(path) .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  assert.are.equal(0, code, out)
  return path
end

-- The members of a status document, by name.
local function by_name(doc)
  local t = {}
  for _, m in ipairs(doc.members) do t[m.name] = m end
  return t
end

-- The rows of a table as lists of words (names here hold no spaces), after
-- checking that every cell lines up with its header: text columns start
-- where their header starts, numbers end where theirs ends.
local LEFT = { NAME = true, TYPE = true, ADDRESS = true, VERIFIED = true }
local function table_rows(text)
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  local h = 1
  while lines[h] and not lines[h]:match("^NAME ") do h = h + 1 end
  assert(lines[h], "no header in:\n" .. text)
  local cols = {}
  for s, word, e in lines[h]:gmatch("()(%S+)()") do
    cols[#cols + 1] = { name = word, first = s, last = e - 1 }
  end
  local rows = {}
  for i = h + 1, #lines do
    local row, k = {}, 0
    for s, word, e in lines[i]:gmatch("()(%S+)()") do
      k = k + 1
      local col = assert(cols[k], "more cells than columns: " .. lines[i])
      if LEFT[col.name] then
        assert.are.equal(col.first, s, col.name .. " is not aligned in:\n" .. text)
      else
        assert.are.equal(col.last, e - 1, col.name .. " is not aligned in:\n" .. text)
      end
      row[col.name] = word
    end
    assert.are.equal(#cols, k, "a row without every cell in:\n" .. text)
    rows[#rows + 1] = row
  end
  return rows, lines[h]
end

local function now_ms()
  return os.time() * 1000
end

describe("marohost status", function()
  local redis = redis_support.for_block(setup, teardown, procs)
  local group, proxies

  before_each(function()
    group = "status_" .. core.uuid():sub(1, 8)
    proxies = {}
  end)

  after_each(function()
    for _, p in ipairs(proxies) do p:close() end
    procs.cleanup()
  end)

  local function proxy(ctype, name, extra)
    local o = { group_name = group, component_type = ctype, component_name = name,
                redis_address = redis.address, heartbeat_interval = 0.2, linger = 0 }
    for k, v in pairs(extra or {}) do o[k] = v end
    local p = maro.Proxy(o)
    proxies[#proxies + 1] = p
    return p
  end

  local function status(...)
    return run_status({ "--redis", redis.address, ... })
  end

  local function status_json(...)
    local out, err, code = status("--json", ...)
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    assert.matches("^[^\n]*\n$", out) -- one document, one line
    return json.decode(out)
  end

  -- A registration written straight into Redis, as a script could.
  local function register_by_hand(name, ctype, address)
    local expiry = tostring(now_ms() + 60000)
    local text = table.concat({ "maro 2", "type " .. ctype, "address " .. address,
      "incarnation 0123456789abcdef", "started " .. now_ms(),
      "stats sent=7 received=8 buffered=9 dropped=1", "" }, "\n")
    redis:cli("set", "maro:" .. group .. ":member:" .. name, text, "px", "60000")
    redis:cli("zadd", "maro:" .. group .. ":type:" .. ctype, expiry, name)
    redis:cli("zadd", "maro:" .. group .. ":types", expiry, ctype)
  end

  it("shows every member with its type, address and counts, as a table and as JSON", function()
    local before = now_ms()
    local alpha, beta = proxy("worker", "alpha"), proxy("worker", "beta")
    local master = proxy("master", "master", { expected_peers = { worker = 2 } })
    for i = 1, 3 do master:isend_to("alpha", "ping", i) end
    for i = 1, 2 do master:isend_to("beta", "hold", i) end
    for _ = 1, 3 do assert.is_truthy(alpha:receive_once(10)) end
    -- Counts travel with heartbeats, which publish what the proxy had when
    -- it last ran: keep the proxies running (beta only reads into its buffer).
    local doc = procs.wait_until(function()
      local _ = master.peers
      _ = alpha.peers
      beta:receive_by_id({ core.uuid() }, 0.05)
      local d = status_json(group)
      local m = by_name(d)
      return m.master and m.master.sent == 5 and m.alpha and m.alpha.received == 3
        and m.beta and m.beta.buffered == 2 and d
    end, 20, "the counts of the traffic in the status")
    assert.are.equal(group, doc.group)
    assert.is_false(doc.closed)
    local names, m = {}, by_name(doc)
    for i, member in ipairs(doc.members) do names[i] = member.name end
    assert.are.same({ "master", "alpha", "beta" }, names) -- by type, then name
    local expect = {
      master = { type = "master", address = master.address, sent = 5, received = 0,
                 buffered = 0, dropped = 0 },
      alpha = { type = "worker", address = alpha.address, sent = 0, received = 3,
                buffered = 0, dropped = 0 },
      beta = { type = "worker", address = beta.address, sent = 0, received = 2, buffered = 2,
               dropped = 0 },
    }
    for name, want in pairs(expect) do
      for k, v in pairs(want) do assert.are.equal(v, m[name][k], name .. "." .. k) end
      assert.matches("^%x+$", m[name].incarnation)
      assert.are.equal(16, #m[name].incarnation)
      local started = m[name].started_ms
      assert.is_true(started >= before - 1000 and started <= now_ms() + 1000,
                     "started_ms " .. started)
      assert.is_true(m[name].up_seconds >= 0 and m[name].up_seconds < 60)
      assert.is_false(m[name].verified)
    end

    local out, err, code = status(group)
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    local rows, header = table_rows(out)
    assert.matches("^NAME +TYPE +ADDRESS +UP +SENT +RECEIVED +BUFFERED +DROPPED$", header)
    assert.are.equal(3, #rows, out)
    for i, name in ipairs({ "master", "alpha", "beta" }) do
      local row, want = rows[i], expect[name]
      assert.are.equal(name, row.NAME)
      assert.are.equal(want.type, row.TYPE)
      assert.are.equal(want.address, row.ADDRESS)
      assert.matches("^%d+s$", row.UP) -- under a minute
      assert.are.equal(tostring(want.sent), row.SENT)
      assert.are.equal(tostring(want.received), row.RECEIVED)
      assert.are.equal(tostring(want.buffered), row.BUFFERED)
      assert.are.equal(tostring(want.dropped), row.DROPPED)
    end
  end)

  it("escapes names in JSON and shows no control character in the table", function()
    local odd = 'a"b\\c\1d\te\xffé'
    register_by_hand(odd, "odd", "tcp://127.0.0.1:9")
    local m = status_json(group).members
    assert.are.equal(1, #m)
    -- \xff is no UTF-8: it comes as \u00ff (the byte read as Latin-1).
    assert.are.equal('a"b\\c\1d\te\u{ff}é', m[1].name)
    assert.are.same({ 7, 8, 9, 1 }, { m[1].sent, m[1].received, m[1].buffered, m[1].dropped })
    local out, _, code = status(group)
    assert.are.equal(0, code)
    assert.is_truthy(out:find('a"b\\c?d?e?é  odd', 1, true), out)
    assert.is_nil(out:find("[\1\t\255]"), out)
  end)

  it("prints that a group has no live members, and exits 0", function()
    local out, err, code = status(group)
    assert.are.equal(0, code, err)
    assert.are.equal("group '" .. group .. "' has no live members\n", out)
    assert.are.same({ group = group, closed = false, members = {} }, status_json(group))
  end)

  it("verifies a closed group's members with --group-key, and marks them without", function()
    local dir = procs.tmpdir()
    local key, other = keygen(dir .. "/group.key"), keygen(dir .. "/other.key")
    local w = proxy("worker", "w1", { group_key = key })
    local master = proxy("master", "master", { group_key = key })
    -- A Redis writer's registration, without the key's signature.
    register_by_hand("forged", "worker", "tcp://127.0.0.1:9")

    local doc = status_json(group, "--group-key", key)
    assert.is_true(doc.closed)
    local m = by_name(doc)
    assert.is_nil(m.forged, "a registration without the signature is shown")
    assert.are.equal(w.address, m.w1.address)
    assert.are.equal(master.address, m.master.address)
    assert.is_true(m.w1.verified and m.master.verified)
    local out, err, code = status(group, "--group-key", key)
    assert.are.equal(0, code, err)
    local rows, header = table_rows(out)
    assert.matches(" VERIFIED$", header)
    assert.are.equal(2, #rows, out)
    for _, row in ipairs(rows) do assert.are.equal("yes", row.VERIFIED) end
    assert.is_nil(out:find("closed", 1, true), out) -- nothing to say
    -- The key from the environment does the same.
    out, err, code = run_status({ group, "--json" }, { MARO_REDIS = redis.address,
                                                        MARO_GROUP_KEY_FILE = key })
    assert.are.equal(0, code, err)
    assert.are.same({ "master", "w1" }, (function()
      local n = {}
      for i, x in ipairs(json.decode(out).members) do n[i] = x.name end
      return n
    end)())

    -- Without the key: every registration, none verified, and a line says why.
    doc = status_json(group)
    assert.is_true(doc.closed)
    m = by_name(doc)
    assert.are.equal("tcp://127.0.0.1:9", m.forged.address)
    for _, name in ipairs({ "master", "w1", "forged" }) do assert.is_false(m[name].verified) end
    out, err, code = status(group)
    assert.are.equal(0, code, err)
    assert.matches("^group '" .. group .. "' is closed: these registrations are not verified; "
                   .. "%-%-group%-key %(or MARO_GROUP_KEY_FILE%) verifies them\n", out)
    rows = table_rows(out)
    assert.are.equal(3, #rows, out)
    for _, row in ipairs(rows) do assert.are.equal("no", row.VERIFIED) end

    -- Another key verifies nothing, and says the group is closed with another.
    out, err, code = status(group, "--group-key", other)
    assert.are.equal(0, code, err)
    assert.matches("is closed with another group key", out)
    assert.matches("has no live members", out)
  end)

  it("reads a group while its Redis is found through MARO_GROUP and MARO_REDIS", function()
    local w = proxy("worker", "w1")
    local out, err, code = run_status({}, { MARO_GROUP = group, MARO_REDIS = redis.address })
    assert.are.equal(0, code, err)
    local rows = table_rows(out)
    assert.are.equal(1, #rows)
    assert.are.equal(w.address, rows[1].ADDRESS)
  end)

  it("prints table after table with --watch, and exits 0 on SIGINT", function()
    local w = proxy("worker", "w1")
    local p = procs.spawn("status", { "--watch" }, { MARO_GROUP = group,
                                                     MARO_REDIS = redis.address })
    procs.wait_until(function()
      local _, n = p:stdout():gsub("\nw1 [^\n]*\n", "")
      if not p:running() then error("status exited\n" .. p:report(), 0) end
      return n >= 2
    end, 20, "two tables")
    p:kill("INT")
    assert.are.equal(0, p:wait(10), p:report())
    local out = p:stdout()
    assert.is_nil(out:find("\27", 1, true), "a screen was cleared in a file")
    local tables = 0
    for chunk in (out .. "\n"):gmatch("(.-\n)\n") do -- tables are apart by a blank line
      local rows = table_rows(chunk)
      assert.are.equal(1, #rows, out)
      assert.are.equal(w.address, rows[1].ADDRESS)
      tables = tables + 1
    end
    assert.is_true(tables >= 2, out)
  end)

  it("prints one JSON document a line with --watch --json, and exits 0 on SIGTERM", function()
    proxy("worker", "w1")
    local p = procs.spawn("status", { group, "--watch", "--json", "--redis", redis.address })
    p:wait_output("\n{[^\n]*\n")
    p:kill("TERM")
    assert.are.equal(0, p:wait(10), p:report())
    local docs = 0
    for line in p:stdout():gmatch("[^\n]+") do
      local doc = json.decode(line)
      assert.are.equal("w1", doc.members[1].name)
      docs = docs + 1
    end
    assert.is_true(docs >= 2, p:stdout())
  end)

  it("fails with 1 and names the server when Redis cannot be reached", function()
    local port = redis_support.free_port()
    local out, err, code = run_status({ group, "--redis", "127.0.0.1:" .. port })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("status: cannot read group '" .. group .. "': Redis at 127.0.0.1:" .. port,
                   err)
    out, err, code = status(group, "--group-key", procs.tmpdir() .. "/none.key")
    assert.are.equal(1, code)
    assert.matches("group key: .*none%.key", err)
  end)

  it("says what is wrong with its arguments, and exits 2", function()
    local rows = {
      { {}, "no group: give GROUP or set MARO_GROUP" },
      { { "a", "b" }, "two groups given, 'a' and 'b'" },
      { { "g", "--redis" }, "'%-%-redis' needs a URL" },
      { { "g", "--redis", "--json" }, "'%-%-redis' needs a URL" },
      { { "g", "--group-key" }, "'%-%-group%-key' needs the path" },
      { { "g", "--bogus" }, "unrecognized option '%-%-bogus'" },
      { { "g", "--redis", "redis://:Sekr1t@" },
        '%-%-redis: "redis://:%*%*%*@" is not a Redis address' },
    }
    for _, row in ipairs(rows) do
      local out, err, code = run_status(row[1])
      local what = table.concat(row[1], " ")
      assert.are.equal(2, code, what .. ": " .. err)
      assert.are.equal("", out, what)
      assert.matches("status: " .. row[2], err)
      assert.is_nil(err:find("Sekr1t", 1, true), err)
    end
    local out, err, code = run_status({ "--help" })
    assert.are.equal(0, code, err)
    assert.matches("^usage: %S+ status %[GROUP%] %[options%]\n", out)
  end)
end)

describe("marohost status with a password on Redis", function()
  local redis = redis_support.for_block(setup, teardown, procs)

  it("logs in with a redis:// URL, and never shows a password", function()
    local group = "status_" .. core.uuid():sub(1, 8)
    redis:cli("config", "set", "requirepass", "s3cret-pw")
    local url = "redis://:s3cret-pw@127.0.0.1:" .. redis.port
    local w = maro.Proxy{ group_name = group, component_type = "worker", component_name = "w1",
                          redis_address = url, linger = 0 }
    finally(function() w:close() end)
    local out, err, code = run_status({ group, "--redis", url, "--json" })
    assert.are.equal(0, code, err)
    local m = json.decode(out).members
    assert.are.equal(1, #m)
    assert.are.equal(w.address, m[1].address)
    out, err, code = run_status({ group }, { MARO_REDIS = url .. "/0" })
    assert.are.equal(0, code, err)
    assert.are.equal(w.address, table_rows(out)[1].ADDRESS)

    local where = "127.0.0.1:" .. redis.port
    for _, address in ipairs({ "redis://:Wr0ng-secret@" .. where,
                               "redis://someone:Wr0ng-secret@" .. where, where }) do
      out, err, code = run_status({ group, "--redis", address })
      assert.are.equal(1, code, address .. ": " .. err)
      assert.are.equal("", out)
      assert.matches("cannot read group '" .. group .. "': Redis at " .. where:gsub("%p", "%%%0"),
                     err)
      assert.is_nil(err:find("Wr0ng", 1, true), err)
      assert.is_nil(err:find("s3cret", 1, true), err)
    end
  end)
end)
