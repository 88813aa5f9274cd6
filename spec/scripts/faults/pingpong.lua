-- One side of a ping-pong between two members, for spec/proxy_faults_spec.lua.
--   pingpong.lua pong            answers every "ping" until "stop"
--   pingpong.lua ping MARKER     sends pings (send, 10 s timeout) until the file
--                                MARKER exists, then tells pong to stop
-- ping prints "progress N" every 20 round trips, and at the end
-- "sent N answered N errors N longest MS"; errors are printed as "error: ...".
local maro = require("maro")

local role, marker = ...
local other = role == "ping" and "pong" or "ping"
-- pong starts first and expects nobody; ping expects pong.
local proxy = maro.Proxy{ component_type = role, component_name = role,
  expected_peers = role == "ping" and { [other] = 1 } or nil }
print("joined " .. proxy.address)
io.stdout:flush()

if role == "pong" then
  for msg in proxy:receive() do
    if msg.tag == "stop" then
      proxy:reply(msg)
      break
    end
    proxy:reply(msg, { payload = msg.payload })
  end
  print("pong done")
  proxy:close()
  return
end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

local sent, answered, errors, longest = 0, 0, 0, 0
while not exists(marker) do
  sent = sent + 1
  local t0 = maro.now()
  local ok, replies, pending = pcall(proxy.send, proxy, maro.SessionMessage{ tag = "ping",
    source = "ping", destination = "pong", payload = sent }, 10)
  local dt = maro.now() - t0
  if dt > longest then longest = dt end
  if not ok then
    errors = errors + 1
    print("error: " .. tostring(replies))
  elseif #replies == 1 and replies[1].payload == sent and #pending == 0 then
    answered = answered + 1
  else
    print(("error: ping %d got %d replies, %d pending"):format(sent, #replies, #pending))
  end
  if sent % 20 == 0 then
    print("progress " .. answered)
    io.stdout:flush()
  end
end
proxy:send(maro.SessionMessage{ tag = "stop", source = "ping", destination = "pong" }, 10)
print(("sent %d answered %d errors %d longest %.0f"):format(sent, answered, errors,
  longest * 1000))
proxy:close()
