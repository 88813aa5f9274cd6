--- Round trip through maro.Proxy: send() of SIZE payload bytes to one echo
-- worker (proxy_echo.lua), N times after a warm-up.
--   marohost proxy_rtt.lua [N] [SIZE]
-- Prints "rtt_median_us X".
local maro = require("maro")
local common = dofile((arg[0]:match("^(.*/)") or "./") .. "proxy_common.lua")

local n_arg, size_arg = ...
local rounds = common.int_arg(n_arg, "N", 2000)
local size = common.int_arg(size_arg, "SIZE", 64)
local TIMEOUT = 10

local proxy = maro.Proxy{ component_type = "master", expected_peers = { worker = 1 } }
local worker = proxy.peers.worker[1]
local payload = string.rep("x", size)

local function round_trip()
  local replies, pending = proxy:send(maro.SessionMessage{
    tag = "ping", source = proxy.name, destination = worker, payload = payload,
    session_type = maro.SessionType.TASK,
  }, TIMEOUT)
  if #pending > 0 or #replies ~= 1 then
    error(("send: %d replies, %d pending after %d s"):format(#replies, #pending, TIMEOUT))
  end
end

print(("rtt_median_us %.1f"):format(common.median_us(round_trip, rounds)))
proxy:close()
