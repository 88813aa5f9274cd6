-- The example's worker, except that worker.2 kills itself (SIGKILL) on its
-- first task, after receiving it and before answering; a marker file tells
-- its runs apart.
local maro = require("maro")

io.stdout:setvbuf("line")
local proxy = maro.Proxy{ expected_peers = { master = 1 } }
local marker = os.getenv("MARKERS") .. "/" .. proxy.name .. ".crashed"

for msg in proxy:receive() do
  if msg.tag == "sum" then
    if proxy.name == "worker.2" and not io.open(marker, "r") then
      assert(io.open(marker, "w")):close()
      print(proxy.name .. ": crashing in the middle of the work")
      local pid = io.open("/proc/self/stat"):read("n")
      os.execute("kill -KILL " .. pid)
    end
    local sum = 0
    for i = msg.payload.first, msg.payload.last do sum = sum + i end
    proxy:reply(msg, { payload = sum })
  end
end
