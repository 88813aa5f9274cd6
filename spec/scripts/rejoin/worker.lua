-- A worker for spec/proxy_rejoin_spec.lua: prints "ready", then
-- "got <payload>" for every message it receives, in order, until a message
-- tagged "stop" arrives. Its name is the first argument.
local maro = require("maro")

local name = ...
local proxy = maro.Proxy{ component_type = "worker", component_name = name,
  heartbeat_interval = 0.2, heartbeat_expiry = 0.6, peer_refresh_interval = 0.2 }
print("ready")
io.stdout:flush()
for msg in proxy:receive(60) do
  if msg.tag == "stop" then
    break
  end
  print("got " .. tostring(msg.payload))
  io.stdout:flush()
end
proxy:close()
