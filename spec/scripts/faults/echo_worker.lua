-- A worker for spec/proxy_faults_spec.lua: prints "ready", answers every
-- task with "<payload> from <its pid>" (HOLD=1: never answers), and ends
-- on "stop". Its name comes from MARO_COMPONENT_NAME.
local maro = require("maro")

local proxy = maro.Proxy{ component_type = "worker" }
print("ready")
io.stdout:flush()
local hold = os.getenv("HOLD") == "1"
for msg in proxy:receive() do
  print("got " .. msg.tag .. " " .. tostring(msg.payload))
  io.stdout:flush()
  if msg.tag == "stop" then break end
  if not hold then proxy:reply(msg, { payload = tostring(msg.payload) }) end
end
proxy:close()
