-- Floods a dist worker with messages that no event wants, each with a tag of
-- its own, in a maro.testing group; for spec/dist_spec.lua, which counts the
-- warning lines on stderr.
--   marohost flood.lua [COUNT [LOG_INTERVAL]]
-- Prints "unwanted N elapsed S before KIB after KIB" on stdout once the
-- worker has handled every message and written what its log limiter held
-- back: N messages in S seconds from the first to the last; memory is
-- collectgarbage("count") after a full collection, after a warm-up of
-- 2000 messages and after the flood.
local maro = require("maro")
local dist = require("maro.dist")
local testing = require("maro.testing")

local count = math.tointeger(tonumber(arg[1] or 100000))
local interval = tonumber(arg[2] or 5)
local WARM_UP = 2000

local g <close> = testing.group{ master = 1, worker = 1 }
local master = g.master[1]
local w = maro.dist(g.worker[1], { ["master:wanted:1"] = function() end },
  { log_interval = interval })(function() return {} end)()

local sent = 0
local function flood(n)
  local target = sent + n
  while sent < target do
    for _ = 1, math.min(1000, target - sent) do
      sent = sent + 1
      master:isend(testing.message("master_1", "worker_1", "tag_" .. sent))
    end
    w:step(0)
  end
  local deadline = maro.now() + 60
  while dist.stats(w).table.ignored < sent do
    assert(maro.now() < deadline, "the worker did not take every message within 60 s")
    w:step(0)
  end
end

-- The warm-up makes the first line, fills the table of held tags and
-- brings the buffers to their size.
local t0 = maro.now()
flood(WARM_UP)
collectgarbage("collect")
local before = collectgarbage("count")
flood(count)
local elapsed = maro.now() - t0
collectgarbage("collect")
local after = collectgarbage("count")

-- What the limiter held back is written once its interval has run out and
-- the worker is idle.
local deadline = maro.now() + interval + 30
while dist.stats(w).held > 0 do
  assert(maro.now() < deadline, "the held-back count was not written")
  w:step(0.05)
end
print(string.format("unwanted %d elapsed %.3f before %.1f after %.1f", sent, elapsed, before,
  after))
