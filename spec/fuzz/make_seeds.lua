-- Writes the seed corpus of fuzz_wire_decode into the directory given as the
-- first argument: valid transmissions of many shapes, each as a 2-byte
-- little-endian packet length, the packet frame and the extra frame.
--   marohost spec/fuzz/make_seeds.lua DIR
local maro = require("maro")

local dir = assert(arg and arg[1], "usage: make_seeds.lua DIR")

local function frames(h, p)
  return string.pack("<I2", #h) .. h .. p
end

local payloads = {
  nil, true, false, 0, -1, 127, 128, -33, 65536, math.maxinteger, math.mininteger,
  1.5, -0.0, 0 / 0, math.huge, "", "text", "\0\xff bytes", ("x"):rep(40), ("y"):rep(300),
  {}, { 1, 2, 3 }, { id = 7, values = { 1, 2, 3 }, name = "sum" },
  { [0] = "zero", [-5] = "minus", x = { y = { z = { true } } } },
  { 1, nil, 3 }, { jobs = { { fn = "f", args = { 1.25, "a" } } } },
  "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", ("a"):rep(62) .. "\xe2\x82\xac" .. ("b"):rep(40),
  ("\xce\xbb"):rep(100), ("a"):rep(70) .. "\xed\xa0\x80",
}
local n = 0
local function write(bytes)
  n = n + 1
  local f = assert(io.open(("%s/seed-%03d"):format(dir, n), "wb"))
  f:write(bytes)
  f:close()
end

local kinds = {
  function(p) return maro.Message{ tag = "t", source = "s", destination = "d", payload = p } end,
  function(p)
    return maro.SessionMessage{ tag = "sum", source = "master", destination = "worker_001",
                                payload = p, session_stage = "task_complete" }
  end,
  function(p)
    return maro.SessionMessage{ tag = "n", source = "a", destination = "b", payload = p,
                                session_type = "notification", session_stage = "notification_receive",
                                session_id = "s" }
  end,
}
for i = 1, #payloads + 1 do -- payloads[1] is nil: walk by index
  local p = payloads[i]
  local m = kinds[i % #kinds + 1](p)
  local h, pb = maro.wire.encode(m, i % 2 == 0 and "group" or "")
  write(frames(h, pb))
end
-- Hand-built payloads the encoder never writes: wide integers, float32,
-- bin keys, repeated keys, deep nesting.
local h = maro.wire.encode(maro.Message{ tag = "t", source = "s", destination = "d" })
for _, pb in ipairs({ "\xcd\x00\x01", "\xca\x3f\xc0\x00\x00", "\x81\xc4\x01k\x01",
                      "\x82\xa1a\x01\xa1a\x02", ("\x91"):rep(100) .. "\xc0",
                      "\xdc\x00\x02\xc3\xc2", "\xde\x00\x01\x00\xc0" }) do
  write(frames(h, pb))
end
-- Packets of several messages with repeated names and id deltas, as a
-- sender's batches are: written by the packet helper of the specs.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local pk = dofile(here .. "../support/packet.lua")
local a = maro.Message{ tag = "t", source = "s", destination = "d" }
local b = maro.Message{ tag = "t", source = "s", destination = "d" }
local packet = pk.head{ count = 3, seq = 12, group = "g", sender = "s",
                        ack = ("\1"):rep(8) .. pk.varint(5), flags = 1 }
  .. pk.message{ tag = "t", dest = "d", raw_sid = pk.uuid(a.session_id),
                 raw_mid = "\1" .. pk.varint(2), payload = "\x01" }
  .. pk.message{ raw_sid = pk.uuid(b.session_id), raw_mid = "\1\2", payload = "\xa1x" }
  .. pk.message{ source = "other", sid = "s", mid = "m", error = "failed", stage = 3 }
write(frames(packet, "\x93\x01\x02\x03"))
print(("%d seeds in %s"):format(n, dir))
