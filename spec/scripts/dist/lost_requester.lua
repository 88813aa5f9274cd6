-- A dist worker whose handler raises on task requests whose requester has
-- left, in a maro.testing group; for spec/dist_errors_spec.lua, which reads
-- the log lines on stderr.
--   marohost lost_requester.lua [COUNT [LOG_INTERVAL]]
-- Prints "errors N held H elapsed S" on stdout once the worker has handled
-- the COUNT requests and written what its log limiter held back; S is the
-- seconds from the first request handled to the last line written.
local maro = require("maro")
local dist = require("maro.dist")
local testing = require("maro.testing")

local count = math.tointeger(tonumber(arg[1] or 10))
local interval = tonumber(arg[2] or 5)

local g <close> = testing.group{ master = 1, worker = 1 }
local w = maro.dist(g.worker[1], {
  ["master:x:1"] = function(_, _, messages)
    error("cannot do " .. tostring(messages[1].payload))
  end,
}, { log_interval = interval })(function() return {} end)()

-- The requests wait in the worker's queue; their requester leaves first.
for i = 1, count do
  g.master[1]:isend(testing.task("master_1", "worker_1", "x", i))
end
g.master[1]:close()
local t0 = maro.now()
while w:step(0) > 0 do
end

local deadline = maro.now() + interval + 30
while dist.stats(w).held > 0 do
  assert(maro.now() < deadline, "the held-back count was not written")
  w:step(0.05)
end
print(string.format("errors %d held %d elapsed %.3f", dist.stats(w).errors, dist.stats(w).held,
                    maro.now() - t0))
