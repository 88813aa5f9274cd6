--- The master of the job example: sums 1..N with the help of the workers.
-- Run by examples/job/job.lua: N is its argument, the number of workers comes
-- in SUM_WORKERS, and the group, its name and the Redis address from the
-- launcher's environment.
--
-- A part whose worker does not answer within RESEND_AFTER seconds (it may
-- have crashed, and the launcher restarts it under the same name) is sent
-- again to the same name; the first answer for each part counts, so no part
-- is lost or counted twice. At the end the master tells the workers to stop.
local maro = require("maro")

io.stdout:setvbuf("line")
local n = math.tointeger(tonumber((...) or 1000))
local workers = math.tointeger(tonumber(os.getenv("SUM_WORKERS") or 4))
local RESEND_AFTER = tonumber(os.getenv("SUM_RESEND_AFTER") or 2)
local TIMEOUT = 30

-- A worker that is down for a moment (restarted by the launcher) stays a
-- peer: what is sent to it meanwhile is kept and delivered when it is back.
local proxy <close> = maro.Proxy{
  expected_peers = { worker = workers },
  enable_rejoin = true, enable_message_cache_for_rejoin = true, peers_catch_lifetime = TIMEOUT,
}

-- One contiguous range per worker; the last one takes the remainder.
local peers = proxy.peers.worker
table.sort(peers)
local parts, share = {}, n // #peers
for i, peer in ipairs(peers) do
  parts[i] = { peer = peer, first = (i - 1) * share + 1, last = i == #peers and n or i * share }
end

local part_of = {} -- session id -> part
local function send(part)
  local msg = maro.SessionMessage{
    tag = "sum", source = proxy.name, destination = part.peer,
    payload = { first = part.first, last = part.last },
  }
  local id = proxy:isend(msg)[1]
  part_of[id] = part
  return id
end

local waiting = {}
for _, part in ipairs(parts) do waiting[#waiting + 1] = send(part) end

local total, answered = 0, 0
local deadline = maro.now() + TIMEOUT
while answered < #parts do
  local replies, pending = proxy:receive_by_id(waiting, RESEND_AFTER)
  for _, msg in ipairs(replies) do
    local part = part_of[msg.session_id]
    if not part.sum then
      part.sum = msg.payload
      total, answered = total + msg.payload, answered + 1
      print(("%s summed %d..%d to %d"):format(msg.source, part.first, part.last,
                                                 msg.payload))
    end
  end
  waiting = {}
  for _, id in ipairs(pending) do
    local part = part_of[id]
    if not part.sum then
      if maro.now() > deadline then
        error(("%s did not answer for %d..%d within %d s"):format(part.peer, part.first,
                                                                  part.last, TIMEOUT))
      end
      print(("no answer from %s yet; sending %d..%d again"):format(part.peer,
                                                                       part.first, part.last))
      waiting[#waiting + 1] = send(part)
    end
  end
end

local expected = n * (n + 1) // 2
if total ~= expected then
  error(("the sum of 1..%d came out as %d, expected %d"):format(n, total, expected))
end
print(("the sum of 1..%d is %d"):format(n, total))

-- The workers are done: they leave when told so, also on hosts where no
-- launcher would stop them at the master's end.
proxy:ibroadcast("worker", "stop", maro.SessionType.NOTIFICATION, "")
