-- Sends COUNT messages of SIZE bytes to "receiver" with isend, then closes
-- with a linger of LINGER seconds and prints what close() returned:
-- "close N". For the close and memory specs of spec/proxy_faults_spec.lua.
local maro = require("maro")

local count, size, linger = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])
local proxy = maro.Proxy{ component_type = "flooder", expected_peers = { receiver = 1 },
  linger = linger, send_timeout = 120 }
local pad = ("x"):rep(size)
for i = 1, count do
  proxy:isend(maro.Message{ tag = "data", source = proxy.name, destination = "receiver",
    payload = { i = i, pad = pad } })
end
print("sent " .. count)
io.stdout:flush()
print("close " .. proxy:close())
