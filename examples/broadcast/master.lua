--- The master of the broadcast example: broadcasts an "inc" notification to
-- every worker and names each worker that replied.
--   marohost master.lua [--immediate]
-- With --immediate it uses ibroadcast and collects the replies with
-- receive_by_id; otherwise broadcast() waits for them itself.
local maro = require("maro")

io.stdout:setvbuf("line")
local immediate = (...) == "--immediate"
local WORKERS, TIMEOUT = 5, 10

local proxy = maro.Proxy{ component_type = "master", expected_peers = { worker = WORKERS } }

local replies, pending
if immediate then
  local session_ids = proxy:ibroadcast("worker", "inc", maro.SessionType.NOTIFICATION)
  -- Work with a higher priority could be done here while the workers answer.
  replies, pending = proxy:receive_by_id(session_ids, TIMEOUT)
else
  replies, pending = proxy:broadcast("worker", "inc", maro.SessionType.NOTIFICATION, nil, TIMEOUT)
end

-- Every connected worker must have answered exactly once, under its own name.
local waiting = {}
for _, name in ipairs(proxy.peers.worker) do
  waiting[name] = true
end
local ok = true
for _, msg in ipairs(replies) do
  print(("%s: reply from %s, its counter is %s, session stage %s"):format(
    proxy.name, msg.source, msg.payload, msg.session_stage))
  if not waiting[msg.source] then
    print(("%s: unexpected reply from %s"):format(proxy.name, msg.source))
    ok = false
  end
  waiting[msg.source] = nil
end
for name in pairs(waiting) do
  print(("%s: no reply from %s within %d s"):format(proxy.name, name, TIMEOUT))
  ok = false
end
ok = ok and #pending == 0
print(("%s: %d of %d workers replied: %s"):format(proxy.name, #replies, WORKERS,
                                                  ok and "correct" or "WRONG"))

proxy:close()
os.exit(ok and 0 or 1)
