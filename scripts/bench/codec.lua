-- The wire codec as a script sees it: maro.wire.encode and maro.wire.decode
-- (plus the first read of msg.payload) for the messages of bench_codec.c.
--   marohost scripts/bench/codec.lua [seconds per measurement, default 0.2] [repeats, default 5]
-- Each figure is the median of the repeats.
local maro = require("maro")

local seconds = tonumber(arg and arg[1]) or 0.2
local repeats = tonumber(arg and arg[2]) or 5

local now = maro.now
local encode, decode = maro.wire.encode, maro.wire.decode

-- Median over repeats of the mean time of one call of fn, in seconds.
local function measure(fn)
  local n = 1
  while true do -- calibrate: how many calls fill the time slice
    local t0 = now()
    fn(n)
    local dt = now() - t0
    if dt >= seconds / 4 then
      n = math.floor(n * seconds / dt) + 1
      break
    end
    n = n * 4
  end
  local samples = {}
  for r = 1, repeats do
    collectgarbage()
    local t0 = now()
    fn(n)
    samples[r] = (now() - t0) / n
  end
  table.sort(samples)
  return samples[(repeats + 1) // 2]
end

local function report(what, t)
  print(("  lua       %-15s %12.0f msg/s  %10.3f us/msg"):format(what, 1 / t, t * 1e6))
end

local cases = {
  { "string64", ("x"):rep(64) },
  { "table", { id = 7, values = { 1, 2, 3 }, name = "sum" } },
  { "string1MiB", ("y"):rep(1024 * 1024) },
}

print(("codec.lua: median of %d repeats of %.2f s each"):format(repeats, seconds))
for _, c in ipairs(cases) do
  local msg = maro.SessionMessage{ tag = "sum", source = "master", destination = "worker_001",
                                   payload = c[2] }
  local h, p = encode(msg, "master-worker")
  print(("%s: %d + %d bytes on the wire"):format(c[1], #h, #p))
  report("encode", measure(function(n)
    for _ = 1, n do encode(msg, "master-worker") end
  end))
  report("decode", measure(function(n)
    for _ = 1, n do decode(h, p) end
  end))
  report("decode+payload", measure(function(n)
    for _ = 1, n do local _ = decode(h, p).payload end
  end))
end
