--- The worker of the round-trip, broadcast and join benchmarks: replies to
-- every message with the same tag and payload until it is stopped (SIGTERM).
--   marohost proxy_echo.lua [JOIN_FILE]
-- JOIN_FILE receives "started joined" (maro.now() seconds).
local maro = require("maro")
local started = maro.now()
local common = dofile((arg[0]:match("^(.*/)") or "./") .. "proxy_common.lua")

local join_file = ...
local proxy = maro.Proxy{ component_type = "worker", expected_peers = { master = 1 } }
common.record_join(join_file, started, maro.now())

for msg in proxy:receive() do
  proxy:reply(msg)
end
