-- Follows the peer table of a member that expects one worker: prints
-- "workers N" whenever the number of connected workers changes, and exits
-- once it has seen the counts given as arguments, in that order.
local maro = require("maro")

local proxy = maro.Proxy{ component_type = "watcher", component_name = "watcher",
  expected_peers = { worker = 1 } }
local want, at = { ... }, 1
local last, version = -1, -1
local deadline = maro.now() + 30
while at <= #want and maro.now() < deadline do
  if proxy.peers_version ~= version then
    version = proxy.peers_version
    local n = #(proxy.peers.worker or {})
    if n ~= last then
      last = n
      print("workers " .. n)
      io.stdout:flush()
      if n == tonumber(want[at]) then
        at = at + 1
      end
    end
  end
  proxy:receive_once(0.05) -- waits, and hears of joins and leaves meanwhile
end
print(at > #want and "seen all" or "missed")
proxy:close()
