-- events_bench.lua: maro.RegisterTable driven from Lua; run by
-- scripts/bench/events.sh as `marohost scripts/bench/events_bench.lua [PUSHES] [RUNS]`.
--
-- Event i is "worker_%04d:tag_%02d:1" (peer i of 1000, tag i % 100); push k
-- is a message from peer k % EVENTS with tag k % 100, so every push
-- satisfies exactly one unit event. Modes:
--   push        rt:push(msg); rt:clear() every 1000 pushes (matching and buffering only)
--   push+get    rt:push(msg); rt:get() every 1000 pushes, handlers not called
--   dispatch    rt:push(msg); for _, e in ipairs(rt:get()) do e[1](e[2]) end, every push
-- Each line is the median of RUNS runs.
--
-- Then rt:clear() with 10,000 events registered against 10: event i is
-- "peer_%05d:tag:2"; before each clear 8 messages go to 8 of the events
-- (buffered, none satisfied), and only the clear is timed.
local maro = require("maro")

local PUSHES = tonumber(arg[1]) or 2000000
local RUNS = tonumber(arg[2]) or 5
local PEERS, TAGS, BATCH = 1000, 100, 1000

local calls = 0
local function handler(messages) calls = calls + #messages end

local function setup(nevents)
  local rt = maro.RegisterTable({})
  for i = 0, nevents - 1 do
    rt:register_event_handler(("worker_%04d:tag_%02d:1"):format(i % PEERS, i % TAGS), handler)
  end
  local msgs = {}
  for k = 0, nevents - 1 do
    msgs[k + 1] = maro.Message{ source = ("worker_%04d"):format(k % PEERS),
                                tag = ("tag_%02d"):format(k % TAGS), destination = "master" }
  end
  return rt, msgs
end

local modes = {}

function modes.push(rt, msgs, n)
  local nm, k = #msgs, 1
  for i = 1, n do
    rt:push(msgs[k])
    k = k == nm and 1 or k + 1
    if i % BATCH == 0 then rt:clear() end
  end
end

modes["push+get"] = function(rt, msgs, n)
  local nm, k, got = #msgs, 1, 0
  for i = 1, n do
    rt:push(msgs[k])
    k = k == nm and 1 or k + 1
    if i % BATCH == 0 then got = got + #rt:get() end
  end
  got = got + #rt:get()
  assert(got == n, "every push should satisfy one event")
end

function modes.dispatch(rt, msgs, n)
  local nm, k = #msgs, 1
  calls = 0
  for _ = 1, n do
    rt:push(msgs[k])
    k = k == nm and 1 or k + 1
    for _, e in ipairs(rt:get()) do e[1](e[2]) end
  end
  assert(calls == n, "every push should reach one handler")
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- ns per push for each run of mode with nevents registered.
local function runs(mode, nevents, n)
  local rt, msgs = setup(nevents)
  local t = {}
  for r = 1, RUNS do
    collectgarbage()
    local t0 = maro.now()
    modes[mode](rt, msgs, n)
    t[r] = (maro.now() - t0) * 1e9 / n
    rt:clear()
  end
  rt:close()
  return t
end

-- Medians for 1000 and 10 events, and the median of the per-run ratios.
-- The runs alternate between the two sizes, so that a change in the
-- machine's load hits both.
local function compare(mode, n)
  local big, small, ratio = {}, {}, {}
  local rt_big, msgs_big = setup(1000)
  local rt_small, msgs_small = setup(10)
  for r = 1, RUNS do
    for _, c in ipairs({ { rt_big, msgs_big, big }, { rt_small, msgs_small, small } }) do
      collectgarbage()
      local t0 = maro.now()
      modes[mode](c[1], c[2], n)
      c[3][r] = (maro.now() - t0) * 1e9 / n
      c[1]:clear()
    end
    ratio[r] = big[r] / small[r]
  end
  rt_big:close()
  rt_small:close()
  return median(big), median(small), median(ratio)
end

local function line(label, ns)
  print(("Lua: %-34s %10.0f pushes/s (%6.1f ns/push)"):format(label, 1e9 / ns, ns))
end

print(("Lua: %d pushes per run, median of %d runs, %s"):format(PUSHES, RUNS, _VERSION))
local push1000, push10, push_ratio = compare("push", PUSHES)
line("1000 events, push", push1000)
local get1000, get10, get_ratio = compare("push+get", PUSHES)
line("1000 events, push+get (no handlers)", get1000)
line("1000 events, push+get+handler", median(runs("dispatch", 1000, PUSHES // 2)))
line("10 events, push", push10)
line("10 events, push+get (no handlers)", get10)
print(("Lua: cost per push, 1000 events vs 10: ratio %.2f (push), %.2f (push+get); "
       .. "medians of per-run ratios"):format(push_ratio, get_ratio))

-- ns per rt:clear() with nevents registered, 8 messages held before each.
local CLEARS, HELD = 10000, 8
local function clear_cost(nevents)
  local rt = maro.RegisterTable({})
  for i = 0, nevents - 1 do rt:register_event_handler(("peer_%05d:tag:2"):format(i), handler) end
  local msgs = {}
  for k = 0, HELD - 1 do
    msgs[k + 1] = maro.Message{ source = ("peer_%05d"):format(k * (nevents // HELD)), tag = "tag",
                                destination = "master" }
  end
  local now, total = maro.now, 0
  collectgarbage()
  for _ = 1, CLEARS do
    for k = 1, HELD do rt:push(msgs[k]) end
    local t0 = now()
    rt:clear()
    total = total + (now() - t0)
  end
  assert(rt:stats().buffered == 0, "clear() should empty every buffer")
  rt:close()
  return total * 1e9 / CLEARS
end

-- One untimed round first, and the order of the two sizes alternates, so
-- that neither pays for the warm-up or for the garbage of the other.
local cbig, csmall, cratio = {}, {}, {}
clear_cost(10)
for r = 1, RUNS do
  if r % 2 == 1 then
    cbig[r] = clear_cost(10000)
    csmall[r] = clear_cost(10)
  else
    csmall[r] = clear_cost(10)
    cbig[r] = clear_cost(10000)
  end
  cratio[r] = cbig[r] / csmall[r]
end
print(("Lua: clear with %d messages held: 10000 events %.0f ns, 10 events %.0f ns, ratio %.2f "
       .. "(median of %d runs of %d clears)"):format(HELD, median(cbig), median(csmall),
                                                      median(cratio), RUNS, CLEARS))
