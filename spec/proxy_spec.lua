-- maro.Proxy between separate marohost processes over a private Redis:
-- one master and five workers exercise every primitive.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local SCRIPTS = here .. "scripts/proxy/"

describe("maro.Proxy between processes", function()
  local redis = redis_support.for_block(setup, teardown, procs)

  -- Starts five workers and a master running the scenarios; returns the master.
  local function run_group(scenarios)
    local group = "spec_" .. require("maro.core").uuid():sub(1, 8)
    local env = { MARO_REDIS = redis.address, MARO_GROUP = group }
    local workers = {}
    for i = 1, 5 do
      env.MARO_COMPONENT_NAME = "worker_" .. i
      workers[i] = procs.spawn(SCRIPTS .. "worker.lua", {}, env)
    end
    env.MARO_COMPONENT_NAME = nil
    local master = procs.spawn(SCRIPTS .. "master.lua", scenarios, env)
    local status = master:wait(40)
    assert.are.equal(0, status, master:report())
    for i = 1, 5 do
      assert.are.equal(0, workers[i]:wait(10), workers[i]:report())
    end
    return master, group, workers
  end

  -- One master runs every scenario in turn (spec/scripts/proxy/master.lua);
  -- each test below checks that its scenario passed.
  local run
  local function result()
    if not run then
      local master, group = run_group({ "all" })
      run = { out = master:stdout(), err = master:stderr(), group = group }
    end
    return run
  end

  local function passed(name)
    local r = result()
    assert.matches("ok " .. name .. "\n", r.out, 1, true)
  end

  it("lists its peers", function() passed("peers") end)
  it("sends and gets the reply (send, isend + receive_by_id)", function() passed("send") end)
  it("gives notification replies the notification_receive stage", function()
    passed("notification")
  end)
  it("scatters sums and products to 5 workers", function() passed("scatter") end)
  it("broadcasts, and every reply names its real replier", function() passed("broadcast") end)
  it("keeps messages that arrive while waiting for others, in arrival order", function()
    passed("out_of_order")
  end)
  it("returns the pending ids when a timeout runs out", function() passed("timeout") end)
  it("moves a task to task_receive on an ack and never returns the ack", function()
    passed("ack")
  end)
  it("forwards with the same session id and its own name as source", function()
    passed("forward")
  end)
  it("raises an error naming an unknown destination and the group", function()
    passed("unknown")
  end)
  it("stops reading at the buffer bound, logs it, and loses nothing", function()
    passed("bound")
    assert.matches("holds 20 received messages", result().err, 1, true)
  end)
  it("leaves no registration behind", function()
    assert.are.same({}, redis:members(result().group))
  end)
end)
