-- Bad arguments to every public entry point: wrong types, NaN, infinities,
-- huge, negative and empty values, unknown keys. Each must raise an error
-- that names the argument, says what was expected and what was given, and
-- points at the caller, not into the library (docs/api.md, "Errors").
--
-- The cases are rows of tables, one table per family of entry points:
--
--   { "what the row tries", function(fx) call(...) end,
--     arg = "text naming the argument", expected = "text of the expectation",
--     given = "text showing what was given" }
--
-- Each of arg, expected and given is a plain substring of the error (or a
-- list of them, any one will do); a row may leave one out when it does not
-- apply (an unknown key has no value to show). fx is the fixture: a
-- maro.testing group with a master and a worker (fx.g, fx.master,
-- fx.proxy), a message (fx.msg), a dist worker (fx.w) and a register table
-- (fx.rt), fresh for every row. Rows call without `return`, so that the
-- error's position is the row's own line.
--
-- The Proxy's rows go into PROXY below, as rows of the same form on
-- fx.master and fx.proxy (and maro.Proxy{hub = fx.g.hub, ...} for its
-- constructor).
local maro = require("maro")
local dist = require("maro.dist")
local testing = require("maro.testing")

local NAN, INF = 0 / 0, math.huge
local HUGE_INT = math.maxinteger
local HUGE_STRING = string.rep("x", 100000)

-- A value as a row's label shows it.
local function show(v)
  if v ~= v then
    return "NaN"
  elseif v == INF then
    return "inf"
  elseif v == -INF then
    return "-inf"
  elseif v == HUGE_STRING then
    return "<100000 bytes>"
  elseif type(v) == "string" then
    return string.format("%q", v)
  elseif type(v) == "table" then
    return "{}"
  end
  return tostring(v)
end

-- The fields of a valid message, to spoil one at a time.
local function fields()
  return { tag = "t", source = "master_1", destination = "worker_1" }
end
local function with(t, k, v)
  t[k] = v
  return t
end

-- ---- maro.Message and maro.SessionMessage ------------------------------------

local MESSAGES = {}
for _, ctor in ipairs({ "Message", "SessionMessage" }) do
  local new = maro[ctor]
  local function row(label, call, t)
    t[1], t[2] = "maro." .. ctor .. label, call
    MESSAGES[#MESSAGES + 1] = t
  end
  for _, f in ipairs({ "tag", "source", "destination", "session_id", "message_id" }) do
    local required = f == "tag" or f == "source" or f == "destination"
    if required then
      row(" without " .. f, function() new(with(fields(), f, nil)) end,
        { arg = "'" .. f .. "'", expected = "non-empty string", given = "got nothing" })
    end
    for _, bad in ipairs({
      { 42, "number" }, { NAN, "number" }, { INF, "number" }, { -1, "number" },
      { true, "boolean" }, { {}, "table" }, { print, "function" },
    }) do
      row(string.format("{%s = %s}", f, show(bad[1])),
        function() new(with(fields(), f, bad[1])) end,
        { arg = "'" .. f .. "'", expected = "non-empty string", given = "got " .. bad[2] })
    end
    row(string.format("{%s = \"\"}", f), function() new(with(fields(), f, "")) end,
      { arg = "'" .. f .. "'", expected = "non-empty string", given = 'got ""' })
    row(string.format("{%s = <100000 bytes>}", f),
      function() new(with(fields(), f, HUGE_STRING)) end,
      { arg = "'" .. f .. "'", expected = "at most 1024", given = "100000 bytes" })
  end
  row("{session_type = \"bogus\"}", function() new(with(fields(), "session_type", "bogus")) end,
    { arg = "'session_type'", expected = '"task" or "notification"', given = 'got "bogus"' })
  row("{session_type = 1}", function() new(with(fields(), "session_type", 1)) end,
    { arg = "'session_type'", expected = "string", given = "got number" })
  row("{session_stage = \"bogus\"}",
    function() new(with(with(fields(), "session_type", "task"), "session_stage", "bogus")) end,
    { arg = "'session_stage'", expected = "stage", given = '"bogus"' })
  row("{session_stage = 1}", function() new(with(fields(), "session_stage", 1)) end,
    { arg = "'session_stage'", expected = "string", given = "got number" })
  row("{destinaton = ...} (an unknown key)",
    function() new(with(fields(), "destinaton", "worker_1")) end,
    { arg = "'destinaton'", expected = "fields: tag, source, destination" })
  row("{[1.5] = 1} (an unknown key)", function() new(with(fields(), 1.5, 1)) end,
    { arg = "'1.5'", expected = "fields: tag" })
  row("{} (nothing)", function() new({}) end,
    { arg = "'tag'", expected = "non-empty string", given = "got nothing" })
end

-- ---- maro.wire --------------------------------------------------------------

local function payload_msg(payload)
  return maro.Message(with(fields(), "payload", payload))
end
local deep = {}
do
  local t = deep
  for _ = 1, 200 do
    t[1] = {}
    t = t[1]
  end
end
local cyclic = {}
cyclic.self = cyclic

local WIRE = {
  { "maro.wire.encode(nil)", function() maro.wire.encode(nil) end,
    arg = "#1", expected = "maro.Message expected", given = "got nil" },
  { "maro.wire.encode(42)", function() maro.wire.encode(42) end,
    arg = "#1", expected = "maro.Message expected", given = "got number" },
  { "maro.wire.encode({})", function() maro.wire.encode({}) end,
    arg = "#1", expected = "maro.Message expected", given = "got table" },
  { "maro.wire.encode(msg, {})", function(fx) maro.wire.encode(fx.msg, {}) end,
    arg = "#2", expected = "string expected", given = "got table" },
  { "maro.wire.encode(msg, <100000 bytes>)",
    function(fx) maro.wire.encode(fx.msg, HUGE_STRING) end,
    arg = "group", expected = "at most 1024", given = "100000 bytes" },
  { "maro.wire.encode: a function in the payload",
    function() maro.wire.encode(payload_msg({ jobs = { 1, 2, print } })) end,
    arg = "payload.jobs[3]", expected = "only nil, booleans, numbers, strings and tables",
    given = "a function" },
  { "maro.wire.encode: a float key", function() maro.wire.encode(payload_msg({ [1.5] = 1 })) end,
    arg = "payload", expected = "only integer and string keys", given = "1.5" },
  { "maro.wire.encode: a cyclic payload",
    function() maro.wire.encode(payload_msg({ a = cyclic })) end,
    arg = "payload.a.self", expected = "cyclic", given = "the same table" },
  { "maro.wire.encode: nesting deeper than the limit",
    function() maro.wire.encode(payload_msg(deep)) end,
    arg = "payload[1]", expected = "deeper than 100 levels" },
  { "maro.wire.decode(nil, payload)", function() maro.wire.decode(nil, "") end,
    arg = "#1", expected = "string expected", given = "got nil" },
  { "maro.wire.decode(packet) without the payload frame it names",
    function(fx) maro.wire.decode((maro.wire.encode(fx.msg))) end,
    arg = "argument 1", expected = "extra frame", given = "did not come" },
  { "maro.wire.decode(header, {})",
    function(fx) maro.wire.decode((maro.wire.encode(fx.msg)), {}) end,
    arg = "#2", expected = "string expected", given = "got table" },
  { "maro.wire.decode(\"\", \"\")", function() maro.wire.decode("", "") end,
    arg = "argument 1", expected = "not a packet", given = "0 bytes" },
  { "maro.wire.decode(<100000 bytes>, \"\")",
    function() maro.wire.decode(HUGE_STRING, "") end,
    arg = "argument 1", expected = "not a packet", given = "100000 bytes" },
  { "maro.wire.decode(header, <garbage>)",
    function(fx) maro.wire.decode((maro.wire.encode(fx.msg)), "\193") end,
    arg = "payload" },
}

-- ---- maro.log ---------------------------------------------------------------

local LOG = {}
for _, level in ipairs({ "error", "warn", "info", "debug" }) do
  local f = maro.log[level]
  local name = "maro.log." .. level
  for _, bad in ipairs({ { nil, "nothing" }, { {}, "table" }, { true, "boolean" } }) do
    LOG[#LOG + 1] = { name .. "(" .. show(bad[1]) .. ")", function() f(bad[1]) end,
      arg = "fmt", expected = "string", given = "got " .. bad[2] }
  end
  LOG[#LOG + 1] = { name .. '("%d", "x")', function() f("%d", "x") end,
    arg = "#2", expected = "number expected", given = "got string" }
  LOG[#LOG + 1] = { name .. '("%d", NaN)', function() f("%d", NAN) end,
    arg = "#2", expected = "integer" }
end
for _, bad in ipairs({ { "loud", '"loud"' }, { "", '""' }, { 3, "3" }, { {}, "table" },
  { NAN, "nan" } }) do
  LOG[#LOG + 1] = { "maro.log.level(" .. show(bad[1]) .. ")",
    function() maro.log.level(bad[1]) end,
    arg = "level", expected = "error, warn, info, debug", given = "got " .. bad[2] }
end
for _, bad in ipairs({ { nil, "nothing" }, { "", '""' }, { 42, "42" }, { {}, "table" },
  { HUGE_STRING, "100000 bytes" } }) do
  LOG[#LOG + 1] = { "maro.log.name(" .. show(bad[1]) .. ")",
    function() maro.log.name(bad[1]) end,
    arg = "name", expected = bad[1] == HUGE_STRING and "at most 63 bytes" or "non-empty string",
    given = "got " .. bad[2] }
end
for _, bad in ipairs({ { NAN, "nan" }, { INF, "inf" }, { -INF, "-inf" }, { 0, "0" },
  { -1, "-1" }, { "1", '"1"' }, { {}, "table" } }) do
  LOG[#LOG + 1] = { "maro.log.limiter(" .. show(bad[1]) .. ")",
    function() maro.log.limiter(bad[1]) end,
    arg = "interval", expected = "finite number of seconds > 0", given = "got " .. bad[2] }
end

-- ---- maro.dist and its workers ------------------------------------------------

local OK_HANDLERS = { ["master_1:x:1"] = function() end }
local function Class()
  return {}
end

local DIST = {}
for _, bad in ipairs({ { nil, "nothing" }, { 42, "42" }, { "x", '"x"' }, { {}, "table" },
  { true, "boolean" } }) do
  DIST[#DIST + 1] = { "maro.dist(" .. show(bad[1]) .. ", handlers)",
    function() maro.dist(bad[1], OK_HANDLERS) end,
    arg = "proxy", expected = "maro.Proxy", given = "got " .. bad[2] }
end
for _, bad in ipairs({ { nil, "nothing" }, { 42, "42" }, { "", '""' }, { true, "boolean" },
  { NAN, "nan" } }) do
  DIST[#DIST + 1] = { "maro.dist(proxy, " .. show(bad[1]) .. ")",
    function(fx) maro.dist(fx.proxy, bad[1]) end,
    arg = "handlers", expected = "table {[event] = handler} or the path", given = "got " .. bad[2] }
end
DIST[#DIST + 1] = { "maro.dist(proxy, {}) (no events)", function(fx) maro.dist(fx.proxy, {}) end,
  arg = "handler", expected = "at least one", given = "empty" }
DIST[#DIST + 1] = { "maro.dist(proxy, {[7] = fn}) (a key that is not an event)",
  function(fx) maro.dist(fx.proxy, { [7] = print }) end,
  arg = "handler table", expected = "must be an event", given = "number 7" }
DIST[#DIST + 1] = { "maro.dist(proxy, {[event] = 42})",
  function(fx) maro.dist(fx.proxy, { ["master_1:x:1"] = 42 }) end,
  arg = '"master_1:x:1"', expected = "must be a function", given = "got number" }
DIST[#DIST + 1] = { "maro.dist(proxy, {[\"master:x:nan\"] = fn})",
  function(fx) maro.dist(fx.proxy, { ["master:x:nan"] = print }) end,
  arg = '"master:x:nan"', expected = "positive integer or a percentage", given = 'got "nan"' }
DIST[#DIST + 1] = { "maro.dist(proxy, \"/nonexistent.lua\")",
  function(fx) maro.dist(fx.proxy, "/nonexistent/handlers.lua") end,
  arg = "handler file", expected = "cannot read", given = "/nonexistent/handlers.lua" }
for _, bad in ipairs({ { 42, "42" }, { "x", '"x"' }, { true, "boolean" } }) do
  DIST[#DIST + 1] = { "maro.dist(proxy, handlers, " .. show(bad[1]) .. ")",
    function(fx) maro.dist(fx.proxy, OK_HANDLERS, bad[1]) end,
    arg = "options", expected = "must be a table", given = "got " .. bad[2] }
end
DIST[#DIST + 1] = { "maro.dist(proxy, handlers, {colour = 1}) (an unknown key)",
  function(fx) maro.dist(fx.proxy, OK_HANDLERS, { colour = 1 }) end,
  arg = "'colour'", expected = "unknown option" }
for _, bad in ipairs({ { NAN, "nan" }, { INF, "inf" }, { 0, "0" }, { -1, "-1" },
  { "1", '"1"' } }) do
  DIST[#DIST + 1] = { "maro.dist(proxy, handlers, {log_interval = " .. show(bad[1]) .. "})",
    function(fx) maro.dist(fx.proxy, OK_HANDLERS, { log_interval = bad[1] }) end,
    arg = "log_interval", expected = "finite number of seconds > 0", given = "got " .. bad[2] }
end
for _, bad in ipairs({ { nil, "nothing" }, { 42, "42" }, { "x", '"x"' }, { {}, "table" },
  { true, "boolean" } }) do
  DIST[#DIST + 1] = { "maro.dist(proxy, handlers)(" .. show(bad[1]) .. ")",
    function(fx) maro.dist(fx.proxy, OK_HANDLERS)(bad[1]) end,
    arg = "Class", expected = "'new' function or be callable", given = "got " .. bad[2] }
end
DIST[#DIST + 1] = { "Worker(...) when Class.new returns nothing",
  function(fx) maro.dist(fx.proxy, OK_HANDLERS)({ new = function() end })() end,
  arg = "class constructor", expected = "instance", given = "returned nil" }
for _, bad in ipairs({ { NAN, "nan" }, { INF, "inf" }, { -INF, "-inf" }, { -1, "-1" },
  { -0.001, "-0.001" }, { "1", '"1"' }, { {}, "table" }, { true, "boolean" } }) do
  DIST[#DIST + 1] = { "w:step(" .. show(bad[1]) .. ")", function(fx) fx.w:step(bad[1]) end,
    arg = "timeout", expected = "finite number of seconds >= 0", given = "got " .. bad[2] }
end
-- (A huge finite timeout is a valid one: step(1e300) serves for ever.)
for _, method in ipairs({ "launch", "step", "stop", "reload" }) do
  for _, bad in ipairs({ { nil, "nothing" }, { 42, "42" }, { {}, "table" } }) do
    DIST[#DIST + 1] = { "w." .. method .. "(" .. show(bad[1]) .. ") (not a worker)",
      function(fx) fx.w[method](bad[1]) end,
      arg = method, expected = "dist worker", given = "got " .. bad[2] }
  end
end
for _, f in ipairs({ "stats", "instance", "serving", "proxy_of" }) do
  for _, bad in ipairs({ { nil, "nothing" }, { 42, "42" }, { {}, "table" } }) do
    DIST[#DIST + 1] = { "maro.dist." .. f .. "(" .. show(bad[1]) .. ")",
      function() dist[f](bad[1]) end,
      arg = "w", expected = "dist worker", given = "got " .. bad[2] }
  end
end

-- ---- maro.testing -------------------------------------------------------------

local TESTING = {}
local function trow(label, call, t)
  t[1], t[2] = label, call
  TESTING[#TESTING + 1] = t
end
for _, bad in ipairs({ { nil, "nothing" }, { 42, "42" }, { "x", '"x"' } }) do
  trow("testing.group(" .. show(bad[1]) .. ")", function() testing.group(bad[1]) end,
    { arg = "counts", expected = "table such as", given = "got " .. bad[2] })
end
trow("testing.group{}", function() testing.group({}) end,
  { arg = "counts", expected = "no component types" })
for _, bad in ipairs({ { 0, "0" }, { -1, "-1" }, { NAN, "nan" }, { INF, "inf" },
  { -INF, "-inf" }, { HUGE_INT, tostring(HUGE_INT) }, { 1001, "1001" }, { 1.5, "1.5" },
  { "1", '"1"' }, { true, "boolean" } }) do
  trow("testing.group{worker = " .. show(bad[1]) .. "}",
    function() testing.group({ worker = bad[1] }) end,
    { arg = "counts.worker", expected = "integer from 1 to 1000", given = "got " .. bad[2] })
end
trow('testing.group{[""] = 1}', function() testing.group({ [""] = 1 }) end,
  { arg = "counts.", expected = "non-empty name", given = 'got ""' })
trow("testing.group{close = 1} (a type named like a method)",
  function() testing.group({ close = 1 }) end,
  { arg = "counts.close", expected = "cannot be a component type" })
trow("testing.group{5}", function() testing.group({ 5 }) end,
  { arg = "counts[1]", expected = "{type, count} pair", given = "got 5" })
trow('testing.group{{"worker"}}', function() testing.group({ { "worker" } }) end,
  { arg = "counts[1]", expected = "integer from 1 to 1000", given = "got nothing" })
trow("testing.group(counts, 42)", function() testing.group({ worker = 1 }, 42) end,
  { arg = "options", expected = "must be a table", given = "got 42" })
for _, bad in ipairs({ { "", '""' }, { 42, "42" }, { {}, "table" } }) do
  trow("testing.group(counts, {name = " .. show(bad[1]) .. "})",
    function() testing.group({ worker = 1 }, { name = bad[1] }) end,
    { arg = "options.name", expected = "non-empty string", given = "got " .. bad[2] })
end
trow("testing.group(counts, {bogus = 1}) (an unknown key)",
  function() testing.group({ worker = 1 }, { bogus = 1 }) end,
  { arg = "'bogus'", expected = "unknown option" })
for _, bad in ipairs({ { nil, "nothing" }, { "", '""' }, { 42, "42" }, { "a b", '"a b"' } }) do
  trow("g:add(" .. show(bad[1]) .. ")", function(fx) fx.g:add(bad[1]) end,
    { arg = "type", expected = "non-empty name", given = "got " .. bad[2] })
end
trow('g:add("proxies") (a field of the group)', function(fx) fx.g:add("proxies") end,
  { arg = "'proxies'", expected = "cannot be a component type" })
for _, bad in ipairs({ { "", '""' }, { 42, "42" } }) do
  trow('g:add("worker", ' .. show(bad[1]) .. ")", function(fx) fx.g:add("worker", bad[1]) end,
    { arg = "name", expected = "non-empty string", given = "got " .. bad[2] })
end
trow('g:add("worker", nil, 42)', function(fx) fx.g:add("worker", nil, 42) end,
  { arg = "options", expected = "must be a table", given = "got 42" })
trow('g:add("worker", nil, {bogus = 1}) (an unknown key)',
  function(fx) fx.g:add("worker", nil, { bogus = 1 }) end,
  { arg = "'bogus'", expected = "unknown option" })
trow("g:proxy(42)", function(fx) fx.g:proxy(42) end,
  { arg = "name", expected = "string", given = "got 42" })
for _, bad in ipairs({ { nil, "nothing" }, { 42, "42" }, { {}, "table" } }) do
  trow("g:drive(" .. show(bad[1]) .. ")", function(fx) fx.g:drive(bad[1]) end,
    { arg = "x", expected = "dist worker or a function", given = "got " .. bad[2] })
end
trow("g:drive(fn, 42)", function(fx) fx.g:drive(print, 42) end,
  { arg = "proxy", expected = "maro.Proxy", given = "got 42" })
for _, bad in ipairs({ { NAN, "nan" }, { INF, "inf" }, { -1, "-1" }, { "1", '"1"' } }) do
  trow("g:settle(" .. show(bad[1]) .. ")", function(fx) fx.g:settle(bad[1]) end,
    { arg = "timeout", expected = "finite number of seconds >= 0", given = "got " .. bad[2] })
  trow("testing.collect(proxy, " .. show(bad[1]) .. ")",
    function(fx) testing.collect(fx.proxy, bad[1]) end,
    { arg = "timeout", expected = "finite number of seconds >= 0", given = "got " .. bad[2] })
end
for _, bad in ipairs({ { nil, "nothing" }, { 42, "42" }, { {}, "table" } }) do
  trow("testing.collect(" .. show(bad[1]) .. ")", function() testing.collect(bad[1]) end,
    { arg = "proxy", expected = "maro.Proxy", given = "got " .. bad[2] })
end
for _, f in ipairs({ "message", "task", "notification" }) do
  trow("testing." .. f .. "(42, d, t)", function() testing[f](42, "worker_1", "t") end,
    { arg = "'source'", expected = "non-empty string", given = "got number" })
  trow("testing." .. f .. "(s, nil, t)", function() testing[f]("master_1", nil, "t") end,
    { arg = "'destination'", expected = "non-empty string", given = "got nothing" })
  trow("testing." .. f .. '(s, d, "")', function() testing[f]("master_1", "worker_1", "") end,
    { arg = "'tag'", expected = "non-empty string", given = 'got ""' })
end
trow("testing.field(42, name)", function() testing.field(42, "payload") end,
  { arg = "messages", expected = "list of messages", given = "got 42" })
trow("testing.field(messages, 1)", function() testing.field({}, 1) end,
  { arg = "name", expected = "string", given = "got 1" })
trow("testing.sorted(42)", function() testing.sorted(42) end,
  { arg = "list", expected = "table", given = "got 42" })
trow("testing.sorted(list, 42)", function() testing.sorted({}, 42) end,
  { arg = "cmp", expected = "function", given = "got 42" })
trow("testing.feed(42, messages)", function() testing.feed(42, {}) end,
  { arg = "rt", expected = "maro.RegisterTable", given = "got 42" })
trow("testing.feed(rt, 42)", function(fx) testing.feed(fx.rt, 42) end,
  { arg = "messages", expected = "list of messages", given = "got 42" })

-- ---- the Proxy ----------------------------------------------------------------

-- Rows for maro.Proxy and the methods of a proxy come here, in the form
-- above, for example:
--   { "proxy:receive_once(NaN)", function(fx) fx.proxy:receive_once(0 / 0) end,
--     arg = "timeout", expected = "finite", given = "got nan" },
local PROXY = {
  -- A method called with a dot, or on something else: other userdata too.
  { "proxy.isend(io.stdout, msg)", function(fx) fx.proxy.isend(io.stdout, fx.msg) end,
    arg = "maro.Proxy method", expected = "proxy:method(...)", given = "called on userdata" },
  { "proxy.isend_to({}, ...)", function(fx) fx.proxy.isend_to({}, "worker_1", "t", 1) end,
    arg = "maro.Proxy method", expected = "proxy:method(...)", given = "called on table" },
  { "proxy:isend(io.stdout)", function(fx) fx.proxy:isend(io.stdout) end,
    arg = "#1", expected = "maro.Message expected", given = "got FILE*" },
}

-- ---- the C constructors and maro.now ---------------------------------------------

local C_FUNCTIONS = {
  { "maro.Message(42)", function() maro.Message(42) end,
    arg = "maro.Message", expected = "table of fields", given = "got 42" },
  { "maro.SessionMessage(nil)", function() maro.SessionMessage(nil) end,
    arg = "maro.SessionMessage", expected = "table of fields", given = "got nothing" },
  { "maro.Message(\"tag\")", function() maro.Message("tag") end,
    arg = "maro.Message", expected = "table of fields", given = 'got "tag"' },
  { "maro.now(42) (it takes no arguments)", function() maro.now(42) end,
    arg = "maro.now", expected = "no arguments", given = "got 42" },
  { "maro.now(NaN)", function() maro.now(NAN) end,
    arg = "maro.now", expected = "no arguments", given = "got nan" },
}

-- ---- maro.RegisterTable (its checks are being added in host/events) -----------

local REGISTER_TABLE = {}
local function rrow(label, call, t)
  t[1], t[2] = label, call
  REGISTER_TABLE[#REGISTER_TABLE + 1] = t
end
for _, bad in ipairs({ { 42, "number" }, { "x", "string" }, { true, "boolean" } }) do
  rrow("maro.RegisterTable(" .. show(bad[1]) .. ")", function() maro.RegisterTable(bad[1]) end,
    { arg = "peers", expected = "{type = {name, ...}} table", given = bad[2] })
end
rrow("maro.RegisterTable{worker = {1}}", function() maro.RegisterTable({ worker = { 1 } }) end,
  { arg = "peers.worker[1]", expected = "peer name", given = "number" })
rrow("maro.RegisterTable(nil, 42)", function() maro.RegisterTable(nil, 42) end,
  { arg = { "options", "#2" }, expected = "table", given = "number" })
rrow("maro.RegisterTable(nil, {bogus = 1}) (an unknown key)",
  function() maro.RegisterTable(nil, { bogus = 1 }) end,
  { arg = "'bogus'", expected = "unknown option" })
for _, bad in ipairs({ { NAN, "nan" }, { INF, "inf" }, { -INF, "-inf" }, { -1, "-1" },
  { 0, "0" }, { HUGE_INT, tostring(HUGE_INT) }, { 1.5, "1.5" }, { "1", '"1"' } }) do
  rrow("maro.RegisterTable(nil, {max_buffered = " .. show(bad[1]) .. "})",
    function() maro.RegisterTable(nil, { max_buffered = bad[1] }) end,
    { arg = "max_buffered", expected = "integer 1..1000000000",
      given = { "got " .. bad[2], "got number " .. bad[2], "got string " .. bad[2] } })
  rrow("maro.dist(proxy, handlers, {max_buffered = " .. show(bad[1]) .. "})",
    function(fx) maro.dist(fx.proxy, OK_HANDLERS, { max_buffered = bad[1] }) end,
    { arg = "max_buffered", expected = "integer 1..1000000000",
      given = { "got " .. bad[2], "got number " .. bad[2], "got string " .. bad[2] } })
end
for _, bad in ipairs({ { nil, "nil" }, { 42, "number" }, { true, "boolean" } }) do
  rrow("rt:register_event_handler(" .. show(bad[1]) .. ", fn)",
    function(fx) fx.rt:register_event_handler(bad[1], print) end,
    { arg = "event", expected = '"source:tag:amount"', given = bad[2] })
end
for _, bad in ipairs({
  { "", "three parts", "got 1" }, { "a:b", "three parts", "got 2" },
  { "a:b:0", "positive integer or a percentage", '"0"' },
  { "a:b:-1", "positive integer or a percentage", '"-1"' },
  { "a:b:nan", "positive integer or a percentage", '"nan"' },
  { "a:b:inf", "positive integer or a percentage", '"inf"' },
  { "a:b:1.5", "positive integer or a percentage", '"1.5"' },
  { "a:b:99999999999999999999", "1000000000", "99999999999999999999" },
  { "a:b:150%", "1%..100%", '"150%"' },
  { ":b:1", "empty", "source" }, { "a::1", "empty", "tag" },
}) do
  rrow("rt:register_event_handler(" .. string.format("%q", bad[1]) .. ", fn)",
    function(fx) fx.rt:register_event_handler(bad[1], print) end,
    { arg = "bad event " .. string.format("%q", bad[1]), expected = bad[2], given = bad[3] })
end
rrow("rt:register_event_handler({}, fn)", function(fx) fx.rt:register_event_handler({}, print) end,
  { arg = "{}", expected = "empty combination" })
rrow('rt:register_event_handler({"a:b:1", "XOR"}, fn)',
  function(fx) fx.rt:register_event_handler({ "a:b:1", "XOR" }, print) end,
  { arg = '"XOR"', expected = "operator" })
for _, bad in ipairs({ { nil, "nil" }, { 42, "number" }, { {}, "table" } }) do
  rrow('rt:register_event_handler("a:b:1", ' .. show(bad[1]) .. ")",
    function(fx) fx.rt:register_event_handler("a:b:1", bad[1]) end,
    { arg = "handler", expected = "function", given = bad[2] })
  rrow("rt:push(" .. show(bad[1]) .. ")", function(fx) fx.rt:push(bad[1]) end,
    { arg = { "msg", "#1" }, expected = "maro.Message", given = bad[2] })
end
rrow("rt:set_peers(42)", function(fx) fx.rt:set_peers(42) end,
  { arg = "peers", expected = "{type = {name, ...}} table", given = "number" })
rrow("rt:replace(42)", function(fx) fx.rt:replace(42) end,
  { arg = { "entries", "#1" }, expected = { "list of {event, handler}", "table expected" },
    given = "number" })
rrow("rt:replace{{1, 2}}", function(fx) fx.rt:replace({ { 1, 2 } }) end,
  { arg = "entry 1", expected = { "event", "function" }, given = "number" })

-- ---- the runner ---------------------------------------------------------------

local here = debug.getinfo(1, "S").short_src

-- What in err is wrong for row; nil when it is right.
local function fault(row, err)
  if type(err) ~= "string" then
    return "the error is a " .. type(err) .. ", not a message"
  end
  local what = { arg = "which argument", expected = "what was expected",
    given = "what was given" }
  for _, key in ipairs({ "arg", "expected", "given" }) do
    local want = row[key]
    if want then
      local list = type(want) == "table" and want or { want }
      local found = false
      for _, w in ipairs(list) do
        found = found or err:find(w, 1, true) ~= nil
      end
      if not found then
        return string.format("it does not say %s (%s)", what[key], table.concat(list, " or "))
      end
    end
  end
  -- A position, when there is one, is the caller's: the row's line.
  local where = err:match("^([^\n]-):%d+: ")
  if where and where ~= here then
    return "it points at " .. where .. ", not at the caller"
  end
end

local function run(rows)
  for _, row in ipairs(rows) do
    it(row[1], function()
      local g <close> = testing.group{ master = 1, worker = 1 }
      local fx = { g = g, master = g.master[1], proxy = g.worker[1],
        msg = maro.Message(fields()), rt = maro.RegisterTable(nil) }
      fx.w = maro.dist(fx.proxy, OK_HANDLERS)(Class)()
      local ok, err = pcall(row[2], fx)
      fx.rt:close()
      assert(not ok, row[1] .. ": no error was raised")
      local why = fault(row, err)
      assert(not why, string.format("%s: %s:\n  %s", row[1], why, tostring(err)))
    end)
  end
end

describe("bad arguments", function()
  describe("to maro.Message and maro.SessionMessage", function() run(MESSAGES) end)
  describe("to maro.wire", function() run(WIRE) end)
  describe("to maro.log", function() run(LOG) end)
  describe("to maro.dist and its workers", function() run(DIST) end)
  describe("to maro.testing", function() run(TESTING) end)
  describe("to the Proxy", function() run(PROXY) end)
end)

describe("bad arguments, where host/message and host/module do not check yet", function()
  run(C_FUNCTIONS)
end)

describe("bad arguments to maro.RegisterTable ", function()
  run(REGISTER_TABLE)
end)

describe("the argument checks themselves", function()
  it("fail a row whose error does not say what was given", function()
    local row = { "a row", arg = "x", expected = "a number", given = "42" }
    assert.is_nil(fault(row, "x must be a number, got 42"))
    assert.matches("what was given", fault(row, "x must be a number"))
    assert.matches("which argument", fault(row, "must be a number, got 42"))
    assert.matches("not at the caller", fault(row, "lualib/maro/x.lua:3: x must be a number, got 42"))
  end)
end)
