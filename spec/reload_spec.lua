-- Hot reload across processes: a dist worker under marohost whose handler
-- file is rewritten while this spec, as its master, keeps sending to it.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local procs = dofile(here .. "support/procs.lua")
local redis_support = dofile(here .. "support/redis.lua")
local maro = require("maro")
local uuid = require("maro.core").uuid

local SCRIPTS = here .. "scripts/dist/"
local WORKER = "worker_1"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local V1 = read(SCRIPTS .. "handlers_v1.lua")

-- The handler file of version v: the same events, answering with v.
local function version(v)
  return (V1:gsub('local VERSION = "v1"', 'local VERSION = "' .. v .. '"'))
end

local function write_in_place(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- As editors save: a temporary file in the same directory, renamed over.
local function write_by_rename(path, text)
  write_in_place(path .. ".tmp~", text)
  assert(os.rename(path .. ".tmp~", path))
end

describe("the watcher (maro.core.Watcher)", function()
  local Watcher = require("maro.core").Watcher
  local dir

  before_each(function()
    dir = procs.tmpdir()
  end)

  after_each(function()
    procs.cleanup()
  end)

  local function pid()
    local f = assert(io.open("/proc/self/stat"))
    local p = f:read("l"):match("^%d+")
    f:close()
    return p
  end

  it("sees the file written in place or renamed into place, and nothing else", function()
    local path = dir .. "/h.lua"
    write_in_place(path, "1")
    local w <close> = Watcher(path)
    assert.is_true(math.type(w:fd()) == "integer" and w:fd() >= 0)
    assert.is_nil(w:hup_fd())
    assert.is_nil(w:changed())
    write_in_place(path, "2")
    assert.are.equal("saved", w:changed())
    assert.is_nil(w:changed()) -- consumed
    write_in_place(dir .. "/other.lua", "x")
    write_by_rename(dir .. "/other.lua", "y")
    assert.is_nil(w:changed())
    write_by_rename(path, "3")
    assert.are.equal("saved", w:changed())
    assert(os.rename(path, dir .. "/moved-away.lua"))
    assert.is_nil(w:changed())
    -- a burst of saves asks for one reload
    for i = 1, 5 do
      write_in_place(path, tostring(i))
    end
    assert.are.equal("saved", w:changed())
    assert.is_nil(w:changed())
  end)

  it("turns SIGHUP into a request while it is open", function()
    local path = dir .. "/h.lua"
    write_in_place(path, "1")
    local w = Watcher(path, { sighup = true })
    local w2 = Watcher(path, { sighup = true })
    assert.is_true(math.type(w:hup_fd()) == "integer")
    os.execute("kill -HUP " .. pid())
    procs.wait_until(function() return w:changed() == "SIGHUP" end, 5, "the SIGHUP")
    assert.is_nil(w:changed())
    -- every watcher sees it
    assert.are.equal("SIGHUP", w2:changed())
    w:close()
    w:close()
    w2:close()
    assert.has_error(function() w:changed() end, "Watcher is closed")
  end)

  it("names the directory it cannot watch", function()
    assert.has_error(function() Watcher(dir .. "/missing/h.lua") end)
    local ok, err = pcall(Watcher, dir .. "/missing/h.lua")
    assert.is_false(ok)
    assert.matches("cannot watch the directory '" .. dir .. "/missing'", err, 1, true)
  end)
end)

describe("hot reload", function()
  local redis = redis_support.for_block(setup, teardown, procs)
  local master, worker, dir

  -- Starts the worker on handler file `path` (written first unless it exists).
  local function start(path)
    local group = "reload_" .. uuid():sub(1, 8)
    master = maro.Proxy{ group_name = group, component_type = "master",
      component_name = "master", redis_address = redis.address }
    worker = procs.spawn(SCRIPTS .. "worker.lua", { path },
      { MARO_REDIS = redis.address, MARO_GROUP = group, MARO_COMPONENT_NAME = WORKER })
    worker:wait_output("ready " .. WORKER, 20)
  end

  before_each(function()
    dir = procs.tmpdir()
  end)

  after_each(function()
    if master and not master.closed then
      if worker and worker:running() then
        master:send(maro.Message{ tag = "exit", source = "master", destination = WORKER }, 5)
        assert.are.equal(0, worker:wait(10), worker:report())
      end
      master:close()
    end
    master, worker = nil, nil
  end)

  local last_count = 0

  -- One request and its reply; the counter kept in `that` must go up by one
  -- at every ping, whichever handler version answers.
  local function ping()
    local replies, pending = master:send(
      maro.Message{ tag = "ping", source = "master", destination = WORKER }, 5)
    assert.are.same({}, pending, "no reply to a ping\n" .. worker:report())
    local p = replies[1].payload
    assert.are.equal(last_count + 1, p.count, "the counter jumped\n" .. worker:report())
    last_count = p.count
    return p
  end

  -- Pings until version v answers; returns the seconds since `since`.
  local function wait_version(v, since)
    local deadline = maro.now() + 5
    while maro.now() < deadline do
      if ping().version == v then
        return maro.now() - since
      end
    end
    error("version " .. v .. " never answered\n" .. worker:report())
  end

  -- The issue's promise: a save is answered by the new handler within 1 s.
  local function assert_answers_within_1s(v)
    local took = wait_version(v, maro.now())
    assert.is_true(took < 1.0, "the new handler answered after " .. took .. " s")
  end

  local function wait_log(pattern, what)
    procs.wait_until(function() return worker:stderr():match(pattern) end, 5, what)
  end

  it("picks up a file rewritten in place within 1 s, and the counter continues", function()
    local path = dir .. "/handlers.lua"
    write_in_place(path, version("v1"))
    start(path)
    last_count = 0
    for _ = 1, 20 do
      assert.are.equal("v1", ping().version)
    end
    write_in_place(path, version("v2"))
    assert_answers_within_1s("v2")
    for _ = 1, 20 do
      assert.are.equal("v2", ping().version)
    end
    assert.is_true(last_count >= 41) -- 20 + at least one while waiting + 20, none skipped
    wait_log("reloaded .-handlers%.lua %(file saved%): added none; removed none; kept ",
      "the reload's log line")
  end)

  it("picks up a file renamed into place within 1 s, and again at the next save", function()
    local path = dir .. "/handlers.lua"
    write_in_place(path, version("v1"))
    start(path)
    last_count = 0
    ping()
    write_by_rename(path, version("v2"))
    assert_answers_within_1s("v2")
    write_by_rename(path, version("v3"))
    assert_answers_within_1s("v3")
  end)

  it("completes a half-satisfied AND event after the reload", function()
    local path = dir .. "/handlers.lua"
    write_in_place(path, version("v1"))
    start(path)
    last_count = 0
    master:isend(maro.Message{ tag = "left", source = "master", destination = WORKER })
    ping() -- the worker has taken "left" (messages from one peer arrive in order)
    write_by_rename(path, version("v2"))
    wait_version("v2", maro.now())
    local ids = master:isend(maro.Message{ tag = "right", source = "master",
      destination = WORKER })
    assert.are.equal(1, #ids)
    local got = master:receive_once(5)
    assert.is_truthy(got, "no reply to the completed AND\n" .. worker:report())
    assert.are.equal("pair", got.tag)
    assert.are.same({ version = "v2", n = 2 }, got.payload)
  end)

  it("keeps the old handlers when the file is broken, logs file and line, then takes "
    .. "the next good save", function()
    local path = dir .. "/handlers.lua"
    write_in_place(path, version("v1"))
    start(path)
    last_count = 0
    ping()
    local broken = {
      -- a syntax error on line 3
      { "-- broken\nreturn {\n  [\"master:ping:1\"] = function(that, proxy, m\n}\n",
        "handlers%.lua:4: " },
      -- raises while running, on line 2
      { "local x = 1\nerror(\"not today\")\nreturn {}\n", "handlers%.lua:2: not today" },
      -- returns something that is not a handler table (line 2)
      { "local x = 1\nreturn 42\n", "handlers%.lua:2: the handler file must return a table" },
      -- a bad event on line 3
      { "return {\n  [\"master:ping:1\"] = function() end,\n  [\"master:ping:0\"] = "
        .. "function() end,\n}\n", "handlers%.lua:3: bad event \"master:ping:0\"" },
      -- a handler that is not a function, on line 2
      { "return {\n  [\"master:ping:1\"] = \"nope\",\n}\n",
        "handlers%.lua:2: the handler of \"master:ping:1\" must be a function" },
    }
    for i, case in ipairs(broken) do
      if i % 2 == 0 then
        write_by_rename(path, case[1])
      else
        write_in_place(path, case[1])
      end
      wait_log(case[2], "the error of broken file " .. i .. " in the log")
      for _ = 1, 5 do
        assert.are.equal("v1", ping().version)
      end
    end
    assert.matches("reload of .-handlers%.lua %(file saved%) failed; the old handlers stay",
      worker:stderr())
    write_in_place(path, version("v2"))
    assert_answers_within_1s("v2")
  end)

  it("reloads on SIGHUP", function()
    -- The worker's path is a symbolic link into another directory: writing
    -- the target is invisible to the watch, so only the signal can reload.
    local real_dir = procs.tmpdir()
    local target = real_dir .. "/real.lua"
    write_in_place(target, version("v1"))
    local path = dir .. "/handlers.lua"
    assert(os.execute("ln -s " .. procs.quote(target) .. " " .. procs.quote(path)))
    start(path)
    last_count = 0
    write_in_place(target, version("v2"))
    -- The worker's watch is idle: it looks every 0.1 s, so well within these pings.
    local deadline = maro.now() + 0.5
    while maro.now() < deadline do
      assert.are.equal("v1", ping().version)
    end
    worker:kill("HUP")
    assert_answers_within_1s("v2")
    wait_log("reloaded .-handlers%.lua %(SIGHUP%)", "the reload's log line")
    assert.is_true(worker:running())
  end)

  it("hands the messages of a removed event to an added one", function()
    local path = dir .. "/handlers.lua"
    write_in_place(path, version("v1"))
    start(path)
    last_count = 0
    master:isend(maro.Message{ tag = "left", source = "master", destination = WORKER })
    ping()
    -- The AND is gone; "left" alone now answers.
    local text = version("v2"):gsub('%[{ "master:left:1", "master:right:1", "AND" }%]',
      '["master:left:1"]')
    write_by_rename(path, text)
    local got = master:receive_once(5)
    assert.is_truthy(got, "the buffered message was not matched again\n" .. worker:report())
    assert.are.equal("pair", got.tag)
    assert.are.same({ version = "v2", n = 1 }, got.payload)
    wait_log('added "master:left:1"; removed {"master:left:1", "master:right:1", "AND"}; '
      .. 'kept "master:exit:1", "master:ping:1"; 1 buffered messages matched again',
      "the reload's log line")
  end)
end)
