-- Streams arg[1] messages of arg[2] payload bytes to "receiver" as fast as it
-- can, then computes without calling the proxy until the file arg[3] exists
-- (at most 30 s): whatever it batched must leave on its own meanwhile.
-- MAX_MESSAGE_SIZE, when set, is its max_message_size.
local maro = require("maro")

local n, size, marker = tonumber(arg[1]), tonumber(arg[2]), arg[3]
local proxy = maro.Proxy{ component_type = "sender", expected_peers = { receiver = 1 },
  max_message_size = tonumber(os.getenv("MAX_MESSAGE_SIZE")) }
local pad = ("p"):rep(size)
for i = 1, n do
  proxy:isend(maro.Message{ tag = "data", source = proxy.name, destination = "receiver",
    payload = { i = i, pad = pad } })
end
local deadline = maro.now() + 30
local waited = false
while maro.now() < deadline do
  local f = io.open(marker, "r")
  if f then
    f:close()
    waited = true
    break
  end
end
proxy:close()
print(waited and "released" or "not released")
