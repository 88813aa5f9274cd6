-- Sends SessionMessages of 1 MiB to "receiver", which the spec pauses once
-- this has joined (and then creates the file GO), with send_hwm = 1 and
-- send_timeout = 0.5, until a send fails; prints how many were accepted,
-- the error, and what session_stage says of the failed send's session and
-- of the first one. Once the spec has resumed the receiver (and created
-- RESUMED), asks it how many it got: "receiver got N".
--   marohost blocked_sender.lua GO RESUMED
local maro = require("maro")

local go, resumed = arg[1], arg[2]
local proxy = maro.Proxy{ component_type = "sender", component_name = "sender",
  expected_peers = { receiver = 1 }, send_hwm = 1, send_timeout = 0.5 }
print("joined")
io.stdout:flush()

local function await(path)
  local deadline = maro.now() + 60
  while true do
    local f = io.open(path)
    if f then
      f:close()
      return
    end
    assert(maro.now() < deadline, "no " .. path .. " after 60 s")
    assert(proxy:receive_once(0.02) == nil, "nothing is sent to the sender")
  end
end

await(go)
local pad = ("x"):rep(1 << 20)
local first, failed, err
local accepted = 0
for _ = 1, 1000 do
  local msg = maro.SessionMessage{ tag = "data", source = proxy.name, destination = "receiver",
    payload = pad, session_type = maro.SessionType.NOTIFICATION }
  local ok, e = pcall(proxy.isend, proxy, msg)
  if not ok then
    failed, err = msg, e
    break
  end
  accepted = accepted + 1
  first = first or msg
end
assert(failed, "1000 sends of 1 MiB to a paused receiver were all accepted")
print("accepted " .. accepted)
print("error " .. tostring(err))
print("failed session " .. tostring(proxy:session_stage(failed.session_id)))
print("first session " .. tostring(first and proxy:session_stage(first.session_id)))
io.stdout:flush()

await(resumed)
local replies, pending = proxy:send(maro.SessionMessage{ tag = "count", source = proxy.name,
  destination = "receiver", payload = 0 }, 60)
assert(#replies == 1 and #pending == 0, "the receiver did not answer within 60 s")
print("receiver got " .. tostring(replies[1].payload))
proxy:close()
