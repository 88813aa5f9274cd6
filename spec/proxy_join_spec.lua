-- Joining and leaving a group: options and environment defaults, errors that
-- say what is wrong, and registrations that go away on close, garbage
-- collection, SIGINT, SIGTERM and (by heartbeat expiry) SIGKILL.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local SCRIPTS = here .. "scripts/proxy/"
local uuid = require("maro.core").uuid

describe("joining and leaving", function()
  local redis = redis_support.for_block(setup, teardown, procs)

  after_each(function()
    procs.cleanup()
  end)

  local function new_group()
    return "join_" .. uuid():sub(1, 8)
  end

  -- Runs spec/scripts/proxy/join.lua with options (Lua source) and an action.
  local function join(opts, action, env)
    local e = { MARO_REDIS = redis.address }
    for k, v in pairs(env or {}) do
      e[k] = v
    end
    return procs.spawn(SCRIPTS .. "join.lua", { opts, action }, e)
  end

  it("rejects unknown options and malformed values before connecting", function()
    local maro = require("maro")
    local function fails(opts, pattern)
      local ok, err = pcall(maro.Proxy, opts)
      assert.is_false(ok)
      assert.matches(pattern, err, 1, true)
    end
    local base = { group_name = "g", component_type = "a" }
    local function with(k, v)
      local t = {}
      for kk, vv in pairs(base) do
        t[kk] = vv
      end
      t[k] = v
      return t
    end
    fails(with("grup_name", "x"), "unknown option 'grup_name'")
    fails(with("redis_address", "nohostport:"), "option 'redis_address' must be \"host:port\"")
    fails(with("redis_address", { "127.0.0.1", 70000 }), "option 'redis_address' must be")
    fails(with("expected_peers", { worker = -1 }), "the count of 'worker' must be")
    fails(with("expected_peers", { { "worker" } }), "the count of 'worker' must be")
    fails(with("heartbeat_expiry", "3"), "option 'heartbeat_expiry' must be a finite number")
    fails(with("component_name", ""), "option 'component_name' must be a non-empty string")
    fails("nope", "expects a table of options")
  end)

  it("takes its defaults from the environment", function()
    local group = new_group()
    local p = join("{}", "info", { MARO_GROUP = group, MARO_COMPONENT_TYPE = "learner" })
    assert.are.equal(0, p:wait(20), p:report())
    local out = p:stdout()
    assert.matches("name=learner_" .. ("%x"):rep(32) .. "\n", out)
    assert.matches("group=" .. group .. "\n", out, 1, true)
    assert.matches("type=learner\n", out, 1, true)
    -- Redis is on loopback here, so the route to it starts at 127.0.0.1.
    assert.matches("address=tcp://127%.0%.0%.1:%d+\n", out)
    local q = join("{}", "info", { MARO_GROUP = group, MARO_COMPONENT_TYPE = "learner",
      MARO_COMPONENT_NAME = "named" })
    assert.are.equal(0, q:wait(20), q:report())
    assert.matches("name=named\n", q:stdout(), 1, true)
  end)

  it("prefers options to the environment, and takes redis_address as {host, port}", function()
    local group = new_group()
    local opts = string.format("{ group_name = %q, component_type = 'a', component_name = 'x', "
      .. "redis_address = {'127.0.0.1', %d}, advertised_address = '127.0.0.2' }", group,
      redis.port)
    local p = join(opts, "info", { MARO_GROUP = "other", MARO_REDIS = "127.0.0.1:1" })
    assert.are.equal(0, p:wait(20), p:report())
    assert.matches("group=" .. group .. "\n", p:stdout(), 1, true)
    assert.matches("address=tcp://127%.0%.0%.2:%d+\n", p:stdout())
    local q = join("{ component_type = 'a' }", "info",
      { MARO_GROUP = group, MARO_ADVERTISED_ADDRESS = "127.0.0.3" })
    assert.are.equal(0, q:wait(20), q:report())
    assert.matches("address=tcp://127%.0%.0%.3:%d+\n", q:stdout())
  end)

  it("says which Redis it cannot reach and how often it tried", function()
    local port = redis_support.free_port()
    local p = join("{ group_name = 'g', component_type = 'a', max_redis_connect_retries = 2, "
      .. "initial_redis_connect_retry_interval = 0.05 }", "info",
      { MARO_REDIS = "127.0.0.1:" .. port })
    assert.are.equal(1, p:wait(20), p:report())
    assert.matches("cannot reach Redis at 127.0.0.1:" .. port .. " after 3 tries", p:stderr(),
      1, true)
  end)

  it("says which expected peers are missing", function()
    local group = new_group()
    local w = join(string.format("{ group_name = %q, component_type = 'worker' }", group), "wait")
    w:wait_output("joined")
    local p = join(string.format("{ group_name = %q, component_type = 'master', "
      .. "expected_peers = { worker = 2, master = 0 }, max_peer_discovery_retries = 3, "
      .. "initial_peer_discovery_retry_interval = 0.05 }", group), "info")
    assert.are.equal(1, p:wait(20), p:report())
    assert.matches("expected peers missing in group '" .. group .. "' after [%d.]+ s", p:stderr())
    assert.matches("worker: 1 of 2", p:stderr(), 1, true)
    -- The list form works too, and is satisfied by the one worker.
    local q = join(string.format("{ group_name = %q, component_type = 'master', "
      .. "expected_peers = { {'worker', 1} } }", group), "info")
    assert.are.equal(0, q:wait(20), q:report())
    assert.matches("peers.worker=", q:stdout(), 1, true)
  end)

  it("says every 5 s whom it waits for, and names the types nobody expects", function()
    local group = new_group()
    local w1 = join(string.format("{ group_name = %q, component_type = 'worker', "
      .. "component_name = 'w1' }", group), "wait")
    local typo = join(string.format("{ group_name = %q, component_type = 'wokrer', "
      .. "component_name = 'w2' }", group), "wait")
    w1:wait_output("joined")
    typo:wait_output("joined")
    -- 12 retries of 0.5 s: about 6 s of waiting, one progress line.
    local p = join(string.format("{ group_name = %q, component_type = 'master', "
      .. "expected_peers = { worker = 2 }, max_peer_discovery_retries = 11, "
      .. "initial_peer_discovery_retry_interval = 0.5, "
      .. "max_peer_discovery_retry_interval = 0.5 }", group), "info")
    assert.are.equal(1, p:wait(30), p:report())
    local err = p:stderr()
    assert.matches("info: '[%w_]+' waits for its peers in group '" .. group .. "' %([56] s so far%): "
      .. "worker: 1 of 2 %(w1%); also registered: 'wokrer'", err)
    assert.matches("expected peers missing in group '" .. group .. "' after [%d.]+ s "
      .. "%(worker: 1 of 2 %(w1%)%); the group also holds types 'wokrer'; start them", err)
  end)

  it("refuses a name that a live member of the group uses", function()
    local group = new_group()
    local opts = string.format("{ group_name = %q, component_type = 'a', component_name = 'dup', "
      .. "heartbeat_interval = 0.2, heartbeat_expiry = 0.6 }", group)
    local first = join(opts, "wait")
    first:wait_output("joined")
    local second = join(opts, "info")
    assert.are.equal(1, second:wait(20), second:report())
    assert.matches("component name 'dup' is already used by a live member of group '"
      .. group .. "'", second:stderr(), 1, true)
    assert.are.same({ "dup" }, redis:members(group))
  end)

  it("deregisters on close(), and on SIGTERM while waiting", function()
    local group = new_group()
    local p = join(string.format("{ group_name = %q, component_type = 'a', component_name = 'c' }",
      group), "close_then_wait")
    p:wait_output("probe c_probe")
    assert.matches("closed true", p:stdout(), 1, true)
    assert.are.same({ "c_probe" }, redis:members(group))
    p:kill("TERM")
    assert.are.equal(143, p:wait(20), p:report())
    assert.are.same({}, redis:members(group))
  end)

  it("deregisters on SIGTERM while the script computes, and on SIGINT", function()
    local group = new_group()
    local p = join(string.format("{ group_name = %q, component_type = 'a', component_name = 'b' }",
      group), "busy")
    p:wait_output("joined")
    assert.are.same({ "b" }, redis:members(group))
    p:kill("TERM")
    assert.are.equal(143, p:wait(20), p:report())
    assert.are.same({}, redis:members(group))
    local q = join(string.format("{ group_name = %q, component_type = 'a', component_name = 'i' }",
      group), "wait")
    q:wait_output("joined")
    q:kill("INT")
    assert.are.equal(130, q:wait(20), q:report())
    assert.are.same({}, redis:members(group))
  end)

  it("deregisters on SIGTERM while still joining", function()
    local group = new_group()
    local p = join(string.format("{ group_name = %q, component_type = 'a', component_name = 'j', "
      .. "expected_peers = { nobody = 1 } }", group), "info")
    procs.wait_until(function()
      return redis:members(group)[1] == "j"
    end, 20, "the registration")
    p:kill("TERM")
    assert.are.equal(143, p:wait(20), p:report())
    assert.are.same({}, redis:members(group))
  end)

  it("deregisters when the script ends without close()", function()
    local group = new_group()
    local p = join(string.format("{ group_name = %q, component_type = 'a', component_name = 'e' }",
      group), "end")
    assert.are.equal(0, p:wait(20), p:report())
    assert.are.same({}, redis:members(group))
  end)

  it("deregisters when the script calls os.exit without close()", function()
    local group = new_group()
    local p = join(string.format("{ group_name = %q, component_type = 'a', component_name = 'x' }",
      group), "exit")
    assert.are.equal(3, p:wait(20), p:report())
    assert.are.same({}, redis:members(group))
  end)

  it("drops out of discovery when its heartbeat expires after SIGKILL", function()
    local group = new_group()
    local p = join(string.format("{ group_name = %q, component_type = 'a', component_name = 'k', "
      .. "heartbeat_interval = 0.2, heartbeat_expiry = 1 }", group), "wait")
    p:wait_output("joined")
    p:kill("KILL")
    assert.are.equal(137, p:wait(20), p:report())
    local t0 = procs.now()
    procs.wait_until(function()
      return #redis:members(group) == 0
    end, 5, "the registration to expire")
    assert.is_true(procs.now() - t0 < 2)
    -- A lookup prunes the dead entry from the type index as well.
    local q = join(string.format("{ group_name = %q, component_type = 'b', "
      .. "expected_peers = { a = 0 } }", group), "info")
    assert.are.equal(0, q:wait(20), q:report())
    local left = redis:cli("hkeys", "maro:" .. group .. ":type:a")
    assert.are.equal("", (left:gsub("%s", "")))
  end)

  it("connects members that join later and drops those that leave", function()
    local group = new_group()
    local function worker(name)
      return join(string.format("{ group_name = %q, component_type = 'worker', "
        .. "component_name = %q }", group, name), "wait")
    end
    local a = worker("a")
    a:wait_output("joined")
    local w = procs.spawn(SCRIPTS .. "watch.lua", { "1", "3", "2" },
      { MARO_REDIS = redis.address, MARO_GROUP = group })
    w:wait_output("workers 1")
    local b, c = worker("b"), worker("c")
    w:wait_output("workers 3")
    c:kill("TERM")
    assert.are.equal(143, c:wait(20))
    assert.are.equal(0, w:wait(30), w:report())
    assert.matches("seen all", w:stdout(), 1, true)
    a:kill("TERM")
    b:kill("TERM")
    a:wait(20)
    b:wait(20)
  end)

  it("registers again when Redis restarts empty", function()
    local own = redis_support.start()
    local group = new_group()
    local p = procs.spawn(SCRIPTS .. "join.lua", { string.format("{ group_name = %q, "
      .. "component_type = 'a', component_name = 'r', heartbeat_interval = 0.2, "
      .. "heartbeat_expiry = 1 }", group), "wait" }, { MARO_REDIS = own.address })
    p:wait_output("joined")
    assert.are.same({ "r" }, own:members(group))
    local port = own.port
    own:stop()
    own = redis_support.start(port)
    procs.wait_until(function()
      return own:members(group)[1] == "r"
    end, 10, "the registration to come back")
    p:kill("TERM")
    assert.are.equal(143, p:wait(20), p:report())
    assert.are.same({}, own:members(group))
    own:stop()
  end)

  -- Kills worker_1 once the master has its answer, and starts it again;
  -- returns the master's output.
  local function restart_worker(worker_env)
    local group = new_group()
    local env = { MARO_REDIS = redis.address, MARO_GROUP = group }
    for k, v in pairs(worker_env) do
      env[k] = v
    end
    env.MARO_COMPONENT_NAME = "worker_1"
    env.MARO_INCARNATION = "00000000000000a1"
    local w = procs.spawn(SCRIPTS .. "worker.lua", {}, env)
    env.MARO_COMPONENT_NAME = nil
    env.MARO_INCARNATION = nil
    local m = procs.spawn(SCRIPTS .. "restart.lua", {}, env)
    m:wait_output("first")
    w:kill("KILL")
    w:wait(10)
    env.MARO_COMPONENT_NAME = "worker_1"
    env.MARO_INCARNATION = "00000000000000a2"
    env.MARO_TAKE_OVER_FROM = worker_env.MARO_TAKE_OVER_FROM
    local w2 = procs.spawn(SCRIPTS .. "worker.lua", {}, env)
    assert.are.equal(0, m:wait(40), m:report())
    assert.are.equal(0, w2:wait(20), w2:report())
    return m:stdout()
  end

  it("reconnects to a peer that restarts at a new address", function()
    assert.matches("second", restart_worker({}), 1, true)
  end)

  it("lets a restart known to follow a dead process take the name over at once", function()
    -- With a 30 s expiry the master gives up before the old registration
    -- would expire: only the take-over reaches the new process in time. The
    -- master sees one change (a new address), not a leave and a join.
    local out = restart_worker({ HEARTBEAT_EXPIRY = "30", MARO_TAKE_OVER_FROM = "00000000000000a1" })
    local before, after = out:match("first (%d+)\nsecond (%d+)")
    assert.is_truthy(before, out)
    assert.are.equal(tonumber(before) + 1, tonumber(after))
  end)

  it("take_over_from registers over the registration of that run without waiting", function()
    local group = new_group()
    local opts = string.format("{ group_name = %q, component_type = 'a', component_name = 't', "
      .. "heartbeat_expiry = 30 }", group)
    local first = join(opts, "wait", { MARO_INCARNATION = "00000000000000b1" })
    local first_addr = first:wait_output("joined"):match("joined t (%S+)")
    first:kill("KILL")
    assert.are.equal(137, first:wait(20), first:report())
    local second = join(opts:gsub(" }$", ", take_over_from = '00000000000000b1' }"), "info")
    assert.are.equal(0, second:wait(20), second:report())
    local second_addr = second:stdout():match("address=(%S+)")
    assert.are_not.equal(first_addr, second_addr)
    assert.is_nil(second:stderr():find("already used", 1, true))
  end)

  it("take_over_from never takes the name of another run", function()
    local group = new_group()
    local opts = string.format("{ group_name = %q, component_type = 'a', component_name = 't', "
      .. "heartbeat_interval = 0.2, heartbeat_expiry = 0.6 }", group)
    local first = join(opts, "wait", { MARO_INCARNATION = "00000000000000c1" })
    first:wait_output("joined")
    -- The one it names is not the one registered: the live member keeps its name.
    local second = join(opts:gsub(" }$", ", take_over_from = '00000000000000c0' }"), "info")
    assert.are.equal(1, second:wait(20), second:report())
    assert.matches("component name 't' is already used by a live member", second:stderr(), 1,
      true)
    assert.is_true(first:running())
    assert.matches("incarnation 00000000000000c1", redis:cli("get", "maro:" .. group
      .. ":member:t"), 1, true)
  end)
  it("looks its types up when a member of one arrives or leaves, not when others do", function()
    -- Every command Redis runs, as redis-cli monitor prints them.
    local dir = procs.tmpdir()
    local log = dir .. "/monitor"
    os.execute(("redis-cli -h 127.0.0.1 -p %d monitor >%s 2>/dev/null & echo $! >%s"):format(
      redis.port, procs.quote(log), procs.quote(dir .. "/pid")))
    finally(function()
      local pid = procs.read_file(dir .. "/pid")
      if pid then os.execute("kill " .. pid:match("%d+") .. " 2>/dev/null") end
    end)
    procs.wait_until(function() return (procs.read_file(log) or ""):find("OK", 1, true) end, 10,
      "redis-cli monitor to start")
    local group = new_group()
    -- No beats or periodic lookups during the test: only announcements.
    local quiet = "heartbeat_interval = 20, heartbeat_expiry = 60, peer_refresh_interval = 60"
    local function opts(ctype, extra)
      return ("{ group_name = %q, component_type = %q, %s%s }"):format(group, ctype, quiet,
        extra or "")
    end
    local master = join(opts("master"))
    master:wait_output("joined")
    local watcher = join(opts("watcher", ", expected_peers = { master = 1 }"))
    watcher:wait_output("joined")
    -- Lookups of the master type: the script that reads the members of a type
    -- (the master's registering and leaving name the key too).
    local key = '"maro:' .. group .. ':type:master"'
    local function lookups()
      local n = 0
      for line in (procs.read_file(log) or ""):gmatch("[^\n]+") do
        if line:find('"EVAL"', 1, true) and line:find(key, 1, true)
            and line:find("ZRANGE', KEYS[1], 0, -1", 1, true) then
          n = n + 1
        end
      end
      return n
    end
    -- The watcher looks the type up when it joins, and again once subscribed.
    procs.wait_until(function() return lookups() >= 2 end, 10, "the watcher's lookups")
    local before = lookups()
    local workers = {}
    for i = 1, 5 do workers[i] = join(opts("worker")) end
    for i = 1, 5 do workers[i]:wait_output("joined") end
    -- A lookup comes within milliseconds of an announcement that calls for
    -- one: a second without any shows there was none.
    local function no_lookup_within(seconds, what)
      local came = pcall(procs.wait_until, function() return lookups() > before end, seconds)
      assert.is_false(came, what)
    end
    no_lookup_within(1, "a lookup on arrivals of a type it does not follow")
    -- Nor on departures of members it does not know; the master's it looks up.
    workers[1]:kill("TERM")
    workers[1]:wait(10)
    no_lookup_within(1, "a lookup on the departure of a member it does not know")
    master:kill("TERM")
    procs.wait_until(function() return lookups() > before end, 10,
      "the watcher's lookup after the master left")
    assert.are.equal(before + 1, lookups())
  end)
end)
