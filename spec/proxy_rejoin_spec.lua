-- The rejoin options with real processes and a real Redis: a worker that is
-- SIGKILLed and started again under its name gets what was sent to it while
-- it was down (enable_message_cache_for_rejoin), in order; without the cache
-- such a send fails saying the peer is down; the cache is bounded; a peer
-- that does not come back within peers_catch_lifetime is forgotten with a
-- warning; and minimal_peers makes a broadcast wait for its peers.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local SCRIPTS = here .. "scripts/rejoin/"
local uuid = require("maro.core").uuid

describe("rejoin", function()
  local redis = redis_support.for_block(setup, teardown, procs)
  local env

  before_each(function()
    env = { MARO_REDIS = redis.address, MARO_GROUP = "rejoin_" .. uuid():sub(1, 8) }
  end)

  after_each(function()
    procs.cleanup()
  end)

  local function worker(name)
    return procs.spawn(SCRIPTS .. "worker.lua", { name or "worker_1" }, env)
  end

  -- Starts worker_1 and a master in that mode, and SIGKILLs the worker once
  -- it got the first message; returns the master once it saw the worker go.
  local function master_with_dead_worker(mode, n)
    local w = worker()
    w:wait_output("ready\n")
    local m = procs.spawn(SCRIPTS .. "master.lua", { mode, tostring(n or 0) }, env)
    w:wait_output("got 0\n")
    m:wait_output("ready\n")
    w:kill("KILL")
    m:wait_output("down\n")
    return m
  end

  it("checks the rejoin options before joining", function()
    local maro = require("maro")
    local function fails(extra, pattern)
      local opts = { group_name = "g", component_type = "a", redis_address = redis.address }
      for k, v in pairs(extra) do
        opts[k] = v
      end
      local ok, err = pcall(maro.Proxy, opts)
      assert.is_false(ok)
      assert.matches(pattern, err, 1, true)
    end
    fails({ enable_message_cache_for_rejoin = true },
      "enable_message_cache_for_rejoin needs enable_rejoin = true")
    fails({ enable_rejoin = "yes" }, "option 'enable_rejoin' must be true or false")
    fails({ enable_rejoin = true, max_length_for_message_cache = 0 },
      "option 'max_length_for_message_cache' must be an integer from 1 to 2147483647, got 0")
    fails({ minimal_peers = -1 }, "option 'minimal_peers' must be an integer from 0 to")
    fails({ minimal_peers = { worker = 1.5 } }, "minimal_peers.worker: the count of 'worker'")
    fails({ peers_catch_lifetime = -1 }, "option 'peers_catch_lifetime' must be a finite number")
  end)

  it("delivers what was sent while the peer was down, in order, when it is back", function()
    local n = 200
    local m = master_with_dead_worker("cache", n)
    m:wait_output("sent\n")
    local w = worker()
    assert.are.equal(0, w:wait(30), w:report())
    assert.are.equal(0, m:wait(30), m:report())
    local want = {}
    for i = 1, n do
      want[#want + 1] = "got " .. i
    end
    -- The message the dead run got just before it died may come again: it
    -- had not acknowledged it yet, and the cache sends such messages again.
    local out = w:stdout():gsub("^ready\ngot 0\n", "ready\n")
    assert.are.equal("ready\n" .. table.concat(want, "\n") .. "\n", out)
    assert.matches("rejoined group '[^']+' at tcp://[^ ]+ after [%d.]+ s; sending the " .. n
      .. " messages kept for it", m:stderr())
  end)

  it("without the cache, a send to a peer that is down fails saying so", function()
    local m = master_with_dead_worker("nocache")
    assert.are.equal(0, m:wait(30), m:report())
    local out = m:stdout()
    assert.matches("error: [^\n]*'worker_1' in group '[^']+' is down", out)
    assert.matches("enable_message_cache_for_rejoin", out, 1, true)
    assert.not_matches("unknown destination", out, 1, true)
  end)

  it("refuses a message beyond max_length_for_message_cache, loudly", function()
    local m = master_with_dead_worker("bound", 5)
    assert.are.equal(0, m:wait(30), m:report())
    local out = m:stdout()
    assert.matches("kept 5\n", out, 1, true)
    assert.matches("error: [^\n]*is down %(it left [%d.]+ s ago%) and already has 5 messages "
      .. "kept for it %(max_length_for_message_cache%)", out)
  end)

  it("forgets a peer that does not come back within the lifetime, with a warning", function()
    local m = master_with_dead_worker("expire")
    assert.are.equal(0, m:wait(30), m:report())
    local out = m:stdout()
    local kept = assert(tonumber(out:match("kept total (%d+)\n")), m:report())
    assert.matches("error: [^\n]*unknown destination 'worker_1'", out)
    assert.matches("peer 'worker_1' of group '[^']+' did not come back within "
      .. "peers_catch_lifetime %(1 s%); dropped the " .. kept .. " messages? kept for it",
      m:stderr())
  end)

  it("makes a broadcast wait for minimal_peers", function()
    local w1 = worker("worker_1")
    w1:wait_output("ready\n")
    local m = procs.spawn(SCRIPTS .. "minimal.lua", { "30" }, env)
    m:wait_output("waiting\n")
    local w2 = worker("worker_2")
    assert.are.equal(0, m:wait(30), m:report())
    assert.matches("reached 2\n", m:stdout(), 1, true)
    assert.are.equal(0, w1:wait(30), w1:report())
    assert.are.equal(0, w2:wait(30), w2:report())
    assert.matches("got hello\n", w2:stdout(), 1, true)
  end)

  it("fails a broadcast clearly when minimal_peers do not come in time", function()
    local w1 = worker("worker_1")
    w1:wait_output("ready\n")
    local m = procs.spawn(SCRIPTS .. "minimal.lua", { "0.5" }, env)
    assert.are.equal(0, m:wait(30), m:report())
    assert.matches("error: [^\n]*only 1 of 2 peers of type 'worker' %(minimal_peers%) are "
      .. "connected in group '[^']+' after waiting [%d.]+ s", m:stdout())
  end)
end)
