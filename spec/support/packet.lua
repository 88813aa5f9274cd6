--- spec/support/packet.lua: packets (docs/protocol.md, "Packets") built by
-- hand, the way a peer in another language writes them, for specs that
-- send what marohost itself would never send.
local pack = string.pack

local M = {}

--- Unsigned LEB128.
function M.varint(n)
  local t = {}
  repeat
    local b = n & 0x7f
    n = n >> 7
    if n ~= 0 then b = b | 0x80 end
    t[#t + 1] = string.char(b)
  until n == 0
  return table.concat(t)
end

--- A length-prefixed byte string.
function M.lstr(s)
  return M.varint(#s) .. s
end

--- The head of a packet: t.version, t.flags, t.count, t.seq, t.incarnation,
-- t.group, t.sender, t.ack (the raw acknowledgement bytes).
function M.head(t)
  t = t or {}
  return "\xc1" .. string.char(t.version or 2, t.flags or 0) .. pack(">I2", t.count or 1)
    .. M.varint(t.seq or 0) .. (t.incarnation or ("\0"):rep(8)) .. M.lstr(t.group or "")
    .. M.lstr(t.sender or "s") .. (t.ack or "")
end

--- An id as a string (kind 0).
function M.id(s)
  return "\0" .. M.lstr(s)
end

--- The bytes that hex digits spell, two a byte.
function M.from_hex(hex)
  return (hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end

--- A UUID id (kind 2): its first 8 bytes and a counter of the other 62 bits.
function M.uuid(id)
  local bytes = M.from_hex((id:gsub("-", "")))
  local counter = string.unpack(">I8", bytes:sub(9)) & ((1 << 62) - 1)
  return "\2" .. bytes:sub(1, 8) .. M.varint(counter)
end

--- One message: its names (tag, source, dest: written when given), ids
-- (sid, mid: strings; or raw_sid, raw_mid: bytes), error, stage, and the
-- payload inline (payload) or in the next frame (when payload is nil).
-- flags replaces the flags byte computed from the fields.
function M.message(t)
  local f, body = 0, {}
  if t.tag then f = f | 1; body[#body + 1] = M.lstr(t.tag) end
  if t.source then f = f | 2; body[#body + 1] = M.lstr(t.source) end
  if t.dest then f = f | 4; body[#body + 1] = M.lstr(t.dest) end
  body[#body + 1] = t.raw_sid or M.id(t.sid or "sid")
  body[#body + 1] = t.raw_mid or M.id(t.mid or "mid")
  if t.error then f = f | 8; body[#body + 1] = M.lstr(t.error) end
  if t.payload then body[#body + 1] = M.lstr(t.payload) else f = f | 16 end
  return string.char(t.flags or f, t.stage or 0) .. table.concat(body)
end

--- Reads a varint at byte i of s: the value and the byte after it.
function M.read_varint(s, i)
  local v, shift = 0, 0
  repeat
    local b = s:byte(i)
    v = v | ((b & 0x7f) << shift)
    shift, i = shift + 7, i + 1
  until b < 0x80
  return v, i
end

local function read_lstr(s, i)
  local n
  n, i = M.read_varint(s, i)
  return s:sub(i, i + n - 1), i + n
end

--- What a packet says of itself, and the names its first message gives:
-- {count, seq, group, sender, ack_seq (when it acknowledges), tag, source,
-- dest}.
function M.read(s)
  local p = { count = string.unpack(">I2", s, 4) }
  local flags, i = s:byte(3), nil
  p.seq, i = M.read_varint(s, 6)
  i = i + 8 -- its run
  p.group, i = read_lstr(s, i)
  p.sender, i = read_lstr(s, i)
  if flags & 1 ~= 0 then p.ack_seq, i = M.read_varint(s, i + 8) end
  if p.count > 0 then
    local f = s:byte(i)
    i = i + 2
    if f & 1 ~= 0 then p.tag, i = read_lstr(s, i) end
    if f & 2 ~= 0 then p.source, i = read_lstr(s, i) end
    if f & 4 ~= 0 then p.dest, i = read_lstr(s, i) end
  end
  return p
end

return M
