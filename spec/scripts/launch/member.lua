-- A member of the group that only serves: it joins (expecting nobody),
-- prints where it is, and stays until it is stopped (SIGTERM) or told to
-- stop (a message tagged "stop").
local maro = require("maro")

io.stdout:setvbuf("line")
local proxy = maro.Proxy{}
print(string.format("%s joined at %s", proxy.name, proxy.address))
for msg in proxy:receive() do
  if msg.tag == "stop" then break end
end
proxy:close()
