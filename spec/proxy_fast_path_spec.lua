-- The fast path (docs/proxy.md, "Which way to send"): proxy:isend_to and
-- proxy:receive_values give what isend and receive give, without Message
-- objects, and share the same buffer and order.
local maro = require("maro")
local testing = require("maro.testing")

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

describe("the fast path", function()
  local g
  before_each(function()
    g = testing.group{ master = 2, worker = 1 }
  end)
  after_each(function()
    g:close()
  end)

  -- Everything receive_values yields within timeout, as rows.
  local function drain(proxy, timeout)
    local rows = {}
    for tag, payload, source, session_id in proxy:receive_values(timeout) do
      rows[#rows + 1] = { tag = tag, payload = payload, source = source, session_id = session_id }
    end
    return rows
  end

  it("delivers tag, payload, source and a session id, in order per sender", function()
    local m1, m2, w = g.master[1], g.master[2], g.worker[1]
    -- Tags and sources change from one message to the next and repeat.
    local sent = {
      { m1, "a", 1 }, { m1, "a", "two" }, { m2, "a", { x = 3 } }, { m1, "b", 4 },
      { m2, "b", 5 }, { m2, "a", 6 }, { m1, "a", 7 },
    }
    for _, s in ipairs(sent) do
      assert.is_nil(s[1]:isend_to(w.name, s[2], s[3])) -- returns nothing
    end
    local rows = drain(w, 0.5)
    assert.are.equal(#sent, #rows)
    local from = { [m1.name] = {}, [m2.name] = {} }
    local ids = {}
    for _, r in ipairs(rows) do
      table.insert(from[r.source], r)
      assert.matches(UUID, r.session_id)
      assert.is_nil(ids[r.session_id], "session ids are fresh")
      ids[r.session_id] = true
    end
    local expect = { [m1.name] = {}, [m2.name] = {} }
    for _, s in ipairs(sent) do
      table.insert(expect[s[1].name], { tag = s[2], payload = s[3] })
    end
    for name, list in pairs(expect) do
      assert.are.equal(#list, #from[name])
      for i, e in ipairs(list) do
        assert.are.equal(e.tag, from[name][i].tag)
        assert.are.same(e.payload, from[name][i].payload)
      end
    end
  end)

  it("shares the buffer with receive, in arrival order", function()
    local m, w = g.master[1], g.worker[1]
    for i = 1, 4 do m:isend_to(w.name, "n", i) end
    m:isend(maro.Message{ tag = "n", source = m.name, destination = w.name, payload = 5 })
    local got = {}
    for msg in w:receive(0.5) do
      got[#got + 1] = msg.payload
      if #got == 2 then break end
    end
    for tag, payload, source in w:receive_values(0.5) do
      assert.are.equal("n", tag)
      assert.are.equal(m.name, source)
      got[#got + 1] = payload
    end
    assert.are.same({ 1, 2, 3, 4, 5 }, got)
  end)

  it("ends when the timeout runs out with nothing to yield", function()
    assert.are.same({}, drain(g.worker[1], 0))
  end)

  it("rejects what isend would reject, naming the argument", function()
    local m = g.master[1]
    local cases = {
      { function() m:isend_to(g.worker[1].name, "", 1) end, "tag" },
      { function() m:isend_to(42, "t", 1) end, "destination" },
      { function() m:isend_to("nobody", "t", 1) end, "nobody" },
      { function() m:isend_to(g.worker[1].name, "t", print) end, "function" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(c[2], 1, true), tostring(err))
    end
  end)
end)
