-- A proxy has one ZeroMQ socket per peer it sends to, and a ZeroMQ context
-- holds sockets_per_context of them (1023 by default): a proxy that talks
-- to more peers opens more contexts (docs/deploy.md, "Towards 10,000
-- members"). Here a context holds 3, and a master broadcasts to 7 members
-- registered as a peer in another language would be, all listening on one
-- socket of the spec's.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local pk = dofile(here .. "support/packet.lua")
local maro = require("maro")
local core = require("maro.core")

describe("a proxy with more peers than a ZeroMQ context holds", function()
  local redis = redis_support.for_block(setup, teardown, procs)
  local group, listener
  local WORKERS = 7

  before_each(function()
    group = "sockets_" .. core.uuid():sub(1, 8)
    listener = core.testing.listener("127.0.0.1", false)
    for i = 1, WORKERS do
      redis:register(group, "w" .. i, "worker", listener.address, ("%016x"):format(i))
    end
  end)

  after_each(function()
    listener:close()
    procs.cleanup()
  end)

  -- ZeroMQ's I/O threads in this process: one per context. A proxy an
  -- earlier spec left to the collector is closed first, so that it does not
  -- close (and take its thread along) while they are counted.
  local function io_threads()
    collectgarbage()
    collectgarbage()
    local stat = assert(io.open("/proc/self/stat"))
    local pid = stat:read("a"):match("^%d+")
    stat:close()
    local n = 0
    local ls = io.popen("cat /proc/" .. pid .. "/task/*/comm 2>/dev/null")
    for name in ls:lines() do
      if name:find("^ZMQbg/IO") then n = n + 1 end
    end
    ls:close()
    return n
  end

  it("opens another context when one is full, and reaches every peer", function()
    local before = io_threads()
    local master = maro.Proxy{ group_name = group, component_type = "master",
      component_name = "master", redis_address = redis.address, expected_peers = { worker = 7 },
      sockets_per_context = 3, linger = 0 }
    -- The first context holds the receiving socket and 2 peers, then 3 and 2.
    master:ibroadcast("worker", "hello", maro.SessionType.NOTIFICATION, "to all")
    -- One packet over each worker's socket (a broadcast names the type).
    for i = 1, WORKERS do
      local frame = listener:receive(10)
      assert.is_not_nil(frame, ("%d of %d workers were sent to"):format(i - 1, WORKERS))
      local p = pk.read(frame)
      assert.are.same({ "master", "hello", "worker" }, { p.sender, p.tag, p.dest })
    end
    assert.is_nil(listener:receive(0.2))
    assert.are.equal(before + 3, io_threads())
    -- Nobody acknowledges: all 7 are reported, and every context ends.
    assert.are.equal(WORKERS, master:close())
    assert.are.equal(before, io_threads())
  end)

  it("refuses a context of fewer than 2 sockets", function()
    local ok, err = pcall(maro.Proxy, { group_name = group, component_type = "master",
      redis_address = redis.address, sockets_per_context = 1 })
    assert.is_false(ok)
    assert.matches("option 'sockets_per_context' must be an integer from 2 to 65535, got 1",
                   err, 1, true)
  end)
end)
