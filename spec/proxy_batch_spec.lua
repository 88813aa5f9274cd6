-- Batches (docs/protocol.md, "Batches"): a single-frame ZeroMQ message holds
-- several messages. A receiving proxy delivers a batch's messages in order,
-- drops what is malformed from the first unreadable item on, and counts it;
-- a sender streaming small messages batches them, and they leave on their own
-- while its script is busy elsewhere, in frames no bigger than
-- max_message_size.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local maro = require("maro")
local core = require("maro.core")

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

  local function frames(tag, payload, g)
    return maro.wire.encode(maro.Message{ tag = tag, source = "stranger",
      destination = "receiver", payload = payload }, g or group)
  end

  -- A batch frame: an array 32 of `items` items, then the given bytes.
  local function batch(items, ...)
    return "\xdd" .. string.pack(">I4", items) .. table.concat({ ... })
  end

  -- Sends one frame; returns the "tag=payload" of the messages received, and
  -- how many messages the proxy dropped, once it has counted `drops`.
  local function deliver(frame, messages, drops)
    local before = receiver.dropped
    core.debug_raw_send(receiver.address, { frame })
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

  it("delivers the messages of a batch in order", function()
    local h1, p1 = frames("a", 1)
    local h2, p2 = frames("b", "two")
    local h3, p3 = frames("c", 3.5)
    local got, dropped = deliver(batch(6, h1, p1, h2, p2, h3, p3), 3, 0)
    assert.are.same({ "a=1", "b=two", "c=3.5" }, got)
    assert.are.equal(0, dropped)
  end)

  it("drops the rest of a batch from its first unreadable item on", function()
    local h1, p1 = frames("a", 1)
    local h2 = frames("b", 2)
    -- The second header is cut short: its length claims more than is left.
    local got, dropped = deliver(batch(4, h1, p1, h2:sub(1, 20)), 1, 1)
    assert.are.same({ "a=1" }, got)
    assert.are.equal(1, dropped)
  end)

  it("drops only the message whose header is wrong, and keeps the others", function()
    local h1, p1 = frames("a", 1)
    local h2, p2 = frames("b", 2, "another-group")
    local h3, p3 = frames("c", 3)
    local got, dropped = deliver(batch(6, h1, p1, h2, p2, h3, p3), 2, 1)
    assert.are.same({ "a=1", "c=3" }, got)
    assert.are.equal(1, dropped)
  end)

  it("counts a frame that is no batch, or has bytes after it, as one drop", function()
    local h1, p1 = frames("a", 1)
    for _, frame in ipairs({ "one frame only", "\x93\x01\x02\x03", batch(0), "" }) do
      local got, dropped = deliver(frame, 0, 1)
      assert.are.same({}, got)
      assert.are.equal(1, dropped, ("%q"):format(frame))
    end
    local got, dropped = deliver(batch(2, h1, p1, "\x01"), 1, 1)
    assert.are.same({ "a=1" }, got)
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
