-- The session table of one proxy that talks to itself: stages, the bound
-- (max_sessions = 3), and forgetting finished sessions. Prints "ok".
local maro = require("maro")

local proxy = maro.Proxy{ component_type = "solo", component_name = "solo", max_sessions = 3 }
local function check(cond, ...)
  if not cond then
    error(string.format(...), 2)
  end
end

local ids = {}
for i = 1, 5 do
  local m = maro.SessionMessage{ tag = "n", source = "solo", destination = "solo", payload = i,
    session_type = maro.SessionType.NOTIFICATION }
  ids[i] = proxy:isend(m)[1]
end
check(proxy:session_stage(ids[1]) == nil and proxy:session_stage(ids[2]) == nil,
  "the oldest two were dropped at the bound")
for i = 3, 5 do
  check(proxy:session_stage(ids[i]) == "notification_request", "session %d: %s", i,
    tostring(proxy:session_stage(ids[i])))
end
-- Our own requests arrive (a request stage only moves nothing).
local got = {}
for i = 1, 5 do
  local m = proxy:receive_once(10)
  check(m and m.payload == i and m.session_stage == "notification_request", "request %d", i)
  got[i] = m
end
-- Replying to them finishes the sessions that are still followed.
for i = 3, 5 do
  proxy:reply(got[i], { payload = -i })
end
local replies, pending = proxy:receive_by_id({ ids[3], ids[4], ids[5] }, 10)
check(#replies == 3 and #pending == 0, "three replies")
for _, r in ipairs(replies) do
  check(r.session_stage == "notification_receive" and r.payload < 0, "reply stage")
end
for i = 3, 5 do
  check(proxy:session_stage(ids[i]) == nil, "session %d forgotten when finished", i)
end
-- A task: the ack only moves the stage, the reply completes it.
local t = maro.SessionMessage{ tag = "t", source = "solo", destination = "solo", payload = "job" }
local tid = proxy:isend(t)[1]
local req = proxy:receive_once(10)
check(req.session_stage == "task_request", "task request")
proxy:reply(req, { ack = true })
local r, p = proxy:receive_by_id({ tid }, 0.3)
check(#r == 0 and #p == 1 and proxy:session_stage(tid) == "task_receive", "acked")
proxy:reply(req, { payload = "done" })
r, p = proxy:receive_by_id({ tid }, 10)
check(#r == 1 and r[1].payload == "done" and r[1].session_stage == "task_complete", "completed")
check(proxy:session_stage(tid) == nil, "forgotten")
check(proxy:receive_once(0.1) == nil, "no ack left over")
-- ack on a notification is refused.
local ok, err = pcall(proxy.reply, proxy, got[1], { ack = true })
check(not ok and err:match("ack = true is for task sessions"), "ack on a notification: %s",
  tostring(err))
proxy:close()
print("ok")
