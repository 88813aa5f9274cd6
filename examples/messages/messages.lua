-- Messages and the wire: build a task message, put it on the wire as two
-- frames, read it back, and show what a bad payload reports.
--   marohost examples/messages/messages.lua
local maro = require("maro")

local task = maro.SessionMessage{
  tag = "sum",
  source = "master",
  destination = "worker_001",
  payload = { numbers = { 1, 2, 3, 4.5 }, note = "integers stay integers" },
  session_type = maro.SessionType.TASK,
}
print(task)
print("  session_id", task.session_id)
print("  stage     ", task.session_stage)

local header, payload = maro.wire.encode(task, "demo")
print(("on the wire: header %d bytes, payload %d bytes"):format(#header, #payload))

local back = maro.wire.decode(header, payload)
local numbers = back.payload.numbers
print("decoded:", back.tag, back.source, "->", back.destination)
for i, n in ipairs(numbers) do
  print(("  numbers[%d] = %s (%s)"):format(i, tostring(n), math.type(n)))
end

local ok, err = pcall(maro.wire.encode, maro.Message{
  tag = "bad", source = "master", destination = "worker_001",
  payload = { jobs = { {}, {}, { fn = print } } },
})
print("a function in the payload:", ok, err)

ok, err = pcall(maro.wire.decode, header:sub(1, 20), payload)
print("a truncated header:", ok, err)
