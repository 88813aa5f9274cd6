-- Counts the "data" messages it gets, answers a "count" task with that
-- count and ends. The spec pauses it with SIGSTOP: its registration
-- outlives a long pause (heartbeat_expiry 60 s).
local maro = require("maro")

local proxy = maro.Proxy{ component_type = "receiver", component_name = "receiver",
  heartbeat_expiry = 60 }
print("joined")
io.stdout:flush()
local n = 0
for msg in proxy:receive(60) do
  if msg.tag == "data" then
    n = n + 1
  elseif msg.tag == "count" then
    proxy:reply(msg, { payload = n })
    break
  end
end
print("received " .. n)
proxy:close()
