-- Sends arg[1] numbered messages to "receiver", then "done" with the count,
-- and stays in the group until the receiver answers it: a sender that left
-- before the receiver finished joining would never be counted as its peer.
local maro = require("maro")

local n = tonumber(arg[1])
local proxy = maro.Proxy{ component_type = "sender", expected_peers = { receiver = 1 } }
local Message, me = maro.Message, proxy.name
for i = 1, n do
  proxy:isend(Message{ tag = "data", source = me, destination = "receiver", payload = i })
end
local replies = proxy:send(Message{ tag = "done", source = me, destination = "receiver",
  payload = n }, 60)
assert(#replies == 1, "the receiver did not answer 'done' within 60 s")
proxy:close()
print("sent " .. n)
