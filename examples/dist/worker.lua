--- A worker of the dist example: a local class, Env, made a distributed worker
-- with maro.dist. Its handlers are in handlers.lua, reloaded when that file
-- is saved (or on SIGHUP) while the worker runs.
--   marohost worker.lua
local maro = require("maro")

io.stdout:setvbuf("line")
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"

--- A toy environment: the closer theta is to the goal, the higher the reward.
-- Nothing in it knows about messages.
local Env = {}
Env.__index = Env

function Env.new(goal)
  return setmetatable({ goal = goal, rollouts = 0 }, Env)
end

--- Plays one episode with parameter theta; returns its reward.
function Env:rollout(theta)
  self.rollouts = self.rollouts + 1
  return -(theta - self.goal) ^ 2
end

local proxy = maro.Proxy{ component_type = "worker", expected_peers = { master = 1 } }
local Worker = maro.dist(proxy, here .. "handlers.lua")(Env)
local w = Worker(3.0)
print(("%s: joined group %s, serving"):format(proxy.name, proxy.group_name))
w:launch()
print(("%s: done after %d rollouts"):format(proxy.name, w.rollouts))
