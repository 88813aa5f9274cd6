--- A worker of the broadcast example: counts the "inc" notifications it gets
-- and replies to each with its counter, until it is stopped.
--   marohost worker.lua
local maro = require("maro")

io.stdout:setvbuf("line")
local proxy = maro.Proxy{ component_type = "worker", expected_peers = { master = 1 } }
local counter = 0
print(("%s: joined group %s, counter %d"):format(proxy.name, proxy.group_name, counter))

for msg in proxy:receive() do
  if msg.tag == "inc" then
    counter = counter + 1
    print(("%s: %q from %s, counter now %d"):format(proxy.name, msg.tag, msg.source, counter))
    proxy:reply(msg, { tag = "done", payload = counter })
  end
end
