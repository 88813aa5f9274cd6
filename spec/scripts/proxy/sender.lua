-- Sends arg[1] numbered messages to "receiver", then "done" with the count.
local maro = require("maro")

local n = tonumber(arg[1])
local proxy = maro.Proxy{ component_type = "sender", expected_peers = { receiver = 1 } }
local Message, me = maro.Message, proxy.name
for i = 1, n do
  proxy:isend(Message{ tag = "data", source = me, destination = "receiver", payload = i })
end
proxy:isend(Message{ tag = "done", source = me, destination = "receiver", payload = n })
proxy:close()
print("sent " .. n)
