-- Batches (docs/protocol.md, "Packets"): one packet holds several messages.
-- A receiving proxy delivers them in order, drops a bad message alone when
-- the next one can still be read (an ext payload, an integer above
-- 2^63-1, another destination), drops the rest of the packet from the first
-- message it cannot delimit, and counts what it drops; a sender streaming
-- small messages batches them, and they leave on their own while its script
-- is busy elsewhere, in frames no bigger than max_message_size.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local pk = dofile(here .. "support/packet.lua")
local maro = require("maro")
local core = require("maro.core")

-- The run of member `name`, as its packets' acknowledgements name it.
local function run_of(redis, group, name)
  local text = redis:cli("get", "maro:" .. group .. ":member:" .. name)
  return pk.from_hex(assert(text:match("\nincarnation (%x+)"), text))
end

describe("batches", function()
  local redis = redis_support.for_block(setup, teardown, procs)
  local group, receiver

  before_each(function()
    group = "batch_" .. core.uuid():sub(1, 8)
    receiver = maro.Proxy{ group_name = group, component_type = "receiver",
      component_name = "receiver", redis_address = redis.address }
  end)

  after_each(function()
    receiver:close()
    procs.cleanup()
  end)

  -- A packet from "stranger" holding these messages (tables for pk.message).
  local function packet(messages, head)
    local h = { group = group, sender = "stranger", count = #messages }
    for k, v in pairs(head or {}) do h[k] = v end
    local body = {}
    for i, m in ipairs(messages) do
      body[i] = pk.message(m)
    end
    return pk.head(h) .. table.concat(body)
  end

  -- The first message names everything; the others repeat its names.
  local function first(tag, payload)
    return { tag = tag, dest = "receiver", sid = "s1", mid = "m1", payload = payload }
  end
  local function next_one(tag, payload)
    return { tag = tag, sid = "s" .. tag, mid = "m" .. tag, payload = payload }
  end

  -- Sends one frame; returns the "tag=payload" of the messages received, and
  -- how many messages the proxy dropped, once it has counted `drops`.
  local function deliver(frame, messages, drops)
    local before = receiver.dropped
    core.testing.raw_send(receiver.address, { frame })
    local got = {}
    for _ = 1, messages do
      local msg = receiver:receive_once(10)
      assert.is_not_nil(msg, "a message of the batch did not arrive")
      got[#got + 1] = msg.tag .. "=" .. tostring(msg.payload)
    end
    procs.wait_until(function()
      assert.is_nil(receiver:receive_once(0))
      return receiver.dropped - before >= drops
    end, 10, drops .. " dropped")
    return got, receiver.dropped - before
  end

  it("delivers the messages of a batch in order, names repeated from the one before",
    function()
      local got, dropped = deliver(packet{ first("a", "\x01"), next_one("b", "\xa3two"),
                                           next_one("c", "\xcb" .. string.pack(">d", 3.5)) },
                                   3, 0)
      assert.are.same({ "a=1", "b=two", "c=3.5" }, got)
      assert.are.equal(0, dropped)
    end)

  it("drops an id relative to a bad one, as the bad one", function()
    -- A version 5 UUID (its version nibble is 5), then an id one past it.
    local v5 = "\2" .. "\x12\x34\x56\x78\x9a\xbc\x5d\xef" .. pk.varint(7)
    local bad = first("a", "\x01")
    bad.raw_sid = v5
    local relative = next_one("b", "\x02")
    relative.raw_sid = "\1\2"
    local got, dropped = deliver(packet{ bad, relative, next_one("c", "\x03") }, 1, 2)
    assert.are.same({ "c=3" }, got)
    assert.are.equal(2, dropped)
  end)

  it("drops only a message with an ext payload, or an integer above 2^63-1", function()
    for _, bad in ipairs({ "\xd4\x01\x00", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
                           "\x92\x01\xc7\x01\x05\x00" }) do
      local got, dropped = deliver(packet{ first("a", "\x01"), next_one("b", bad),
                                           next_one("c", "\x03") }, 2, 1)
      assert.are.same({ "a=1", "c=3" }, got)
      assert.are.equal(1, dropped)
    end
  end)

  it("drops only a message whose header is wrong, and keeps the others", function()
    local cases = {
      { tag = "b", dest = "somebody-else", sid = "s2", mid = "m2", payload = "\x02" },
      { tag = "b", sid = "s2", mid = "m2", payload = "\x02", stage = 9 },
      { tag = "", sid = "s2", mid = "m2", payload = "\x02" },
      { tag = "b", sid = "", mid = "m2", payload = "\x02" },
    }
    for _, bad in ipairs(cases) do
      local third = next_one("c", "\x03")
      third.dest = "receiver" -- the bad one may have changed the destination
      local got, dropped = deliver(packet{ first("a", "\x01"), bad, third }, 2, 1)
      assert.are.same({ "a=1", "c=3" }, got)
      assert.are.equal(1, dropped)
    end
  end)

  it("drops the rest of a batch from the first message it cannot delimit", function()
    local broken = pk.message(next_one("b", "\x02"))
    local frame = packet{ first("a", "\x01") }:gsub("^(\xc1\x02.)\x00\x01", "%1\x00\x03")
      .. broken:sub(1, 5)
    local got, dropped = deliver(frame, 1, 1)
    assert.are.same({ "a=1" }, got)
    assert.are.equal(1, dropped)
    -- Reserved flags: the layout of what follows is unknown.
    local odd = next_one("b", "\x02")
    odd.flags = 0x40
    got, dropped = deliver(packet{ first("a", "\x01"), odd, next_one("c", "\x03") }, 1, 1)
    assert.are.same({ "a=1" }, got)
    assert.are.equal(1, dropped)
  end)

  it("counts a frame that is no packet, or has bytes after it, as one drop", function()
    for _, frame in ipairs({ "one frame only", "\x93\x01\x02\x03", pk.head{ count = 0 }
                             .. "x", "", packet({}, { group = "another-group" }) }) do
      local got, dropped = deliver(frame, 0, 1)
      assert.are.same({}, got)
      assert.are.equal(1, dropped, ("%q"):format(frame))
    end
    local got, dropped = deliver(packet{ first("a", "\x01") } .. "\x01", 1, 1)
    assert.are.same({ "a=1" }, got)
    assert.are.equal(1, dropped)
  end)

  it("gives each message its session id when the UUIDs of two senders alternate", function()
    local ids = { "0123abcd-4567-4def-8123-0000000000a1", "0123abcd-4567-4def-8123-0000000000a2",
                  "fedcba98-7654-4321-9abc-000000000001", "0123abcd-4567-4def-8123-0000000000a3",
                  "0123abcd-4567-4def-8123-0000000000a4" }
    local next_id = "\1" .. pk.varint(2) -- one more than the id before (zigzag of 1)
    local sids = { pk.uuid(ids[1]), next_id, pk.uuid(ids[3]), pk.uuid(ids[4]), next_id }
    local messages = {}
    for i, sid in ipairs(sids) do
      messages[i] = { tag = "t", dest = i == 1 and "receiver" or nil, raw_sid = sid,
                      mid = "m" .. i, payload = string.char(i) }
    end
    core.testing.raw_send(receiver.address, { packet(messages) })
    for i = 1, #ids do
      local msg = receiver:receive_once(10)
      assert.is_not_nil(msg, ("message %d did not arrive"):format(i))
      assert.are.same({ i, ids[i] }, { msg.payload, msg.session_id })
    end
  end)

  it("takes a packet sent again (the same number from the same run) once", function()
    local frame = packet({ first("a", "\x01") }, { seq = 7, incarnation = "12345678" })
    local got, dropped = deliver(frame, 1, 0)
    assert.are.same({ "a=1" }, got)
    got, dropped = deliver(frame, 0, 1)
    assert.are.same({}, got)
    assert.are.equal(1, dropped)
  end)

  -- The receiver (this process) takes n messages and then releases the
  -- streamer, which meanwhile computes without calling its proxy.
  local function stream(n, size, max_message_size)
    local dir = procs.tmpdir()
    local marker = dir .. "/released"
    local env = { MARO_REDIS = redis.address, MARO_GROUP = group,
                  MAX_MESSAGE_SIZE = max_message_size and tostring(max_message_size) }
    local sender = procs.spawn(here .. "scripts/batch/streamer.lua",
      { tostring(n), tostring(size), marker }, env)
    for i = 1, n do
      local msg = receiver:receive_once(10)
      assert.is_not_nil(msg, ("message %d of %d did not arrive while the sender computed")
        :format(i, n))
      assert.are.equal(i, msg.payload.i)
    end
    assert(io.open(marker, "w")):close()
    assert.are.equal(0, sender:wait(40), sender:report())
    assert.matches("released", sender:stdout(), 1, true)
    assert.are.equal(0, receiver.dropped)
  end

  it("sends what a streaming sender batched while its script computes", function()
    stream(5000, 16)
  end)

  it("keeps batches within the sender's max_message_size", function()
    receiver:close()
    receiver = maro.Proxy{ group_name = group, component_type = "receiver",
      component_name = "receiver", redis_address = redis.address, max_message_size = 3000 }
    stream(3000, 200, 3000)
  end)
end)

-- Acknowledgements (docs/protocol.md, "Packet numbers and acknowledgements")
-- ride on the packets going back; one goes alone only when none has gone
-- that way for a while. A peer played by hand asks, the proxy answers, and
-- the peer's socket sees every packet the proxy sends it.
describe("acknowledgements", function()
  local redis = redis_support.for_block(setup, teardown, procs)
  local group, echo, peer

  local PEER_RUN = "\1\2\3\4\5\6\7\8"

  before_each(function()
    group = "ack_" .. core.uuid():sub(1, 8)
    echo = maro.Proxy{ group_name = group, component_type = "echo", component_name = "echo",
                       redis_address = redis.address }
    peer = core.testing.listener("127.0.0.1", false)
    -- Registered as a member would be, so that the proxy can answer it.
    redis:register(group, "pinger", "pinger", peer.address, "0102030405060708")
  end)

  after_each(function()
    echo:close()
    peer:close()
    procs.cleanup()
  end)

  it("go with the replies of a conversation, never alone", function()
    local run, acked = run_of(redis, group, "echo"), 0
    local rounds, alone = 200, 0
    for i = 1, rounds do
      -- The request acknowledges the proxy's last reply, as a peer would.
      local head = { group = group, sender = "pinger", count = 1, seq = i,
                     incarnation = PEER_RUN }
      if acked > 0 then
        head.flags, head.ack = 1, run .. pk.varint(acked)
      end
      local frame = pk.head(head) .. pk.message{ tag = "ping", dest = "echo", sid = "s" .. i,
                                                 mid = "m" .. i, payload = "\x01" }
      core.testing.raw_send(echo.address, { frame })
      local msg = echo:receive_once(10)
      assert.is_not_nil(msg, ("request %d did not arrive"):format(i))
      echo:reply(msg)
      repeat
        local got = peer:receive(10)
        assert.is_not_nil(got, ("the reply to request %d did not arrive"):format(i))
        local p = pk.read(got)
        if p.count == 0 then alone = alone + 1 else acked = p.seq end
      until p.count > 0
      -- A pause between requests, as a conversation has: with an
      -- acknowledgement sent 10 ms after the first one handed over, whatever
      -- went meanwhile, about every third request was acknowledged alone.
      local stray = peer:receive(0.003)
      if stray then
        assert.are.equal(0, pk.read(stray).count)
        alone = alone + 1
      end
    end
    -- The last reply acknowledged, so that the proxy closes without waiting.
    core.testing.raw_send(echo.address, { pk.head{ group = group, sender = "pinger", count = 0,
      incarnation = PEER_RUN, flags = 1, ack = run .. pk.varint(acked) } })
    -- A reply that waits more than 10 ms for the script (a machine under
    -- load) may let one go alone; a conversation needs none.
    assert.is_true(alone <= rounds // 40, ("%d of %d acknowledgements went alone"):format(
      alone, rounds))
  end)
end)

-- A stream that goes on slower than batches fill: a batch waits while it
-- still grows (at most 1 ms), and leaves once nothing joins it for 200 µs.
describe("a paced stream", function()
  local redis = redis_support.for_block(setup, teardown, procs)

  it("leaves in batches that grew while it went on", function()
    local group = "pace_" .. core.uuid():sub(1, 8)
    local sink = core.testing.listener("127.0.0.1", false)
    redis:register(group, "sink", "sink", sink.address, "0102030405060708")
    local pacer = maro.Proxy{ group_name = group, component_type = "pacer",
      component_name = "pacer", redis_address = redis.address }
    -- One message every 100 µs, the script busy in between.
    local n, gap = 2000, 100e-6
    local at = maro.now()
    for i = 1, n do
      at = at + gap
      repeat until maro.now() >= at
      pacer:isend_to("sink", "tick", i)
    end
    local packets, got, last = 0, 0, 0
    while got < n do
      local frame = sink:receive(10)
      assert.is_not_nil(frame, ("%d of %d messages arrived"):format(got, n))
      local p = pk.read(frame)
      if p.count > 0 then
        packets, got, last = packets + 1, got + p.count, p.seq
      end
    end
    -- Acknowledged, so that the proxy closes without waiting.
    core.testing.raw_send(pacer.address, { pk.head{ group = group, sender = "sink", count = 0,
      incarnation = "\1\2\3\4\5\6\7\8", flags = 1,
      ack = run_of(redis, group, "pacer") .. pk.varint(last) } })
    pacer:close()
    sink:close()
    -- About ten messages a packet; a batch sent 200 µs after it began, as
    -- long as it still grows, holds two or three. A sender that loses the
    -- processor for longer than 200 µs (a machine under load) ends a batch
    -- early each time, which the bound leaves room for.
    assert.is_true(packets <= n // 4, ("%d messages left in %d packets"):format(n, packets))
  end)
end)
