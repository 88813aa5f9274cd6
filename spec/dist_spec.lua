-- maro.dist: a local class as a worker driven by conditional events. A master
-- and a worker proxy live in this process, in a maro.testing group (no Redis);
-- the log checks run a worker under marohost, joined through a private Redis.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local maro = require("maro")
local dist = require("maro.dist")
local testing = require("maro.testing")
local uuid = require("maro.core").uuid

local SCRIPTS = here .. "scripts/dist/"

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("maro.dist", function()
  local g, master, proxy

  teardown(function()
    procs.cleanup()
  end)

  before_each(function()
    g = testing.group{ master = 1, worker = 1 }
    master, proxy = g.master[1], g.worker[1]
  end)

  after_each(function()
    g:close()
  end)

  local function send(tag, payload)
    return master:isend(testing.message("master_1", "worker_1", tag, payload))
  end

  -- Steps the worker until fn() is true (at most 5 s).
  local function step_until(w, fn, what)
    local deadline = maro.now() + 5
    while not fn() do
      assert(maro.now() < deadline, "timed out waiting for " .. (what or "a condition"))
      w:step(0.05)
    end
  end

  -- A proxy that records each receive_once of the worker: the wait asked
  -- for, when it began (start), how long it took, how many descriptors were
  -- watched meanwhile, and what it returned. hooks.before(n) runs before the
  -- n-th receive; hooks.receive(n, wait), when given, receives in its place.
  local function recording(p, hooks)
    hooks = hooks or {}
    local calls, watched = {}, 0
    local rec = setmetatable({ calls = calls }, { __index = function(_, k)
      local v = p[k]
      if type(v) == "function" then
        return function(_, ...) return v(p, ...) end
      end
      return v
    end })
    rec.watch_fd = function(_, ...)
      local ok = p:watch_fd(...)
      if ok then
        watched = watched + select("#", ...)
      end
      return ok
    end
    rec.unwatch_fd = function(_, ...)
      p:unwatch_fd(...)
      watched = math.max(0, watched - select("#", ...))
    end
    rec.receive_once = function(_, wait)
      local n = #calls + 1
      if hooks.before then
        hooks.before(n)
      end
      local call = { wait = wait, start = maro.now(), watched = watched }
      local msg
      if hooks.receive then
        msg = hooks.receive(n, wait)
      else
        msg = p:receive_once(wait)
      end
      call.took, call.msg = maro.now() - call.start, msg
      calls[n] = call
      return msg
    end
    return rec
  end

  -- p:receive_once() without a timeout, so that only what the test is about
  -- can end the wait; a driver of the group sends p a "watchdog" message
  -- after `after` seconds (default 20), so that the spec ends in any case.
  -- Returns what the receive returned.
  local function receive_or_watchdog(p, after)
    local due, fired = maro.now() + (after or 20), false
    local fn = g:drive(function()
      if fired or maro.now() < due then
        return false
      end
      fired = true
      master:isend(testing.message("master_1", p.name, "watchdog"))
      return true
    end)
    local msg = p:receive_once()
    g:undrive(fn)
    return msg
  end

  local Counter = {}
  Counter.__index = Counter
  function Counter.new(start, step)
    return setmetatable({ count = start, inc = step or 1 }, Counter)
  end
  function Counter:bump(by)
    self.count = self.count + (by or self.inc)
    return self.count
  end

  describe("the worker", function()
    it("is built by Worker(...) and Worker.new(...) from Class.new", function()
      local Worker = maro.dist(proxy, { ["master:x:1"] = function() end })(Counter)
      local a, b = Worker(5, 2), Worker.new(7)
      assert.are.equal(5, a.count)
      assert.are.equal(2, a.inc)
      assert.are.equal(7, b.count)
      assert.are.equal(Counter, getmetatable(dist.instance(a)))
    end)

    it("calls a class without a new field", function()
      local made = {}
      local Class = setmetatable({}, { __call = function(_, x)
        made[#made + 1] = x
        return { x = x }
      end })
      local Worker = maro.dist(proxy, { ["master:x:1"] = function() end })(Class)
      assert.are.equal(3, Worker(3).x)
      assert.are.same({ 3 }, made)
      local FnClass = function(x) return { y = x * 2 } end
      assert.are.equal(8, maro.dist(proxy, { ["master:x:1"] = print })(FnClass)(4).y)
    end)

    it("reaches the instance's fields and methods, with the instance as self", function()
      local w = maro.dist(proxy, { ["master:x:1"] = print })(Counter)(10)
      assert.are.equal(10, w.count)
      assert.are.equal(11, w:bump())
      assert.are.equal(11, dist.instance(w).count)
      w.count = 100
      assert.are.equal(100, dist.instance(w).count)
      w.extra = "new field"
      assert.are.equal("new field", dist.instance(w).extra)
      assert.are.equal(103, w:bump(3))
      -- a method taken from the wrapper still finds the instance
      local bump = w.bump
      assert.are.equal(104, bump(w, 1))
      assert.are.equal(105, Counter.bump(dist.instance(w), 1))
    end)

    it("keeps launch, step, stop and reload for itself", function()
      local Class = { new = function() return { launch = "mine", step = 1, other = 2 } end }
      local w = maro.dist(proxy, { ["master:x:1"] = print })(Class)()
      assert.are.equal("function", type(w.launch))
      assert.are.equal("function", type(w.step))
      assert.are.equal(2, w.other)
      assert.has_error(function() w.stop = 1 end)
    end)

    it("refuses a bad class, proxy, handler table or option", function()
      local ok = { ["master:x:1"] = print }
      assert.has_error(function() maro.dist(proxy, ok)(42) end,
        "maro.dist(proxy, handlers)(Class): Class must have a 'new' function or be callable, "
          .. "got 42")
      assert.has_error(function() maro.dist(proxy, ok)({ new = function() end })() end,
        "dist: the class constructor returned nil, not an instance")
      assert.has_error(function() maro.dist(nil, ok) end,
        "maro.dist(proxy, handlers): proxy must be a maro.Proxy (an object with receive_once), "
          .. "got nothing")
      local e = select(2, pcall(maro.dist, proxy, 42))
      assert.matches("handlers must be a table", e)
      e = select(2, pcall(maro.dist, proxy, { ["master:x:0"] = print }))
      assert.matches('bad event "master:x:0"', e, 1, true)
      e = select(2, pcall(maro.dist, proxy, { ["master:x:1"] = 42 }))
      assert.matches('the handler of "master:x:1" must be a function, got number', e, 1, true)
      e = select(2, pcall(maro.dist, proxy, { [7] = print }))
      assert.matches("a key of the handler table must be an event", e, 1, true)
      e = select(2, pcall(maro.dist, proxy, ok, { colour = "red" }))
      assert.matches("unknown option 'colour'", e, 1, true)
    end)
  end)

  describe("dispatch", function()
    it("calls handler(that, proxy, messages) for a satisfied event", function()
      local seen
      local w = maro.dist(proxy, {
        ["master:add:1"] = function(that, p, messages)
          seen = { that = that, proxy = p, n = #messages, payload = messages[1].payload }
          p:reply(messages[1], { payload = that:bump(messages[1].payload) })
        end,
      })(Counter)(1)
      send("add", 41)
      step_until(w, function() return seen end, "the handler")
      assert.are.equal(dist.instance(w), seen.that)
      assert.are.equal(proxy, seen.proxy)
      assert.are.equal(1, seen.n)
      assert.are.equal(41, seen.payload)
      local reply = master:receive_once(5)
      assert.are.equal(42, reply.payload)
    end)

    it("waits for every part of a combined event and hands over its messages", function()
      local got = {}
      local w = maro.dist(proxy, {
        [{ "master:a:2", "master:b:1", "AND" }] = function(_, _, messages)
          for _, m in ipairs(messages) do
            got[#got + 1] = m.tag .. m.payload
          end
        end,
      })(Counter)(0)
      send("a", 1)
      send("a", 2)
      send("a", 3)
      w:step(0.2)
      assert.are.same({}, got)
      assert.are.equal(3, dist.stats(w).table.messages) -- buffered, waiting for b
      send("b", 4)
      step_until(w, function() return #got == 3 end, "the AND")
      assert.are.same({ "a1", "a2", "b4" }, got)
      assert.are.equal(1, dist.stats(w).table.messages) -- a3 stays
    end)

    it("logs a handler's error with its traceback and keeps serving", function()
      local calls = 0
      local w = maro.dist(proxy, {
        ["master:x:1"] = function(that, _, messages)
          calls = calls + 1
          if messages[1].payload == "boom" then
            error("boom")
          end
          that:bump()
        end,
      })(Counter)(0)
      send("x", "boom")
      send("x", "fine")
      step_until(w, function() return calls == 2 end, "both calls")
      assert.are.equal(1, dist.stats(w).errors)
      assert.are.equal(1, w.count)
    end)

    it("bounds what waits by max_buffered", function()
      local got
      local w = maro.dist(proxy, {
        [{ "master:a:1", "master:b:1", "AND" }] = function(_, _, messages)
          got = { messages[1].payload, messages[2].payload }
        end,
      }, { max_buffered = 3 })(Counter)(0)
      for i = 1, 5 do
        send("a", i)
      end
      step_until(w, function() return dist.stats(w).table.pushed == 5 end, "five pushes")
      assert.are.equal(3, dist.stats(w).table.messages)
      assert.are.equal(2, dist.stats(w).table.dropped)
      send("b", 6)
      step_until(w, function() return got end, "the AND")
      assert.are.same({ 3, 6 }, got)
    end)

    it("fires a percentage event when a peer leaves, without a new message", function()
      local pg <close> = testing.group{ master = 2, worker = 1 }
      local p = pg.worker[1]
      local got
      local w = maro.dist(p, {
        ["master:hello:100%"] = function(_, _, messages) got = #messages end,
      })(Counter)(0)
      pg.master[1]:isend(testing.message("master_1", "worker_1", "hello"))
      step_until(w, function() return dist.stats(w).table.messages == 1 end, "the hello")
      assert.is_nil(got) -- one of two masters
      pg.master[2]:close()
      step_until(w, function() return got end, "the event after master_2 left")
      assert.are.equal(1, got)
    end)

    it("drops messages no event wants", function()
      local w = maro.dist(proxy, { ["master:x:1"] = print })(Counter)(0)
      send("nobody", 1)
      step_until(w, function() return dist.stats(w).table.ignored == 1 end, "the push")
      assert.are.equal(0, dist.stats(w).table.messages)
    end)
  end)

  describe("the loop", function()
    it("step(timeout) returns after the timeout with the number of handler calls", function()
      local n = 0
      local rec = recording(proxy)
      local w = maro.dist(rec, { ["master:x:1"] = function() n = n + 1 end })(Counter)(0)
      local t0 = maro.now()
      assert.are.equal(0, w:step(0.2))
      local took = maro.now() - t0
      assert.is_true(took >= 0.2, "returned after " .. took .. " s, before its timeout")
      -- no receive waited longer than the step was asked to last
      assert.is_true(#rec.calls >= 1)
      for _, c in ipairs(rec.calls) do
        assert.is_true(c.wait <= 0.2, "a receive waited " .. c.wait .. " s")
      end
      for i = 1, 3 do
        send("x", i)
      end
      local calls = 0
      while n < 3 do
        calls = calls + w:step(0.05)
      end
      assert.are.equal(3, calls)
    end)

    it("step(0) only takes what is there, without waiting", function()
      local n = 0
      local rec = recording(proxy)
      local w = maro.dist(rec, { ["master:x:1"] = function() n = n + 1 end })(Counter)(0)
      assert.are.equal(0, w:step(0)) -- nothing there yet
      for i = 1, 3 do
        send("x", i) -- in a maro.testing group, in the worker's queue at once
      end
      assert.are.equal(3, w:step(0))
      assert.are.equal(3, n)
      for _, c in ipairs(rec.calls) do
        assert.are.equal(0, c.wait, "step(0) asked a receive to wait")
      end
    end)

    it("launch() serves until stop() from a handler", function()
      local w
      w = maro.dist(proxy, {
        ["master:x:1"] = function(that) that:bump() end,
        ["master:stop:1"] = function() w:stop() end,
      })(Counter)(0)
      for i = 1, 5 do
        send("x", i)
      end
      send("stop")
      w:launch()
      assert.are.equal(5, w.count)
    end)

    it("launch() ends when the proxy closes", function()
      local w = maro.dist(proxy, {
        ["master:x:1"] = function(that) that:bump() end,
        ["master:bye:1"] = function(_, p, messages)
          p:reply(messages[1], { payload = "bye" })
          p:close()
        end,
      })(Counter)(0)
      send("x", 1)
      send("bye")
      w:launch()
      assert.are.equal(1, w.count)
      assert.is_true(proxy.closed)
      assert.are.equal("bye", master:receive_once(5).payload)
    end)

    it("refuses launch() or step() from inside a handler", function()
      local err
      local w
      w = maro.dist(proxy, {
        ["master:x:1"] = function() err = select(2, pcall(w.step, w, 0)) end,
      })(Counter)(0)
      send("x")
      step_until(w, function() return err end, "the handler")
      assert.matches("already serving", err)
    end)
  end)

  describe("handlers from a file", function()
    local dir
    before_each(function()
      dir = procs.tmpdir()
    end)

    local function handlers(v)
      return "return {\n"
        .. "  ['master:x:1'] = function(that, proxy, m)\n"
        .. "    that:bump()\n"
        .. "    proxy:reply(m[1], { payload = { v = '" .. v .. "', count = that.count } })\n"
        .. "  end,\n"
        .. "  [{ 'master:l:1', 'master:r:1', 'AND' }] = function(_, proxy, m)\n"
        .. "    proxy:reply(m[1], { tag = 'pair', payload = '" .. v .. "' })\n"
        .. "  end,\n"
        .. "}\n"
    end

    it("loads the file in its own environment", function()
      local path = dir .. "/h.lua"
      write(path, "leaked = true\n" .. handlers("v1"))
      local w = maro.dist(proxy, path)(Counter)(0)
      assert.is_nil(rawget(_G, "leaked"))
      send("x")
      step_until(w, function() return w.count == 1 end)
      assert.are.same({ v = "v1", count = 1 }, master:receive_once(5).payload)
    end)

    it("raises with file and line when the first load fails", function()
      local path = dir .. "/h.lua"
      write(path, "return {\n  ['master:x:1'] = function() end,\n  ['x'] = print,\n}\n")
      local e = select(2, pcall(maro.dist, proxy, path))
      assert.matches(path .. ':3: bad event "x"', e, 1, true)
      write(path, "return {\n  ['master:x:1'] = function( end,\n}\n")
      e = select(2, pcall(maro.dist, proxy, path))
      assert.matches(path .. ":2:", e, 1, true)
      e = select(2, pcall(maro.dist, proxy, dir .. "/missing.lua"))
      assert.matches("cannot read the handler file", e, 1, true)
    end)

    it("reloads a saved file at a step boundary, keeping the instance and the AND's half",
      function()
        local path = dir .. "/h.lua"
        write(path, handlers("v1"))
        local w = maro.dist(proxy, path)(Counter)(0)
        send("x")
        send("l")
        step_until(w, function() return w.count == 1 end)
        assert.are.equal("v1", master:receive_once(5).payload.v)
        write(path, handlers("v2"))
        step_until(w, function() return dist.stats(w).reloads == 1 end, "the reload")
        send("x")
        send("r")
        step_until(w, function() return w.count == 2 end)
        local a, b = master:receive_once(5), master:receive_once(5)
        assert.are.same({ v = "v2", count = 2 }, a.payload)
        assert.are.equal("pair", b.tag)
        assert.are.equal("v2", b.payload)
      end)

    it("keeps the old handlers when the new file is bad", function()
      local path = dir .. "/h.lua"
      write(path, handlers("v1"))
      local w = maro.dist(proxy, path)(Counter)(0)
      write(path, "return 42\n")
      step_until(w, function() return dist.stats(w).failed_reloads == 1 end, "the failure")
      send("x")
      step_until(w, function() return w.count == 1 end)
      assert.are.equal("v1", master:receive_once(5).payload.v)
      assert.is_false(w:reload())
      write(path, handlers("v3"))
      assert.is_true(w:reload())
      send("x")
      step_until(w, function() return w.count == 2 end)
      assert.are.equal("v3", master:receive_once(5).payload.v)
    end)

    it("a watched descriptor ends a receive's wait at once (proxy:watch_fd)", function()
      local path = dir .. "/h.lua"
      write(path, "1")
      local watcher <close> = require("maro.core").Watcher(path)
      local fd = watcher:fd()
      assert.is_true(proxy:watch_fd(fd))
      write(path, "2")
      -- a wait without a timeout: the save ends it, or the watchdog's message does
      local got = receive_or_watchdog(proxy)
      assert.is_nil(got, "the save did not end the wait")
      assert.are.equal("saved", watcher:changed())
      -- messages still come first
      send("x", 1)
      assert.are.equal(1, proxy:receive_once(5).payload)
      proxy:unwatch_fd(fd)
      write(path, "3")
      local t0 = maro.now()
      assert.is_nil(proxy:receive_once(0.1))
      assert.is_true(maro.now() - t0 >= 0.1, "an unwatched descriptor ended the wait")
      -- at most four at a time; a refused call adds none
      assert.is_true(proxy:watch_fd(fd, fd, fd))
      assert.is_false(proxy:watch_fd(fd, fd))
      assert.is_true(proxy:watch_fd(fd))
      proxy:unwatch_fd(fd, fd, fd, fd)
      assert.is_true(proxy:watch_fd(fd, fd, fd, fd))
      proxy:unwatch_fd(fd, fd, fd, fd)
      assert.has_error(function() proxy:watch_fd(-1) end)
      proxy:close()
      proxy:unwatch_fd(fd) -- nothing on a closed proxy
    end)

    it("an idle worker with a handler file does not poll it", function()
      local path = dir .. "/h.lua"
      write(path, handlers("v1"))
      local rec = recording(proxy)
      local w = maro.dist(rec, path)(Counter)(0)
      local t0 = maro.now()
      w:step(1.2)
      assert.is_true(#rec.calls >= 1)
      for i, c in ipairs(rec.calls) do
        -- Each receive waits with the watcher's two descriptors in the proxy's
        -- wait, for the rest of the step or the peers interval (0.5 s), not
        -- for the 0.1 s of polling; and nothing ends it early.
        local what = string.format("receive %d of %d (%.3f s asked, %.3f s taken)", i,
          #rec.calls, c.wait, c.took)
        assert.are.equal(2, c.watched, what .. ": descriptors watched")
        assert.is_true(c.wait >= math.min(0.4, t0 + 1.2 - c.start), what .. ": a short wait")
        assert.is_true(c.took >= c.wait - 1e-3, what .. ": woken early")
      end
    end)

    it("reloads as soon as the file is saved, while the worker waits", function()
      local path = dir .. "/h.lua"
      write(path, handlers("v1"))
      local w
      local rec = recording(proxy, {
        before = function(n)
          if n == 1 then
            write(path, handlers("v2")) -- as if saved just after the wait began
          end
        end,
        receive = function(n, wait)
          if n == 1 then
            -- The worker's first receive, with its descriptors watched, waits
            -- for nothing but the save (or the watchdog).
            return receive_or_watchdog(proxy)
          elseif n == 2 then
            w:stop() -- the second receive comes after the reload
            return nil
          end
          return proxy:receive_once(wait)
        end,
      })
      w = maro.dist(rec, path)(Counter)(0)
      w:launch()
      local first = rec.calls[1]
      assert.are.equal(2, first.watched, "the watcher's descriptors were not watched")
      assert.is_nil(first.msg, "the save did not end the worker's wait")
      assert.are.equal(1, dist.stats(w).reloads)
      send("x")
      step_until(w, function() return w.count == 1 end)
      assert.are.equal("v2", master:receive_once(0).payload.v)
    end)

    it("polls the file when the proxy cannot watch descriptors", function()
      local path = dir .. "/h.lua"
      write(path, handlers("v1"))
      local w
      local rec = recording(proxy, { before = function(n)
        if n == 1 then
          write(path, handlers("v2"))
        elseif dist.stats(w).reloads > 0 or n > 200 then
          w:stop() -- after the reload (or after 200 receives of 0.1 s at most)
        end
      end })
      rec.watch_fd = false -- as a proxy written in Lua might
      w = maro.dist(rec, path)(Counter)(0)
      w:launch()
      assert.are.equal(1, dist.stats(w).reloads)
      for _, c in ipairs(rec.calls) do
        assert.is_true(c.wait <= 0.1 + 1e-9, "a receive waited " .. c.wait .. " s")
      end
    end)

    it("refuses reload() without a file", function()
      local w = maro.dist(proxy, { ["master:x:1"] = print })(Counter)(0)
      assert.has_error(function() w:reload() end,
        "dist: reload() needs handlers given as a file path")
    end)
  end)

  describe("its log", function()
    -- The lines a process wrote on stderr that contain `text`, without the
    -- time, name and pid in front.
    local function log_lines(proc, text)
      local out = {}
      for line in proc:stderr():gmatch("[^\n]+") do
        if line:find(text, 1, true) then
          out[#out + 1] = line:match("^%S+ %S+%[%d+%] (.*)$") or line
        end
      end
      return out
    end

    it("says that messages no event wants are dropped, at most once per interval", function()
      local interval = 0.5
      local flood = procs.spawn(SCRIPTS .. "flood.lua", { "100000", tostring(interval) })
      assert.are.equal(0, flood:wait(120), flood:report())
      local n, elapsed, before, after = flood:stdout():match(
        "unwanted (%d+) elapsed ([%d.]+) before ([%d.]+) after ([%d.]+)")
      assert.is_not_nil(n, flood:report())
      n, elapsed = tonumber(n), tonumber(elapsed)
      local lines = log_lines(flood, "no event wants")
      -- One line when the first came, at most one per interval while they
      -- came, and one for what was held back at the end.
      assert.is_true(#lines >= 2 and #lines <= 2 + elapsed / interval,
        string.format("%d lines for %d messages in %.3f s", #lines, n, elapsed))
      assert.matches("^warn: dist: no event wants a message tagged 'tag_1' %(from 'master_1'%); "
        .. "such messages are dropped$", lines[1])
      -- Every message is counted once: the lines that name one, plus the
      -- counts of those held back.
      local told = 0
      for _, line in ipairs(lines) do
        local more = line:match("%(and (%d+) more since the last such line")
          or line:match("dist: dropped (%d+) more messages? that no event wants")
        told = told + (more and tonumber(more) or 0)
          + (line:find("no event wants a message tagged", 1, true) and 1 or 0)
      end
      assert.are.equal(n, told)
      -- The tags held back are counted, not remembered: memory stays put
      -- (it grew by 7 MiB when every tag was kept).
      assert.is_true(tonumber(after) - tonumber(before) < 1024,
        string.format("the Lua heap grew from %s KiB to %s KiB", before, after))
    end)

    it("writes a handler's traceback one line per line, and repeats at most once per interval",
      function()
        local interval = 0.2
        local proc = procs.spawn(SCRIPTS .. "raise.lua", { "300", tostring(interval) })
        assert.are.equal(0, proc:wait(60), proc:report())
        local errors, elapsed = proc:stdout():match("errors (%d+) elapsed ([%d.]+)")
        assert.are.equal("300", errors, proc:report())
        local lines = log_lines(proc, "error: ")
        local script = SCRIPTS .. "raise.lua"
        assert.are.same({
          'error: dist: the handler of "master:x:1" raised an error (the worker keeps serving): '
            .. script .. ":15: bad payload 1",
          "error: stack traceback:",
          "error: \t[C]: in function 'error'",
          "error: \t" .. script .. ":15: in upvalue 'deep'",
          "error: \t" .. script .. ":21: in function <" .. script .. ":20>",
        }, { table.unpack(lines, 1, 5) })
        -- Later errors: one line per interval at most, and every error counted.
        local heads, told = 0, 0
        for _, line in ipairs(lines) do
          if line:find("raised an error", 1, true) then
            heads = heads + 1
            told = told + 1 + tonumber(line:match("%((%d+) more errors? since") or 0)
          elseif line:find("since the last such line (not logged)", 1, true) then
            heads = heads + 1
            told = told + tonumber(line:match("raised (%d+) more errors?"))
          end
        end
        assert.are.equal(300, told, proc:report())
        assert.is_true(heads <= 2 + tonumber(elapsed) / interval,
          string.format("%d lines for 300 errors in %s s", heads, elapsed))
      end)
  end)

  describe("under marohost", function()
    local redis = redis_support.for_block(setup, teardown, procs)

    it("logs a handler's error with file, line and traceback", function()
      local dir = procs.tmpdir()
      local path = dir .. "/handlers.lua"
      write(path, table.concat({
        "local function deep(x)",
        "  error('bad payload ' .. tostring(x))",
        "end",
        "return {",
        "  ['master:ping:1'] = function(that, proxy, m)",
        "    if m[1].payload == 'boom' then deep(m[1].payload) end",
        "    proxy:reply(m[1], { payload = { count = that:bump() } })",
        "  end,",
        "  ['master:exit:1'] = function(_, proxy, m)",
        "    proxy:reply(m[1], {})",
        "    proxy:close()",
        "  end,",
        "}",
      }, "\n"))
      local group = "distlog_" .. uuid():sub(1, 8)
      local master <close> = maro.Proxy{ group_name = group, component_type = "master",
        component_name = "master", redis_address = redis.address }
      local worker = procs.spawn(SCRIPTS .. "worker.lua", { path },
        { MARO_REDIS = redis.address, MARO_GROUP = group, MARO_COMPONENT_NAME = "worker_9" })
      worker:wait_output("ready worker_9")
      master:isend(maro.Message{ tag = "ping", source = "master", destination = "worker_9",
        payload = "boom" })
      local replies = master:send(maro.Message{ tag = "ping", source = "master",
        destination = "worker_9" }, 5)
      assert.are.equal(1, replies[1].payload.count, worker:report())
      procs.wait_until(function() return worker:stderr():match("in function <") end, 5,
        "the traceback")
      -- The message, then the traceback as Lua prints it, a log line per line.
      local log = worker:stderr()
      local prefix = "\n%S+ worker_9%[%d+%] error: "
      local function line(text)
        return prefix .. text:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
      end
      assert.matches(line('dist: the handler of "master:ping:1" raised an error (the worker '
        .. "keeps serving): " .. path .. ":2: bad payload boom")
        .. line("stack traceback:") .. line("\t[C]: in function 'error'")
        .. line("\t" .. path .. ":2: in upvalue 'deep'")
        .. line("\t" .. path .. ":6: in function <" .. path .. ":5>") .. "\n", log)
      master:send(maro.Message{ tag = "exit", source = "master", destination = "worker_9" }, 5)
      assert.are.equal(0, worker:wait(10), worker:report())
      assert.matches("stopped with count 1", worker:stdout(), 1, true)
    end)
  end)
end)
