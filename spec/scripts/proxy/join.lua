-- Joins with the options given as a Lua table constructor in arg 1, then
-- does what arg 2 says:
--   wait             serve until a "stop" message (echo replies meanwhile)
--   close_then_wait  close, then join again as <name>_probe and wait
--   busy             compute forever without calling the proxy
--   end              end the script without closing (the GC leaves)
--   exit             os.exit(3) without closing
--   info             print the proxy's fields and exit
local maro = require("maro")

local opts = assert(load("return " .. (arg[1] or "{}")))()
local action = arg[2] or "wait"

local proxy = maro.Proxy(opts)
print("joined " .. proxy.name .. " " .. proxy.address)
io.stdout:flush()

if action == "info" then
  print("name=" .. proxy.name)
  print("group=" .. proxy.group_name)
  print("type=" .. proxy.component_type)
  print("address=" .. proxy.address)
  for t, names in pairs(proxy.peers) do
    print("peers." .. t .. "=" .. table.concat(names, ","))
  end
  proxy:close()
elseif action == "close_then_wait" then
  proxy:close()
  proxy:close() -- idempotent
  print("closed " .. tostring(proxy.closed))
  io.stdout:flush()
  opts.component_name = (opts.component_name or "x") .. "_probe"
  local probe = maro.Proxy(opts)
  print("probe " .. probe.name)
  io.stdout:flush()
  for _ in probe:receive() do
  end
elseif action == "exit" then
  os.exit(3)
elseif action == "busy" then
  local x = 0
  while true do
    x = x + 1
  end
elseif action == "wait" then
  for msg in proxy:receive() do
    if msg.tag == "stop" then
      break
    end
    proxy:reply(msg)
  end
  proxy:close()
end
print("end")
