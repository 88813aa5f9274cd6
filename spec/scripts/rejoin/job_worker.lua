-- A worker of spec/scripts/rejoin/job.lua: answers "sum" tasks. worker.2
-- kills itself (SIGKILL) on its first run when the master says "round 1
-- done"; a marker file in $MARKERS tells the runs apart.
local maro = require("maro")

io.stdout:setvbuf("line")
local name = os.getenv("MARO_COMPONENT_NAME")
local marker = os.getenv("MARKERS") .. "/" .. name
local f = io.open(marker, "r")
local first = f == nil
if f then
  f:close()
else
  assert(io.open(marker, "w")):close()
end

local proxy = maro.Proxy{ expected_peers = { master = 1 },
  heartbeat_interval = 0.2, heartbeat_expiry = 0.6, peer_refresh_interval = 0.2 }
print((first and "first" or "second") .. " run")
for msg in proxy:receive(60) do
  if msg.tag == "stop" then
    break
  elseif msg.tag == "round 1 done" and first then
    print("crashing")
    local pid = io.open("/proc/self/stat"):read("n")
    os.execute("kill -KILL " .. pid)
    while true do end -- not reached: SIGKILL is on its way
  elseif msg.tag == "sum" then
    local sum = 0
    for i = msg.payload.first, msg.payload.last do
      sum = sum + i
    end
    proxy:reply(msg, { payload = sum })
  end
end
proxy:close()
