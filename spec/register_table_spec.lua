-- maro.RegisterTable and conditional events (docs/events.md).
local maro = require("maro")

local function msg(source, tag, payload)
  return maro.Message{ source = source, tag = tag or "update", destination = "master",
                       payload = payload }
end

-- The error message of f(...), which must fail.
local function error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

local function names(prefix, n)
  local t = {}
  for i = 1, n do t[i] = string.format("%s_%02d", prefix, i) end
  return t
end

-- The sources of a list of messages, joined: "w1,w2".
local function sources(list)
  local t = {}
  for i, m in ipairs(list) do t[i] = m.source end
  return table.concat(t, ",")
end

local function payloads(list)
  local t = {}
  for i, m in ipairs(list) do t[i] = tostring(m.payload) end
  return table.concat(t, ",")
end

local function noop() end

-- Pushes n messages from source (payloads first..first+n-1).
local function push_n(rt, source, tag, n, first)
  for i = 1, n do rt:push(msg(source, tag, (first or 1) + i - 1)) end
end

describe("RegisterTable", function()
  -- The memory specs drop messages on purpose: keep their warnings quiet.
  local level
  setup(function()
    level = maro.log.level()
    maro.log.level("error")
  end)
  teardown(function() maro.log.level(level) end)

  describe("construction", function()
    it("takes a {type = {names}} table, a function, an object with peers, or nothing", function()
      assert.is_truthy(maro.RegisterTable({ worker = { "w1" } }))
      assert.is_truthy(maro.RegisterTable(function() return {} end))
      assert.is_truthy(maro.RegisterTable(setmetatable({}, { __index = { peers = {} } })))
      assert.is_truthy(maro.RegisterTable())
      assert.is_truthy(maro.RegisterTable({}, { max_buffered = 10 }))
    end)

    it("takes a proxy, whose peers it reads when a percentage needs them", function()
      local g = require("maro.testing").group{ master = 1, worker = 2 }
      local rt = maro.RegisterTable(g.master[1])
      rt:register_event_handler("worker:update:100%", noop)
      rt:push(msg("worker_1"))
      assert.are.same({}, rt:get())
      rt:push(msg("worker_2"))
      assert.are.equal("worker_1,worker_2", sources(rt:get()[1][2]))
      g:close()
    end)

    it("refuses other peers and unknown or bad options", function()
      assert.matches("peers must be", error_of(maro.RegisterTable, 42))
      assert.matches("unknown option 'max_buffer'", error_of(maro.RegisterTable, {}, { max_buffer = 1 }))
      assert.matches("max_buffered must be", error_of(maro.RegisterTable, {}, { max_buffered = 0 }))
      assert.matches("max_buffered must be", error_of(maro.RegisterTable, {}, { max_buffered = 1.5 }))
    end)

    it("refuses a malformed peers table at once, and one that became malformed when read", function()
      assert.matches("peers.worker%[2%] must be a peer name",
                     error_of(maro.RegisterTable, { worker = { "w1", 2 } }))
      assert.matches("peers.worker must be a list", error_of(maro.RegisterTable, { worker = "w1" }))
      local peers = { worker = { "w1" } }
      local rt = maro.RegisterTable(peers)
      peers.worker[2] = 2
      assert.matches("peers.worker%[2%] must be a peer name",
                     error_of(rt.register_event_handler, rt, "w:update:50%", noop))
      peers.worker[2] = "w2"
      rt:set_peers()
      peers.worker = "w1"
      assert.matches("peers.worker must be a list", error_of(rt.set_peers, rt))
    end)

    it("refuses a malformed result of the peers function or object when it reads it", function()
      local rt = maro.RegisterTable(function() return { worker = { "w1", 0 / 0 } } end)
      local err = error_of(rt.register_event_handler, rt, "w:update:50%", noop)
      assert.matches("RegisterTable: peers%(%).worker%[2%] must be a peer name", err)
      assert.matches("got number %-?nan", err)
      rt = maro.RegisterTable(setmetatable({}, { __index = { peers = 5 } }))
      assert.matches("proxy.peers must be a {type = {name, ...}} table, got number 5",
                     error_of(rt.register_event_handler, rt, "w:update:50%", noop))
    end)

    it("needs a callable handler and a message to push", function()
      local rt = maro.RegisterTable({})
      assert.matches("handler must be a function", error_of(rt.register_event_handler, rt, "a:b:1", 3))
      assert.matches("handler must be a function", error_of(rt.register_event_handler, rt, "a:b:1"))
      assert.is_truthy(rt:register_event_handler("a:b:1", setmetatable({}, { __call = noop })))
      assert.matches("maro.Message expected", error_of(rt.push, rt, { source = "a", tag = "b" }))
    end)

    it("returns the event's number from register_event_handler", function()
      local rt = maro.RegisterTable({})
      assert.are.equal(1, rt:register_event_handler("a:b:1", noop))
      assert.are.equal(2, rt:register_event_handler({ "a:b:1", "c:d:1", "OR" }, noop))
    end)
  end)

  describe("argument checks", function()
    -- Each case calls an entry point from a Lua function (so the error must
    -- point at that line), and lists what its message must say: the argument
    -- by position and name, what was expected, and what was given.
    local src = debug.getinfo(1, "S").short_src
    local nan, inf = 0 / 0, math.huge
    local function rt_with_event()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("a:b:1", noop)
      return rt
    end

    local function check(case)
      local rt = rt_with_event()
      local before = rt:stats()
      local ok, err = pcall(case[2], rt)
      assert.is_false(ok, case[1] .. ": expected an error")
      err = tostring(err)
      assert.is_truthy(err:find(src, 1, true) == 1 and err:match("^[^:]+:%d+: "),
                       case[1] .. ": the error should point at the caller: " .. err)
      for i = 3, #case do
        assert.is_truthy(err:find(case[i], 1, true),
                         case[1] .. ": " .. err .. "\nshould say: " .. case[i])
      end
      assert.are.same(before, rt:stats(), case[1] .. ": a refused call must change nothing")
    end

    local PEERS = "must be a {type = {name, ...}} table, a function returning one, or a proxy"
    local LIST_OF_NAMES = "peers.w must be a list of peer names"
    local NAME = "must be a peer name (a non-empty string)"
    local BAD_PEERS = {
      { "number", 42, PEERS, "got number 42" },
      { "boolean", true, PEERS, "got boolean" },
      { "string", "worker", PEERS, 'got string "worker"' },
      { "thread", coroutine.create(noop), PEERS, "got thread" },
      { "a message", msg("a"), PEERS, "got maro.Message (it has no `peers` field)" },
      { "a type mapped to a number", { w = 5 }, LIST_OF_NAMES .. ", got number 5" },
      { "a type mapped to a string", { w = "w1" }, LIST_OF_NAMES .. ', got string "w1"' },
      { "a number as name", { w = { "a", 2 } }, "peers.w[2] " .. NAME .. ", got number 2" },
      { "nan as name", { w = { nan } }, "peers.w[1] " .. NAME, "got number ", "nan" },
      { "an empty name", { w = { "a", "" } }, "peers.w[2] " .. NAME, "got an empty string" },
      { "a table as name", { w = { {} } }, "peers.w[1] " .. NAME, "got table" },
      { "a list without types", { { "a" } }, "peers must be a {type = {name, ...}} table",
        "a key that is not a type name: number 1" },
      { "a key besides the list", { w = { "a", x = 1 } }, LIST_OF_NAMES .. '; it has the key string "x"' },
      { "a fractional key", { w = { [1.5] = "a" } }, LIST_OF_NAMES .. "; it has the key number 1.5" },
      { "a hole", { w = { "a", nil, "c" } }, LIST_OF_NAMES .. " without holes" },
    }

    local RANGE = "options.max_buffered must be an integer 1..1000000000"
    local BAD_OPTIONS = {
      { "a string", "x", "options must be a table {max_buffered = n} or nil", 'got string "x"' },
      { "a number", 5, "options must be a table", "got number 5" },
      { "zero", { max_buffered = 0 }, RANGE, "got number 0" },
      { "negative", { max_buffered = -1 }, RANGE, "got number -1" },
      { "a fraction", { max_buffered = 1.5 }, RANGE, "got number 1.5" },
      { "nan", { max_buffered = nan }, RANGE, "got number ", "nan" },
      { "inf", { max_buffered = inf }, RANGE, "got number inf" },
      { "-inf", { max_buffered = -inf }, RANGE, "got number -inf" },
      { "huge", { max_buffered = 1e300 }, RANGE, "got number 1e+300" },
      { "above the limit", { max_buffered = 1000000001 }, RANGE, "got number 1000000001" },
      { "maxinteger", { max_buffered = math.maxinteger }, RANGE, "got number " .. math.maxinteger },
      { "a numeric string", { max_buffered = "10" }, RANGE, 'got string "10"' },
      { "a boolean", { max_buffered = true }, RANGE, "got boolean" },
      { "an unknown option", { max_buffer = 1 }, "unknown option 'max_buffer' (options: max_buffered)" },
      { "a list", { 10 }, "unknown option: the key number 1" },
    }

    it("refuse bad peers in the constructor and in set_peers", function()
      for _, c in ipairs(BAD_PEERS) do
        local value = c[2]
        check({ "RegisterTable(" .. c[1] .. ")", function() return maro.RegisterTable(value) end,
                "bad argument #1 to '", "RegisterTable' (", table.unpack(c, 3) })
        check({ "set_peers(" .. c[1] .. ")", function(rt) rt:set_peers(value) end,
                "bad argument #1 to 'set_peers' (", table.unpack(c, 3) })
      end
    end)

    it("refuse bad options", function()
      for _, c in ipairs(BAD_OPTIONS) do
        local value = c[2]
        check({ "options " .. c[1], function() return maro.RegisterTable({}, value) end,
                "bad argument #2 to '", table.unpack(c, 3) })
      end
    end)

    it("refuse bad arguments to the methods", function()
      local HANDLER = "the handler must be a function or a value with __call"
      local LIST = "the list must be a list of {event, handler} pairs"
      local PAIR = "must be a {event, handler} pair"
      for _, c in ipairs({
        { "no event", function(rt) rt:register_event_handler() end,
          "#1 to 'register_event_handler'",
          "event must be a string \"source:tag:amount\" or a combination table, got no value" },
        { "a number handler", function(rt) rt:register_event_handler("a:b:1", 3) end,
          "#2 to 'register_event_handler'", HANDLER, "got number 3" },
        { "a nan handler", function(rt) rt:register_event_handler("a:b:1", nan) end,
          HANDLER, "nan" },
        { "a table handler", function(rt) rt:register_event_handler("a:b:1", {}) end,
          HANDLER, "got table" },
        { "no handler", function(rt) rt:register_event_handler("a:b:1") end,
          HANDLER, "got nil" },
        { "an empty event", function(rt) rt:register_event_handler({}, noop) end,
          "bad event {}", "an empty combination" },
        { "a number event", function(rt) rt:register_event_handler(inf, noop) end,
          "bad event", "got a number" },
        { "an extra argument", function(rt) rt:register_event_handler("a:b:1", noop, 1) end,
          "#3 to 'register_event_handler'",
          "takes 2 arguments (event, handler); got an extra number 1" },
        { "push a table", function(rt) rt:push({ source = "a", tag = "b" }) end,
          "#1 to 'push'", "maro.Message expected, got table" },
        { "push nothing", function(rt) rt:push() end, "#1 to 'push'", "got no value" },
        { "push twice", function(rt) rt:push(msg("a", "b"), msg("a", "b")) end,
          "#2 to 'push'", "push takes 1 argument" },
        { "get with a timeout", function(rt) rt:get(0.5) end,
          "#1 to 'get'", "get takes no arguments; got an extra number 0.5" },
        { "clear with an argument", function(rt) rt:clear(true) end,
          "#1 to 'clear'", "clear takes no arguments" },
        { "stats with an argument", function(rt) rt:stats({}) end,
          "#1 to 'stats'", "got an extra table" },
        { "events with an argument", function(rt) rt:events("x") end,
          "#1 to 'events'", "no arguments" },
        { "set_peers twice", function(rt) rt:set_peers({}, {}) end,
          "#2 to 'set_peers'", "at most 1 argument" },
        { "replace a number", function(rt) rt:replace(5) end,
          "#1 to 'replace'", LIST, "got number 5" },
        { "replace nothing", function(rt) rt:replace() end, LIST, "got no value" },
        { "replace with a key", function(rt) rt:replace({ { "a:b:1", noop }, x = 1 }) end,
          LIST, 'it has the key string "x"' },
        { "replace with a hole",
          function(rt) rt:replace({ { "a:b:1", noop }, nil, { "c:d:1", noop } }) end,
          LIST, "without holes" },
        { "replace a string entry", function(rt) rt:replace({ "a:b:1" }) end,
          "entry 1 " .. PAIR .. ', got string "a:b:1"' },
        { "replace a long entry", function(rt) rt:replace({ { "a:b:1", noop, 3 } }) end,
          "entry 1 " .. PAIR .. ", got a list of 3" },
        { "replace an entry with a key", function(rt) rt:replace({ { "a:b:1", noop, x = 1 } }) end,
          "entry 1 " .. PAIR .. '; it has the key string "x"' },
        { "replace an empty entry", function(rt) rt:replace({ {} }) end,
          "entry 1: " .. HANDLER, "got nil" },
        { "replace a bad handler", function(rt) rt:replace({ { "a:b:1", noop }, { "a:b:1", inf } }) end,
          "entry 2: " .. HANDLER, "got number inf" },
        { "replace twice", function(rt) rt:replace({}, {}) end, "#2 to 'replace'" },
      }) do
        check(c)
      end
    end)

    it("refuse a call on something that is not a register table", function()
      local rt = maro.RegisterTable({})
      for _, name in ipairs({ "register_event_handler", "push", "get", "clear", "set_peers", "stats",
                              "replace", "events", "close" }) do
        local f = rt[name]
        check({ name .. " on a number", function() f(5) end, "maro.RegisterTable expected, got number" })
        check({ name .. " on nothing", function() f() end, "maro.RegisterTable expected, got no value" })
      end
    end)

    it("accept the edge values that are in range", function()
      assert.is_truthy(maro.RegisterTable({}, {}))
      assert.is_truthy(maro.RegisterTable({ w = {} }))
      assert.is_truthy(maro.RegisterTable(nil, { max_buffered = 1 }))
      assert.is_truthy(maro.RegisterTable(nil, { max_buffered = 1000000000 }))
      assert.is_truthy(maro.RegisterTable(nil, { max_buffered = 10.0 }))
      assert.is_truthy(maro.RegisterTable(nil, nil, nil))
      local rt = rt_with_event()
      rt:push(msg("a", "b"), nil)
      assert.are.equal(1, #rt:get(nil))
      assert.are.same({ kept = {}, added = {}, removed = { '"a:b:1"' }, rematched = 0, released = 0 },
                      rt:replace({}))
    end)
  end)

  describe("unit events", function()
    it("trigger once per message", function()
      local rt = maro.RegisterTable({ worker = { "worker_01" } })
      local h = function() end
      rt:register_event_handler("worker_01:update:1", h)
      assert.are.same({}, rt:get())
      assert.are.equal(1, rt:push(msg("worker_01")))
      local got = rt:get()
      assert.are.equal(1, #got)
      assert.are.equal(h, got[1][1])
      assert.are.equal(1, #got[1][2])
      assert.are.equal("worker_01", got[1][2][1].source)
      assert.are.same({}, rt:get())
    end)

    it("hand over the required messages oldest first; the rest stay for the next get", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("w:t:2", noop)
      push_n(rt, "w1", "t", 3, 1)
      local got = rt:get()
      assert.are.equal(1, #got)
      assert.are.equal("1,2", payloads(got[1][2]))
      assert.are.same({}, rt:get()) -- one message waits for a second one
      rt:push(msg("w1", "t", 4))
      assert.are.equal("3,4", payloads(rt:get()[1][2]))
      assert.are.equal(0, rt:stats().buffered)
    end)

    it("fire as often as the waiting messages allow, all in one get()", function()
      local rt = maro.RegisterTable({})
      local h = function() end
      rt:register_event_handler("w:t:2", h)
      push_n(rt, "w1", "t", 7, 1)
      local got = rt:get()
      assert.are.equal(3, #got)
      for i, e in ipairs(got) do
        assert.are.equal(h, e[1])
        assert.are.equal(("%d,%d"):format(2 * i - 1, 2 * i), payloads(e[2]))
      end
      assert.are.same({}, rt:get())
      rt:push(msg("w1", "t", 8))
      assert.are.equal("7,8", payloads(rt:get()[1][2]))
    end)

    it("ignore messages that no event wants", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("worker:update:1", noop)
      assert.are.equal(0, rt:push(msg("master", "update")))
      assert.are.equal(0, rt:push(msg("worker_01", "other")))
      assert.are.equal(0, rt:push(msg("work", "update"))) -- shorter than the prefix
      assert.are.same({}, rt:get())
      assert.are.equal(3, rt:stats().ignored)
    end)

    it("match a source by prefix, and the whole name too", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("worker:update:3", noop)
      rt:push(msg("worker_01"))
      rt:push(msg("worker"))
      rt:push(msg("workerX"))
      assert.are.equal("worker_01,worker,workerX", sources(rt:get()[1][2]))
    end)

    it("take any source with *", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("*:update:2", noop)
      rt:push(msg("master"))
      rt:push(msg("worker_07", "other"))
      rt:push(msg("x"))
      assert.are.equal("master,x", sources(rt:get()[1][2]))
    end)

    it("take any tag with *", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("worker_01:*:2", noop)
      rt:push(msg("worker_01", "a"))
      rt:push(msg("worker_02", "a"))
      rt:push(msg("worker_01", "b"))
      local got = rt:get()[1][2]
      assert.are.equal("worker_01,worker_01", sources(got))
      assert.are.equal("a", got[1].tag)
      assert.are.equal("b", got[2].tag)
    end)

    it("take amounts larger than the number of peers as a count of messages", function()
      local rt = maro.RegisterTable({ worker = { "worker_01", "worker_02" } })
      rt:register_event_handler("worker:update:3", noop)
      rt:push(msg("worker_01"))
      rt:push(msg("worker_02"))
      assert.are.same({}, rt:get())
      rt:push(msg("worker_01"))
      assert.are.equal("worker_01,worker_02,worker_01", sources(rt:get()[1][2]))
    end)
  end)

  describe("percentages", function()
    local function needed(peers, event, source)
      local rt = maro.RegisterTable(peers)
      rt:register_event_handler(event, noop)
      for i = 1, 1000 do
        rt:push(msg(source or "worker_01"))
        local got = rt:get()
        if #got > 0 then return #got[1][2], i end
      end
    end

    it("count the peers whose name matches the source, rounded up", function()
      local five = { worker = names("worker", 5), master = { "master" } }
      local ten = { worker = names("worker", 10), master = { "master" } }
      assert.are.equal(3, needed(five, "worker:update:50%"))  -- 2.5 -> 3
      assert.are.equal(5, needed(ten, "worker:update:50%"))
      assert.are.equal(4, needed(ten, "worker:update:33%"))   -- 3.3 -> 4
      assert.are.equal(5, needed(five, "worker:update:100%"))
      assert.are.equal(10, needed(ten, "worker:update:100%"))
      assert.are.equal(1, needed(ten, "worker:update:1%"))    -- 0.1 -> 1
      assert.are.equal(1, needed(ten, "worker_1:update:100%", "worker_10")) -- only worker_10
      assert.are.equal(6, needed(ten, "*:update:50%"))         -- 11 peers of all types
      assert.are.equal(1, needed(five, "nobody:update:50%", "nobody")) -- at least 1
      assert.are.equal(1, needed({}, "*:update:100%"))
    end)

    it("count a name once even when it is listed twice", function()
      assert.are.equal(2, needed({ a = { "worker_01", "worker_02" }, b = { "worker_01" } },
                                 "worker:update:100%"))
    end)

    it("follow peers joining and leaving (function source)", function()
      local peers = { worker = names("worker", 2) }
      local calls = 0
      local rt = maro.RegisterTable(function() calls = calls + 1; return peers end)
      local h = function() end
      rt:register_event_handler("worker:update:100%", h)
      rt:push(msg("worker_01"))
      assert.are.same({}, rt:get())
      peers = { worker = names("worker", 4) } -- two join: now 4 are needed
      rt:push(msg("worker_02"))
      assert.are.same({}, rt:get())
      rt:push(msg("worker_03"))
      assert.are.same({}, rt:get())
      rt:push(msg("worker_04"))
      assert.are.equal(4, #rt:get()[1][2])
      push_n(rt, "worker_01", "update", 3)
      assert.are.same({}, rt:get())
      peers = { worker = names("worker", 3) } -- one leaves: the three waiting suffice
      assert.are.equal(3, #rt:get()[1][2])
      assert.is_true(calls >= 5)
    end)

    it("follow an object's peers, re-read only when peers_version changes", function()
      local reads = 0
      local state = { version = 1, peers = { worker = names("worker", 2) } }
      local proxy = setmetatable({}, { __index = function(_, k)
        if k == "peers" then
          reads = reads + 1
          local copy = {}
          for t, l in pairs(state.peers) do copy[t] = { table.unpack(l) } end
          return copy
        elseif k == "peers_version" then
          return state.version
        end
      end })
      local rt = maro.RegisterTable(proxy)
      rt:register_event_handler("worker:update:50%", noop)
      local before = reads
      for _ = 1, 5 do assert.are.same({}, rt:get()) end
      assert.are.equal(before, reads)
      rt:push(msg("worker_01"))
      assert.are.equal(1, #rt:get()[1][2])
      state.peers = { worker = names("worker", 6) }
      state.version = 2
      rt:push(msg("worker_01"))
      rt:push(msg("worker_02"))
      assert.are.same({}, rt:get())
      assert.are.equal(before + 1, reads)
      rt:push(msg("worker_03"))
      assert.are.equal(3, #rt:get()[1][2])
    end)

    it("follow a table source through set_peers", function()
      local peers = { worker = names("worker", 2) }
      local rt = maro.RegisterTable(peers)
      rt:register_event_handler("worker:update:100%", noop)
      peers.worker[3] = "worker_03" -- not seen: a table is read once
      push_n(rt, "worker_01", "update", 2)
      assert.are.equal(2, #rt:get()[1][2])
      rt:set_peers() -- re-read the same table
      push_n(rt, "worker_01", "update", 2)
      assert.are.same({}, rt:get())
      rt:set_peers({ worker = names("worker", 1) })
      local got = rt:get()
      assert.are.equal(2, #got)
      assert.are.equal(1, #got[1][2])
      assert.are.equal(1, rt:stats().peers)
    end)
  end)

  describe("combinations", function()
    it("AND waits for both sides", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler({ "worker_01:update:2", "worker_02:update:1", "AND" }, noop)
      rt:push(msg("worker_01"))
      rt:push(msg("worker_01"))
      assert.are.same({}, rt:get())
      rt:push(msg("worker_02"))
      assert.are.equal("worker_01,worker_01,worker_02", sources(rt:get()[1][2]))
    end)

    it("OR fires on either side, handing over the first satisfied alternative", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler({ "worker_01:update:2", "worker_02:update:1", "||" }, noop)
      rt:push(msg("worker_02"))
      assert.are.equal("worker_02", sources(rt:get()[1][2]))
      rt:push(msg("worker_01"))
      assert.are.same({}, rt:get())
      rt:push(msg("worker_01"))
      rt:push(msg("worker_02"))
      local got = rt:get() -- both sides are satisfied: it fires for each, in written order
      assert.are.equal(2, #got)
      assert.are.equal("worker_01,worker_01", sources(got[1][2]))
      assert.are.equal("worker_02", sources(got[2][2]))
      assert.are.same({}, rt:get())
    end)

    it("hand over messages of several units oldest first", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler({ "a:t:2", "b:t:2", "&&" }, noop)
      rt:push(msg("b", "t", 1))
      rt:push(msg("a", "t", 2))
      rt:push(msg("b", "t", 3))
      rt:push(msg("a", "t", 4))
      assert.are.equal("1,2,3,4", payloads(rt:get()[1][2]))
    end)

    it("nest AND and OR at any depth", function()
      local rt = maro.RegisterTable({})
      local event = { { "worker_01:update:2", "worker_02:update:3", "AND" }, "worker_03:update:1", "OR" }
      rt:register_event_handler(event, noop)
      push_n(rt, "worker_01", "update", 2)
      push_n(rt, "worker_02", "update", 2)
      assert.are.same({}, rt:get())
      rt:push(msg("worker_02"))
      assert.are.equal("worker_01,worker_01,worker_02,worker_02,worker_02", sources(rt:get()[1][2]))
      rt:push(msg("worker_03"))
      assert.are.equal("worker_03", sources(rt:get()[1][2]))

      local deep = maro.RegisterTable({})
      deep:register_event_handler({ { { "a:t:1", "b:t:1", "OR" }, "c:t:1", "AND" },
                                    { "d:t:1", { "e:t:1", "f:t:1", "AND" }, "OR" }, "AND" }, noop)
      deep:push(msg("b", "t"))
      deep:push(msg("c", "t"))
      deep:push(msg("e", "t"))
      assert.are.same({}, deep:get())
      deep:push(msg("f", "t"))
      assert.are.equal("b,c,e,f", sources(deep:get()[1][2]))
    end)

    it("accept a combination of one event", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler({ "a:t:1", "AND" }, noop)
      rt:push(msg("a", "t"))
      assert.are.equal(1, #rt:get())
    end)
  end)

  describe("matching inside one event", function()
    it("counts a message for the longest matching source prefix only", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler({ "worker_01:update:1", "worker:update:2", "AND" }, noop)
      rt:push(msg("worker_01", "update", 1))
      rt:push(msg("worker_01", "update", 2)) -- still worker_01's, not worker's
      assert.are.same({}, rt:get())
      rt:push(msg("worker_02", "update", 3))
      assert.are.same({}, rt:get())
      rt:push(msg("worker_03", "update", 4))
      assert.are.equal("1,3,4", payloads(rt:get()[1][2]))
      rt:push(msg("worker_02", "update", 5))
      rt:push(msg("worker_02", "update", 6))
      assert.are.equal("2,5,6", payloads(rt:get()[1][2]))
    end)

    it("prefers the exact tag over * for the same prefix", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler({ "worker_01:update:2", "worker_01:*:1", "AND" }, noop)
      rt:push(msg("worker_01", "update", 1))
      rt:push(msg("worker_01", "other", 2))
      assert.are.same({}, rt:get())
      rt:push(msg("worker_01", "update", 3))
      assert.are.equal("1,2,3", payloads(rt:get()[1][2]))
    end)

    it("prefers a longer prefix with * over a shorter one with the exact tag", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler({ "worker_01:*:1", "worker:update:1", "AND" }, noop)
      rt:push(msg("worker_01", "update", 1))
      rt:push(msg("worker_01", "update", 2))
      assert.are.same({}, rt:get())
      rt:push(msg("worker_02", "update", 3))
      assert.are.equal("1,3", payloads(rt:get()[1][2]))
    end)

    it("puts * source last", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler({ "*:update:1", "m:update:1", "AND" }, noop)
      rt:push(msg("m", "update", 1))
      assert.are.same({}, rt:get())
      rt:push(msg("x", "update", 2))
      assert.are.equal("1,2", payloads(rt:get()[1][2]))
    end)
  end)

  describe("several events", function()
    it("each get their own copy of a message: two handlers fed by one message", function()
      local rt = maro.RegisterTable({})
      local h1, h2 = function() end, function() end
      rt:register_event_handler("worker_01:update:1", h1)
      rt:register_event_handler({ "worker:update:1", "master:stop:1", "OR" }, h2)
      local m = msg("worker_01")
      assert.are.equal(2, rt:push(m))
      assert.are.equal(1, rt:stats().messages)
      assert.are.equal(2, rt:stats().buffered)
      local got = rt:get()
      assert.are.equal(2, #got)
      assert.are.equal(h1, got[1][1])
      assert.are.equal(h2, got[2][1])
      assert.are.equal(m, got[1][2][1])
      assert.are.equal(m, got[2][2][1])
      assert.are.equal(0, rt:stats().messages)
    end)

    it("come out of get() in registration order", function()
      local rt = maro.RegisterTable({})
      local hs = {}
      for i = 1, 5 do
        hs[i] = function() return i end
        rt:register_event_handler(("w%d:t:1"):format(i), hs[i])
      end
      for _, i in ipairs({ 4, 2, 5, 1 }) do rt:push(msg("w" .. i, "t")) end
      local got = rt:get()
      assert.are.equal(4, #got)
      for k, i in ipairs({ 1, 2, 4, 5 }) do assert.are.equal(hs[i], got[k][1]) end
    end)

    it("keep what one event consumes away from the others only", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("w:t:1", noop)
      rt:register_event_handler("w:t:2", noop)
      push_n(rt, "w1", "t", 2, 1)
      local got = rt:get()
      assert.are.equal(3, #got)
      assert.are.equal("1", payloads(got[1][2]))
      assert.are.equal("2", payloads(got[2][2]))
      assert.are.equal("1,2", payloads(got[3][2]))
    end)

    it("may register the same event twice", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("w:t:1", noop)
      rt:register_event_handler("w:t:1", print)
      rt:push(msg("w", "t"))
      local got = rt:get()
      assert.are.equal(2, #got)
      assert.are.equal(print, got[2][1])
    end)
  end)

  describe("syntax errors", function()
    local function bad(event, reason)
      local rt = maro.RegisterTable({})
      local err = error_of(rt.register_event_handler, rt, event, noop)
      assert.matches("bad event", err, 1, true)
      if type(event) == "string" then
        assert.matches('"' .. event .. '"', err, 1, true)
      end
      assert.matches(reason, err, 1, true)
      return err
    end

    it("quote the event and say what is wrong with a unit", function()
      bad("x", "three parts")
      bad("a:b", "three parts")
      bad("a:b:c:1", "three parts")
      bad("", "three parts")
      bad("a:b:x", "positive integer or a percentage")
      bad("a:b:0", "positive integer")
      bad("a:b:-1", "positive integer")
      bad("a:b:1.5", "positive integer")
      bad("a:b: 1", "positive integer")
      bad("a:b:150%", "1%..100%")
      bad("a:b:0%", "1%..100%")
      bad("a:b:%", "positive integer or a percentage")
      bad("a:b:", "the amount is empty")
      bad(":b:1", "the source is empty")
      bad("a::1", "the tag is empty")
      bad("w*:b:1", "\"*\" stands alone")
      bad("w:up*:1", "\"*\" stands alone")
      bad("a:b:99999999999", "larger than")
    end)

    it("quote the whole combination and point at the wrong part", function()
      local err = bad({ "a:b:1", "c:d:x", "AND" }, 'unit "c:d:x"')
      assert.matches('{"a:b:1", "c:d:x", "AND"}', err, 1, true)
      bad({ "a:b:1", "c:d:1" }, "the operator is missing")
      bad({ "a:b:1", { "c:d:1", "e:f:1" }, "OR" }, "the operator is missing")
      bad({ "a:b:1", "c:d:1", "XOR" }, 'unknown operator "XOR"')
      bad({ "a:b:1", "and" }, 'unknown operator "and"')
      bad({ "a:b:1", "AND", "c:d:1" }, 'misplaced operator "AND"')
      bad({ "AND", "a:b:1", "OR" }, 'misplaced operator "AND"')
      bad({ "a:b:1", 3, "AND" }, "element 2 is a number")
      bad({ "a:b:1", true, "AND" }, "element 2 is a boolean")
      bad({ "a:b:1", "OR", 3 }, "misplaced operator \"OR\"")
      bad({}, "an empty combination")
      bad({ "AND" }, "an empty combination")
      bad({ "a:b:1", {}, "AND" }, "an empty combination")
      bad({ "a:b:1", { "OR" }, "AND" }, "an empty combination")
      bad({ "a:b:1", "c:d:1", "AND", x = 1 }, "a combination is a list")
      bad({ "a:b:1", nil, "AND" }, "a combination is a list")
    end)

    it("refuse events that are neither strings nor tables", function()
      bad(42, "got a number")
      bad(true, "got a boolean")
      bad(noop, "got a function")
    end)

    it("refuse nesting deeper than the limit", function()
      local e = "a:b:1"
      for _ = 1, 40 do e = { e, "AND" } end
      bad(e, "deeper than")
    end)

    it("leave the table as it was", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("a:b:1", noop)
      assert.is_false(pcall(rt.register_event_handler, rt, { "a:b:1", "x", "AND" }, noop))
      assert.are.equal(1, rt:stats().events)
      rt:push(msg("a", "b"))
      assert.are.equal(1, #rt:get())
    end)
  end)

  describe("memory", function()
    it("keeps at most max_buffered messages per unit, dropping the oldest", function()
      local rt = maro.RegisterTable({}, { max_buffered = 3 })
      rt:register_event_handler({ "a:t:1", "b:t:1", "AND" }, noop)
      push_n(rt, "a", "t", 10, 1)
      local s = rt:stats()
      assert.are.equal(3, s.buffered)
      assert.are.equal(3, s.messages)
      assert.are.equal(7, s.dropped)
      rt:push(msg("b", "t", 11))
      assert.are.equal("8,11", payloads(rt:get()[1][2]))
      assert.are.equal(2, rt:stats().buffered)
    end)

    it("never keeps fewer than a unit needs", function()
      local rt = maro.RegisterTable({}, { max_buffered = 2 })
      rt:register_event_handler("a:t:5", noop)
      push_n(rt, "a", "t", 6, 1)
      assert.are.equal("2,3,4,5,6", payloads(rt:get()[1][2]))
    end)

    it("warns about drops at a bounded rate", function()
      local lua = arg and arg[-1]
      if not lua then return pending("no interpreter path") end
      local script = ([[
        package.path = %q; package.cpath = %q
        local maro = require("maro")
        maro.log.level("warn")
        local rt = maro.RegisterTable({}, { max_buffered = 2 })
        rt:register_event_handler({"a:t:1", "b:t:1", "AND"}, function() end)
        for i = 1, 5000 do rt:push(maro.Message{source = "a", tag = "t", destination = "m"}) end
        io.stdout:write(rt:stats().dropped, "\n")
      ]]):format(package.path, package.cpath)
      local path = os.tmpname()
      local w = assert(io.open(path, "w"))
      w:write(script)
      w:close()
      local f = assert(io.popen(("'%s' '%s' 2>&1"):format(lua, path)))
      local out = f:read("a")
      f:close()
      os.remove(path)
      local warnings = select(2, out:gsub("dropped its oldest", ""))
      assert.are.equal(1, warnings, out)
      assert.matches("max_buffered", out)
      assert.matches("\n4998\n", "\n" .. out)
    end)

    it("lets clear() empty every buffer", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("a:t:2", noop)
      rt:register_event_handler("*:*:1", noop)
      push_n(rt, "a", "t", 3)
      rt:clear()
      assert.are.same({ 0, 0 }, { rt:stats().buffered, rt:stats().messages })
      assert.are.same({}, rt:get())
      rt:push(msg("a", "t", "x"))
      local got = rt:get()
      assert.are.equal(1, #got)
      assert.are.equal("x", got[1][2][1].payload)
    end)

    it("lets clear() forget everything, however many events are registered", function()
      -- 3000 events of several shapes; after some pushes some are ready, some
      -- half-way (one side of an AND), some hold more than they need. After
      -- clear() the table must behave exactly like a fresh one with the same
      -- events, and the messages it held must be free to collect.
      local function events_of(i)
        local w = ("w%04d"):format(i)
        local shapes = {
          w .. ":t:2",
          { w .. ":t:1", w .. ":u:1", "AND" },
          { { w .. ":t:3", w .. ":u:1", "AND" }, w .. ":v:2", "OR" },
          w .. ":t:50%",
        }
        return shapes[i % #shapes + 1]
      end
      local peers = { worker = names("w", 4) }
      local function fresh()
        local rt = maro.RegisterTable(peers)
        for i = 1, 3000 do rt:register_event_handler(events_of(i), noop) end
        return rt
      end
      local function fired(rt)
        local out = {}
        for k, e in ipairs(rt:get()) do out[k] = payloads(e[2]) end
        return out
      end
      local function second_round(rt)
        for i = 1, 3000, 7 do
          local w = ("w%04d"):format(i)
          rt:push(msg(w, "t", i))
          rt:push(msg(w, "u", -i))
        end
        return fired(rt)
      end

      local rt = fresh()
      local weak = setmetatable({}, { __mode = "v" })
      do
        for i = 1, 3000, 3 do
          local w = ("w%04d"):format(i)
          for _, tag in ipairs({ "t", "t", "t", "u", "v" }) do
            local m = msg(w, tag, i)
            weak[#weak + 1] = m
            rt:push(m)
          end
        end
        local half = fired(rt) -- empties some units, leaves others holding messages
        assert.is_true(#half > 0)
        for i = 2, 3000, 3 do rt:push(msg(("w%04d"):format(i), "t", i)) end -- some ready again
        assert.is_true(rt:stats().buffered > 0)
      end
      rt:clear()
      local s = rt:stats()
      assert.are.same({ 0, 0 }, { s.buffered, s.messages })
      assert.are.same({}, rt:get())
      collectgarbage()
      collectgarbage()
      assert.is_nil(next(weak))
      assert.are.same(second_round(fresh()), second_round(rt))
      rt:clear()
      rt:clear() -- twice in a row is harmless
      assert.are.same(second_round(fresh()), second_round(rt))
    end)

    it("lets go of messages once they are handed out", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("a:t:1", noop)
      local weak = setmetatable({}, { __mode = "v" })
      do
        local m = msg("a", "t")
        weak[1] = m
        rt:push(m)
        rt:get()
      end
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak[1])
    end)
  end)

  describe("against a reference model", function()
    -- A direct transcription of the rules, slow and simple: every event looks
    -- at every unit for every message.
    local function model(max_buffered)
      local m = { events = {}, peers = {}, seq = 0 }

      local function matches(u, source, tag)
        return source:sub(1, #u.prefix) == u.prefix and (u.tag == "*" or u.tag == tag)
      end

      local function required(u)
        if not u.pct then return u.amount end
        local n = 0
        for name in pairs(m.peers) do
          if name:sub(1, #u.prefix) == u.prefix then n = n + 1 end
        end
        return math.max(1, math.ceil(u.amount * n / 100))
      end

      local function sat(node)
        if node.units then return #node.buf >= required(node) end
        for _, k in ipairs(node) do
          local s = sat(k)
          if node.op == "OR" and s then return true end
          if node.op == "AND" and not s then return false end
        end
        return node.op == "AND"
      end

      local function take(node, out)
        if node.units then
          out[#out + 1] = node
          return out
        end
        for _, k in ipairs(node) do
          if sat(k) then
            take(k, out)
            if node.op == "OR" then break end
          end
        end
        return out
      end

      local function build(e, units)
        if type(e) == "string" then
          local src, tag, amount = e:match("^([^:]*):([^:]*):(.*)$")
          local u = { units = true, prefix = src == "*" and "" or src, tag = tag, buf = {},
                      pct = amount:sub(-1) == "%", amount = tonumber((amount:gsub("%%", ""))) }
          units[#units + 1] = u
          return u
        end
        local n = { op = (e[#e] == "AND" or e[#e] == "&&") and "AND" or "OR" }
        for i = 1, #e - 1 do n[i] = build(e[i], units) end
        return n
      end

      function m.register(e)
        local units = {}
        m.events[#m.events + 1] = { root = build(e, units), units = units }
      end

      function m.push(source, tag, id)
        m.seq = m.seq + 1
        for _, ev in ipairs(m.events) do
          local best
          for _, u in ipairs(ev.units) do
            if matches(u, source, tag) and (not best or #u.prefix > #best.prefix or
                (#u.prefix == #best.prefix and best.tag == "*" and u.tag ~= "*")) then
              best = u
            end
          end
          if best then
            local limit = math.max(max_buffered, required(best))
            while #best.buf >= limit do table.remove(best.buf, 1) end
            best.buf[#best.buf + 1] = { seq = m.seq, id = id }
          end
        end
      end

      function m.clear()
        for _, ev in ipairs(m.events) do
          for _, u in ipairs(ev.units) do u.buf = {} end
        end
      end

      function m.get()
        local out = {}
        for i, ev in ipairs(m.events) do
          while sat(ev.root) do
            local got = {}
            for _, u in ipairs(take(ev.root, {})) do
              for _ = 1, required(u) do got[#got + 1] = table.remove(u.buf, 1) end
            end
            table.sort(got, function(a, b) return a.seq < b.seq end)
            local ids = {}
            for k, g in ipairs(got) do ids[k] = g.id end
            out[#out + 1] = i .. ":" .. table.concat(ids, ",")
          end
        end
        return out
      end

      return m
    end

    local PREFIXES = { "*", "w", "w1", "w12", "w2", "m", "x" }
    local TAGS = { "a", "b", "*" }
    local NAMES = { "w1", "w12", "w123", "w2", "w21", "m", "m1" }

    local function random_unit()
      local amount = math.random(4) == 1 and (({ 25, 50, 100 })[math.random(3)] .. "%")
                                         or tostring(math.random(3))
      return PREFIXES[math.random(#PREFIXES)] .. ":" .. TAGS[math.random(#TAGS)] .. ":" .. amount
    end

    local function random_event(depth)
      if depth > 2 or math.random(3) == 1 then return random_unit() end
      local e = {}
      for i = 1, math.random(3) do e[i] = random_event(depth + 1) end
      e[#e + 1] = ({ "AND", "OR", "&&", "||" })[math.random(4)]
      return e
    end

    -- rounds of random events and pushes, get() compared after some; with
    -- clears, a few steps also clear both.
    local function workload(seed, rounds, clears)
      math.randomseed(seed)
      for _ = 1, rounds do
        local max_buffered = math.random(2, 6)
        local peers = {}
        local function peer_table()
          local list = {}
          for name in pairs(peers) do list[#list + 1] = name end
          return { any = list }
        end
        local ref = model(max_buffered)
        ref.peers = peers
        local rt = maro.RegisterTable(peer_table, { max_buffered = max_buffered })
        local index = {}
        for i = 1, math.random(1, 8) do
          local e = random_event(1)
          ref.register(e)
          local h = function() end
          index[h] = i
          rt:register_event_handler(e, h)
        end
        for id = 1, 150 do
          local r = math.random(10)
          if clears and math.random(20) == 1 then
            ref.clear()
            rt:clear()
          elseif r == 1 then
            peers[NAMES[math.random(#NAMES)]] = (math.random(2) == 1) or nil
          elseif r <= 3 then
            local want = ref.get()
            local have = {}
            for k, e in ipairs(rt:get()) do
              local ids = {}
              for j, msg in ipairs(e[2]) do ids[j] = msg.payload end
              have[k] = index[e[1]] .. ":" .. table.concat(ids, ",")
            end
            assert.are.same(want, have)
          else
            local source = math.random(8) == 1 and "z" or NAMES[math.random(#NAMES)]
            local tag = ({ "a", "b", "c" })[math.random(3)]
            ref.push(source, tag, id)
            rt:push(msg(source, tag, id))
          end
        end
      end
    end

    it("agrees on random workloads", function()
      workload(20240531, 60, false)
    end)

    it("agrees on random workloads with clear()", function()
      workload(20240601, 60, true)
    end)
  end)

  describe("lifetime", function()
    it("closes idempotently, also as a to-be-closed variable", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("a:t:1", noop)
      rt:close()
      rt:close()
      assert.matches("closed", error_of(rt.push, rt, msg("a", "t")))
      assert.matches("closed", error_of(rt.get, rt))
      assert.matches("closed", tostring(rt))
      do
        local scoped <close> = maro.RegisterTable({})
        scoped:register_event_handler("a:t:1", noop)
      end
      collectgarbage()
    end)

    it("describes itself", function()
      local rt = maro.RegisterTable({})
      rt:register_event_handler("a:t:2", noop)
      rt:push(msg("a", "t"))
      assert.are.equal("RegisterTable(1 events, 1 messages buffered)", tostring(rt))
    end)
  end)
end)
