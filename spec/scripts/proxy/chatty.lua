-- Two members of one process exchange N messages, for the debug-level
-- traffic log in spec/proxy_traffic_spec.lua: "a" sends N tagged "item" to
-- "b", which reads them all, then prints "done N" and the seconds it took.
local maro = require("maro")

local n = tonumber(arg[1]) or 300
local b = maro.Proxy{ component_type = "b", component_name = "b" }
local a = maro.Proxy{ component_type = "a", component_name = "a", expected_peers = { b = 1 } }
local start = maro.now()
for i = 1, n do a:isend_to("b", "item", i) end
local got = 0
while got < n do
  local msg = b:receive_once(10)
  assert(msg, "a message did not arrive")
  got = got + 1
end
print(("done %d in %.3f s"):format(got, maro.now() - start))
b:close()
a:close()
