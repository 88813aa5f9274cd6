-- Receives "data" messages slowly (one every DELAY seconds) until none came
-- for QUIET seconds, then prints "received N". MODE=wait first waits in
-- receive_by_id for a session nobody answers (at most WAIT seconds; it
-- returns early when the buffer is full), then computes for HOLD seconds
-- without calling the proxy (the memory spec). MAX_BYTES sets
-- max_buffered_bytes.
local maro = require("maro")

local delay, quiet = tonumber(os.getenv("DELAY") or "0"), tonumber(os.getenv("QUIET") or "5")
-- Resident memory now, and at its peak so far (KiB).
local function memory()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)")), tonumber(s:match("VmHWM:%s*(%d+)"))
end

local proxy = maro.Proxy{ component_type = "receiver", component_name = "receiver",
  max_buffered_bytes = tonumber(os.getenv("MAX_BYTES")) }
print("joined " .. proxy.address)
io.stdout:flush()
if os.getenv("MODE") == "wait" then
  print("memory before " .. memory())
  print("waiting")
  io.stdout:flush()
  local _, pending = proxy:receive_by_id({ "nobody-answers" }, tonumber(os.getenv("WAIT")))
  print(("waited pending %d buffered %d bytes %d"):format(#pending, proxy.buffered,
    proxy.buffered_bytes))
  io.stdout:flush()
  os.execute("sleep " .. (os.getenv("HOLD") or "0"))
  print("memory peak " .. select(2, memory()))
  print("drain")
  io.stdout:flush()
end
local n = 0
for msg in proxy:receive(quiet) do
  if msg.tag == "data" then n = n + 1 end
  if delay > 0 then os.execute("sleep " .. delay) end
end
print("received " .. n)
proxy:close()
