-- marohost launch: real jobs of real marohost processes, with a private
-- redis-server on loopback. Every test checks that the processes it knows of
-- (instances, Redis) are gone afterwards.

local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  local pwd = os.getenv("PWD") or io.popen("pwd"):read("l")
  return pwd .. "/" .. p
end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- The marohost under test: $MAROHOST, else the interpreter running this spec
-- when it is a marohost (busted --lua=.../marohost), else build/marohost.
local function find_marohost()
  if os.getenv("MAROHOST") then return abspath(os.getenv("MAROHOST")) end
  local pid = io.open("/proc/self/stat"):read("n")
  local exe = io.popen("readlink /proc/" .. pid .. "/exe"):read("l")
  if exe and exe:match("/marohost$") then return exe end
  return abspath("build/marohost")
end

local MAROHOST = find_marohost()
local SPEC_DIR = abspath(debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".")
local SCRIPTS = SPEC_DIR .. "/scripts/launch"
local TIMEOUT = 30 -- seconds: the bound of a single launcher run

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

local function tmpdir()
  local d = io.popen("mktemp -d"):read("l")
  assert(d and d ~= "")
  return d
end

local function rmtree(d)
  os.execute("rm -rf " .. quote(d))
end

-- Polls cond until it returns a true value or `seconds` pass.
local function wait_until(cond, seconds, what)
  local deadline = os.time() + (seconds or 10)
  while true do
    local v = cond()
    if v then return v end
    if os.time() > deadline then error("timed out waiting for " .. (what or "a condition"), 2) end
    os.execute("sleep 0.02")
  end
end

local function alive(pid)
  return exists("/proc/" .. pid .. "/stat")
end

-- The state letter of a process ("R", "S", "T", ...), or nil once it is gone.
local function proc_state(pid)
  local stat = slurp("/proc/" .. pid .. "/stat")
  return stat and stat:match("^.*%) (%a)")
end

-- SIGSTOP takes effect only when the process next runs: until then a SIGTERM
-- that comes after it is still fatal. Waits until the process is stopped.
local function stop_process(pid)
  assert.is_true(os.execute("kill -STOP " .. pid))
  wait_until(function() return proc_state(pid) == "T" end, 10, "pid " .. pid .. " to stop")
end

-- Runs the launcher to its end; returns exit code, stdout, stderr.
local function launch(args, dir)
  dir = dir or tmpdir()
  local out, err = dir .. "/launch.out", dir .. "/launch.err"
  local _, _, code = os.execute(string.format("timeout -k 5 %d %s launch %s >%s 2>%s </dev/null",
    TIMEOUT, quote(MAROHOST), args, quote(out), quote(err)))
  return code, slurp(out), slurp(err)
end

-- Starts the launcher in the background; returns a handle with its pid.
-- With own_group, the launcher leads a process group of its own (as a job
-- started from a terminal does), so that a signal can go to the whole group.
local function launch_bg(args, dir, own_group)
  local h = { dir = dir, out = dir .. "/launch.out", err = dir .. "/launch.err",
              status = dir .. "/launch.status" }
  local runner = dir .. "/run.sh"
  write(runner, string.format(
    '%s%s launch %s >%s 2>%s </dev/null &\necho $! >%s.tmp\nmv %s.tmp %s\nwait $!\necho $? >%s.tmp\nmv %s.tmp %s\n',
    own_group and "setsid " or "", quote(MAROHOST), args, quote(h.out), quote(h.err),
    quote(dir .. "/launch.pid"),
    quote(dir .. "/launch.pid"), quote(dir .. "/launch.pid"), quote(h.status), quote(h.status),
    quote(h.status)))
  os.execute("timeout -k 5 " .. TIMEOUT .. " sh " .. quote(runner) .. " >/dev/null 2>&1 &")
  h.pid = tonumber(wait_until(function() return slurp(dir .. "/launch.pid") end, 10,
                              "the launcher's pid"))
  -- Should the test fail half-way, the job must not outlive it.
  finally(function()
    if h.code or exists(h.status) then return end
    os.execute("kill -TERM " .. h.pid .. " 2>/dev/null")
    if not pcall(wait_until, function() return exists(h.status) end, 10) then
      os.execute("kill -KILL " .. h.pid .. " 2>/dev/null")
    end
  end)
  return h
end

local function wait_status(h)
  h.code = tonumber(wait_until(function() return slurp(h.status) end, TIMEOUT,
                               "the launcher's end"))
  return h.code
end

-- The pids the launcher reported: {name = pid}, restarts included as name#n.
local function started_pids(err)
  local pids = {}
  for name, pid in err:gmatch("started ([%w_%-]+%.%d+) %(pid (%d+)%)") do
    local key, n = name, 1
    while pids[key] do
      n = n + 1
      key = name .. "#" .. n
    end
    pids[key] = tonumber(pid)
  end
  return pids
end

local function redis_of(err)
  local addr, pid, dir = err:match("private Redis at (127%.0%.0%.1:%d+) %(pid (%d+), dir ([^)]+)%)")
  return addr, tonumber(pid), dir
end

local function redis_answers(addr)
  local host, port = addr:match("^(.*):(%d+)$")
  local p = io.popen("redis-cli -h " .. host .. " -p " .. port .. " ping 2>/dev/null")
  local answer = p:read("a")
  p:close()
  return answer:match("PONG") ~= nil
end

-- Asserts that every known process of a run is gone (bounded wait: the
-- launcher has reaped them, so they go at once).
local function assert_all_gone(err)
  local pids = started_pids(err)
  local _, redis_pid, redis_dir = redis_of(err)
  if redis_pid then pids.redis = redis_pid end
  for name, pid in pairs(pids) do
    wait_until(function() return not alive(pid) end, 5, name .. " (pid " .. pid .. ") to be gone")
  end
  if redis_dir then assert.is_false(exists(redis_dir), "the private Redis's directory is left") end
end

local function lines_of(s, prefix)
  local out = {}
  for line in s:gmatch("[^\n]*") do
    if line:sub(1, #prefix) == prefix then out[#out + 1] = line end
  end
  return out
end

describe("marohost launch", function()
  it("runs a job to its end with prefixed output of every instance", function()
    local dir = tmpdir()
    local code, out, err = launch(quote(SCRIPTS .. "/complete.lua"), dir)
    assert.are.equal(0, code, err)
    local addr = redis_of(err)
    assert.is_not_nil(addr, err)
    for _, name in ipairs({ "master.1", "worker.1", "worker.2", "worker.3" }) do
      local prefix = name .. " | "
      local lines = lines_of(out, prefix)
      assert.are.equal(2, #lines, out)
      local ctype, index = name:match("^(%a+)%.(%d)$")
      assert.are.equal(prefix .. name .. " type=" .. ctype .. " group=complete index=" .. index
        .. " redis=" .. addr .. " color=" .. (ctype == "worker" and "blue" or "nil") .. ": "
        .. (ctype == "worker" and "worker says" or "master says 42"), lines[1])
      -- A last line without a newline is still shown, and ended.
      assert.are.equal(prefix .. "no newline from " .. name, lines[2])
      assert.are.same({ prefix .. "err from " .. name }, lines_of(err, prefix))
    end
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("uses the job's Redis when it names one, and starts none", function()
    local dir = tmpdir()
    write(dir .. "/job.lua", string.format([[
      return { group = "own", redis = "127.0.0.1:1", components = {
        worker = { script = %q, count = 2 } } }
    ]], SCRIPTS .. "/say.lua"))
    local code, out, err = launch(quote(dir .. "/job.lua"), dir)
    assert.are.equal(0, code, err)
    assert.is_nil(redis_of(err))
    assert.matches("the job's Redis at 127%.0%.0%.1:1 does not answer PING", err)
    assert.matches("worker%.2 | worker%.2 type=worker group=own index=2 redis=127%.0%.0%.1:1 ", out)
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("colours the names on a terminal, unless NO_COLOR is set", function()
    if not os.execute("command -v script >/dev/null") then
      pending("script(1) (util-linux) is not installed: no pseudo-terminal to test with")
      return
    end
    local dir = tmpdir()
    local function on_tty(env)
      -- script(1) gives the launcher a pseudo-terminal as stdout.
      local cmd = string.format("%s timeout -k 5 %d %s launch %s 2>%s", env, TIMEOUT,
                                quote(MAROHOST), quote(SCRIPTS .. "/complete.lua"),
                                quote(dir .. "/launch.err"))
      local p = io.popen("script -qec " .. quote(cmd) .. " /dev/null </dev/null")
      local out = p:read("a")
      p:close()
      assert_all_gone(slurp(dir .. "/launch.err"))
      return out
    end
    local out = on_tty("")
    assert.is_truthy(out:find("\27%[%d+mmaster%.1 |\27%[0m master%.1 type=master"), out)
    assert.is_truthy(out:find("\27%[%d+mworker%.3 |\27%[0m no newline from worker%.3"), out)
    local plain = on_tty("NO_COLOR=1")
    assert.is_nil(plain:find("\27", 1, true))
    assert.is_truthy(plain:find("master.1 | no newline from master.1", 1, true), plain)
    rmtree(dir)
  end)

  it("starts a private Redis that answers during the job and is gone afterwards", function()
    local dir = tmpdir()
    os.execute("mkfifo " .. quote(dir .. "/fifo"))
    local h = launch_bg(quote(SCRIPTS .. "/block.lua") .. " " .. quote(dir), dir)
    wait_until(function() return exists(dir .. "/worker.2.ready") end, 10, "the instances")
    local addr, redis_pid, redis_dir = redis_of(slurp(h.err))
    assert.is_not_nil(addr)
    assert.is_true(redis_answers(addr))
    assert.is_true(exists(redis_dir))
    assert.truthy(slurp(dir .. "/worker.1.ready"))
    assert.is_true(os.execute("kill -TERM " .. h.pid))
    assert.are.equal(143, wait_status(h))
    local err = slurp(h.err)
    assert.matches("got SIGTERM; stopping the job", err)
    assert.is_false(redis_answers(addr))
    assert.is_false(alive(redis_pid))
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("leaves no process and no Redis behind after SIGINT", function()
    local dir = tmpdir()
    os.execute("mkfifo " .. quote(dir .. "/fifo"))
    local h = launch_bg(quote(SCRIPTS .. "/block.lua") .. " " .. quote(dir), dir)
    local names = { "master.1", "worker.1", "worker.2" }
    local pids = {}
    for _, name in ipairs(names) do
      pids[name] = tonumber(wait_until(function() return slurp(dir .. "/" .. name .. ".ready") end,
                                       10, name))
      assert.is_true(alive(pids[name]))
    end
    assert.is_true(os.execute("kill -INT " .. h.pid))
    assert.are.equal(130, wait_status(h))
    local out, err = slurp(h.out), slurp(h.err)
    assert.matches("got SIGINT; stopping the job", err)
    for _, name in ipairs(names) do
      assert.are.equal(pids[name], started_pids(err)[name])
      assert.are.same({ name .. " | " .. name .. " is blocking" }, lines_of(out, name .. " | "))
    end
    assert_all_gone(err)
    assert.is_false(alive(h.pid))
    rmtree(dir)
  end)

  it("stops cleanly on a Ctrl-C that reaches the whole process group", function()
    local dir = tmpdir()
    os.execute("mkfifo " .. quote(dir .. "/fifo"))
    local h = launch_bg(quote(SCRIPTS .. "/block.lua") .. " " .. quote(dir), dir, true)
    for _, name in ipairs({ "master.1", "worker.1", "worker.2" }) do
      wait_until(function() return exists(dir .. "/" .. name .. ".ready") end, 10, name)
    end
    local addr = redis_of(slurp(h.err))
    -- What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
    assert.is_true(os.execute("kill -s INT -- -" .. h.pid))
    assert.are.equal(130, wait_status(h))
    local err = slurp(h.err)
    assert.matches("got SIGINT; stopping the job", err)
    assert.is_nil(err:find("restarting", 1, true))
    assert.is_nil(err:find("error:", 1, true))
    assert.is_false(redis_answers(addr))
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("kills an instance that does not stop within the grace period", function()
    local dir = tmpdir()
    os.execute("mkfifo " .. quote(dir .. "/fifo"))
    local h = launch_bg(quote(SCRIPTS .. "/block.lua") .. " " .. quote(dir) .. " 1", dir)
    local stuck = tonumber(wait_until(function() return slurp(dir .. "/worker.1.ready") end, 10,
                                      "worker.1"))
    wait_until(function() return exists(dir .. "/worker.2.ready") end, 10, "worker.2")
    -- A stopped process keeps SIGTERM pending; only SIGKILL ends it.
    stop_process(stuck)
    assert.is_true(os.execute("kill -TERM " .. h.pid))
    assert.are.equal(143, wait_status(h))
    local err = slurp(h.err)
    assert.matches("worker%.1 %(pid " .. stuck .. "%) did not stop within 1 s of SIGTERM; "
                   .. "killing it", err)
    assert.is_nil(err:find("worker%.2 %(pid %d+%) did not stop"))
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("kills what is left at once on a second signal", function()
    local dir = tmpdir()
    os.execute("mkfifo " .. quote(dir .. "/fifo"))
    local h = launch_bg(quote(SCRIPTS .. "/block.lua") .. " " .. quote(dir) .. " 20", dir)
    local stuck = tonumber(wait_until(function() return slurp(dir .. "/worker.1.ready") end, 10,
                                      "worker.1"))
    wait_until(function() return exists(dir .. "/worker.2.ready") end, 10, "worker.2")
    stop_process(stuck)
    local t0 = os.time()
    assert.is_true(os.execute("kill -TERM " .. h.pid))
    wait_until(function() return (slurp(h.err) or ""):find("got SIGTERM", 1, true) end, 10,
               "the launcher to begin stopping")
    assert.is_true(os.execute("kill -INT " .. h.pid))
    assert.are.equal(143, wait_status(h)) -- the status of the first signal
    assert.is_true(os.time() - t0 < 10, "the launcher waited for the grace period")
    local err = slurp(h.err)
    assert.matches("worker%.1 %(pid " .. stuck .. "%) is still running after a second SIGINT; "
                   .. "killing it", err)
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("runs the example job (examples/job) to its result", function()
    local dir = tmpdir()
    local code, out, err = launch(quote(SPEC_DIR .. "/../examples/job/job.lua") .. " 3 600", dir)
    assert.are.equal(0, code, err)
    assert.matches("master%.1 | the sum of 1%.%.600 is 180300\n", out)
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("recovers a worker killed in the middle of its task: no task is lost", function()
    local dir = tmpdir()
    local code, out, err = launch(quote(SCRIPTS .. "/sum_job.lua") .. " " .. quote(dir), dir)
    assert.are.equal(0, code, out .. err)
    assert.matches("worker%.2 | worker%.2: crashing in the middle of the work", out)
    assert.matches("worker%.2 was killed by SIGKILL; restarting it", err)
    assert.matches("master%.1 | worker%.2 summed 301%.%.600 to 135150", out)
    -- The restart took over the registration of the run it replaces
    -- (MARO_TAKE_OVER_FROM): the master saw worker.2 move, not leave.
    assert.matches("peer 'worker%.2' moved from tcp://[%d.:]+ to tcp://[%d.:]+; reconnected", err)
    assert.is_nil(err:find("peer 'worker.2' left", 1, true), err)
    assert.matches("master%.1 | the sum of 1%.%.900 is 405450\n", out)
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("restarts a crashed instance under the same name and environment", function()
    local dir = tmpdir()
    local code, out, err = launch(quote(SCRIPTS .. "/crash_once.lua") .. " " .. quote(dir), dir)
    assert.are.equal(0, code, err)
    local addr = redis_of(err)
    local seen = {}
    for _, name in ipairs({ "worker.1", "worker.2" }) do
      local lines = lines_of(out, name .. " | ")
      assert.are.equal(2, #lines, out)
      -- Every start has an incarnation of its own; a restart takes over the
      -- previous run's, and a first start takes over nothing.
      local esc = name:gsub("%.", "%%.")
      local first = lines[1]:match("^" .. esc .. " | first run of " .. esc
                                   .. " incarnation=(%x+) take_over_from=nil$")
      assert.is_not_nil(first, lines[1])
      assert.are.equal(16, #first)
      local second = lines[2]:match("incarnation=(%x+)")
      assert.are.equal(name .. " | second run of " .. name .. " type=worker group=crash-once "
                       .. "redis=" .. addr .. " incarnation=" .. tostring(second)
                       .. " take_over_from=" .. first, lines[2])
      assert.are.equal(16, #second)
      assert.is_nil(seen[first] or seen[second])
      assert.are_not.equal(first, second)
      seen[first], seen[second] = true, true
      assert.matches("restarted " .. name:gsub("%.", "%%.") .. " %(pid %d+%), restart 1 of 2", err)
    end
    assert.matches("worker%.1 was killed by SIGKILL; restarting it in 0%.05 s %(restart 1 of 2%)", err)
    assert.matches("worker%.2 exited with status 1; restarting it in 0%.05 s %(restart 1 of 2%)", err)
    assert.are.same({ "master.1 | all there" }, lines_of(out, "master.1 | "))
    assert.matches("every main instance has finished", err)
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("stops the job when an instance has used all its restarts", function()
    local dir = tmpdir()
    local runs = dir .. "/runs"
    local code, out, err = launch(quote(SCRIPTS .. "/crash_always.lua") .. " " .. quote(runs), dir)
    assert.are.equal(1, code, err)
    assert.are.equal("worker.1\nworker.1\nworker.1\n", slurp(runs)) -- the first run + 2 restarts
    assert.are.equal(3, #lines_of(out, "worker.1 | failing"))
    assert.matches("restarting it in 0%.05 s %(restart 1 of 2%)", err)
    assert.matches("restarting it in 0%.1 s %(restart 2 of 2%)", err)
    assert.matches("error: worker%.1 exited with status 3 and has used all its 2 restarts; "
                   .. "stopping the job", err)
    assert_all_gone(err)
    rmtree(dir)
  end)

  it("stops the job when an instance with the policy never fails", function()
    local dir = tmpdir()
    write(dir .. "/job.lua", string.format([[
      return { group = "g", components = {
        master = { script = %q, main = true, env = { BLOCK_DIR = %q } },
        worker = { script = %q, args = { %q } } } }
    ]], SCRIPTS .. "/block_forever.lua", dir, SCRIPTS .. "/fail.lua", dir .. "/runs"))
    os.execute("mkfifo " .. quote(dir .. "/fifo"))
    local code, _, err = launch(quote(dir .. "/job.lua"), dir)
    assert.are.equal(1, code, err)
    assert.matches('worker%.1 exited with status 3 %(its restart policy is "never"%); stopping', err)
    assert_all_gone(err)
    rmtree(dir)
  end)

  describe("rejects a bad job file before anything starts", function()
    local function reject(job_text, ...)
      local dir = tmpdir()
      write(dir .. "/touch.lua", slurp(SCRIPTS .. "/touch.lua"))
      write(dir .. "/job.lua", job_text:gsub("TOUCH_FILE", dir .. "/ran"))
      local code, out, err = launch(quote(dir .. "/job.lua"), dir)
      assert.are.equal(2, code, err)
      assert.are.equal("", out)
      for _, expected in ipairs({ ... }) do
        assert.is_truthy(err:find(dir .. "/job.lua: " .. expected, 1, true)
                         or err:find(dir .. "/job.lua" .. expected, 1, true), err)
      end
      assert.matches("nothing was started", err)
      assert.is_nil(err:find("(pid ", 1, true))
      assert.is_nil(err:find("private Redis at", 1, true))
      assert.is_false(exists(dir .. "/ran"))
      rmtree(dir)
    end

    local function job_with(worker)
      return [[return { group = "g", components = {
        main = { script = "touch.lua", env = { TOUCH = "TOUCH_FILE" } },
        worker = ]] .. worker .. [[ } }]]
    end

    it("an unknown key, with a suggestion", function()
      reject(job_with([[{ script = "touch.lua", cuont = 2 }]]),
             "components.worker.cuont: unknown key; did you mean 'count'?")
      reject([[return { group = "g", redis_address = "x", components = {
                 w = { script = "touch.lua" } } }]], "redis_address: unknown key")
    end)

    it("a missing script", function()
      reject(job_with([[{ script = "nowhere.lua" }]]), "components.worker.script: cannot read ")
    end)

    it("bad counts", function()
      reject(job_with([[{ script = "touch.lua", count = 0 }]]),
             "components.worker.count: must be a whole number >= 1, got 0")
      reject(job_with([[{ script = "touch.lua", count = 1.5 }]]),
             "components.worker.count: must be a whole number >= 1, got 1.5")
    end)

    it("wrong types, every one reported", function()
      reject(job_with([[{ script = "touch.lua", args = "x", env = { A = true }, main = 1,
                          restart = { policy = "always" } }]]),
             "components.worker.args: must be a list of strings, got \"x\"",
             "components.worker.env.A: must be a string or a number, got true",
             "components.worker.main: must be true or false, got 1",
             "components.worker.restart.policy: must be \"never\" or \"on-failure\", got \"always\"")
      reject([[return { group = 3, redis = "host:99999", components = {} }]],
             "group: must be the group name",
             "redis: must be an address \"host:port\"",
             "components: must be a table of components")
    end)

    it("restart settings and reserved environment variables", function()
      reject(job_with([[{ script = "touch.lua", env = { MARO_GROUP = "x" },
                          restart = { max_restarts = -1, backoff = "1s" } }]]),
             "components.worker.env.MARO_GROUP: is set by the launcher",
             "components.worker.restart.max_restarts: must be a whole number >= 0, got -1",
             "components.worker.restart.backoff: must be a number >= 0, got \"1s\"")
    end)

    it("a job file that does not load or returns no table", function()
      reject("return {", ":1: ")
      reject("return 42", "the job file must return a table")
    end)
  end)

  it("checks a job without starting it (--check)", function()
    local dir = tmpdir()
    local code, out, err = launch("--check " .. quote(SCRIPTS .. "/crash_always.lua") .. " "
                                  .. quote(dir .. "/runs"), dir)
    assert.are.equal(0, code, err)
    assert.matches("group crash%-always, redis private, grace 2 s", out)
    assert.matches("worker x1 %(main%): .*fail%.lua .*; restart on%-failure, max 2 restarts", out)
    assert.is_false(exists(dir .. "/runs"))
    rmtree(dir)
  end)

  it("explains its usage", function()
    local code, out = launch("--help")
    assert.are.equal(0, code)
    assert.matches("^usage: marohost launch %[options%] job%.lua %[args%.%.%.%]", out)
    local code2, out2, err2 = launch("")
    assert.are.equal(2, code2)
    assert.are.equal("", out2)
    assert.matches("no job file given", err2)
    assert.matches("usage: marohost launch", err2)
    local code3, _, err3 = launch("--frobnicate job.lua")
    assert.are.equal(2, code3)
    assert.matches("unrecognized option '%-%-frobnicate'", err3)
    local code4, _, err4 = launch(quote("/nonexistent/job.lua"))
    assert.are.equal(2, code4)
    assert.matches("cannot open /nonexistent/job%.lua", err4)
  end)
end)
