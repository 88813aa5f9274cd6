-- A dist worker whose handlers come from a file, for spec/reload_spec.lua and
-- spec/dist_spec.lua:
--   MARO_GROUP=... MARO_REDIS=... MARO_COMPONENT_NAME=... marohost worker.lua HANDLERS.lua
-- The instance keeps a counter that the handler files increment. Prints
-- "ready <name>" once serving; ends when the master sends "exit" (handled
-- here, not in the file) or on SIGTERM.
local maro = require("maro")

local path = assert(..., "usage: worker.lua HANDLERS.lua")

local proxy = maro.Proxy{ component_type = "worker", expected_peers = { master = 1 } }

local Counter = {}
Counter.__index = Counter

function Counter.new(start)
  return setmetatable({ count = start }, Counter)
end

function Counter:bump()
  self.count = self.count + 1
  return self.count
end

local Worker = maro.dist(proxy, path)(Counter)
local w = Worker(0)
print("ready " .. proxy.name)
io.stdout:flush()
w:launch()
print("stopped with count " .. w.count)
