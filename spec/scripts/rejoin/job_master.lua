-- The master of spec/scripts/rejoin/job.lua: sums 1..N (the argument) in two
-- rounds, one task per worker and round; every task is sent once. Between
-- the rounds worker.2 dies (it kills itself when told "round 1 done"), and
-- the master sends the second round once it has seen worker.2 go: a message
-- handed to a process that then dies is lost whatever the options, but one
-- sent while the peer is known to be down is kept and delivered when it is
-- back (enable_message_cache_for_rejoin).
local maro = require("maro")

io.stdout:setvbuf("line")
local n = math.tointeger(tonumber((...) or 1000))
local proxy <close> = maro.Proxy{ expected_peers = { worker = 2 },
  heartbeat_interval = 0.2, heartbeat_expiry = 0.6, peer_refresh_interval = 0.2,
  enable_rejoin = true, enable_message_cache_for_rejoin = true, peers_catch_lifetime = 20 }

local workers = { "worker.1", "worker.2" }
local quarter = n // 4
local function task(round, w)
  local k = (round - 1) * 2 + w -- 1..4
  return { first = (k - 1) * quarter + 1, last = k == 4 and n or k * quarter }
end

local total = 0
local function run_round(round)
  local ids = {}
  for w, name in ipairs(workers) do
    ids[#ids + 1] = proxy:isend(maro.SessionMessage{ tag = "sum", source = proxy.name,
      destination = name, payload = task(round, w) })[1]
  end
  local replies, pending = proxy:receive_by_id(ids, 30)
  if #pending > 0 then
    error(("round %d: %d tasks not answered within 30 s"):format(round, #pending))
  end
  for _, msg in ipairs(replies) do
    print(("round %d: %s answered %d"):format(round, msg.source, msg.payload))
    total = total + msg.payload
  end
end

local function has(name)
  for _, peer in ipairs(proxy.peers.worker or {}) do
    if peer == name then
      return true
    end
  end
  return false
end

run_round(1)
proxy:isend(maro.Message{ tag = "round 1 done", source = proxy.name, destination = "worker.2" })
local deadline = maro.now() + 20
while has("worker.2") do
  assert(maro.now() < deadline, "worker.2 did not go")
  proxy:receive_once(0.05)
end
print("worker.2 is down; sending round 2")
run_round(2)
local expected = n * (n + 1) // 2
assert(total == expected, ("the sum came out as %d, expected %d"):format(total, expected))
print(("the sum of 1..%d is %d"):format(n, total))
proxy:ibroadcast("worker", "stop", "notification", nil)
