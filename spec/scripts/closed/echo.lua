-- A worker of a closed group, for spec/closed_group_spec.lua: prints
-- "got TAG" for every message and answers it with its payload, until "stop".
-- The group, name, Redis and key come from the environment.
local maro = require("maro")

local proxy = maro.Proxy{ component_type = "worker" }
print("joined " .. proxy.address)
io.stdout:flush()
for msg in proxy:receive() do
  print("got " .. msg.tag)
  io.stdout:flush()
  proxy:reply(msg, { payload = msg.payload })
  if msg.tag == "stop" then break end
end
proxy:close()
