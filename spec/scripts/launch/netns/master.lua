-- The master of the jobs that spec/launch_netns_spec.lua runs on hosts of
-- their own. It joins, waits until the spec creates $NS_DIR/go (so that the
-- spec can look at every registration first), then, by $NS_MODE:
--   sum     sends each worker a range of 1..$NS_N and prints their sum;
--   stream  sends a task every 20 ms, round robin, until 50 tasks after the
--           spec created $NS_DIR/restored, then waits for the answers and
--           prints "accepted A refused R answered N". Nothing is sent twice:
--           every task that a send accepted must be answered.
-- At the end it tells the workers to stop, so that hosts without a master
-- end their part too.
local maro = require("maro")

io.stdout:setvbuf("line")
local dir, mode = os.getenv("NS_DIR"), os.getenv("NS_MODE") or "sum"
local workers = math.tointeger(tonumber(os.getenv("NS_WORKERS")))
local TIMEOUT = 40

local proxy <close> = maro.Proxy{
  expected_peers = { worker = workers },
  enable_rejoin = true, enable_message_cache_for_rejoin = true, peers_catch_lifetime = 60,
}
print(string.format("%s joined at %s", proxy.name, proxy.address))

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

-- Waits for a file, keeping the proxy served; nothing arrives before "go".
local function wait_file(path)
  local deadline = maro.now() + TIMEOUT
  while not exists(path) do
    assert(maro.now() < deadline, "timed out waiting for " .. path)
    assert(proxy:receive_once(0.05) == nil, "a message before the tasks")
  end
end

wait_file(dir .. "/go")
local peers = proxy.peers.worker
table.sort(peers)

local function task(dest, tag, payload)
  return maro.SessionMessage{ tag = tag, source = proxy.name, destination = dest,
                              payload = payload }
end

if mode == "sum" then
  local n = math.tointeger(tonumber(os.getenv("NS_N") or 1000))
  local ids, share = {}, n // #peers
  for i, peer in ipairs(peers) do
    local first, last = (i - 1) * share + 1, i == #peers and n or i * share
    ids[#ids + 1] = proxy:isend(task(peer, "sum", { first = first, last = last }))[1]
  end
  local replies, pending = proxy:receive_by_id(ids, TIMEOUT)
  assert(#pending == 0, #pending .. " ranges were not answered")
  local total = 0
  for _, r in ipairs(replies) do
    total = total + r.payload
    print(string.format("%s answered %d", r.source, r.payload))
  end
  print(string.format("the sum of 1..%d is %d", n, total))
else
  local accepted, refused, answered = 0, 0, 0
  local waiting, after = {}, nil
  local deadline = maro.now() + TIMEOUT
  local function take(msg)
    if msg and waiting[msg.session_id] then
      waiting[msg.session_id] = nil
      answered = answered + 1
    end
  end
  local k = 0
  while not (after and accepted >= after + 50) do
    assert(maro.now() < deadline, "the spec did not restore the link in time")
    if not after and exists(dir .. "/restored") then after = accepted end
    k = k + 1
    local ok, ids = pcall(proxy.isend, proxy, task(peers[k % #peers + 1], "task", k))
    if ok then
      accepted = accepted + 1
      waiting[ids[1]] = true
      if accepted % 50 == 0 then print("accepted " .. accepted) end
    else
      refused = refused + 1
      print("refused: " .. tostring(ids))
    end
    take(proxy:receive_once(0.02))
    local msg = proxy:receive_once(0)
    while msg do
      take(msg)
      msg = proxy:receive_once(0)
    end
  end
  local ids = {}
  for id in pairs(waiting) do ids[#ids + 1] = id end
  local replies = proxy:receive_by_id(ids, TIMEOUT)
  for _, msg in ipairs(replies) do take(msg) end
  print(string.format("accepted %d refused %d answered %d", accepted, refused, answered))
end

proxy:ibroadcast("worker", "stop", maro.SessionType.NOTIFICATION, "")
