--- The worker of the send example: answers every "sum" task with the sum of
-- its payload, until it is stopped (SIGTERM makes the proxy leave the group).
--   marohost worker.lua
local maro = require("maro")

io.stdout:setvbuf("line")
local proxy = maro.Proxy{ component_type = "worker", expected_peers = { master = 1 } }
print(("%s: joined group %s"):format(proxy.name, proxy.group_name))

for msg in proxy:receive() do
  print(("%s: %q from %s, payload {%s}"):format(proxy.name, msg.tag, msg.source,
                                               table.concat(msg.payload, ", ")))
  if msg.tag == "sum" then
    local sum = 0
    for _, n in ipairs(msg.payload) do
      sum = sum + n
    end
    proxy:reply(msg, { tag = "sum", payload = sum })
  end
end
