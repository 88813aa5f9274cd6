-- maro.dist: a handler that raises answers each task request it was given
-- with the error, so that the requester's send, scatter or receive_by_id
-- returns instead of waiting (docs/dist.md, "Handlers"). First with a
-- maro.testing group in this process, then with a worker under marohost
-- joined through a private Redis.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local maro = require("maro")
local dist = require("maro.dist")
local testing = require("maro.testing")
local uuid = require("maro.core").uuid

local SCRIPTS = here .. "scripts/dist/"
local TASK = maro.SessionType.TASK

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function new_instance()
  return { calls = 0 }
end

describe("maro.dist, a handler that raises", function()
  teardown(function()
    procs.cleanup()
  end)

  describe("in a maro.testing group", function()
    local g, master

    before_each(function()
      g = testing.group{ master = 1, worker = 1 }
      master = g.master[1]
    end)

    after_each(function()
      g:close()
    end)

    local function worker(handlers)
      return maro.dist(g.worker[1], handlers)(new_instance)()
    end

    it("answers the task: the master's send returns one reply with the error", function()
      local w = worker({
        ["master:job:1"] = function(that, _, messages)
          that.calls = that.calls + 1
          error("no such job: " .. messages[1].payload, 0)
        end,
      })
      g:drive(w)
      local request = testing.task("master_1", "worker_1", "job", 7)
      local replies = master:send(request, 5)
      assert.are.equal(1, #replies)
      local reply = replies[1]
      assert.are.equal("no such job: 7", reply.error)
      assert.are.equal(request.session_id, reply.session_id)
      assert.are.equal(maro.TaskSessionStage.COMPLETE, reply.session_stage)
      assert.are.equal("worker_1", reply.source)
      assert.are.equal("master_1", reply.destination)
      assert.are.equal("job", reply.tag)
      assert.is_nil(reply.payload)
      assert.are.equal(1, w.calls)
      assert.are.equal(1, dist.stats(w).errors)
      assert.is_nil(testing.collect(master)[1]) -- nothing else came
    end)

    it("tells the first line of the message, with its position, without the traceback",
      function()
        local line
        local w = worker({
          ["master:job:1"] = function()
            line = debug.getinfo(1, "l").currentline + 1
            error("first line\nsecond line")
          end,
        })
        local ids = master:isend(testing.task("master_1", "worker_1", "job"))
        assert.are.equal(1, w:step(0))
        local replies, pending = master:receive_by_id(ids, 0)
        assert.are.same({}, pending)
        local source = debug.getinfo(1, "S").short_src
        assert.are.equal(source .. ":" .. line .. ": first line", replies[1].error)
      end)

    it("answers each of the three task requests of one event", function()
      local got
      local w = worker({
        ["master:part:3"] = function(_, _, messages)
          got = #messages
          error("parts do not fit", 0)
        end,
      })
      g:drive(w)
      local list = { { "worker_1", 1 }, { "worker_1", 2 }, { "worker_1", 3 } }
      local ids = master:iscatter("part", TASK, list)
      local replies, pending = master:receive_by_id(ids, 5)
      assert.are.equal(3, got)
      assert.are.same({}, pending)
      assert.are.equal(3, #replies)
      local answered = {}
      for _, r in ipairs(replies) do
        assert.are.equal("parts do not fit", r.error)
        assert.is_nil(r.payload)
        answered[#answered + 1] = r.session_id
      end
      table.sort(ids)
      table.sort(answered)
      assert.are.same(ids, answered)
    end)

    it("answers a blocking scatter", function()
      local w = worker({
        ["master:part:2"] = function() error("no", 0) end,
      })
      g:drive(w)
      local replies = master:scatter("part", TASK, { { "worker_1", 1 }, { "worker_1", 2 } }, 5)
      assert.are.same({ "no", "no" }, testing.field(replies, "error"))
    end)

    it("answers only the task requests among its messages", function()
      local w = worker({
        [{ "master:a:1", "master:b:1", "master:c:1", "AND" }] = function()
          error("none of them", 0)
        end,
      })
      master:isend(testing.message("master_1", "worker_1", "a"))
      master:isend(testing.notification("master_1", "worker_1", "b"))
      local ids = master:isend(testing.task("master_1", "worker_1", "c"))
      assert.are.equal(1, w:step(0))
      local got = testing.collect(master)
      assert.are.equal(1, #got)
      assert.are.equal(ids[1], got[1].session_id)
      assert.are.equal("none of them", got[1].error)
    end)

    it("gives notifications and plain messages no reply, and keeps serving", function()
      local w = worker({
        ["master:x:1"] = function(that, proxy, messages)
          that.calls = that.calls + 1
          if messages[1].payload == "boom" then
            error("boom", 0)
          end
          proxy:reply(messages[1], { payload = "fine" })
        end,
      })
      master:isend(testing.message("master_1", "worker_1", "x", "boom"))
      master:isend(testing.notification("master_1", "worker_1", "x", "boom"))
      local ids = master:isend(testing.task("master_1", "worker_1", "x", "ok"))
      assert.are.equal(3, w:step(0))
      local got = testing.collect(master)
      assert.are.equal(1, #got)
      assert.are.equal(ids[1], got[1].session_id)
      assert.are.equal("fine", got[1].payload)
      assert.is_nil(got[1].error)
      assert.are.equal(2, dist.stats(w).errors)
    end)

    it("answers the requests it was given, even if the handler emptied its list", function()
      local w = worker({
        ["master:job:2"] = function(_, _, messages)
          messages[1], messages[2] = nil, nil
          error("lost them", 0)
        end,
      })
      local ids = master:iscatter("job", TASK, { { "worker_1", 1 }, { "worker_1", 2 } })
      assert.are.equal(1, w:step(0))
      local replies, pending = master:receive_by_id(ids, 0)
      assert.are.same({}, pending)
      assert.are.same({ "lost them", "lost them" }, testing.field(replies, "error"))
    end)

    it("says when the message is empty, and cuts a long one at a character boundary",
      function()
        local w = worker({
          ["master:empty:1"] = function() error("", 0) end,
          ["master:long:1"] = function() error("x" .. string.rep("é", 3000), 0) end,
        })
        local empty = master:isend(testing.task("master_1", "worker_1", "empty"))
        local long = master:isend(testing.task("master_1", "worker_1", "long"))
        assert.are.equal(2, w:step(0))
        local replies = master:receive_by_id(empty, 0)
        assert.are.equal('the handler of "master:empty:1" raised an error without a message',
          replies[1].error)
        replies = master:receive_by_id(long, 0)
        local text = replies[1].error
        assert.are.equal(4095, #text) -- 4096 would split an "é"
        assert.is_truthy(utf8.len(text))
      end)

    it("keeps serving when its requester has left and the reply cannot be sent", function()
      local w = worker({
        ["master:job:1"] = function(_, proxy, messages)
          if messages[1].payload == "boom" then
            error("boom", 0)
          end
          proxy:reply(messages[1], { payload = "done" })
        end,
      })
      local late = g:add("master")
      late:isend(testing.task(late.name, "worker_1", "job", "boom"))
      late:close()
      local ids = master:isend(testing.task("master_1", "worker_1", "job", "again"))
      assert.are.equal(2, w:step(0))
      local replies, pending = master:receive_by_id(ids, 0)
      assert.are.same({}, pending)
      assert.are.equal("done", replies[1].payload)
      assert.are.equal(1, dist.stats(w).errors)
    end)
  end)

  describe("its log, when error replies cannot be sent", function()
    it("says so, at most once per interval, and counts the others", function()
      local proc = procs.spawn(SCRIPTS .. "lost_requester.lua", { "50", "0.2" })
      assert.are.equal(0, proc:wait(60), proc:report())
      assert.matches("errors 50 held 0", proc:stdout(), 1, true)
      local told, lines = 0, 0
      for line in proc:stderr():gmatch("[^\n]+") do
        if line:find("the error reply to 'master_1'", 1, true) then
          lines = lines + 1
          assert.matches("could not be sent", line, 1, true)
          assert.matches("unknown destination 'master_1'", line, 1, true)
          told = told + 1 + tonumber(line:match("%((%d+) more such failures? since") or 0)
        elseif line:find("could not be sent since the last such line", 1, true) then
          lines = lines + 1
          told = told + tonumber(line:match("dist: (%d+) more error repl"))
        end
      end
      assert.are.equal(50, told, proc:report())
      -- One line at once, then at most one per interval while errors come.
      local elapsed = tonumber(proc:stdout():match("elapsed ([%d.]+)"))
      assert.is_true(lines >= 1 and lines <= 2 + elapsed / 0.2, proc:report())
    end)
  end)

  describe("in a worker under marohost", function()
    local redis = redis_support.for_block(setup, teardown, procs)

    it("answers the task requests of the master with the error", function()
      local dir = procs.tmpdir()
      local path = dir .. "/handlers.lua"
      write(path, table.concat({
        "return {",
        "  ['master:job:1'] = function(_, _, m)",
        "    error('no such job: ' .. tostring(m[1].payload))",
        "  end,",
        "  ['master:part:3'] = function()",
        "    error('parts do not fit')",
        "  end,",
        "  ['master:note:1'] = function()",
        "    error('not for a notification')",
        "  end,",
        "  ['master:ping:1'] = function(that, proxy, m)",
        "    proxy:reply(m[1], { payload = that:bump() })",
        "  end,",
        "  ['master:exit:1'] = function(_, proxy, m)",
        "    proxy:reply(m[1], {})",
        "    proxy:close()",
        "  end,",
        "}",
      }, "\n"))
      local group = "disterr_" .. uuid():sub(1, 8)
      local master <close> = maro.Proxy{ group_name = group, component_type = "master",
        component_name = "master", redis_address = redis.address }
      local worker = procs.spawn(SCRIPTS .. "worker.lua", { path },
        { MARO_REDIS = redis.address, MARO_GROUP = group, MARO_COMPONENT_NAME = "worker_9" })
      worker:wait_output("ready worker_9")

      -- send: one reply, with the error and the request's session id
      local request = maro.SessionMessage{ tag = "job", source = "master",
        destination = "worker_9", payload = 7 }
      local replies = master:send(request, 5)
      assert.are.equal(1, #replies, worker:report())
      assert.are.equal(path .. ":3: no such job: 7", replies[1].error)
      assert.are.equal(request.session_id, replies[1].session_id)
      assert.are.equal("worker_9", replies[1].source)
      assert.is_nil(replies[1].payload)

      -- scatter: three requests of one event, three replies
      replies = master:scatter("part", TASK,
        { { "worker_9", 1 }, { "worker_9", 2 }, { "worker_9", 3 } }, 5)
      assert.are.equal(3, #replies, worker:report())
      for _, r in ipairs(replies) do
        assert.are.equal(path .. ":6: parts do not fit", r.error)
      end

      -- a notification gets no reply: the ping's reply is the next message
      master:isend(maro.SessionMessage{ tag = "note", source = "master",
        destination = "worker_9", session_type = maro.SessionType.NOTIFICATION })
      replies = master:send(maro.SessionMessage{ tag = "ping", source = "master",
        destination = "worker_9" }, 5)
      assert.are.equal(1, replies[1].payload, worker:report())
      assert.is_nil(replies[1].error)
      assert.is_nil(master:receive_once(0))

      master:send(maro.SessionMessage{ tag = "exit", source = "master",
        destination = "worker_9" }, 5)
      assert.are.equal(0, worker:wait(10), worker:report())
      local log = worker:stderr()
      local _, raised = log:gsub("raised an error %(the worker keeps serving%)", "")
      assert.are.equal(3, raised, worker:report()) -- job, part, note (one line per handler)
    end)
  end)
end)
