-- The proxy's guarantees under faults, with a real redis-server that the
-- specs kill, restart empty and freeze, and real member processes:
-- - a send after the script was away from the proxy sees a peer that
--   restarted meanwhile (nothing goes to the dead process);
-- - Redis restarted empty, again and again, never makes live members drop
--   each other: no error, no lost message;
-- - a frozen Redis does not stall traffic between members that know each
--   other;
-- - a wait on a session whose destination is gone for good ends;
-- - close() says how many messages are not known to have arrived, never
--   fewer than did not;
-- - a flooded receiver holds at most max_buffered_bytes plus ZeroMQ's queue;
-- - a send to a paused peer fails after send_timeout with an error that
--   names it, leaves no session behind, and loses none of the sends before;
-- - nothing of a group's dead members is left in Redis after two expiries;
-- - a member that answered a peer which then left does not spin.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local SCRIPTS = here .. "scripts/faults/"
local uuid = require("maro.core").uuid

describe("proxy faults", function()
  local redis = redis_support.for_block(setup, teardown, procs)
  local env

  before_each(function()
    env = { MARO_REDIS = redis.address, MARO_GROUP = "faults_" .. uuid():sub(1, 8) }
  end)

  after_each(function()
    procs.cleanup()
  end)

  local function with(extra)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
  end

  local function spawn(script, args, extra)
    return procs.spawn(SCRIPTS .. script, args, with(extra))
  end

  local function touch(path)
    assert(io.open(path, "w")):close()
  end

  -- The last "progress N" that ping printed.
  local function progress(p)
    local n = 0
    for v in p:stdout():gmatch("progress (%d+)") do n = tonumber(v) end
    return n
  end

  local function wait_progress(p, more, timeout, what)
    local start = progress(p)
    procs.wait_until(function()
      if not p:running() then error("ping exited\n" .. p:report(), 0) end
      return progress(p) >= start + more
    end, timeout, what)
  end

  local function ping_pong()
    local marker = procs.tmpdir() .. "/stop"
    local pong = spawn("pingpong.lua", { "pong" })
    pong:wait_output("joined")
    local ping = spawn("pingpong.lua", { "ping", marker })
    wait_progress(ping, 40, 20, "the first round trips")
    return ping, pong, marker
  end

  local function finish(ping, pong, marker)
    touch(marker)
    assert.are.equal(0, ping:wait(30), ping:report())
    assert.are.equal(0, pong:wait(30), pong:report())
    local out = ping:stdout()
    local sent, answered, errors, longest =
      out:match("sent (%d+) answered (%d+) errors (%d+) longest (%d+)")
    assert.is_truthy(sent, ping:report())
    return tonumber(sent), tonumber(answered), tonumber(errors), tonumber(longest)
  end

  for _, cache in ipairs({ true, false }) do
  it("sends to a peer that restarted while the script was away from the proxy"
    .. (cache and " (rejoin cache)" or " (no rejoin options)"), function()
    local marker = procs.tmpdir() .. "/go"
    local w1 = spawn("echo_worker.lua", {}, { MARO_COMPONENT_NAME = "worker_1" })
    local w2 = spawn("echo_worker.lua", {}, { MARO_COMPONENT_NAME = "worker_2" })
    w1:wait_output("ready")
    w2:wait_output("ready")
    local master = spawn("sleepy_master.lua", { marker }, { CACHE = cache and "1" or "0" })
    master:wait_output("sleeping")
    -- worker_1 leaves (closing its proxy) and comes back under its name
    -- while the master computes outside the proxy.
    w1:kill("TERM")
    assert.are.equal(143, w1:wait(20), w1:report())
    local again = spawn("echo_worker.lua", {}, { MARO_COMPONENT_NAME = "worker_1" })
    again:wait_output("ready")
    touch(marker)
    assert.are.equal(0, master:wait(40), master:report())
    assert.matches("replies worker_1=second worker_2=second pending 0\nclosed 0\n",
      master:stdout(), 1, true)
    assert.matches("got again second", again:stdout(), 1, true)
    assert.are.equal(0, again:wait(20), again:report())
  end)
  end

  it("keeps live members talking through six restarts of Redis with no data", function()
    local ping, pong, marker = ping_pong()
    for i = 1, 6 do
      redis:restart_empty()
      -- Both register again, and round trips go on.
      procs.wait_until(function() return #redis:members(env.MARO_GROUP) == 2 end, 20,
        "both members to register again after restart " .. i)
      wait_progress(ping, 40, 20, "round trips after restart " .. i)
    end
    local sent, answered, errors, longest = finish(ping, pong, marker)
    print(("\n  six Redis restarts: %d round trips, %d answered, %d errors, longest %d ms")
      :format(sent, answered, errors, longest))
    assert.are.equal(0, errors, ping:stdout())
    assert.are.equal(sent, answered, ping:stdout())
    -- Nobody dropped anybody before the end.
    assert.not_matches("left group", ping:stderr())
    assert.not_matches("not acknowledged", ping:stderr() .. pong:stderr())
  end)

  it("keeps members talking while Redis is frozen for 12 s", function()
    local ping, pong, marker = ping_pong()
    redis:freeze()
    local frozen_at = procs.now()
    local ok, err = pcall(function()
      wait_progress(ping, 100, 20, "round trips while Redis is frozen")
      procs.wait_until(function() return procs.now() - frozen_at >= 12 end, 20, "12 s")
      wait_progress(ping, 40, 20, "round trips at the end of the freeze")
    end)
    redis:thaw()
    assert(ok, err)
    wait_progress(ping, 40, 20, "round trips after the thaw")
    local sent, answered, errors, longest = finish(ping, pong, marker)
    print(("\n  Redis frozen 12 s: %d round trips, %d answered, %d errors, longest %d ms")
      :format(sent, answered, errors, longest))
    assert.are.equal(0, errors, ping:stdout())
    assert.are.equal(sent, answered, ping:stdout())
    -- A stall would be Redis's timeout (seconds), not a round trip's time.
    assert.is_true(longest < 3000, ping:stdout())
  end)

  for _, rejoin in ipairs({ false, true }) do
    it("ends a wait with no timeout when its destination is gone for good"
      .. (rejoin and " (after peers_catch_lifetime with enable_rejoin)" or ""), function()
        local w = spawn("echo_worker.lua", {}, { MARO_COMPONENT_NAME = "worker_1", HOLD = "1" })
      w:wait_output("ready")
      local m = spawn("waiter.lua", {}, { REJOIN = rejoin and "1" or nil })
      m:wait_output("waiting")
      w:wait_output("got work")
      w:kill("KILL")
      assert.are.equal(0, m:wait(30), m:report())
      assert.matches("returned replies 0 pending 1", m:stdout(), 1, true)
    end)
  end

  it("says at close how many messages are not known to have arrived, never fewer", function()
    local r = spawn("slow_receiver.lua", {}, { MAX_BYTES = "65536", DELAY = "0.005",
      QUIET = "5" })
    r:wait_output("joined")
    local f = spawn("flooder.lua", { "2000", "4096", "0.5" })
    assert.are.equal(0, f:wait(120), f:report())
    assert.are.equal(0, r:wait(120), r:report())
    local undelivered = tonumber(f:stdout():match("close (%d+)"))
    local received = tonumber(r:stdout():match("received (%d+)"))
    print(("\n  close after 2000 sends to a slow receiver: %d not known to have arrived, "
      .. "%d received"):format(undelivered, received))
    assert.is_true(undelivered > 0, f:report())
    assert.is_true(received + undelivered >= 2000, f:report() .. r:report())
    assert.matches("not known to have arrived", f:stderr(), 1, true)
  end)

  it("fails a send to a paused peer after send_timeout and keeps every send before it",
    function()
      local r = spawn("counting_receiver.lua", {})
      r:wait_output("joined")
      local dir = procs.tmpdir()
      local go, resumed = dir .. "/go", dir .. "/resumed"
      local s = spawn("blocked_sender.lua", { go, resumed })
      s:wait_output("joined")
      r:kill("STOP")
      touch(go)
      local ok, out = pcall(s.wait_output, s, "first session [%w_]+\n", 60)
      r:kill("CONT")
      assert(ok, out)
      touch(resumed)
      assert.are.equal(0, s:wait(60), s:report())
      assert.are.equal(0, r:wait(60), r:report())
      out = s:stdout()
      local accepted = tonumber(out:match("accepted (%d+)"))
      print(("\n  1 MiB sends to a paused receiver (send_hwm 1): %d accepted, the next failed")
        :format(accepted))
      assert.is_true(accepted > 0, s:report())
      assert.matches("error [^\n]*'receiver'[^\n]*send_timeout", out)
      -- The failed send's session is not followed; the ones before are.
      assert.matches("failed session nil", out, 1, true)
      assert.matches("first session notification_request", out, 1, true)
      assert.matches("receiver got " .. accepted .. "\n", out, 1, true)
      assert.matches("received " .. accepted .. "\n", r:stdout(), 1, true)
    end)

  it("holds at most max_buffered_bytes plus ZeroMQ's queue while flooded", function()
    local r = spawn("slow_receiver.lua", {}, { MODE = "wait", WAIT = "30", HOLD = "3",
      MAX_BYTES = tostring(16 << 20), QUIET = "5" })
    r:wait_output("waiting")
    local f = spawn("flooder.lua", { "400", tostring(1 << 20), "5" })
    assert.are.equal(0, r:wait(120), r:report())
    assert.are.equal(0, f:wait(60), f:report())
    local out = r:stdout()
    assert.matches("received 400", out, 1, true)
    -- The receiver's own peak while it waited and then computed without
    -- taking anything (what it takes afterwards is the script's garbage).
    local before = tonumber(out:match("memory before (%d+)"))
    local peak = tonumber(out:match("memory peak (%d+)"))
    local grew = (peak - before) / 1024
    print(("\n  flood of 400 x 1 MiB, max_buffered_bytes 16 MiB: resident memory grew %.0f MiB")
      :format(grew))
    -- The buffer (16 MiB), ZeroMQ's queue (recv_hwm = 16 transmissions of
    -- 1 MiB) and the message being decoded, with room for the allocator.
    assert.is_true(grew < 16 + 16 + 16, ("grew %.0f MiB"):format(grew))
  end)

  it("leaves nothing of dead members in Redis after two expiries", function()
    local members = {}
    for i = 1, 3 do
      members[i] = spawn("echo_worker.lua", {}, { MARO_COMPONENT_NAME = "worker_" .. i })
    end
    local master = spawn("waiter.lua", {}) -- registers type master, expects a worker
    for i = 1, 3 do members[i]:wait_output("ready") end
    master:wait_output("waiting")
    assert.is_true(#redis:keys(env.MARO_GROUP) >= 5)
    for _, p in ipairs(members) do p:kill("KILL") end
    master:kill("KILL")
    local killed = procs.now()
    -- waiter.lua's heartbeat expiry is 0.6 s; the workers' is the default 3 s.
    procs.wait_until(function() return #redis:keys(env.MARO_GROUP) == 0 end, 2 * 3 + 1,
      "every key of the group to go")
    print(("\n  all keys of a dead group gone %.1f s after the kill (expiry 3 s)")
      :format(procs.now() - killed))
  end)
  -- CPU seconds (user + system) that process has used so far.
  local function cpu_seconds(pid)
    local f = assert(io.open("/proc/" .. pid .. "/stat"))
    local stat = f:read("a")
    f:close()
    local fields = {}
    for v in stat:match("^.*%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = v end
    -- utime and stime are fields 14 and 15 of the line, 12 and 13 after the name
    return (tonumber(fields[12]) + tonumber(fields[13])) / 100
  end

  for _, rejoin in ipairs({ false, true }) do
    it("stays idle after a peer it answered has left" .. (rejoin and " (rejoin)" or ""),
       function()
      local maro = require("maro")
      local worker = procs.spawn(here .. "scripts/proxy/join.lua", {
        string.format("{ component_type = 'worker', component_name = 'w', enable_rejoin = %s }",
                      tostring(rejoin)), "wait" }, with())
      worker:wait_output("joined")
      local master = maro.Proxy{ group_name = env.MARO_GROUP, component_type = "master",
        redis_address = redis.address, expected_peers = { worker = 1 } }
      for i = 1, 20 do
        local replies = master:send(maro.Message{ tag = "ping", source = master.name,
          destination = "w", payload = i, session_type = maro.SessionType.TASK }, 10)
        assert.are.equal(1, #replies, worker:report())
      end
      master:close()
      -- What the worker still owes the master (its acknowledgements) cannot
      -- reach it now; a worker that kept trying at once would use a whole core.
      procs.wait_until(function()
        return worker:stderr():find("peer '" .. master.name .. "' left", 1, true)
      end, 10, "the worker to see the master leave")
      local before = cpu_seconds(worker.pid)
      os.execute("sleep 2") -- the window the CPU time is measured over
      local used = cpu_seconds(worker.pid) - before
      assert.is_true(used < 0.2, string.format("the idle worker used %.2f s of CPU in 2 s", used))
      worker:kill("TERM")
      assert.are.equal(143, worker:wait(20), worker:report())
    end)
  end
end)
