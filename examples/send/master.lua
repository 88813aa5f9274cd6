--- The master of the send example: sends one sum task to the worker and
-- checks the reply.
--   marohost master.lua [--immediate]
-- With --immediate it uses isend and collects the reply with receive_by_id,
-- the non-blocking way; otherwise send() waits for the reply itself.
local maro = require("maro")

io.stdout:setvbuf("line")
local immediate = (...) == "--immediate"

local proxy = maro.Proxy{ component_type = "master", expected_peers = { worker = 1 } }
local worker = proxy.peers.worker[1]

local numbers = {}
for i = 1, 10 do
  numbers[i] = math.random(0, 10)
end
local task = maro.SessionMessage{
  tag = "sum", source = proxy.name, destination = worker,
  payload = numbers, session_type = maro.SessionType.TASK,
}
print(("%s: asking %s for the sum of {%s}"):format(proxy.name, worker, table.concat(numbers, ", ")))

local replies, pending
if immediate then
  local session_ids = proxy:isend(task)
  -- Work with a higher priority could be done here while the worker computes.
  replies, pending = proxy:receive_by_id(session_ids, 10)
else
  replies, pending = proxy:send(task, 10)
end

local expected = 0
for _, n in ipairs(numbers) do
  expected = expected + n
end
local ok = #pending == 0 and #replies == 1
for _, msg in ipairs(replies) do
  print(("%s: %s replied %s (stage %s)"):format(proxy.name, msg.source, msg.payload, msg.session_stage))
  ok = ok and msg.payload == expected
end
if #pending > 0 then
  print(("%s: no reply within 10 s for session %s"):format(proxy.name, pending[1]))
end
print(("%s: expected %d: %s"):format(proxy.name, expected, ok and "correct" or "WRONG"))

proxy:close()
os.exit(ok and 0 or 1)
