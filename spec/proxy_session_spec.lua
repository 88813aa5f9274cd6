-- The session table, seen through one proxy that sends to itself.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")

describe("proxy sessions", function()
  local redis = redis_support.for_block(setup, teardown, procs)

  -- Runs scripts/proxy/NAME.lua in a group of its own; it prints "ok" when
  -- every check passed.
  local function passes(name, seconds)
    local p = procs.spawn(here .. "scripts/proxy/" .. name .. ".lua", {},
      { MARO_REDIS = redis.address, MARO_GROUP = name .. "_" .. require("maro.core").uuid():sub(1, 8) })
    assert.are.equal(0, p:wait(seconds), p:report())
    assert.matches("ok\n", p:stdout(), 1, true)
  end

  it("follows stages, forgets finished sessions and stays within max_sessions", function()
    passes("sessions", 30)
  end)

  it("keeps the right sessions through thousands started, answered and dropped", function()
    passes("session_churn", 60)
  end)
end)
