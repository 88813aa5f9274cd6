-- rt:replace and rt:events: swapping the set of events of a register table
-- (what maro.dist does on a reload) without losing what waits.
local maro = require("maro")

local function msg(source, tag, payload)
  return maro.Message{ source = source, tag = tag, destination = "me", payload = payload }
end

local function h1() end
local function h2() end
local function h3() end

-- get() as {event handler, {payloads...}} pairs.
local function fired(rt)
  local out = {}
  for _, f in ipairs(rt:get()) do
    local payloads = {}
    for i, m in ipairs(f[2]) do
      payloads[i] = m.payload
    end
    out[#out + 1] = { f[1], payloads }
  end
  return out
end

describe("RegisterTable:replace", function()
  it("lists the events in registration order with events()", function()
    local rt = maro.RegisterTable(nil)
    assert.are.same({}, rt:events())
    rt:register_event_handler("a:t:1", h1)
    rt:register_event_handler({ "b:t:2", "c:t:1", "OR" }, h2)
    assert.are.same({ '"a:t:1"', '{"b:t:2", "c:t:1", "OR"}' }, rt:events())
  end)

  it("keeps the buffered messages of an event present before and after", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler({ "a:t:1", "b:t:1", "AND" }, h1)
    rt:register_event_handler("x:y:1", h1)
    rt:push(msg("a", "t", 1))
    local s = rt:replace({ { { "a:t:1", "b:t:1", "AND" }, h2 } })
    assert.are.same({ '{"a:t:1", "b:t:1", "AND"}' }, s.kept)
    assert.are.same({}, s.added)
    assert.are.same({ '"x:y:1"' }, s.removed)
    assert.are.equal(1, rt:stats().messages)
    rt:push(msg("b", "t", 2))
    -- the new handler gets the message buffered before the swap
    assert.are.same({ { h2, { 1, 2 } } }, fired(rt))
  end)

  it("lets clear() forget what kept and added events took over", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler("a:t:3", h1)
    rt:register_event_handler({ "a:t:1", "b:t:1", "AND" }, h2)
    rt:push(msg("a", "t", 1))
    rt:push(msg("a", "t", 2))
    local s = rt:replace({ { "a:t:3", h1 }, { "a:t:2", h3 } })
    assert.are.equal(2, s.rematched)
    assert.are.equal(2, rt:stats().messages)
    rt:clear()
    assert.are.same({ 0, 0 }, { rt:stats().buffered, rt:stats().messages })
    assert.are.same({}, fired(rt))
    for i = 3, 5 do rt:push(msg("a", "t", i)) end
    assert.are.same({ { h1, { 3, 4, 5 } }, { h3, { 3, 4 } } }, fired(rt))
    assert.are.same({ 0, 1 }, { #rt:get(), rt:stats().messages })
  end)

  it("sees an event written with && as the same event as with AND", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler({ "a:t:1", "b:t:1", "AND" }, h1)
    rt:push(msg("a", "t", 1))
    local s = rt:replace({ { { "a:t:1", "b:t:1", "&&" }, h2 } })
    assert.are.equal(1, #s.kept)
    rt:push(msg("b", "t", 2))
    assert.are.same({ { h2, { 1, 2 } } }, fired(rt))
  end)

  it("offers the messages of a removed event to added events, oldest first", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler({ "a:t:3", "z:z:1", "AND" }, h1)
    rt:push(msg("a", "t", 1))
    rt:push(msg("a", "t", 2))
    local s = rt:replace({ { "a:t:1", h2 } })
    assert.are.same({ '"a:t:1"' }, s.added)
    assert.are.same({ '{"a:t:3", "z:z:1", "AND"}' }, s.removed)
    assert.are.equal(2, s.rematched)
    assert.are.equal(0, s.released)
    assert.are.same({ { h2, { 1 } }, { h2, { 2 } } }, fired(rt))
  end)

  it("offers an added event what kept events hold too, as if registered earlier", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler({ "a:t:1", "b:t:1", "AND" }, h1)
    rt:push(msg("a", "t", 1))
    local s = rt:replace({ { { "a:t:1", "b:t:1", "AND" }, h1 }, { "a:*:1", h2 } })
    assert.are.equal(1, s.rematched)
    -- one message, held by both events, stored once
    assert.are.equal(1, rt:stats().messages)
    assert.are.equal(2, rt:stats().buffered)
    assert.are.same({ { h2, { 1 } } }, fired(rt))
    rt:push(msg("b", "t", 2))
    assert.are.same({ { h1, { 1, 2 } } }, fired(rt))
  end)

  it("never hands a kept event a message it already consumed", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler("w:t:1", h1)
    rt:register_event_handler({ "w:t:1", "x:y:1", "AND" }, h2)
    rt:push(msg("w", "t", 1))
    assert.are.same({ { h1, { 1 } } }, fired(rt)) -- the AND still holds it
    local s = rt:replace({ { "w:t:1", h1 }, { "w:t:2", h3 } })
    assert.are.same({ '"w:t:1"' }, s.kept)
    assert.are.same({}, fired(rt)) -- not to w:t:1 again, and w:t:2 needs one more
    rt:push(msg("w", "t", 2))
    assert.are.same({ { h1, { 2 } }, { h3, { 1, 2 } } }, fired(rt))
  end)

  it("lets go of messages that no event of the new set wants", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler({ "a:t:2", "b:t:1", "AND" }, h1)
    rt:push(msg("a", "t", 1))
    rt:push(msg("c", "t", 9)) -- wanted by nobody: not kept at all
    assert.are.equal(1, rt:stats().messages)
    local s = rt:replace({ { "b:t:1", h2 } })
    assert.are.equal(1, s.released)
    assert.are.equal(0, s.rematched)
    assert.are.equal(0, rt:stats().messages)
    assert.are.equal(0, rt:stats().buffered)
  end)

  it("follows the order of the new list", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler("a:t:1", h1)
    rt:register_event_handler("b:t:1", h2)
    rt:replace({ { "b:t:1", h2 }, { "*:t:1", h3 }, { "a:t:1", h1 } })
    assert.are.same({ '"b:t:1"', '"*:t:1"', '"a:t:1"' }, rt:events())
    rt:push(msg("a", "t", 1))
    rt:push(msg("b", "t", 2))
    assert.are.same({ { h2, { 2 } }, { h3, { 1 } }, { h3, { 2 } }, { h1, { 1 } } }, fired(rt))
  end)

  it("pairs an event listed twice with each of its old copies", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler("a:t:2", h1)
    rt:register_event_handler("a:t:2", h2)
    rt:push(msg("a", "t", 1))
    local s = rt:replace({ { "a:t:2", h2 }, { "a:t:2", h1 }, { "a:t:2", h3 } })
    assert.are.equal(2, #s.kept)
    assert.are.equal(1, #s.added)
    rt:push(msg("a", "t", 2))
    assert.are.same({ { h2, { 1, 2 } }, { h1, { 1, 2 } }, { h3, { 1, 2 } } }, fired(rt))
  end)

  it("keeps the peers behind percentages", function()
    local rt = maro.RegisterTable({ w = { "w1", "w2", "w3", "w4" } })
    rt:register_event_handler("w:t:50%", h1)
    rt:push(msg("w1", "t", 1))
    rt:replace({ { "w:t:50%", h2 }, { "w:u:100%", h3 } })
    assert.are.equal(4, rt:stats().peers)
    assert.are.same({}, fired(rt))
    rt:push(msg("w2", "t", 2))
    assert.are.same({ { h2, { 1, 2 } } }, fired(rt))
    for i = 1, 3 do
      rt:push(msg("w" .. i, "u", i))
    end
    assert.are.same({}, fired(rt))
    rt:push(msg("w4", "u", 4))
    assert.are.same({ { h3, { 1, 2, 3, 4 } } }, fired(rt))
  end)

  it("reads the peers when the first percentage comes with the new set", function()
    local calls = 0
    local rt = maro.RegisterTable(function()
      calls = calls + 1
      return { w = { "w1", "w2" } }
    end)
    rt:register_event_handler("w:t:1", h1)
    assert.are.equal(0, calls)
    rt:replace({ { "w:t:100%", h1 } })
    assert.is_true(calls >= 1)
    rt:push(msg("w1", "t", 1))
    assert.are.same({}, fired(rt))
    rt:push(msg("w2", "t", 2))
    assert.are.same({ { h1, { 1, 2 } } }, fired(rt))
  end)

  it("applies the memory bound to what added events take back", function()
    local rt = maro.RegisterTable(nil, { max_buffered = 2 })
    rt:register_event_handler({ "a:t:5", "z:z:1", "AND" }, h1)
    for i = 1, 5 do
      rt:push(msg("a", "t", i))
    end
    local s = rt:replace({ { { "a:t:1", "b:t:1", "AND" }, h2 } })
    assert.are.equal(5, s.rematched)
    assert.are.equal(3, s.released)
    assert.are.equal(2, rt:stats().messages)
    assert.are.equal(3, rt:stats().dropped)
    rt:push(msg("b", "t", 6))
    assert.are.same({ { h2, { 4, 6 } } }, fired(rt))
  end)

  it("keeps the counters going", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler("a:t:1", h1)
    rt:push(msg("a", "t", 1))
    rt:push(msg("q", "t", 1))
    fired(rt)
    local before = rt:stats()
    rt:replace({ { "b:t:1", h1 } })
    local after = rt:stats()
    assert.are.equal(before.pushed, after.pushed)
    assert.are.equal(before.ignored, after.ignored)
    assert.are.equal(before.fired, after.fired)
    assert.are.equal(1, after.events)
  end)

  it("changes nothing when an entry is bad", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler({ "a:t:1", "b:t:1", "AND" }, h1)
    rt:push(msg("a", "t", 1))
    local cases = {
      { { { "a:t:1", h1 }, { "a:t:0", h2 } }, 'bad event "a:t:0"' },
      { { { "a:t:1", h1 }, { "a:t:1", 42 } }, "entry 2: the handler must be a function" },
      { { { "a:t:1", h1 }, "a:t:1" }, "entry 2 must be a {event, handler} pair" },
      { { { { "a:t:1", "XOR" }, h1 } }, "bad event" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(rt.replace, rt, case[1])
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
      assert.are.same({ '{"a:t:1", "b:t:1", "AND"}' }, rt:events())
      assert.are.equal(1, rt:stats().messages)
    end
    rt:push(msg("b", "t", 2))
    assert.are.same({ { h1, { 1, 2 } } }, fired(rt))
  end)

  it("accepts an empty set, and a closed table refuses", function()
    local rt = maro.RegisterTable(nil)
    rt:register_event_handler("a:t:2", h1)
    rt:push(msg("a", "t", 1))
    local s = rt:replace({})
    assert.are.equal(1, s.released)
    assert.are.same({}, rt:events())
    rt:close()
    assert.has_error(function() rt:replace({}) end, "RegisterTable is closed")
    assert.has_error(function() rt:events() end, "RegisterTable is closed")
  end)

  it("matches a plain model over random pushes and swaps", function()
    -- Unit events on exact (source, tag) pairs: the model is a FIFO per
    -- event. A kept event keeps its FIFO; an added one starts with every
    -- message some event held, in push order; a removed one is gone.
    local sources, tags = { "a", "b", "c" }, { "t", "u" }
    local pool = {}
    for _, src in ipairs(sources) do
      for _, tag in ipairs(tags) do
        pool[#pool + 1] = { src = src, tag = tag, amount = #pool % 3 + 1 }
      end
    end
    for _, e in ipairs(pool) do
      e.text = e.src .. ":" .. e.tag .. ":" .. e.amount
    end
    for seed = 1, 20 do
      math.randomseed(seed)
      local rt = maro.RegisterTable(nil)
      local model = {} -- list of {e = pool entry, fifo = {msg...}}
      local n = 0
      for _ = 1, 300 do
        if math.random() < 0.15 then
          local held, by_id = {}, {}
          for _, m in ipairs(model) do
            for _, x in ipairs(m.fifo) do
              if not by_id[x.id] then
                by_id[x.id] = true
                held[#held + 1] = x
              end
            end
          end
          table.sort(held, function(x, y) return x.id < y.id end)
          local old = {}
          for _, m in ipairs(model) do
            old[m.e.text] = m
          end
          local list, new = {}, {}
          for _, e in ipairs(pool) do
            if math.random() < 0.5 then
              list[#list + 1] = { e.text, h1 }
              local fifo = {}
              if old[e.text] then
                fifo = old[e.text].fifo
              else
                for _, x in ipairs(held) do
                  if x.src == e.src and x.tag == e.tag then
                    fifo[#fifo + 1] = x
                  end
                end
              end
              new[#new + 1] = { e = e, fifo = fifo }
            end
          end
          -- a random order: registration order must follow the list
          for i = #list, 2, -1 do
            local j = math.random(i)
            list[i], list[j] = list[j], list[i]
            new[i], new[j] = new[j], new[i]
          end
          rt:replace(list)
          model = new
        else
          n = n + 1
          local x = { id = n, src = sources[math.random(#sources)],
            tag = tags[math.random(#tags)] }
          rt:push(msg(x.src, x.tag, n))
          for _, m in ipairs(model) do
            if m.e.src == x.src and m.e.tag == x.tag then
              m.fifo[#m.fifo + 1] = x
            end
          end
        end
        local want = {}
        for _, m in ipairs(model) do
          while #m.fifo >= m.e.amount do
            local ids = {}
            for k = 1, m.e.amount do
              ids[k] = table.remove(m.fifo, 1).id
            end
            want[#want + 1] = { h1, ids }
          end
        end
        assert.are.same(want, fired(rt), "seed " .. seed)
      end
    end
  end)
end)
