--- A member of the scale benchmark (scripts/bench/scale_job.lua): joins,
-- expecting the master, and waits for its "stop".
local common = dofile((arg[0]:match("^(.*/)") or "./") .. "scale_common.lua")
common.started()

local proxy <close> = common.join{ expected_peers = { master = 1 } }
for msg in proxy:receive() do
  if msg.tag == "stop" then break end
end
