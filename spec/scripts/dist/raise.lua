-- A dist worker whose handler raises an error for every message, in a
-- maro.testing group; for spec/dist_spec.lua, which reads the log lines on
-- stderr.
--   marohost raise.lua [COUNT [LOG_INTERVAL]]
-- Prints "errors N elapsed S" on stdout once the worker has handled the
-- COUNT messages (in S seconds) and written what its log limiter held back.
local maro = require("maro")
local dist = require("maro.dist")
local testing = require("maro.testing")

local count = math.tointeger(tonumber(arg[1] or 100))
local interval = tonumber(arg[2] or 5)

local function deep(payload)
  error("bad payload " .. tostring(payload))
end

local g <close> = testing.group{ master = 1, worker = 1 }
local w = maro.dist(g.worker[1], {
  ["master:x:1"] = function(_, _, messages)
    deep(messages[1].payload)
  end,
}, { log_interval = interval })(function() return {} end)()

local t0 = maro.now()
for i = 1, count do
  g.master[1]:isend(testing.message("master_1", "worker_1", "x", i))
  w:step(0)
end
local elapsed = maro.now() - t0

local deadline = maro.now() + interval + 30
while dist.stats(w).held > 0 do
  assert(maro.now() < deadline, "the held-back count was not written")
  w:step(0.05)
end
print(string.format("errors %d elapsed %.3f", dist.stats(w).errors, elapsed))
