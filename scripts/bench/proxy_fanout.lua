--- Broadcast and collect through maro.Proxy: one broadcast() of SIZE payload
-- bytes to K echo workers (proxy_echo.lua) waits for a reply from each; N
-- rounds after a warm-up.
--   marohost proxy_fanout.lua [N] [SIZE] [K] [JOIN_FILE]
-- Prints "fanout_median_us X"; JOIN_FILE receives "started joined".
local maro = require("maro")
local started = maro.now()
local common = dofile((arg[0]:match("^(.*/)") or "./") .. "proxy_common.lua")

local n_arg, size_arg, k_arg, join_file = ...
local rounds = common.int_arg(n_arg, "N", 200)
local size = common.int_arg(size_arg, "SIZE", 64)
local k = common.int_arg(k_arg, "K", 32)
local TIMEOUT = 10

local proxy = maro.Proxy{ component_type = "master", expected_peers = { worker = k } }
common.record_join(join_file, started, maro.now())
local payload = string.rep("x", size)

local function round()
  local replies, pending = proxy:broadcast("worker", "ping", maro.SessionType.TASK, payload, TIMEOUT)
  if #pending > 0 or #replies ~= k then
    error(("broadcast: %d of %d replies, %d pending after %d s"):format(#replies, k, #pending, TIMEOUT))
  end
end

print(("fanout_median_us %.1f"):format(common.median_us(round, rounds)))
proxy:close()
