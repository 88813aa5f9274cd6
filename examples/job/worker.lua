--- A worker of the job example: answers each "sum" task with the sum of the
-- range it names. It runs until the master says "stop", or until the
-- launcher stops it (SIGTERM: the proxy leaves the group).
local maro = require("maro")

io.stdout:setvbuf("line")
local proxy <close> = maro.Proxy{ expected_peers = { master = 1 } }

for msg in proxy:receive() do
  if msg.tag == "stop" then break end
  if msg.tag == "sum" then
    local sum = 0
    for i = msg.payload.first, msg.payload.last do sum = sum + i end
    print(("%s: %d..%d -> %d"):format(proxy.name, msg.payload.first, msg.payload.last, sum))
    proxy:reply(msg, { payload = sum })
  end
end
