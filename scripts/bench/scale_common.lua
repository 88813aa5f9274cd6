--- Shared by scale_master.lua and scale_member.lua (loaded with dofile).
local maro = require("maro")

local common = {}

--- Prints "started T PID" (T: maro.now()), as the first thing a script does.
function common.started()
  local now = maro.now()
  io.stdout:setvbuf("line")
  local stat = assert(io.open("/proc/self/stat"))
  local pid = stat:read("n")
  stat:close()
  print(string.format("started %.6f %d", now, pid))
end

-- Proxy options that scale.sh may set, by environment variable.
local FROM_ENV = {
  heartbeat_interval = "SCALE_HEARTBEAT_INTERVAL",
  heartbeat_expiry = "SCALE_HEARTBEAT_EXPIRY",
  peer_refresh_interval = "SCALE_PEER_REFRESH_INTERVAL",
}

--- Joins with these options and those of the environment; prints
-- "joined T" and returns the proxy.
function common.join(options)
  -- Joining may look at the registry up to 1000 times (about 8 min at
  -- 0.5 s), not 100: a small machine is slow to start a few hundred
  -- processes at once.
  options.max_peer_discovery_retries = 1000
  for option, var in pairs(FROM_ENV) do
    local v = tonumber(os.getenv(var) or "")
    if v then options[option] = v end
  end
  local proxy = maro.Proxy(options)
  print(string.format("joined %.6f", maro.now()))
  return proxy
end

return common
