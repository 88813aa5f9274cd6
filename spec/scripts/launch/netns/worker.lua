-- A worker of the jobs of spec/launch_netns_spec.lua: answers "sum" with
-- the sum of a range and "task" with its payload, until the master says
-- "stop".
local maro = require("maro")

io.stdout:setvbuf("line")
local proxy <close> = maro.Proxy{ expected_peers = { master = 1 } }
print(string.format("%s joined at %s", proxy.name, proxy.address))
for msg in proxy:receive() do
  if msg.tag == "stop" then break end
  if msg.tag == "sum" then
    local sum = 0
    for i = msg.payload.first, msg.payload.last do sum = sum + i end
    proxy:reply(msg, { payload = sum })
  elseif msg.tag == "task" then
    proxy:reply(msg, { payload = msg.payload })
  end
end
