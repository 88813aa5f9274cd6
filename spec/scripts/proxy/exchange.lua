-- Two members (names from arg[1], arg[2]) each send arg[3] messages to the
-- other before receiving any: neither may block the other for good.
local maro = require("maro")

local me, other, n = arg[1], arg[2], tonumber(arg[3])
local proxy = maro.Proxy{ component_type = "peer", component_name = me,
  expected_peers = { peer = 1 } }
local payload = ("z"):rep(1000)
for i = 1, n do
  proxy:isend(maro.Message{ tag = "x", source = me, destination = other, payload = payload })
end
local got = 0
for _ in proxy:receive(20) do
  got = got + 1
  if got == n then
    break
  end
end
print("got " .. got)
-- Both finish receiving before either leaves.
proxy:isend(maro.Message{ tag = "bye", source = me, destination = other })
local bye = proxy:receive_once(20)
print("bye " .. tostring(bye and bye.tag))
proxy:close()
