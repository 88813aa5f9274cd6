-- Talks to worker_1 (a worker.lua) while the spec kills it and starts it
-- again at a new address: prints "first" once answered, then "second" once
-- the new process answers.
local maro = require("maro")

local proxy = maro.Proxy{ component_type = "master", component_name = "master",
  expected_peers = { worker = 1 } }

local function ask(timeout)
  local ok, replies = pcall(proxy.send, proxy, maro.SessionMessage{ tag = "whoami",
    source = "master", destination = "worker_1" }, timeout)
  return ok and replies[1] and replies[1].payload, replies
end

local version = proxy.peers_version
assert(ask(10) == "worker_1")
print("first " .. version)
io.stdout:flush()

-- The spec kills the worker now. Wait until the peer table changed twice
-- (gone, back) or a reply comes from the new process.
local deadline = maro.now() + 30
local answered = false
while maro.now() < deadline do
  local who = ask(0.3)
  if who and proxy.peers_version > version then
    answered = true
    break
  end
end
print((answered and "second " or "failed ") .. proxy.peers_version)
proxy:ibroadcast("worker", "stop", "notification", nil)
proxy:close()
