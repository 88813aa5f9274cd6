--- The master of the scale benchmark (scripts/bench/scale_job.lua): joins,
-- expecting N members; once STOP_FILE exists, tells them to stop and ends.
--   scale_master.lua N STOP_FILE
local common = dofile((arg[0]:match("^(.*/)") or "./") .. "scale_common.lua")
common.started()
local maro = require("maro")

local members, stop_file = math.tointeger(tonumber((...))), select(2, ...)
local proxy <close> = common.join{ expected_peers = { member = members } }

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

while not exists(stop_file) do
  proxy:receive_once(0.2)
end
local reached = #proxy:ibroadcast("member", "stop", maro.SessionType.NOTIFICATION, nil)
print(string.format("stopped %d", reached))
