--- The master of the reload example: sends a "tick" to the worker twice a
-- second and prints each reply, for SECONDS seconds (default 60).
--   marohost master.lua [SECONDS]
--   marohost master.lua --demo HANDLERS.lua
-- With --demo it edits the worker's handler file itself after a few ticks
-- (saving by rename, as editors do) and checks that the new handler answers
-- within a second, and that the worker's counter went on.
local maro = require("maro")

io.stdout:setvbuf("line")
local demo = (...) == "--demo"
local path = demo and select(2, ...)
local seconds = demo and 30 or tonumber((...) or 60)

local proxy = maro.Proxy{ component_type = "master", expected_peers = { worker = 1 } }
local worker = proxy.peers.worker[1]

local function tick()
  local replies = proxy:send(maro.Message{ tag = "tick", source = proxy.name,
    destination = worker }, 5)
  local text = replies[1] and replies[1].payload or "(no reply)"
  print(("%s: %s"):format(worker, text))
  return text
end

local function save_by_rename(file, text)
  local tmp = file .. ".tmp~"
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, file))
end

local deadline = maro.now() + seconds
if not demo then
  while maro.now() < deadline do
    tick()
    proxy:receive_once(0.5) -- nothing is expected: a pause that still serves the proxy
  end
  proxy:close()
  return
end

-- The demo: three ticks, a save, then ticks until the new greeting answers.
for _ = 1, 3 do
  tick()
end
local f = assert(io.open(path, "rb"))
local text = f:read("a"):gsub('local GREETING = "hello"', 'local GREETING = "bonjour"')
f:close()
save_by_rename(path, text)
local saved = maro.now()
print(("master: saved %s with the greeting \"bonjour\""):format(path))
local reply
repeat
  reply = tick()
until reply:match("^bonjour") or maro.now() > deadline
local took = maro.now() - saved
local ok = reply == "bonjour #" .. reply:match("#(%d+)") and tonumber(reply:match("#(%d+)")) >= 4
  and took < 1.0
print(("master: the new handler answered %.3f s after the save, counter %s: %s"):format(
  took, reply:match("#(%d+)") or "?", ok and "correct" or "WRONG"))
proxy:close()
os.exit(ok and 0 or 1)
