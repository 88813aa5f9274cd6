-- The wire codec through maro.wire.encode/decode: exact round trips of every
-- payload kind, errors that name the path, and a corpus of malformed frames
-- that must each raise an error or decode to a valid message, never crash.
local maro = require("maro")

local pack = string.pack

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Hand-built MessagePack, for frames the encoder would never write.
local mp = { NIL = "\xc0", TRUE = "\xc3", FALSE = "\xc2" }

function mp.str(s)
  local n = #s
  if n < 32 then return string.char(0xa0 + n) .. s end
  if n < 0x100 then return "\xd9" .. pack(">I1", n) .. s end
  if n < 0x10000 then return "\xda" .. pack(">I2", n) .. s end
  return "\xdb" .. pack(">I4", n) .. s
end

function mp.bin(s)
  local n = #s
  if n < 0x100 then return "\xc4" .. pack(">I1", n) .. s end
  if n < 0x10000 then return "\xc5" .. pack(">I2", n) .. s end
  return "\xc6" .. pack(">I4", n) .. s
end

function mp.array(n)
  if n < 16 then return string.char(0x90 + n) end
  if n < 0x10000 then return "\xdc" .. pack(">I2", n) end
  return "\xdd" .. pack(">I4", n)
end

function mp.map(n)
  if n < 16 then return string.char(0x80 + n) end
  if n < 0x10000 then return "\xde" .. pack(">I2", n) end
  return "\xdf" .. pack(">I4", n)
end

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local pk = dofile(here .. "support/packet.lua")
local varint = pk.varint

-- The packet of a plain message t: s -> d, its payload in the second frame;
-- over changes message fields (over.head: head fields).
local function header(over)
  local m = { tag = "t", dest = "d" }
  for k, v in pairs(over or {}) do m[k] = v end
  return pk.head(m.head) .. pk.message(m)
end

local function message(payload, extra)
  local f = { tag = "t", source = "s", destination = "d", payload = payload }
  for k, v in pairs(extra or {}) do f[k] = v end
  return maro.Message(f)
end

local function payload_bytes(v)
  local _, p = maro.wire.encode(message(v))
  return p
end

local function round_trip(v)
  local h, p = maro.wire.encode(message(v))
  return maro.wire.decode(h, p).payload, p
end

-- Deep equality that tells integers from floats, -0.0 from 0.0 and
-- matches NaN with NaN.
local function same(a, b, path)
  path = path or "payload"
  if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then
      return false, path .. ": " .. math.type(a) .. " vs " .. math.type(b)
    end
    if a ~= a then return b ~= b, path .. ": NaN vs " .. tostring(b) end
    if a ~= b then return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
    if a == 0 and math.type(a) == "float" and 1 / a ~= 1 / b then
      return false, path .. ": signs of zero differ"
    end
    return true
  end
  if type(a) ~= "table" then return a == b, path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "[" .. tostring(k) .. "]")
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "[" .. tostring(k) .. "]: missing on the left" end
  end
  return true
end

local function assert_same(expected, actual)
  local ok, why = same(expected, actual)
  assert(ok, why)
end

-- The error raised by f(...), which must fail.
local function error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(err)
end

local function assert_finds(haystack, ...)
  for _, needle in ipairs({ ... }) do
    assert(haystack:find(needle, 1, true), ("%q not found in %q"):format(needle, haystack))
  end
end

local function nested(levels, leaf)
  local t = leaf
  for _ = 1, levels do t = { t } end
  return t
end

-- A message that decoded from hostile bytes must be whole: every field
-- readable, the payload decodable, and a re-encoding that decodes to the
-- same value.
local function check_valid(m)
  for _, name in ipairs({ "tag", "source", "destination", "session_id", "message_id" }) do
    assert(type(m[name]) == "string" and #m[name] > 0, name)
  end
  local t, s = m.session_type, m.session_stage
  assert((t == nil and s == nil) or (type(t) == "string" and type(s) == "string"))
  local v = m.payload
  local h2, p2 = maro.wire.encode(m)
  local m2 = maro.wire.decode(h2, p2)
  assert_same(v, m2.payload)
  assert(m2.tag == m.tag and m2.session_stage == s)
end

-- Decodes a frame pair that may be anything: it either raises an error that
-- says which frame is wrong, or decodes to a valid message. Returns true
-- when it decoded.
local function try_decode(h, p)
  local ok, m = pcall(maro.wire.decode, h, p)
  if not ok then
    local err = tostring(m)
    assert(err:find("maro.wire.decode: the payload (argument 2): payload", 1, true) and
           err:find("at byte %d+") or
           err:find("maro.wire.decode: the packet (argument 1)", 1, true), err)
    return false
  end
  check_valid(m)
  return true
end

local VALID_PAYLOADS = {
  { id = 7, values = { 1, 2, 3 }, name = "sum" },
  { 1.5, -0.0, "x", "\xff\0", true, false, { a = { b = { 300, -70000, 2 ^ 40 | 0 } } } },
  ("text "):rep(10),
  { [0] = "zero", [-3] = "minus", [1] = math.maxinteger, [2] = math.mininteger },
}

describe("maro.wire payload round trips", function()
  it("keeps nil and booleans", function()
    assert.is_nil(round_trip(nil))
    assert.are.equal(true, round_trip(true))
    assert.are.equal(false, round_trip(false))
    assert.are.equal("\xc0", payload_bytes(nil))
    assert.are.equal("\xc3", payload_bytes(true))
    assert.are.equal("\xc2", payload_bytes(false))
  end)

  it("keeps integers at every MessagePack width, in the smallest form", function()
    local cases = {
      { 0, "\x00" }, { 1, "\x01" }, { 127, "\x7f" },
      { 128, "\xcc\x80" }, { 255, "\xcc\xff" },
      { 256, "\xcd\x01\x00" }, { 65535, "\xcd\xff\xff" },
      { 65536, "\xce\x00\x01\x00\x00" }, { 0xffffffff, "\xce\xff\xff\xff\xff" },
      { 0x100000000, "\xcf" .. pack(">i8", 0x100000000) },
      { math.maxinteger, "\xcf" .. pack(">i8", math.maxinteger) },
      { -1, "\xff" }, { -32, "\xe0" },
      { -33, "\xd0\xdf" }, { -128, "\xd0\x80" },
      { -129, "\xd1\xff\x7f" }, { -32768, "\xd1\x80\x00" },
      { -32769, "\xd2" .. pack(">i4", -32769) }, { -0x80000000, "\xd2\x80\x00\x00\x00" },
      { -0x80000001, "\xd3" .. pack(">i8", -0x80000001) },
      { math.mininteger, "\xd3\x80\x00\x00\x00\x00\x00\x00\x00" },
    }
    for _, c in ipairs(cases) do
      local v, p = round_trip(c[1])
      assert.are.equal("integer", math.type(v))
      assert.are.equal(c[1], v)
      assert.are.equal(hex(c[2]), hex(p))
    end
  end)

  it("decodes integers written wider than needed", function()
    local h = header()
    local cases = {
      { "\xcc\x05", 5 }, { "\xcd\x00\x05", 5 }, { "\xce\x00\x00\x00\x05", 5 },
      { "\xcf" .. pack(">i8", 5), 5 }, { "\xd0\x05", 5 }, { "\xd1\xff\xfb", -5 },
      { "\xd2\xff\xff\xff\xfb", -5 }, { "\xd3" .. pack(">i8", -5), -5 },
      { "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", math.maxinteger },
    }
    for _, c in ipairs(cases) do
      local v = maro.wire.decode(h, c[1]).payload
      assert.are.equal("integer", math.type(v))
      assert.are.equal(c[2], v)
    end
  end)

  it("keeps floats apart from integers", function()
    for _, f in ipairs({ 1.0, 0.5, -2.0, 3.141592653589793, 1e308, -1e-308, 5e-324,
                         2.0 ^ 63, -(2.0 ^ 63), 1 / 3, math.huge, -math.huge }) do
      local v, p = round_trip(f)
      assert.are.equal("float", math.type(v))
      assert.are.equal(f, v)
      assert.are.equal(hex("\xcb" .. pack(">d", f)), hex(p))
    end
    local v = round_trip(1.0)
    assert.are.equal("float", math.type(v))
    assert.are.equal("1.0", tostring(v))
  end)

  it("keeps NaN, infinities and the sign of zero", function()
    local nan = round_trip(0 / 0)
    assert.are.equal("float", math.type(nan))
    assert.is_true(nan ~= nan)
    assert.are.equal(math.huge, round_trip(math.huge))
    assert.are.equal(-math.huge, round_trip(-math.huge))
    local z = round_trip(-0.0)
    assert.are.equal("float", math.type(z))
    assert.are.equal(-math.huge, 1 / z)
    local pz = round_trip(0.0)
    assert.are.equal("float", math.type(pz))
    assert.are.equal(math.huge, 1 / pz)
  end)

  it("decodes float32", function()
    local h = header()
    local v = maro.wire.decode(h, "\xca" .. pack(">f", 1.5)).payload
    assert.are.equal("float", math.type(v))
    assert.are.equal(1.5, v)
    v = maro.wire.decode(h, "\xca" .. pack(">f", -math.huge)).payload
    assert.are.equal(-math.huge, v)
  end)

  it("sends valid UTF-8 as str and any other bytes as bin, keeping them exactly", function()
    local cases = {
      { "", "\xa0" },
      { "abc", "\xa3abc" },
      { "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", nil, "str" },
      { "\0", "\xa1\0" },
      { "a\0b\0", "\xa4a\0b\0" },
      { "\xff", "\xc4\x01\xff" },
      { "\xc0\x80", "\xc4\x02\xc0\x80" },            -- overlong NUL
      { "\xed\xa0\x80", "\xc4\x03\xed\xa0\x80" },    -- a surrogate
      { "\xf4\x90\x80\x80", "\xc4\x04\xf4\x90\x80\x80" }, -- above U+10FFFF
      { "abc\xe2\x82", "\xc4\x05abc\xe2\x82" },      -- cut in the middle of a character
    }
    for _, c in ipairs(cases) do
      local v, p = round_trip(c[1])
      assert.are.equal(c[1], v)
      if c[2] then assert.are.equal(hex(c[2]), hex(p)) end
      if c[3] == "str" then assert.is_truthy(p:byte(1) >= 0xa0 and p:byte(1) <= 0xbf) end
    end
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    all = table.concat(all)
    assert.are.equal(all, (round_trip(all)))
  end)

  it("keeps strings of every length class", function()
    local cases = { { 31, 1 }, { 32, 2 }, { 255, 2 }, { 256, 3 }, { 65535, 3 }, { 65536, 5 },
                    { 1024 * 1024, 5 } }
    for _, c in ipairs(cases) do
      local s = ("x"):rep(c[1])
      local v, p = round_trip(s)
      assert.are.equal(s, v)
      assert.are.equal(c[1] + c[2], #p)
      local b = ("\xff"):rep(c[1])
      assert.are.equal(b, (round_trip(b)))
    end
  end)

  it("writes the documented str and bin headers at every width", function()
    local cases = {
      { ("a"):rep(31), "\xbf" }, { ("a"):rep(32), "\xd9\x20" }, { ("a"):rep(255), "\xd9\xff" },
      { ("a"):rep(256), "\xda\x01\x00" }, { ("a"):rep(65535), "\xda\xff\xff" },
      { ("a"):rep(65536), "\xdb\x00\x01\x00\x00" },
      { ("\xff"):rep(31), "\xc4\x1f" }, { ("\xff"):rep(32), "\xc4\x20" },
      { ("\xff"):rep(300), "\xc5\x01\x2c" }, { ("\xff"):rep(70000), "\xc6" .. pack(">I4", 70000) },
    }
    for _, c in ipairs(cases) do
      local _, p = round_trip(c[1])
      assert.are.equal(hex(c[2]), hex(p:sub(1, #c[2])))
      assert.are.equal(#c[2] + #c[1], #p)
    end
  end)

  it("tells text from bytes anywhere in a long string", function()
    local euro = "\xe2\x82\xac"
    for _, n in ipairs({ 32, 63, 64, 65, 4095, 4096, 4097, 10000 }) do
      for _, at in ipairs({ 1, n // 2, n - 2 }) do
        -- valid UTF-8, also with a character across a 64-byte or 4 KiB boundary
        local text = ("a"):rep(at - 1) .. euro .. ("b"):rep(math.max(0, n - at - 2))
        local v, p = round_trip(text)
        assert.are.equal(text, v)
        assert.is_truthy(p:byte(1) >= 0xd9 and p:byte(1) <= 0xdb, hex(p:sub(1, 1)))
        -- the same with one bad byte
        local bytes = text:sub(1, at - 1) .. "\xe2\x82" .. text:sub(at + 3)
        v, p = round_trip(bytes)
        assert.are.equal(bytes, v)
        assert.is_truthy(p:byte(1) >= 0xc4 and p:byte(1) <= 0xc6, hex(p:sub(1, 1)))
      end
    end
  end)

  it("decodes bin and str of every width", function()
    local h = header()
    for _, n in ipairs({ 0, 5, 300, 70000 }) do
      local s = ("q"):rep(n)
      assert.are.equal(s, maro.wire.decode(h, mp.str(s)).payload)
      assert.are.equal(s, maro.wire.decode(h, mp.bin(s)).payload)
    end
    assert.are.equal("ab", maro.wire.decode(h, "\xd9\x02ab").payload) -- str8, short
  end)

  it("sends an empty table as an empty map", function()
    local v, p = round_trip({})
    assert.are.same({}, v)
    assert.are.equal("\x80", p)
  end)

  it("sends sequences as arrays", function()
    local v, p = round_trip({ 1, 2, 3 })
    assert.are.same({ 1, 2, 3 }, v)
    assert.are.equal("\x93\x01\x02\x03", p)
    local long = {}
    for i = 1, 70000 do long[i] = i % 7 end
    v, p = round_trip(long)
    assert_same(long, v)
    assert.are.equal("\xdd", p:sub(1, 1))
    local mid = {}
    for i = 1, 300 do mid[i] = "s" .. i end
    v, p = round_trip(mid)
    assert_same(mid, v)
    assert.are.equal("\xdc", p:sub(1, 1))
  end)

  it("sends maps, mixed and sparse tables", function()
    local cases = {
      { a = 1, b = "two", c = { d = 4.5 } },
      { 1, 2, 3, x = "y" },
      { [1] = "a", [3] = "c" },
      { [2] = "b" },
      { [0] = "zero", [-1] = "minus one", [math.mininteger] = "min", [math.maxinteger] = "max" },
      { ["with space"] = 1, [""] = 2, ["\0"] = 3, ["\xff"] = 4 },
      { [1.0 + 1] = "float key that is an integer" },
    }
    for _, t in ipairs(cases) do
      assert_same(t, (round_trip(t)))
    end
    local big = {}
    for i = 1, 20 do big["k" .. i] = i end
    local v, p = round_trip(big)
    assert_same(big, v)
    assert.are.equal("\xde", p:sub(1, 1))
    big = {}
    for i = 1, 70000 do big["k" .. i] = i end
    v, p = round_trip(big)
    assert_same(big, v)
    assert.are.equal("\xdf", p:sub(1, 1))
  end)

  it("sends a table shared in two places twice, and ignores metatables", function()
    local shared = { 1, 2 }
    assert_same({ a = shared, b = shared }, (round_trip({ a = shared, b = shared })))
    local t = setmetatable({ x = 1 }, { __index = function() return 9 end,
                                         __pairs = function() error("not called") end })
    assert_same({ x = 1 }, (round_trip(t)))
    assert.is_nil(getmetatable((round_trip(t))))
  end)

  it("keeps nested tables", function()
    local t = { jobs = { { id = 1, args = { 1, 2.5, "x" } }, { id = 2, args = {} } },
                meta = { nested = { deeper = { deepest = { true, false, 0 / 0 } } } } }
    assert_same(t, (round_trip(t)))
  end)

  it("keeps the last value of a repeated map key", function()
    local p = mp.map(2) .. mp.str("a") .. "\x01" .. mp.str("a") .. "\x02"
    assert.are.same({ a = 2 }, maro.wire.decode(header(), p).payload)
    p = mp.map(2) .. "\x01" .. "\x01" .. "\x01" .. mp.NIL
    assert.are.same({}, maro.wire.decode(header(), p).payload)
  end)

  it("takes bin keys as strings", function()
    local p = mp.map(1) .. mp.bin("k") .. "\x05"
    assert.are.same({ k = 5 }, maro.wire.decode(header(), p).payload)
  end)

  it("accepts nesting of exactly 100 levels both ways and refuses 101", function()
    local t = nested(100, "leaf")
    local v = round_trip(t)
    for _ = 1, 100 do
      assert.are.equal("table", type(v))
      v = v[1]
    end
    assert.are.equal("leaf", v)

    local err = error_of(maro.wire.encode, message(nested(101, "leaf")))
    assert_finds(err, "maro.wire.encode: payload[1][1]", "[1][1]: tables nested deeper than 100")

    local h = header()
    local ok100 = maro.wire.decode(h, ("\x91"):rep(100) .. "\xc0").payload
    assert.are.equal("table", type(ok100))
    err = error_of(maro.wire.decode, h, ("\x91"):rep(101) .. "\xc0")
    assert_finds(err, "(argument 2): payload", "deeper than 100", "at byte 100")
    err = error_of(maro.wire.decode, h, ("\x81\xa1k"):rep(101) .. "\xc0")
    assert_finds(err, "deeper than 100")
    -- Far deeper than the limit: refused without exhausting any stack.
    err = error_of(maro.wire.decode, h, ("\x91"):rep(100000) .. "\xc0")
    assert_finds(err, "deeper than 100")
  end)
end)

describe("maro.wire.encode errors", function()
  local function encode_error(payload)
    return error_of(maro.wire.encode, message(payload))
  end

  it("names the path of a function", function()
    local err = encode_error({ jobs = { 1, 2, { fn = print } } })
    assert_finds(err, "payload.jobs[3].fn: a function cannot be sent")
  end)

  it("names the path of a userdata, a thread and a coroutine", function()
    assert_finds(encode_error({ a = { io.stdout } }), "payload.a[1]: a userdata cannot be sent")
    assert_finds(encode_error({ m = message(1) }), "payload.m: a userdata cannot be sent")
    assert_finds(encode_error(coroutine.create(print)), "payload: a thread cannot be sent")
    local co = coroutine.wrap(function() coroutine.yield(coroutine.running()) end)
    assert_finds(encode_error({ x = { y = co() } }), "payload.x.y: a thread cannot be sent")
    assert_finds(encode_error(print), "payload: a function cannot be sent")
  end)

  it("names keys that are not identifiers", function()
    assert_finds(encode_error({ ["two words"] = { print } }), 'payload["two words"][1]: a function')
    assert_finds(encode_error({ [-4] = print }), "payload[-4]: a function")
  end)

  it("names a cycle and where it closes", function()
    local t = { a = {} }
    t.a.back = t
    assert_finds(encode_error(t), "payload.a.back: cyclic table (the same table as payload)")
    local s = {}
    s[1] = s
    assert_finds(encode_error({ x = s }), "payload.x[1]: cyclic table (the same table as payload.x)")
  end)

  it("refuses float and boolean keys, naming the table", function()
    assert_finds(encode_error({ a = { [1.5] = 1 } }), "payload.a: key 1.5 is a float")
    assert_finds(encode_error({ [math.huge] = 1 }), "payload: key inf is a float")
    assert_finds(encode_error({ a = { [true] = 1 } }), "payload.a: a boolean key cannot be sent")
    assert_finds(encode_error({ [{}] = 1 }), "payload: a table key cannot be sent")
    assert_finds(encode_error({ [print] = 1 }), "payload: a function key cannot be sent")
  end)

  it("leaves the message usable after an error", function()
    local m = message({ f = print })
    assert.has_error(function() maro.wire.encode(m) end)
    m.payload = { f = "fine" }
    local h, p = maro.wire.encode(m)
    assert.are.same({ f = "fine" }, maro.wire.decode(h, p).payload)
  end)
end)

describe("maro.wire packets", function()
  it("keeps every header field", function()
    local msgs = {
      maro.Message{ tag = "tag", source = "src", destination = "dst", payload = 1 },
      maro.Message{ tag = "a\0b", source = ("s"):rep(1024), destination = "\xff\xfe",
                    session_id = "my-session", error = "it failed" },
    }
    for _, stage in pairs(maro.TaskSessionStage) do
      msgs[#msgs + 1] = maro.SessionMessage{ tag = "t", source = "s", destination = "d",
                                             session_stage = stage }
    end
    for _, stage in pairs(maro.NotificationSessionStage) do
      msgs[#msgs + 1] = maro.SessionMessage{ tag = "t", source = "s", destination = "d",
                                             session_type = "notification", session_stage = stage }
    end
    for _, m in ipairs(msgs) do
      local m2 = maro.wire.decode(maro.wire.encode(m))
      for _, f in ipairs({ "tag", "source", "destination", "session_id", "message_id",
                           "session_type", "session_stage", "error" }) do
        assert.are.equal(m[f], m2[f])
      end
      assert.are.equal(tostring(m), tostring(m2))
    end
  end)

  it("is the documented packet, byte for byte", function()
    local m = maro.SessionMessage{ tag = "sum", source = "master", destination = "worker_001",
                                   session_id = "S", session_type = "notification" }
    local h = maro.wire.encode(m, "master-worker")
    -- head: magic, version 2, no flags, 1 message, packet number 0, a zero run,
    -- the group, the sender (the message's source, which it then leaves out)
    local expected = "\xc1\x02\x00\x00\x01\x00" .. ("\0"):rep(8) .. "\x0dmaster-worker"
      .. "\x06master"
      -- flags TAG | DEST | PAYLOAD_FRAME, stage 4 (notification_request),
      -- the tag, the destination, the session id as a string, the message id
      -- as a UUID
      .. "\x15\x04" .. "\x03sum" .. "\x0aworker_001" .. "\x00\x01S" .. pk.uuid(m.message_id)
    assert.are.equal(hex(expected), hex(h))
    -- Without a group argument the group is the empty string.
    assert.are.equal(hex(expected:gsub("\x0dmaster%-worker", "\x00")),
                     hex((maro.wire.encode(m))))
    -- Generated ids of one process share their first 8 bytes.
    local a = maro.Message{ tag = "t", source = "s", destination = "d" }
    assert.are.equal(a.session_id:sub(1, 19), a.message_id:sub(1, 19))
    assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", a.session_id)
  end)

  it("writes every generated id as the 16 bytes its string spells", function()
    -- 600 consecutive ids: their last bytes take every value, so every hex
    -- digit is written in every position that changes. The packet ends with
    -- the message id, in full: the session id before it is a string.
    for _ = 1, 600 do
      local m = maro.Message{ tag = "t", source = "s", destination = "d", session_id = "S" }
      assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", m.message_id)
      local h, id = maro.wire.encode(m), pk.uuid(m.message_id)
      assert.are.equal(hex(id), hex(h:sub(-#id)))
    end
  end)

  it("decodes an inline payload, the source given, an error text and a packet number",
    function()
      local h = pk.head{ seq = 300, sender = "sender", group = "g",
                         ack = ("\7"):rep(8) .. varint(9), flags = 1 }
        .. pk.message{ tag = "t", source = "other", dest = "d", error = "oops",
                       payload = "\xa2hi", stage = 3 }
      local m = maro.wire.decode(h)
      assert.are.equal("other", m.source)
      assert.are.equal("hi", m.payload)
      assert.are.equal("oops", m.error)
      assert.are.equal("task_complete", m.session_stage)
      assert.are.equal("task", m.session_type)
    end)

  it("takes a group of up to 1024 bytes and refuses a longer one", function()
    local m = message(1)
    local h = maro.wire.encode(m, ("g"):rep(1024))
    assert.are.equal("t", maro.wire.decode(h, "\x01").tag)
    local err = error_of(maro.wire.encode, m, ("g"):rep(1025))
    assert_finds(err, "group", "1024")
  end)
end)

describe("maro.wire.decode of malformed frames", function()
  local h_ok = header()

  local function decode_error(h, p)
    return error_of(maro.wire.decode, h, p)
  end

  it("refuses every truncation of valid encodings", function()
    local samples = {
      message(VALID_PAYLOADS[1]),
      maro.SessionMessage{ tag = "sum", source = "master", destination = "worker_001",
                           session_type = "notification", payload = VALID_PAYLOADS[2] },
      message(VALID_PAYLOADS[4], { session_id = ("z"):rep(40) }),
      message(("x"):rep(70000)),
    }
    for _, m in ipairs(samples) do
      local h, p = maro.wire.encode(m, "group")
      for i = 0, #h - 1 do
        local err = decode_error(h:sub(1, i), p)
        assert_finds(err, "maro.wire.decode: the packet (argument 1)")
      end
      local cut = {}
      for i = 0, math.min(#p - 1, 400) do cut[#cut + 1] = i end
      for i = #p - 20, #p - 1 do cut[#cut + 1] = i end
      for _, i in ipairs(cut) do
        if i >= 0 then
          local err = decode_error(h, p:sub(1, i))
          assert(err:find("(argument 2): payload", 1, true), err)
          assert(err:find("truncated") or err:find("than the bytes left"), err)
        end
      end
      check_valid(maro.wire.decode(h, p))
    end
  end)

  it("raises an error or decodes a valid message for every single bit flip", function()
    local m = maro.SessionMessage{ tag = "sum", source = "master", destination = "worker_001",
                                   payload = VALID_PAYLOADS[1] }
    for _, payload in ipairs(VALID_PAYLOADS) do
      m.payload = payload
      local h, p = maro.wire.encode(m, "g")
      local decoded = 0
      for i = 1, #h do
        for bit = 0, 7 do
          local b = string.char(h:byte(i) ~ (1 << bit))
          if try_decode(h:sub(1, i - 1) .. b .. h:sub(i + 1), p) then decoded = decoded + 1 end
        end
      end
      for i = 1, #p do
        for bit = 0, 7 do
          local b = string.char(p:byte(i) ~ (1 << bit))
          if try_decode(h, p:sub(1, i - 1) .. b .. p:sub(i + 1)) then decoded = decoded + 1 end
        end
      end
      assert.is_true(decoded > 0) -- flips inside names and strings still decode
    end
  end)

  it("raises an error or decodes a valid message for seeded random bytes", function()
    math.randomseed(20261126)
    local function random_bytes(n, bias)
      local t = {}
      for i = 1, n do
        -- Bias towards type bytes that carry lengths and counts.
        if bias and math.random(4) == 1 then
          t[i] = string.char(({ 0x80, 0x81, 0x90, 0x93, 0xa1, 0xc4, 0xd9, 0xdc, 0xde,
                                0xdd, 0xdf, 0xdb, 0xc6, 0xca, 0xcb, 0xcf, 0xd3 })[math.random(17)])
        else
          t[i] = string.char(math.random(0, 255))
        end
      end
      return table.concat(t)
    end
    local h_valid, p_valid = maro.wire.encode(message(VALID_PAYLOADS[1]))
    local decoded = 0
    for round = 1, 3000 do
      local n = math.random(0, 48)
      local r = random_bytes(n, round % 2 == 0)
      if try_decode(h_valid, r) then decoded = decoded + 1 end
      try_decode(r, p_valid)
      try_decode("\xc1\x02" .. r, p_valid)
      -- A valid prefix followed by noise reaches deeper into the decoders.
      local cut = math.random(0, #h_valid)
      try_decode(h_valid:sub(1, cut) .. r, p_valid)
      cut = math.random(0, #p_valid)
      if try_decode(h_valid, p_valid:sub(1, cut) .. r) then decoded = decoded + 1 end
    end
    assert.is_true(decoded > 0)
  end)

  it("refuses absurd lengths without reserving memory for them", function()
    local cases = {
      { "\xdb\xff\xff\xff\xffabc", "string or binary longer than the bytes left" },
      { "\xc6\xff\xff\xff\xffabc", "string or binary longer than the bytes left" },
      { "\xda\xff\xffab", "string or binary longer than the bytes left" },
      { "\xd9\xffab", "string or binary longer than the bytes left" },
      { "\xbf", "string or binary longer than the bytes left" },
      { "\xdd\xff\xff\xff\xff\x01\x02", "array claims more elements than the bytes left" },
      { "\xdc\xff\xff\x01", "array claims more elements than the bytes left" },
      { "\xdf\xff\xff\xff\xff\x01\x02", "map claims more pairs than the bytes left" },
      { "\xde\x00\x02\x01\x02\x03", "map claims more pairs than the bytes left" },
      { "\x91\xdd\x7f\xff\xff\xff", "array claims more elements than the bytes left" },
    }
    for _, c in ipairs(cases) do
      assert_finds(decode_error(h_ok, c[1]), "(argument 2): payload", c[2], "at byte")
    end
    local huge = "\xff\xff\xff\xff\x0f" -- a length of 2^32 - 1
    assert_finds(decode_error("\xc1\x02\x00\x00\x01\x00" .. ("\0"):rep(8) .. huge .. "g", "\xc0"),
                 "a packet of", "unreadable group or sender name")
    assert_finds(decode_error(pk.head() .. "\x05\x00" .. huge .. "t", "\xc0"),
                 "message 1 of 1", "a name longer than the bytes left")
    assert_finds(decode_error(pk.head() .. "\x00\x00\x00" .. huge, "\xc0"),
                 "message 1 of 1", "an unreadable id")
    -- A varint of more than 64 bits
    assert_finds(decode_error("\xc1\x02\x00\x00\x01" .. ("\xff"):rep(11), "\xc0"),
                 "unreadable sequence number")
  end)

  it("names the path of an error inside the payload, with the byte offset", function()
    local p = mp.map(1) .. mp.str("jobs") .. mp.array(3) .. "\x01\x02" .. mp.map(1) ..
              mp.str("fn") .. "\xc1"
    assert_finds(decode_error(h_ok, p), "payload.jobs[3].fn: reserved type byte 0xc1 at byte " ..
                 (#p - 1))
    p = mp.map(1) .. mp.str("two words") .. mp.array(1) .. "\xd4\x01\x00"
    assert_finds(decode_error(h_ok, p), 'payload["two words"][1]: extension types')
  end)

  it("refuses extension types, 0xc1 and unsigned integers above 2^63-1", function()
    local cases = {
      { "\xd4\x01\x00", "extension types" },
      { "\xd5\x01\x00\x00", "extension types" },
      { "\xd6\x01\x00\x00\x00\x00", "extension types" },
      { "\xd7\x01" .. ("\0"):rep(8), "extension types" },
      { "\xd8\x01" .. ("\0"):rep(16), "extension types" },
      { "\xc7\x01\x01\x00", "extension types" },
      { "\xc8\x00\x01\x01\x00", "extension types" },
      { "\xc9\x00\x00\x00\x01\x01\x00", "extension types" },
      { "\xd6\xff\x00\x00\x00\x00", "extension types" }, -- the timestamp type too
      { "\xc1", "reserved type byte 0xc1" },
      { "\x92\x01\xc1", "payload[2]: reserved type byte 0xc1 at byte 2" },
      { "\xcf\x80\x00\x00\x00\x00\x00\x00\x00", "above 2^63-1" },
      { "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", "above 2^63-1" },
    }
    for _, c in ipairs(cases) do
      assert_finds(decode_error(h_ok, c[1]), "(argument 2): payload", c[2])
    end
  end)

  it("refuses map keys that are neither integers nor strings", function()
    for _, key in ipairs({ mp.NIL, mp.TRUE, "\xcb" .. pack(">d", 1.5), "\xca" .. pack(">f", 1),
                           mp.array(0), mp.map(0) }) do
      assert_finds(decode_error(h_ok, mp.map(1) .. key .. "\x01"),
                   "a map key that is neither an integer nor a string")
    end
  end)

  it("refuses trailing bytes, frames it does not use and frames it lacks", function()
    assert_finds(decode_error(h_ok, "\xc0\xc0"), "payload: trailing bytes after the payload at byte 1")
    assert_finds(decode_error(h_ok, "\x91\x01\x00"), "trailing bytes after the payload at byte 2")
    assert_finds(decode_error(h_ok, ""), "payload: truncated at byte 0")
    -- A payload in a frame that did not come
    assert_finds(decode_error(h_ok), "a payload in an extra frame that did not come")
    -- An inline payload and a frame nobody asked for: the message still decodes,
    -- since the frame could belong to a later message of the packet.
    assert.are.equal(5, maro.wire.decode(header{ payload = "\x05" }).payload)
  end)

  it("refuses what is no packet of version 2, saying what it is", function()
    assert_finds(decode_error("", "\xc0"), "a frame of 0 bytes: not a packet")
    assert_finds(decode_error("\x99\x01\xa0", "\xc0"), "a wire version 1 message")
    assert_finds(decode_error("\xc1", "\xc0"), "truncated packet head")
    assert_finds(decode_error("\xc1\x03\x00\x00\x01", "\xc0"),
                 "unsupported wire version 3 (this peer speaks 2)")
    assert_finds(decode_error(pk.head{ flags = 2 } .. pk.message{ tag = "t", dest = "d" }, "\xc0"),
                 "reserved head flags are set")
    assert_finds(decode_error(pk.head{ sender = "" } .. pk.message{ tag = "t", dest = "d" }, "\xc0"),
                 "empty sender name")
    assert_finds(decode_error(pk.head{ count = 0 }), "holds no message")
    assert_finds(decode_error(pk.head{ flags = 1 }, "\xc0"), "truncated acknowledgement")
  end)

  it("refuses bad messages, naming what is wrong", function()
    local cases = {
      { header{ flags = 0x20 + 0x15 }, "reserved message flags are set" },
      { header{ stage = 6 }, "an unknown session stage" },
      { header{ tag = false }, "a name that repeats a previous message's, but there is none" },
      { header{ dest = false }, "a name that repeats a previous message's, but there is none" },
      { header{ tag = "" }, "an empty or too long name" },
      { header{ dest = ("d"):rep(1025) }, "an empty or too long name" },
      { header{ source = "" }, "an empty or too long name" },
      { header{ sid = "" }, "an empty or too long id" },
      { header{ mid = ("m"):rep(1025) }, "an empty or too long id" },
      { header{ raw_sid = "\1\2" }, "an id relative to no previous id" },
      { header{ raw_sid = "\3" }, "an unreadable id" },
      { header{ raw_sid = "\2" .. ("\0"):rep(8) .. "\1" }, "a UUID id that is not version 4" },
      { header{ error = ("e"):rep(4097) }, "an error text longer than 4096 bytes" },
    }
    for _, c in ipairs(cases) do
      local m = {}
      assert_finds(decode_error(c[1], "\xc0"), "message 1 of 1 in a packet from 's'", c[2])
      _ = m
    end
    -- At the limits, all is well.
    local m = maro.wire.decode(header{ dest = ("d"):rep(1024), error = ("e"):rep(4096),
                                       mid = ("m"):rep(1024), stage = 5 }, "\xc0")
    assert.are.equal(1024, #m.destination)
    assert.are.equal(4096, #m.error)
    assert.are.equal("notification_receive", m.session_stage)
    assert.are.equal("notification", m.session_type)
    assert.are.equal("t", maro.wire.decode(header{ head = { group = "" } }, "\xc0").tag)
  end)

  it("gives the offset where reading stopped", function()
    -- head: 5 fixed bytes, seq 0, 8 zeros, empty group, "s": the message starts at byte 17
    assert_finds(decode_error(pk.head() .. "\x01\x00\x05abc", "\xc0"),
                 "a name longer than the bytes left at byte 20")
    assert_finds(decode_error(h_ok, mp.map(2) .. "\x01\x01" .. mp.NIL .. "\x01"),
                 "a map key that is neither an integer nor a string at byte 3")
    assert_finds(decode_error(h_ok, mp.array(2) .. "\x01" .. "\xd4\x01\x00"),
                 "payload[2]: extension types are not supported at byte 2")
    -- A length that overruns the frame: the byte of the item that claims it.
    assert_finds(decode_error(h_ok, mp.array(2) .. "\x01" .. "\xd9\x09ab"),
                 "payload[2]: string or binary longer than the bytes left at byte 2")
  end)

  it("checks the payload when decoding, before the message exists", function()
    -- A bad byte far inside is found at decode time, not on first access.
    local p = mp.array(2) .. mp.str(("x"):rep(100)) .. "\xc1"
    assert_finds(decode_error(h_ok, p), "payload[2]: reserved type byte 0xc1 at byte 103")
  end)

  it("wants strings", function()
    assert.has_error(function() maro.wire.decode(nil, "\xc0") end)
    assert.has_error(function() maro.wire.encode({}) end)
  end)
end)

describe("maro.wire lazy payloads", function()
  it("re-encodes an untouched payload to the identical bytes", function()
    -- Not the canonical encoding: a re-encoded value would come out shorter.
    local p = mp.map(2) .. mp.str("a") .. "\xcd\x00\x01" .. mp.str("b") .. "\xca" .. pack(">f", 2) ..
              "" -- float32 and a wide integer
    local m = maro.wire.decode(header(), p)
    local h2, p2 = maro.wire.encode(m, "other-group")
    assert.are.equal(hex(p), hex(p2))
    local m2 = maro.wire.decode(h2, p2)
    assert.are.equal("t", m2.tag)
    -- Once read, the value is what goes out.
    assert_same({ a = 1, b = 2.0 }, m.payload)
    local _, p3 = maro.wire.encode(m)
    assert.is_true(#p3 ~= #p)
    assert_same({ a = 1, b = 2.0 }, maro.wire.decode(header(), p3).payload)
  end)

  it("decodes once: every read gives the same table", function()
    local m = maro.wire.decode(maro.wire.encode(message({ x = { 1, 2 } })))
    local t = m.payload
    assert.are.equal(t, m.payload)
    t.x[3] = 3
    local _, p = maro.wire.encode(m)
    assert.are.same({ x = { 1, 2, 3 } }, maro.wire.decode(header(), p).payload)
  end)

  it("replaces an undecoded payload on assignment", function()
    local m = maro.wire.decode(maro.wire.encode(message("old")))
    m.payload = "new"
    local _, p = maro.wire.encode(m)
    assert.are.equal("new", maro.wire.decode(header(), p).payload)
    assert.are.equal("new", m.payload)
  end)

  it("keeps a decoded message valid after its frames are gone", function()
    local m
    do
      local h, p = maro.wire.encode(message({ s = ("y"):rep(1000) }))
      m = maro.wire.decode(h .. "", p .. "")
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(("y"):rep(1000), m.payload.s)
  end)
end)
