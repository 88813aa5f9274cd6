-- Sends one task to worker_1, which holds it without answering, and waits
-- with no timeout (send(msg, nil)). The spec kills worker_1: the wait must
-- end with the session pending. REJOIN=1: with enable_rejoin and a
-- peers_catch_lifetime of 1 s (the wait ends when that passes).
local maro = require("maro")

local rejoin = os.getenv("REJOIN") == "1"
local proxy = maro.Proxy{ component_type = "master", component_name = "master",
  expected_peers = { worker = 1 }, heartbeat_interval = 0.2, heartbeat_expiry = 0.6,
  enable_rejoin = rejoin, peers_catch_lifetime = 1 }
print("waiting")
io.stdout:flush()
local t0 = maro.now()
local replies, pending = proxy:send(maro.SessionMessage{ tag = "work", source = "master",
  destination = "worker_1", payload = 1 }, nil)
print(("returned replies %d pending %d after %.1f s"):format(#replies, #pending,
  maro.now() - t0))
proxy:close()
