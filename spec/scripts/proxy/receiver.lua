-- Receives from arg[1] senders until each said "done" (and, with arg[2] ==
-- "raw", until a message from a raw ZeroMQ socket came too), then prints
-- what it counted. arg[3]: max_message_size; arg[4]: how many senders to
-- wait for when joining (default arg[1]); arg[5]: how many other messages
-- (dropped, or with another tag) to wait for after that, at most 20 s:
-- raw sockets' transmissions come over connections of their own, in no
-- order with each other.
local maro = require("maro")

local nsenders = tonumber(arg[1])
local want_raw = arg[2] == "raw"
local opts = { component_type = "receiver", component_name = "receiver",
  expected_peers = { sender = tonumber(arg[4]) or nsenders } }
if arg[3] and arg[3] ~= "" then
  opts.max_message_size = tonumber(arg[3])
end
local proxy = maro.Proxy(opts)
print("joined " .. proxy.address)
io.stdout:flush()

local seen, total, dup, done, raw, other = {}, 0, 0, 0, false, 0
local expected = {}

local function count_other(msg)
  other = other + 1
  local ok = pcall(function() return msg.payload end) -- decoding must not fail
  if not ok then
    other = other + 1000000
  end
end

for msg in proxy:receive(60) do
  local tag = msg.tag
  if tag == "data" then
    local s = seen[msg.source]
    if not s then
      s = {}
      seen[msg.source] = s
    end
    local seq = msg.payload
    if s[seq] then
      dup = dup + 1
    else
      s[seq] = true
      total = total + 1
    end
  elseif tag == "done" then
    done = done + 1
    expected[msg.source] = msg.payload
    proxy:reply(msg)
  elseif tag == "raw" then
    raw = msg.payload == "hi" and msg.source == "stranger"
  else
    count_other(msg)
  end
  if done == nsenders and (raw or not want_raw) then
    break
  end
end
local want_other = tonumber(arg[5]) or 0
local deadline = maro.now() + 20
while proxy.dropped + other < want_other and maro.now() < deadline do
  local msg = proxy:receive_once(0.1)
  if msg then count_other(msg) end
end
local missing = 0
for source, n in pairs(expected) do
  local s = seen[source] or {}
  for i = 1, n do
    if not s[i] then
      missing = missing + 1
    end
  end
end
print(string.format("received %d duplicates %d missing %d senders %d raw %s dropped %d",
  total, dup, missing, done, tostring(raw), proxy.dropped))
print(string.format("other %d", other))
proxy:close()
