--- The worker of the reload example: a greeter whose handlers live in a file
-- that you edit while it runs.
--   marohost worker.lua [HANDLERS.lua]     (default: handlers.lua next to this file)
local maro = require("maro")

io.stdout:setvbuf("line")
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local path = (...) or here .. "handlers.lua"

--- The state that survives reloads lives in the instance, not in the file.
local Greeter = {}
Greeter.__index = Greeter

function Greeter.new()
  return setmetatable({ greeted = 0 }, Greeter)
end

local proxy = maro.Proxy{ component_type = "worker", expected_peers = { master = 1 } }
local w = maro.dist(proxy, path)(Greeter)()
local stat = io.open("/proc/self/stat")
local pid = stat and stat:read("l"):match("^%d+") or "?"
if stat then
  stat:close()
end
print(("%s: serving with the handlers of %s (pid %s: kill -HUP %s reloads them too)")
  :format(proxy.name, path, pid, pid))
w:launch()
