--- Helpers shared by the proxy_*.lua benchmark scripts (loaded with dofile).
local maro_now = require("maro").now

local common = {}

--- The median of a list of numbers (the list is sorted in place).
function common.median(values)
  table.sort(values)
  local n = #values
  if n == 0 then
    return 0 / 0
  end
  if n % 2 == 1 then
    return values[(n + 1) // 2]
  end
  return (values[n // 2] + values[n // 2 + 1]) / 2
end

--- Runs fn for the warm-up rounds, then times `rounds` calls; returns the
-- median in microseconds.
function common.median_us(fn, rounds)
  for _ = 1, common.warmup(rounds) do
    fn()
  end
  local samples = {}
  for i = 1, rounds do
    local t0 = maro_now()
    fn()
    samples[i] = (maro_now() - t0) * 1e6
  end
  return common.median(samples)
end

--- A positive integer from a command-line argument, or default when absent.
function common.int_arg(value, name, default)
  if value == nil then
    return default
  end
  local n = math.tointeger(tonumber(value))
  if n == nil or n < 1 then
    error(("%s must be a positive integer, got %q"):format(name, value), 2)
  end
  return n
end

--- Warm-up rounds before timed ones: enough that every connection is up in
-- both directions, as the raw baseline does.
function common.warmup(rounds)
  return math.min(rounds // 10 + 1, 100)
end

--- Writes "started joined" (maro.now() seconds) to path, for proxy.sh to work
-- out how long the group took to join.
function common.record_join(path, started, joined)
  if path == nil then
    return
  end
  local f = assert(io.open(path, "w"))
  f:write(("%.6f %.6f\n"):format(started, joined))
  f:close()
end

return common
