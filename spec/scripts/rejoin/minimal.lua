-- A master for spec/proxy_rejoin_spec.lua with minimal_peers = {worker = 2}:
-- prints "waiting", then broadcasts to the workers, which waits for the
-- second worker up to the timeout (the first argument, seconds). Prints
-- "reached N" and stops the workers, or "error: ...".
local maro = require("maro")

local timeout = tonumber((...)) or 10
local proxy = maro.Proxy{ component_type = "master", component_name = "master",
  expected_peers = { worker = 1 }, heartbeat_interval = 0.2, heartbeat_expiry = 0.6,
  peer_refresh_interval = 0.2, minimal_peers = { worker = 2 },
  timeout_for_minimal_peer_number = timeout }
print("waiting")
io.stdout:flush()
local ok, ids = pcall(proxy.ibroadcast, proxy, "worker", "hello", "notification", "hello")
if ok then
  print("reached " .. #ids)
  proxy:ibroadcast("worker", "stop", "notification", nil)
else
  print("error: " .. ids)
end
io.stdout:flush()
proxy:close()
