-- Plays a stranger on the network: sends malformed traffic to the proxy at
-- arg[1] (group arg[2]) from raw ZeroMQ sockets, then arg[3] (default 0)
-- randomly mutated copies of a valid message (tag "fuzz"), then one valid
-- message (tag "raw").
local maro = require("maro")
local core = require("maro.core")

local address, group = arg[1], arg[2]
local function valid(tag, g, payload)
  return maro.wire.encode(maro.Message{ tag = tag, source = "stranger", destination = "receiver",
    payload = payload }, g or group)
end

local header, payload = valid("x", nil, "p")
local other_header = valid("x", "another-group", "p")
local sends = {
  { "one frame only" },
  { "three", "frames", "here" },
  { "\255\254 not messagepack", "" },
  { header:sub(1, #header - 5), payload },               -- truncated packet
  { header:sub(1, 1) .. "\3" .. header:sub(3), payload }, -- wire version 3
  { other_header, payload },                               -- another group
  { header, "\193" },                                      -- 0xc1 is never valid MessagePack
  { ("x"):rep(9000), payload },                            -- no packet at all
  { "", "" },                                              -- empty frames
}
for _, frames in ipairs(sends) do
  core.testing.raw_send(address, frames)
end
-- A frame over the receiver's max_message_size: ZeroMQ refuses the connection.
local _, big = maro.wire.encode(maro.Message{ tag = "x", source = "s", destination = "d",
  payload = ("y"):rep(100000) })
core.testing.raw_send(address, { header, big })
local fuzz = tonumber(arg[3]) or 0
if fuzz > 0 then
  local fh, fp = maro.wire.encode(maro.SessionMessage{ tag = "fuzz", source = "stranger",
    destination = "receiver", payload = { 1, "two", { x = 3.5, y = { true, false } } } }, group)
  math.randomseed(tonumber(core.uuid():sub(1, 8), 16))
  local function mutate(s)
    local r = math.random(4)
    if r == 1 and #s > 1 then -- truncate
      return s:sub(1, math.random(0, #s - 1))
    end
    for _ = 1, math.random(3) do -- overwrite bytes
      local i = math.random(#s)
      s = s:sub(1, i - 1) .. string.char(math.random(0, 255)) .. s:sub(i + 1)
    end
    return s
  end
  for _ = 1, fuzz do
    if math.random(2) == 1 then
      core.testing.raw_send(address, { mutate(fh), fp })
    else
      core.testing.raw_send(address, { fh, mutate(fp) })
    end
  end
end
core.testing.raw_send(address, { valid("raw", nil, "hi") })
print("sent " .. #sends + 2 + fuzz)
