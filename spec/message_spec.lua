-- Message and SessionMessage, the constants and the module layout
-- (docs/api.md: "Modules", "maro: constants and the clock", "Messages").
local maro = require("maro")

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

local function fields(extra)
  local t = { tag = "check_in", source = "worker_001", destination = "master" }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

-- The error message of f(...), which must fail.
local function error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("maro modules", function()
  it("maro.communication is the same table as maro", function()
    assert.are.equal(maro, require("maro.communication"))
  end)

  it("has the session constants of docs/api.md", function()
    assert.are.equal("task", maro.SessionType.TASK)
    assert.are.equal("notification", maro.SessionType.NOTIFICATION)
    assert.are.equal("task_request", maro.TaskSessionStage.REQUEST)
    assert.are.equal("task_receive", maro.TaskSessionStage.RECEIVE)
    assert.are.equal("task_complete", maro.TaskSessionStage.COMPLETE)
    assert.are.equal("notification_request", maro.NotificationSessionStage.REQUEST)
    assert.are.equal("notification_receive", maro.NotificationSessionStage.RECEIVE)
  end)

  it("has VERSION as MAJOR.MINOR.PATCH", function()
    assert.are.equal("string", type(maro.VERSION))
    assert.is_truthy(maro.VERSION:match("^%d+%.%d+%.%d+$"), maro.VERSION)
  end)

  it("has now(), a monotonic clock in float seconds with microsecond resolution", function()
    local t0 = maro.now()
    assert.are.equal("float", math.type(t0))
    local us = t0 * 1e6
    assert.is_true(math.abs(us - math.floor(us + 0.5)) < 1e-2, "not whole microseconds")
    local prev, advanced = t0, false
    for _ = 1, 1e7 do -- bounded: ends as soon as the clock moves on
      local t = maro.now()
      assert.is_true(t >= prev, "went backwards")
      prev = t
      if t > t0 then advanced = true; break end
    end
    assert.is_true(advanced, "the clock never moved")
  end)

  it("loads maro.core twice in one state, and messages of both loads interoperate", function()
    local first = require("maro.core")
    local saved = package.loaded["maro.core"]
    package.loaded["maro.core"] = nil
    local ok, second = pcall(require, "maro.core")
    package.loaded["maro.core"] = saved
    assert.is_true(ok, tostring(second))
    assert.are_not.equal(first, second)
    assert.are.equal(first.VERSION, second.VERSION)

    local a = first.Message(fields({ payload = { 1, 2, 3 } }))
    local b = second.SessionMessage(fields({ payload = "x" }))
    assert.is_true(first.is_message(b))
    assert.is_true(second.is_message(a))
    -- Encode with one load, decode with the other, and back.
    local h, p = second.wire_encode(a)
    local a2 = first.wire_decode(h, p)
    assert.are.same({ 1, 2, 3 }, a2.payload)
    assert.are.equal(a.session_id, a2.session_id)
    h, p = first.wire_encode(b)
    local b2 = second.wire_decode(h, p)
    assert.are.equal("x", b2.payload)
    assert.are.equal("task_request", b2.session_stage)
    -- The maro table still works after the reload.
    assert.is_true(maro.is_message(maro.Message(fields())))
  end)
end)

describe("maro.Message", function()
  it("keeps the fields as given", function()
    local m = maro.Message{ tag = "check_in", source = "worker_001", destination = "master",
                            payload = "" }
    assert.are.equal("check_in", m.tag)
    assert.are.equal("worker_001", m.source)
    assert.are.equal("master", m.destination)
    assert.are.equal("", m.payload)
    assert.is_true(maro.is_message(m))
    assert.is_false(maro.is_message({}))
    -- Other userdata are not messages, whatever their size.
    assert.is_false(maro.is_message(io.stdout))
    local ok, err = pcall(maro.wire.encode, io.stdout)
    assert.is_false(ok)
    assert.matches("maro.Message expected, got FILE%*", err)
  end)

  it("has no session type or stage", function()
    local m = maro.Message(fields())
    assert.is_nil(m.session_type)
    assert.is_nil(m.session_stage)
  end)

  it("allows a nil payload", function()
    assert.is_nil(maro.Message(fields()).payload)
    assert.is_nil(maro.Message(fields({ payload = nil })).payload)
  end)

  it("keeps a table payload by reference until it is sent", function()
    local t = { 0, 1, 2 }
    local m = maro.Message(fields({ payload = t }))
    assert.are.equal(t, m.payload)
  end)

  it("generates distinct UUID session and message ids", function()
    local seen = {}
    for _ = 1, 500 do
      local m = maro.Message(fields())
      for _, id in ipairs({ m.session_id, m.message_id }) do
        assert.are.equal(36, #id)
        assert.is_truthy(id:match(UUID), id)
        assert.is_nil(seen[id], "repeated id " .. id)
        seen[id] = true
      end
    end
  end)

  it("takes an explicit session_id, and still generates the message id", function()
    local a = maro.Message(fields({ session_id = "my-session" }))
    local b = maro.Message(fields({ session_id = "my-session" }))
    assert.are.equal("my-session", a.session_id)
    assert.are.equal("my-session", b.session_id)
    assert.are_not.equal(a.message_id, b.message_id)
    assert.is_truthy(a.message_id:match(UUID))
  end)

  it("accepts binary-safe names", function()
    local m = maro.Message{ tag = "a\0b", source = "\xff", destination = "d" }
    assert.are.equal("a\0b", m.tag)
    assert.are.equal("\xff", m.source)
  end)

  for _, name in ipairs({ "tag", "source", "destination" }) do
    describe("field " .. name, function()
      it("is required", function()
        local f = fields()
        f[name] = nil
        local err = error_of(maro.Message, f)
        assert.is_truthy(err:find("'" .. name .. "'", 1, true), err)
        assert.is_truthy(err:find("maro.Message", 1, true), err)
      end)

      it("must be a string", function()
        for _, bad in ipairs({ 42, true, {}, print }) do
          local f = fields()
          f[name] = bad
          local err = error_of(maro.Message, f)
          assert.is_truthy(err:find("'" .. name .. "'", 1, true), err)
          assert.is_truthy(err:find(type(bad), 1, true), err)
        end
      end)

      it("must not be empty", function()
        local f = fields()
        f[name] = ""
        local err = error_of(maro.SessionMessage, f)
        assert.is_truthy(err:find("'" .. name .. "'", 1, true), err)
        assert.is_truthy(err:find("non-empty", 1, true), err)
      end)

      it("must not be longer than the wire allows", function()
        local f = fields()
        f[name] = ("x"):rep(1024)
        assert.are.equal(1024, #maro.Message(f)[name])
        f[name] = ("x"):rep(1025)
        local err = error_of(maro.Message, f)
        assert.is_truthy(err:find("'" .. name .. "'", 1, true), err)
      end)
    end)
  end

  it("rejects a session_id that is not a non-empty string", function()
    for _, bad in ipairs({ 1, "", {} }) do
      local err = error_of(maro.Message, fields({ session_id = bad }))
      assert.is_truthy(err:find("'session_id'", 1, true), err)
    end
  end)

  it("rejects unknown fields, naming them", function()
    local err = error_of(maro.Message, fields({ payloda = 1 }))
    assert.is_truthy(err:find("unknown field 'payloda'", 1, true), err)
    err = error_of(maro.Message, fields({ [1] = "x" }))
    assert.is_truthy(err:find("unknown field '1'", 1, true), err)
  end)

  it("wants a table", function()
    for _, bad in ipairs({ "tag", 1 }) do
      local err = error_of(maro.Message, bad)
      assert.is_truthy(err:find("expects a table", 1, true), err)
    end
    assert.is_truthy(error_of(maro.Message):find("expects a table", 1, true))
  end)

  it("refuses a session stage without a session type", function()
    local err = error_of(maro.Message, fields({ session_stage = "task_request" }))
    assert.is_truthy(err:find("'session_stage'", 1, true), err)
  end)

  it("has read-only header fields", function()
    local m = maro.Message(fields())
    for _, name in ipairs({ "tag", "source", "destination", "session_id", "message_id",
                            "session_type", "session_stage" }) do
      local err = error_of(function() m[name] = "x" end)
      assert.is_truthy(err:find("'" .. name .. "' is read-only", 1, true), err)
    end
    assert.are.equal("check_in", m.tag)
  end)

  it("refuses new fields", function()
    local m = maro.Message(fields())
    local err = error_of(function() m.colour = "red" end)
    assert.is_truthy(err:find("no field 'colour'", 1, true), err)
    assert.is_nil(m.colour)
  end)

  it("lets the payload be replaced", function()
    local m = maro.Message(fields({ payload = 1 }))
    m.payload = { a = 1 }
    assert.are.same({ a = 1 }, m.payload)
    m.payload = nil
    assert.is_nil(m.payload)
  end)

  it("has a readable tostring", function()
    local m = maro.Message(fields({ session_id = "s-1" }))
    local s = tostring(m)
    assert.is_truthy(s:find("^Message%("), s)
    for _, part in ipairs({ "tag=check_in", "source=worker_001", "destination=master",
                            "session_id=s-1" }) do
      assert.is_truthy(s:find(part, 1, true), s)
    end
  end)
end)

describe("maro.SessionMessage", function()
  it("defaults to a task session in its request stage", function()
    local t = maro.SessionMessage{ tag = "sum", source = "master", destination = "worker_001",
                                   payload = { 0, 1, 2 } }
    assert.are.equal(maro.SessionType.TASK, t.session_type)
    assert.are.equal(maro.TaskSessionStage.REQUEST, t.session_stage)
    assert.are.same({ 0, 1, 2 }, t.payload)
    assert.are.equal("sum", t.tag)
    assert.is_truthy(t.session_id:match(UUID))
    assert.is_truthy(t.message_id:match(UUID))
  end)

  it("takes the session type and defaults the stage to its request stage", function()
    local t = maro.SessionMessage(fields({ session_type = maro.SessionType.TASK }))
    assert.are.equal("task", t.session_type)
    assert.are.equal("task_request", t.session_stage)
    local n = maro.SessionMessage(fields({ session_type = maro.SessionType.NOTIFICATION }))
    assert.are.equal("notification", n.session_type)
    assert.are.equal("notification_request", n.session_stage)
  end)

  it("takes every stage of its type", function()
    for _, stage in pairs(maro.TaskSessionStage) do
      local t = maro.SessionMessage(fields({ session_stage = stage }))
      assert.are.equal(stage, t.session_stage)
      assert.are.equal("task", t.session_type)
    end
    for _, stage in pairs(maro.NotificationSessionStage) do
      local t = maro.SessionMessage(fields({ session_type = "notification", session_stage = stage }))
      assert.are.equal(stage, t.session_stage)
    end
  end)

  it("refuses an unknown session type, naming the field", function()
    for _, bad in ipairs({ "TASK", "job", "" }) do
      local err = error_of(maro.SessionMessage, fields({ session_type = bad }))
      assert.is_truthy(err:find("'session_type'", 1, true), err)
    end
    local err = error_of(maro.SessionMessage, fields({ session_type = 1 }))
    assert.is_truthy(err:find("'session_type'", 1, true), err)
  end)

  it("refuses an unknown stage or a stage of the other type, naming the field", function()
    local cases = {
      { session_stage = "done" },
      { session_stage = 3 },
      { session_stage = "notification_receive" },
      { session_type = "notification", session_stage = "task_complete" },
    }
    for _, extra in ipairs(cases) do
      local err = error_of(maro.SessionMessage, fields(extra))
      assert.is_truthy(err:find("'session_stage'", 1, true), err)
    end
  end)

  it("names the session type and stage in tostring", function()
    local s = tostring(maro.SessionMessage(fields({ session_type = "notification" })))
    assert.is_truthy(s:find("^SessionMessage%("), s)
    assert.is_truthy(s:find("notification_request", 1, true), s)
  end)
end)

describe("maro.log", function()
  local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
  local procs = dofile(here .. "support/procs.lua")

  -- The stderr of marohost -e code, line by line, without time, name and pid.
  local function log_of(code)
    local p = io.popen(procs.quote(procs.MAROHOST) .. " -e " .. procs.quote(code) .. " 2>&1")
    local lines = {}
    for line in p:read("a"):gmatch("[^\n]+") do
      lines[#lines + 1] = line:match("^%S+ %S+%[%d+%] (.*)$") or line
    end
    p:close()
    return lines
  end

  it("writes each line of a text as a log line of its own", function()
    assert.are.same({ "warn: first", "warn: second", "warn: \tthird", "info: one line" },
      log_of('local log = require("maro").log; log.warn("first\\nsecond\\r\\n\\tthird\\n"); '
        .. 'log.info("one %s", "line")'))
  end)

  it("limits a repeated line to one per interval and counts what it held back", function()
    local slow = maro.log.limiter(3600)
    assert.are.same({ true, 0 }, { slow:pass() })
    assert.are.same({ false }, { slow:pass() })
    assert.are.same({ false }, { slow:pass() })
    assert.are.equal(2, slow.held)
    assert.is_false(slow:due()) -- the interval runs

    local quick = maro.log.limiter(0.01)
    assert.is_true((quick:pass()))
    assert.is_false(quick:due()) -- nothing held back
    local t0 = maro.now()
    while not quick:due() do
      -- held back until the interval has run out, then due
      quick:pass()
      assert(maro.now() - t0 < 10, "the limiter never became due")
    end
    local held = quick.held
    assert.is_true(held >= 1)
    assert.are.same({ true, held }, { quick:pass() })
    assert.are.equal(0, quick.held)
  end)
end)
