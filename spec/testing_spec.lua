-- maro.testing: in-process groups of connected proxies, with no Redis and no
-- sockets, and every primitive of the Proxy between them.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local maro = require("maro")
local testing = require("maro.testing")

local function pid()
  local f = assert(io.open("/proc/self/stat"))
  local p = f:read("l"):match("^%d+")
  f:close()
  return p
end

-- Descriptors of this process that are sockets (TCP, Unix, netlink...).
local function socket_count()
  local n = 0
  local p = io.popen("ls -l /proc/" .. pid() .. "/fd 2>/dev/null")
  for line in p:lines() do
    if line:match("socket:") then
      n = n + 1
    end
  end
  p:close()
  return n
end

describe("maro.testing", function()
  local g

  after_each(function()
    if g then
      g:close()
      g = nil
    end
    procs.cleanup()
  end)

  describe("group", function()
    it("builds named, connected proxies of each type", function()
      g = testing.group{ master = 1, worker = 3 }
      assert.are.equal(1, #g.master)
      assert.are.equal(3, #g.worker)
      assert.are.equal("master_1", g.master[1].name)
      for i = 1, 3 do
        local w = g.worker[i]
        assert.are.equal("worker_" .. i, w.name)
        assert.are.equal("worker", w.component_type)
        assert.are.equal(g.name, w.group_name)
        assert.matches("^inproc://", w.address)
      end
      assert.are.same({ worker = { "worker_1", "worker_2", "worker_3" } }, g.master[1].peers)
      assert.are.same({ master = { "master_1" }, worker = { "worker_2", "worker_3" } },
        g.worker[1].peers)
      assert.are.equal(g.worker[2], g:proxy("worker_2"))
      assert.is_nil(g:proxy("nobody"))
      assert.are.equal(4, #g.proxies)
    end)

    it("gives every group its own name", function()
      g = testing.group{ worker = 1 }
      local other <close> = testing.group{ worker = 1 }
      assert.are_not.equal(g.name, other.name)
      assert.matches("^testing_", g.name)
      local named <close> = testing.group({ a = 1 }, { name = "my_group" })
      assert.are.equal("my_group", named.a[1].group_name)
    end)

    it("accepts a list of {type, count} and proxy options", function()
      g = testing.group({ { "worker", 2 }, { "master", 1 } }, { max_buffered_messages = 7 })
      assert.are.equal("worker_2", g.worker[2].name)
      assert.are.equal("master_1", g.master[1].name)
    end)

    it("refuses bad counts", function()
      assert.has_error(function() testing.group(3) end)
      assert.has_error(function() testing.group{} end,
        "maro.testing: group(counts): no component types given")
      assert.has_error(function() testing.group{ worker = 0 } end)
      assert.has_error(function() testing.group{ worker = 1.5 } end)
      assert.has_error(function() testing.group{ close = 1 } end)
      assert.has_error(function() testing.group{ [""] = 1 } end)
    end)

    it("adds a late member that the others see at once", function()
      g = testing.group{ master = 1, worker = 1 }
      local late = g:add("worker")
      assert.are.equal("worker_2", late.name)
      assert.are.equal(late, g.worker[2])
      assert.are.same({ "worker_1", "worker_2" }, g.master[1].peers.worker)
      local monitor = g:add("monitor", "mon")
      assert.are.equal("mon", monitor.name)
      -- a new type is not followed by the earlier members, yet reachable by name
      assert.is_nil(g.worker[1].peers.monitor)
      g.worker[1]:isend(testing.message("worker_1", "mon", "hello"))
      assert.are.equal("hello", monitor:receive_once(0).tag)
      assert.has_error(function() g:add("worker", "worker_1") end)
    end)

    it("collects a proxy nobody refers to, and its name is free again", function()
      g = testing.group{ master = 1 }
      local function temp()
        return maro.Proxy{ hub = g.hub, group_name = g.name, component_type = "worker",
          component_name = "temp" }
      end
      local weak = setmetatable({}, { __mode = "v" })
      do
        weak[1] = temp()
        assert.has_error(temp) -- the name is taken while it lives
      end
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak[1])
      local again = temp()
      assert.are.equal("temp", again.name)
      again:close()
    end)

    it("needs no Redis and opens no socket", function()
      local before = socket_count()
      g = testing.group{ master = 1, worker = 2 }
      g.master[1]:isend(testing.message("master_1", "worker_2", "x", 1))
      assert.are.equal(1, g.worker[2]:receive_once(0).payload)
      assert.are.equal(before, socket_count())
      -- and in a process where MARO_REDIS points nowhere
      local dir = procs.tmpdir()
      local script = dir .. "/t.lua"
      local f = assert(io.open(script, "w"))
      f:write([[
        local testing = require("maro.testing")
        local g = testing.group{ a = 1, b = 1 }
        g.a[1]:isend(testing.message("a_1", "b_1", "t", "ok"))
        print(g.b[1]:receive_once(0).payload)
        g:close()
      ]])
      f:close()
      local p = procs.spawn(script, {}, { MARO_REDIS = "127.0.0.1:1", MARO_GROUP = "" })
      assert.are.equal(0, p:wait(20), p:report())
      assert.are.equal("ok\n", p:stdout())
    end)

    it("refuses to wait for expected peers that cannot join meanwhile", function()
      g = testing.group{ master = 1 }
      local e = select(2, pcall(maro.Proxy, { hub = g.hub, group_name = g.name,
        component_type = "worker", component_name = "w", expected_peers = { boss = 1 } }))
      assert.matches("expected peers missing in group '" .. g.name .. "' (boss: 0 of 1", e,
        1, true)
      assert.matches("create the expected peers first", e, 1, true)
    end)
  end)

  describe("between the proxies of a group", function()
    local m, w1, w2

    before_each(function()
      g = testing.group{ master = 1, worker = 2 }
      m, w1, w2 = g.master[1], g.worker[1], g.worker[2]
    end)

    it("keeps every queued payload intact while the sender goes on sending", function()
      -- The sender reuses the buffer of its last payload only when no queue
      -- still holds it: these all wait, unread, in worker_1's queue.
      for i = 1, 50 do
        m:isend(testing.message("master_1", "worker_1", "data", ("%d"):format(i):rep(i)))
      end
      local got = testing.collect(w1)
      assert.are.equal(50, #got)
      for i, msg in ipairs(got) do
        assert.are.equal(("%d"):format(i):rep(i), msg.payload)
      end
    end)

    it("isend and receive, with the wire's types kept", function()
      local payload = { 1, 2.5, "three", { nested = true }, [10] = false, big = ("x"):rep(5000) }
      local ids = m:isend(testing.message("master_1", "worker_1", "data", payload))
      assert.are.equal(1, #ids)
      local got = testing.collect(w1)
      assert.are.equal(1, #got)
      local msg = got[1]
      assert.are.equal("data", msg.tag)
      assert.are.equal("master_1", msg.source)
      assert.are.equal("worker_1", msg.destination)
      assert.are.equal(ids[1], msg.session_id)
      assert.are.same(payload, msg.payload)
      assert.are.equal("integer", math.type(msg.payload[1]))
      assert.are.equal("float", math.type(msg.payload[2]))
      assert.is_nil(w2:receive_once(0))
      -- in order, through the iterator
      for i = 1, 3 do
        m:isend(testing.message("master_1", "worker_2", "n", i))
      end
      local n = {}
      for msg2 in w2:receive(0) do
        n[#n + 1] = msg2.payload
      end
      assert.are.same({ 1, 2, 3 }, n)
    end)

    it("honours timeouts while nothing arrives", function()
      local t0 = maro.now()
      assert.is_nil(w1:receive_once(0.15))
      local took = maro.now() - t0
      assert.is_true(took >= 0.15 and took < 1, "took " .. took)
      t0 = maro.now()
      local replies, pending = m:send(testing.task("master_1", "worker_1", "t"), 0.1)
      assert.are.same({}, replies)
      assert.are.equal(1, #pending)
      assert.is_true(maro.now() - t0 < 1)
    end)

    it("receive_by_id takes its sessions and keeps the rest for receive", function()
      local a = m:isend(testing.task("master_1", "worker_1", "a"))
      local b = m:isend(testing.task("master_1", "worker_1", "b"))
      for msg in w1:receive(0) do
        w1:reply(msg, { payload = msg.tag .. "!" })
      end
      local replies, pending = m:receive_by_id(b, 0)
      assert.are.same({}, pending)
      assert.are.equal("b!", replies[1].payload)
      local rest = testing.collect(m)
      assert.are.same({ "a!" }, testing.field(rest, "payload"))
      assert.are.equal(a[1], rest[1].session_id)
      replies, pending = m:receive_by_id(a, 0)
      assert.are.same({}, replies)
      assert.are.same(a, pending)
    end)

    it("follows the stages of a task: ack, then complete", function()
      local ids = m:isend(testing.task("master_1", "worker_1", "job", 5))
      assert.are.equal(maro.TaskSessionStage.REQUEST, m:session_stage(ids[1]))
      local req = w1:receive_once(0)
      assert.are.equal(maro.TaskSessionStage.REQUEST, req.session_stage)
      w1:reply(req, { ack = true })
      local replies, pending = m:receive_by_id(ids, 0)
      assert.are.same({}, replies) -- an ack only moves the stage
      assert.are.same(ids, pending)
      assert.are.equal(maro.TaskSessionStage.RECEIVE, m:session_stage(ids[1]))
      w1:reply(req, { tag = "done", payload = 10 })
      replies = m:receive_by_id(ids, 0)
      assert.are.equal("done", replies[1].tag)
      assert.are.equal(maro.TaskSessionStage.COMPLETE, replies[1].session_stage)
      assert.are.equal("worker_1", replies[1].source)
      assert.are.equal(10, replies[1].payload)
      assert.is_nil(m:session_stage(ids[1]))
      -- a notification's reply
      ids = m:isend(testing.notification("master_1", "worker_2", "note"))
      w2:reply(w2:receive_once(0))
      replies = m:receive_by_id(ids, 0)
      assert.are.equal(maro.NotificationSessionStage.RECEIVE, replies[1].session_stage)
    end)

    it("scatters with iscatter, then receive_by_id", function()
      local ids = m:iscatter("square", maro.SessionType.TASK,
        { { "worker_1", 3 }, { "worker_2", 4 } })
      assert.are.equal(2, #ids)
      for _, w in ipairs({ w1, w2 }) do
        local req = w:receive_once(0)
        w:reply(req, { payload = req.payload * req.payload })
      end
      local replies, pending = m:receive_by_id(ids, 0)
      assert.are.same({}, pending)
      assert.are.same({ 9, 16 }, testing.sorted(testing.field(replies, "payload")))
    end)

    it("broadcasts to every peer of a type, one reply each", function()
      local ids = m:ibroadcast("worker", "ping", maro.SessionType.TASK, "hi")
      assert.are.equal(2, #ids)
      assert.are.equal(ids[1], ids[2])
      for _, w in ipairs({ w1, w2 }) do
        local req = w:receive_once(0)
        assert.are.equal("worker", req.destination)
        assert.are.equal("hi", req.payload)
        w:reply(req, { payload = w.name })
      end
      local replies, pending = m:receive_by_id(ids, 0)
      assert.are.same({}, pending)
      assert.are.same({ "worker_1", "worker_2" }, testing.sorted(testing.field(replies, "source")))
      assert.has_error(function() m:ibroadcast("nobody", "x") end)
    end)

    it("forwards a message, keeping its session", function()
      local ids = m:isend(testing.task("master_1", "worker_1", "job", "data"))
      local req = w1:receive_once(0)
      w1:forward(req, "worker_2", { tag = "job2" })
      local fwd = w2:receive_once(0)
      assert.are.equal("job2", fwd.tag)
      assert.are.equal("worker_1", fwd.source)
      assert.are.equal("data", fwd.payload)
      assert.are.equal(ids[1], fwd.session_id)
      w2:reply(fwd, { payload = "from 2" }) -- goes back to worker_1, its source
      assert.are.equal("from 2", w1:receive_once(0).payload)
    end)

    it("raises on an unknown destination, naming it and the group", function()
      local e = select(2, pcall(m.isend, m, testing.message("master_1", "ghost", "x")))
      assert.matches("unknown destination 'ghost'", e, 1, true)
      assert.matches(g.name, e, 1, true)
    end)

    it("drops what max_message_size refuses, as on the network", function()
      local small <close> = testing.group({ a = 1, b = 1 }, { max_message_size = 1000 })
      small.a[1]:isend(testing.message("a_1", "b_1", "big", ("x"):rep(2000)))
      small.a[1]:isend(testing.message("a_1", "b_1", "small", "x"))
      assert.are.equal("small", small.b[1]:receive_once(0).tag)
      assert.are.equal(1, small.b[1].dropped)
    end)
  end)

  describe("a dist worker", function()
    local Counter = {}
    Counter.__index = Counter
    function Counter.new()
      return setmetatable({ count = 0 }, Counter)
    end

    local handlers = {
      ["master:add:1"] = function(that, proxy, messages)
        that.count = that.count + messages[1].payload
        proxy:reply(messages[1], { payload = that.count })
      end,
    }

    it("answers when stepped", function()
      g = testing.group{ master = 1, worker = 1 }
      local w = maro.dist(g.worker[1], handlers)(Counter)()
      local ids = g.master[1]:isend(testing.task("master_1", "worker_1", "add", 5))
      assert.are.equal(1, w:step(0))
      local replies, pending = g.master[1]:receive_by_id(ids, 0)
      assert.are.same({}, pending)
      assert.are.equal(5, replies[1].payload)
      assert.are.equal(5, w.count)
    end)

    it("answers a blocking send, scatter and broadcast when driven", function()
      g = testing.group{ master = 1, worker = 3 }
      for i = 1, 3 do
        g:drive(maro.dist(g.worker[i], handlers)(Counter)())
      end
      local m = g.master[1]
      local replies, pending = m:send(testing.task("master_1", "worker_2", "add", 2), 5)
      assert.are.same({}, pending)
      assert.are.equal(2, replies[1].payload)
      replies = m:scatter("add", maro.SessionType.TASK, { { "worker_1", 1 }, { "worker_3", 3 } },
        5)
      assert.are.same({ 1, 3 }, testing.sorted(testing.field(replies, "payload")))
      replies = m:broadcast("worker", "add", maro.SessionType.TASK, 10, 5)
      assert.are.same({ 11, 12, 13 }, testing.sorted(testing.field(replies, "payload")))
    end)

    it("lets driven workers talk to each other; settle() runs them until quiet", function()
      g = testing.group{ master = 1, worker = 2 }
      local relay = maro.dist(g.worker[1], {
        ["master:relay:1"] = function(_, proxy, messages)
          -- a blocking send from inside a handler: worker_2 is driven meanwhile
          local r = proxy:send(testing.task("worker_1", "worker_2", "add", messages[1].payload), 5)
          proxy:reply(messages[1], { payload = r[1] and r[1].payload })
        end,
      })(Counter)()
      local adder = maro.dist(g.worker[2], { ["worker_1:add:1"] = handlers["master:add:1"] })(
        Counter)()
      g:drive(relay)
      g:drive(adder)
      local ids = g.master[1]:isend(testing.task("master_1", "worker_1", "relay", 7))
      assert.is_true(g:settle() >= 1)
      local replies = g.master[1]:receive_by_id(ids, 0)
      assert.are.equal(7, replies[1].payload)
      assert.are.equal(7, adder.count)
      g:undrive(relay)
      local t0 = maro.now()
      local _, pending = g.master[1]:send(testing.task("master_1", "worker_1", "relay", 1), 0.1)
      assert.are.equal(1, #pending) -- nobody steps worker_1 now
      assert.is_true(maro.now() - t0 < 1)
    end)

    it("logs a driver's error and refuses to close the group from a driver", function()
      g = testing.group{ master = 1, worker = 1 }
      local err
      g:drive(function()
        err = select(2, pcall(g.close, g))
        error("driver failed")
      end)
      assert.is_nil(g.master[1]:receive_once(0.05))
      assert.matches("close: called from a driver", err, 1, true)
      assert.is_false(g:closed())
      assert.is_false(g.master[1].closed)
    end)

    it("does not run a driver whose proxy is the one waiting", function()
      g = testing.group{ master = 1, worker = 1 }
      local runs = 0
      g:drive(function()
        runs = runs + 1
        return false
      end, g.worker[1])
      assert.is_nil(g.worker[1]:receive_once(0.05))
      assert.are.equal(0, runs)
      assert.is_nil(g.master[1]:receive_once(0.05))
      assert.is_true(runs > 0)
    end)
  end)

  describe("helpers", function()
    it("feed() drives a register table", function()
      local rt = maro.RegisterTable({ worker = { "worker_1", "worker_2" } })
      local function pair() end
      local function each() end
      rt:register_event_handler({ "worker_1:r:1", "worker_2:r:1", "AND" }, pair)
      rt:register_event_handler("worker:done:1", each)
      local fired = testing.feed(rt, {
        testing.message("worker_1", "master", "r", 1),
        testing.message("worker_1", "master", "done"),
        testing.message("worker_1", "master", "r", 2),
        testing.message("worker_2", "master", "r", 3),
      })
      assert.are.equal(2, #fired)
      assert.are.equal(each, fired[1].handler)
      assert.are.equal(pair, fired[2].handler)
      assert.are.same({ 1, 3 }, testing.field(fired[2].messages, "payload"))
    end)

    it("builds messages", function()
      local t = testing.task("a", "b", "t", { 1 })
      assert.are.equal(maro.SessionType.TASK, t.session_type)
      assert.are.equal(maro.TaskSessionStage.REQUEST, t.session_stage)
      local n = testing.notification("a", "b", "n")
      assert.are.equal(maro.NotificationSessionStage.REQUEST, n.session_stage)
      local m = testing.message("a", "b", "m", "p")
      assert.are.same({ "a", "b", "m", "p" }, { m.source, m.destination, m.tag, m.payload })
    end)
  end)

  describe("closing", function()
    it("closes every member; the others see them leave", function()
      g = testing.group{ master = 1, worker = 2 }
      local proxies = { g.master[1], g.worker[1], g.worker[2] }
      g.worker[2]:close()
      assert.are.same({ "worker_1" }, g.master[1].peers.worker)
      local e = select(2, pcall(g.master[1].isend, g.master[1],
        testing.message("master_1", "worker_2", "x")))
      assert.matches("unknown destination 'worker_2'", e, 1, true)
      g:close()
      g:close() -- idempotent
      assert.is_true(g:closed())
      for _, p in ipairs(proxies) do
        assert.is_true(p.closed)
      end
      assert.has_error(function() g:add("worker") end, "maro.testing: add: the group is closed")
      g = nil
    end)

    it("closes at the end of a <close> scope and when collected", function()
      local kept
      do
        local scoped <close> = testing.group{ a = 1 }
        kept = scoped.a[1]
      end
      assert.is_true(kept.closed)
      local weak = setmetatable({}, { __mode = "v" })
      do
        local lost = testing.group{ a = 1, b = 1 }
        weak[1] = lost
        kept = lost.a[1]
      end
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak[1])
      assert.is_true(kept.closed)
    end)
  end)
end)
