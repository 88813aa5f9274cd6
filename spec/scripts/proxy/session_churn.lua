-- Sessions started, answered in random order and dropped at the bound, with
-- the table checked against a model of it as it grows, fills, empties and
-- fills again (SEED picks the order). Prints "ok".
local maro = require("maro")

local MAX = 600
local proxy = maro.Proxy{ component_type = "churn", component_name = "churn", max_sessions = MAX }
math.randomseed(tonumber(os.getenv("SEED") or "7"))
local function check(cond, ...)
  if not cond then
    error(string.format(...), 2)
  end
end

-- The model: every id in start order, the live ones, and the requests that
-- came back to us not answered yet.
local order, live, count, front = {}, {}, 0, 1
local requests, unanswered = {}, {}

local function start()
  if count == MAX then
    while not live[order[front]] do front = front + 1 end
    live[order[front]] = nil
    count = count - 1
  end
  local id = proxy:isend(maro.SessionMessage{ tag = "n", source = "churn", destination = "churn",
    payload = #order + 1, session_type = maro.SessionType.NOTIFICATION })[1]
  order[#order + 1], live[id], count = id, true, count + 1
  local m = proxy:receive_once(10)
  check(m and m.session_id == id, "request %d did not come back", #order)
  requests[id] = m
  unanswered[#unanswered + 1] = id
end

local function answer()
  local k = math.random(#unanswered)
  local id = unanswered[k]
  unanswered[k] = unanswered[#unanswered]
  unanswered[#unanswered] = nil
  proxy:reply(requests[id], { payload = -1 })
  requests[id] = nil
  local replies = proxy:receive_by_id({ id }, 10)
  check(#replies == 1 and replies[1].session_stage == "notification_receive", "reply to %s", id)
  if live[id] then
    live[id] = nil
    count = count - 1
  end
end

local function compare(step)
  for i = math.max(1, #order - 2 * MAX), #order do
    local id = order[i]
    local want = live[id] and "notification_request" or nil
    check(proxy:session_stage(id) == want, "step %d: session %d is %s, expected %s", step, i,
      tostring(proxy:session_stage(id)), tostring(want))
  end
end

local step = 0
local function phase(n, p_start)
  for _ = 1, n do
    step = step + 1
    if #unanswered == 0 or math.random() < p_start then start() else answer() end
    if step % 7 == 0 then compare(step) end
  end
  compare(step)
end
phase(2000, 0.8) -- grows past its first size, then drops the oldest
phase(2400, 0.05) -- empties, and gives memory back
phase(1500, 0.9) -- fills again
while #unanswered > 0 do answer() end
compare(step)
check(count == 0, "%d sessions left in the model", count)
proxy:close()
print("ok")
