-- The session table, seen through one proxy that sends to itself.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")

describe("proxy sessions", function()
  local redis = redis_support.for_block(setup, teardown, procs)

  it("follows stages, forgets finished sessions and stays within max_sessions", function()
    local p = procs.spawn(here .. "scripts/proxy/sessions.lua", {},
      { MARO_REDIS = redis.address, MARO_GROUP = "sessions_" .. require("maro.core").uuid():sub(1, 8) })
    assert.are.equal(0, p:wait(30), p:report())
    assert.matches("ok\n", p:stdout(), 1, true)
  end)

  it("keeps the right sessions through thousands started, answered and dropped", function()
    local p = procs.spawn(here .. "scripts/proxy/session_churn.lua", {},
      { MARO_REDIS = redis.address, MARO_GROUP = "churn_" .. require("maro.core").uuid():sub(1, 8) })
    assert.are.equal(0, p:wait(60), p:report())
    assert.matches("ok\n", p:stdout(), 1, true)
  end)
end)
