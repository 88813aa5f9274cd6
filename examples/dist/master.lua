--- The master of the dist example: the "rollout" loop of the original design.
-- Each episode it asks every worker for a rollout around the current
-- parameter, waits for the conditional event "an update from every worker"
-- ("worker:update:100%"), and moves the parameter along the estimated
-- gradient. Exits 0 when the parameter ends near the workers' goal (3.0).
--   marohost master.lua [WORKERS [EPISODES]]
local maro = require("maro")

io.stdout:setvbuf("line")
local WORKERS = math.tointeger(tonumber((...) or 3))
local EPISODES = math.tointeger(tonumber(select(2, ...) or 10))
local LEARNING_RATE, TIMEOUT = 0.3, 10

local proxy = maro.Proxy{ component_type = "master", expected_peers = { worker = WORKERS } }

local theta = 0.0
local updates -- the messages of the last satisfied event
local rt = maro.RegisterTable(proxy)
rt:register_event_handler("worker:update:100%", function(messages)
  updates = messages
end)

for episode = 1, EPISODES do
  local workers = proxy.peers.worker
  table.sort(workers)
  local requests = {}
  for i, name in ipairs(workers) do
    requests[i] = { name, { episode = episode, theta = theta, epsilon = 0.1 * i } }
  end
  proxy:iscatter("rollout", maro.SessionType.TASK, requests)

  updates = nil
  local deadline = maro.now() + TIMEOUT
  while not updates do
    local msg = proxy:receive_once(math.max(deadline - maro.now(), 0))
    if not msg then
      print(("%s: episode %d: not every worker sent its update within %d s"):format(
        proxy.name, episode, TIMEOUT))
      os.exit(1)
    end
    if msg.payload.episode == episode then -- a late update of an old episode is ignored
      rt:push(msg)
    end
    for _, fired in ipairs(rt:get()) do
      fired[1](fired[2])
    end
  end

  -- Each worker played theta +- epsilon: a finite-difference slope each.
  local slope, reward = 0, 0
  for _, u in ipairs(updates) do
    slope = slope + (u.payload.plus - u.payload.minus) / (2 * u.payload.epsilon)
    reward = reward + (u.payload.plus + u.payload.minus) / 2
  end
  slope, reward = slope / #updates, reward / #updates
  theta = theta + LEARNING_RATE * slope
  print(("%s: episode %2d: %d updates, mean reward %8.4f, theta now %.4f"):format(
    proxy.name, episode, #updates, reward, theta))
end

proxy:ibroadcast("worker", "exit", maro.SessionType.NOTIFICATION)
local ok = math.abs(theta - 3.0) < 0.05
print(("%s: theta %.4f after %d episodes: %s"):format(proxy.name, theta, EPISODES,
  ok and "converged" or "NOT converged"))
proxy:close()
os.exit(ok and 0 or 1)
