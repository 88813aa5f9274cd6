--- maro.launch: `marohost launch job.lua` runs every component of a job on
-- this machine, each instance as its own marohost process, with a private
-- Redis when the job names none. The job file, the restart policy, how a job
-- ends and its exit status are described in docs/launch.md.
--
-- The process work (spawning, output, signals, reaping) is C in
-- maro.core.launch; this module decides what to start, restart and stop.
local core = require("maro.core")
local log = require("maro.log")
local jobfile = require("maro.launch.job")

local sys = core.launch

local launch = {}

-- Exit statuses (see docs/launch.md).
local EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
local EXIT_BY_SIGNAL = { INT = 130, TERM = 143 }

local REDIS_START_TIMEOUT = 5 -- seconds for a private Redis to answer PING
local REDIS_STOP_TIMEOUT = 5  -- seconds between SIGTERM and SIGKILL for it
local REDIS_PORT_TRIES = 3    -- another process may take the free port first

-- Foreground colours for the name prefixes, one per instance in turn.
local COLORS = { 36, 33, 32, 35, 34, 91, 96, 93, 92, 95, 94 }
local REDIS_COLOR = 90

launch.USAGE = [[
usage: marohost launch [options] job.lua [args...]
Runs every component of a job on this machine, each instance as its own
marohost process, with a private Redis when the job names none. The job file
is Lua returning a table; args reach it as ... (see docs/launch.md).

Options:
  --check            check the job file, print what would run, start nothing
  --log-level LEVEL  error, warn, info (default) or debug, for the launcher
                     and (through MARO_LOG_LEVEL) for the instances
  -h, --help         show this help

Every instance gets MARO_GROUP, MARO_COMPONENT_TYPE, MARO_COMPONENT_NAME
(e.g. worker.3), MARO_COMPONENT_INDEX and MARO_REDIS in its environment; a
restart also gets MARO_TAKE_OVER_NAME=1, to take its name over at once.
Ctrl-C or SIGTERM stops the job: SIGTERM to every instance, then SIGKILL after
the job's grace period, then the private Redis.

Exit status: 0 when every main instance exited 0; 1 when an instance failed
for good (or the job could not start); 2 for a usage or job file error;
130 after SIGINT, 143 after SIGTERM.
]]

local function usage_error(fmt, ...)
  io.stderr:write("marohost launch: ", string.format(fmt, ...), "\n",
                  "usage: marohost launch [options] job.lua [args...]  (--help for more)\n")
  return EXIT_USAGE
end

-- Returns options and the job path and its arguments, or nil and a status.
local function parse_args(args)
  local opts = { job_args = {} }
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then
      io.stdout:write(launch.USAGE)
      return nil, EXIT_OK
    elseif a == "--check" then
      opts.check = true
    elseif a == "--log-level" then
      local level = args[i + 1]
      if not level then return nil, usage_error("'--log-level' needs an argument") end
      if not pcall(log.level, level) then
        return nil, usage_error("unknown log level '%s' (error, warn, info, debug)", level)
      end
      opts.log_level = level
      i = i + 1
    elseif a == "--" then
      i = i + 1
      break
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, usage_error("unrecognized option '%s'", a)
    else
      break
    end
    i = i + 1
  end
  opts.job = args[i]
  if not opts.job then return nil, usage_error("no job file given") end
  table.move(args, i + 1, #args, 1, opts.job_args)
  return opts
end

local function find_program(name)
  if name:find("/", 1, true) then return name end
  for dir in (os.getenv("PATH") or "/usr/local/bin:/usr/bin:/bin"):gmatch("[^:]+") do
    local path = dir .. "/" .. name
    local f = io.open(path, "r")
    if f then
      f:close()
      return path
    end
  end
  return nil
end

-- The last lines of a log file, to end an error message ("; its log ends
-- with: ...", or "" when there is none).
local function log_tail(path)
  local f = io.open(path, "r")
  if not f then return "" end
  local lines = {}
  for line in f:lines() do
    lines[#lines + 1] = line
    if #lines > 3 then table.remove(lines, 1) end
  end
  f:close()
  if #lines == 0 then return "" end
  return "; its log ends with: " .. table.concat(lines, " / ")
end

local function describe_exit(ev)
  if ev.code then return "exited with status " .. ev.code end
  return "was killed by SIG" .. tostring(ev.signal)
end

local function failed(ev)
  return ev.code ~= 0
end

-- The run of one job: its instances, the private Redis and the timers.
local Run = {}
Run.__index = Run

local function new_run(job, opts, sup, exe)
  local self = setmetatable({
    job = job, opts = opts, sup = sup, exe = exe,
    instances = {}, by_pid = {},
    stopping = false, status = nil, kill_at = nil,
  }, Run)
  local width = 0
  for _, comp in ipairs(job.components) do
    for i = 1, comp.count do
      local name = comp.type .. "." .. i
      width = math.max(width, #name)
      self.instances[#self.instances + 1] = {
        name = name, comp = comp, index = i, restarts = 0, state = "new",
      }
    end
  end
  if not job.redis then width = math.max(width, #"redis") end
  self.width = width
  return self
end

function Run:prefix(name)
  return name .. string.rep(" ", self.width - #name) .. " |"
end

-- Starts the private Redis; returns true, or false after logging why.
function Run:start_redis()
  local program = os.getenv("MARO_REDIS_SERVER") or "redis-server"
  local path = find_program(program)
  if not path then
    log.error("cannot find %s on PATH: install Redis (redis-server) or give the job a redis "
              .. "address", program)
    return false
  end
  local dir, err = sys.mkdtemp("marohost-redis")
  if not dir then
    log.error("cannot start the private Redis: %s", err)
    return false
  end
  self.redis = { dir = dir }
  for _ = 1, REDIS_PORT_TRIES do
    local port, perr = sys.free_port()
    if not port then
      log.error("cannot start the private Redis: %s", perr)
      return false
    end
    local pid, serr = self.sup:spawn{
      path = path,
      argv = { program, "--port", tostring(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning",
               -- Its log stays out of the job's output unless it fails.
               "--logfile", dir .. "/redis.log" },
      prefix = self:prefix("redis"), color = REDIS_COLOR,
      -- Its own process group: a terminal's Ctrl-C must not stop it before
      -- the instances that use it have stopped.
      own_group = true, death_signal = "TERM",
    }
    if not pid then
      log.error("cannot start the private Redis: %s", serr)
      return false
    end
    self.redis.pid, self.redis.port = pid, port
    self.by_pid[pid] = self.redis
    local deadline = core.now() + REDIS_START_TIMEOUT
    local exited, last = false, nil
    while core.now() < deadline do
      for _, ev in ipairs(self.sup:wait(0.05)) do
        if ev.kind == "signal" then
          self:on_signal(ev.signal)
          return false
        elseif ev.pid == pid then
          exited = describe_exit(ev)
          self.redis.pid = nil
        end
      end
      if exited then break end
      local ok, perr2 = sys.redis_ping("127.0.0.1", port, 0.2)
      if ok then
        self.redis.address = "127.0.0.1:" .. port
        log.info("private Redis at %s (pid %d, dir %s)", self.redis.address, pid, dir)
        return true
      end
      last = perr2
    end
    if not exited then
      log.error("the private Redis (pid %d) did not answer on 127.0.0.1:%d within %d s (%s)%s",
                pid, port, REDIS_START_TIMEOUT, tostring(last), log_tail(dir .. "/redis.log"))
      return false
    end
    self.by_pid[pid] = nil
    log.warn("the private Redis %s on port %d%s; trying another port", exited, port,
             log_tail(dir .. "/redis.log"))
  end
  log.error("cannot start the private Redis: it exited %d times", REDIS_PORT_TRIES)
  return false
end

-- SIGTERM, a grace period, SIGKILL; then the temporary directory goes.
function Run:stop_redis()
  local r = self.redis
  if not r then return end
  if r.pid then
    self.sup:kill(r.pid, "TERM")
    local deadline = core.now() + REDIS_STOP_TIMEOUT
    while r.pid do
      local left = deadline - core.now()
      if left <= 0 then
        log.warn("the private Redis (pid %d) did not stop within %d s; killing it", r.pid,
                 REDIS_STOP_TIMEOUT)
        self.sup:kill(r.pid, "KILL")
        deadline = math.huge
        left = nil
      end
      for _, ev in ipairs(self.sup:wait(left)) do
        if ev.kind == "exit" and ev.pid == r.pid then
          r.pid = nil
        elseif ev.kind == "signal" and r.pid and deadline < math.huge then
          -- Stopping already; another signal means at once.
          log.warn("the private Redis (pid %d) is still running after a second SIG%s; killing it",
                   r.pid, ev.signal)
          self.sup:kill(r.pid, "KILL")
          deadline = math.huge
        end
      end
    end
  end
  log.debug("the private Redis has stopped")
  local ok, err = sys.rmdir(r.dir)
  if not ok then log.warn("%s", err) end
  self.redis = nil
end

function Run:instance_env(inst)
  local env = {}
  for k, v in pairs(inst.comp.env) do env[k] = v end
  env.MARO_GROUP = self.job.group
  env.MARO_COMPONENT_TYPE = inst.comp.type
  env.MARO_COMPONENT_NAME = inst.name
  env.MARO_COMPONENT_INDEX = tostring(inst.index)
  env.MARO_REDIS = self.job.redis or self.redis.address
  if self.opts.log_level and not inst.comp.env.MARO_LOG_LEVEL then
    env.MARO_LOG_LEVEL = self.opts.log_level
  end
  -- The launcher has reaped the previous run: its registration is stale, and
  -- the restart takes the name over at once instead of waiting for it to expire.
  if inst.restarts > 0 then env.MARO_TAKE_OVER_NAME = "1" end
  return env
end

-- The same argv and environment every time (but MARO_TAKE_OVER_NAME): a
-- restarted instance is the same member of the group as before.
function Run:start(inst, color)
  local argv = { self.exe, inst.comp.script }
  table.move(inst.comp.args, 1, #inst.comp.args, 3, argv)
  inst.color = inst.color or color
  local pid, err = self.sup:spawn{
    path = self.exe, argv = argv, env = self:instance_env(inst),
    prefix = self:prefix(inst.name), color = inst.color, death_signal = "TERM",
  }
  if not pid then
    log.error("cannot start %s: %s; stopping the job", inst.name, err)
    inst.state = "failed"
    self:stop(EXIT_FAILED)
    return
  end
  inst.pid, inst.state, inst.restart_at = pid, "running", nil
  self.by_pid[pid] = inst
  if inst.restarts == 0 then
    log.info("started %s (pid %d): %s", inst.name, pid, inst.comp.script)
  else
    log.info("restarted %s (pid %d), restart %d of %d", inst.name, pid, inst.restarts,
             inst.comp.restart.max_restarts)
  end
end

-- Begins stopping everything; status is the job's exit status.
function Run:stop(status)
  if self.stopping then return end
  self.stopping = true
  self.status = self.status or status
  for _, inst in ipairs(self.instances) do
    inst.restart_at = nil
    if inst.state == "running" then self.sup:kill(inst.pid, "TERM") end
  end
  self.kill_at = core.now() + self.job.grace
end

function Run:kill_all(why)
  for _, inst in ipairs(self.instances) do
    if inst.state == "running" then
      log.warn("%s (pid %d) %s; killing it", inst.name, inst.pid, why)
      self.sup:kill(inst.pid, "KILL")
    end
  end
  self.kill_at = nil
end

function Run:on_signal(sig)
  if not self.stopping then
    log.warn("got SIG%s; stopping the job", sig)
    self:stop(EXIT_BY_SIGNAL[sig] or EXIT_FAILED)
  else
    self:kill_all("is still running after a second SIG" .. sig)
  end
end

function Run:main_done()
  for _, inst in ipairs(self.instances) do
    if inst.comp.main and inst.state ~= "done" then return false end
  end
  return true
end

function Run:on_exit(inst, ev)
  self.by_pid[ev.pid] = nil
  inst.pid = nil
  if self.stopping then
    inst.state = "stopped"
    log.debug("%s %s", inst.name, describe_exit(ev))
    return
  end
  if not failed(ev) then
    inst.state = "done"
    log.info("%s %s", inst.name, describe_exit(ev))
    if self:main_done() then
      log.info("every main instance has finished; stopping the job")
      self:stop(EXIT_OK)
    end
    return
  end
  local policy = inst.comp.restart
  if policy.policy == "on-failure" and inst.restarts < policy.max_restarts then
    inst.restarts = inst.restarts + 1
    local delay = math.min(policy.backoff * 2 ^ (inst.restarts - 1), policy.max_backoff)
    inst.state, inst.restart_at = "waiting", core.now() + delay
    log.warn("%s %s; restarting it in %.3g s (restart %d of %d)", inst.name, describe_exit(ev),
             delay, inst.restarts, policy.max_restarts)
    return
  end
  inst.state = "failed"
  if policy.policy == "on-failure" then
    log.error("%s %s and has used all its %d restarts; stopping the job", inst.name,
              describe_exit(ev), policy.max_restarts)
  else
    log.error("%s %s (its restart policy is \"never\"); stopping the job", inst.name,
              describe_exit(ev))
  end
  self:stop(EXIT_FAILED)
end

function Run:running()
  for _, inst in ipairs(self.instances) do
    if inst.state == "running" then return true end
  end
  return false
end

-- Seconds until the next timer (a restart or the end of the grace period).
function Run:next_timeout(now)
  local at = self.kill_at
  if not self.stopping then
    for _, inst in ipairs(self.instances) do
      if inst.restart_at and (not at or inst.restart_at < at) then at = inst.restart_at end
    end
  end
  if not at then return nil end
  return math.max(0, at - now)
end

function Run:fire_timers(now)
  if self.stopping then
    if self.kill_at and now >= self.kill_at then
      self:kill_all(string.format("did not stop within %g s of SIGTERM", self.job.grace))
    end
    return
  end
  for _, inst in ipairs(self.instances) do
    if inst.restart_at and now >= inst.restart_at then self:start(inst) end
    if self.stopping then return end
  end
end

function Run:loop()
  while not (self.stopping and not self:running()) do
    local events = self.sup:wait(self:next_timeout(core.now()))
    for _, ev in ipairs(events) do
      if ev.kind == "signal" then
        self:on_signal(ev.signal)
      else
        local who = self.by_pid[ev.pid]
        if who and who == self.redis then
          self.redis.pid = nil
          if not self.stopping then
            log.error("the private Redis %s%s; stopping the job", describe_exit(ev),
                      log_tail(self.redis.dir .. "/redis.log"))
            self:stop(EXIT_FAILED)
          end
        elseif who then
          self:on_exit(who, ev)
        end
      end
    end
    self:fire_timers(core.now())
  end
end

-- A Redis of the job's own is only checked: it may need a password that the
-- instances know and the launcher does not.
function Run:check_redis()
  local host, port = self.job.redis:match("^(.*):(%d+)$")
  local ok, err = sys.redis_ping(host, tonumber(port), 1)
  if ok then
    log.info("using the job's Redis at %s", self.job.redis)
  else
    log.warn("the job's Redis at %s does not answer PING (%s); starting the job anyway",
             self.job.redis, err)
  end
end

function Run:run()
  if self.job.redis then
    self:check_redis()
  elseif not self:start_redis() then
    self:stop(EXIT_FAILED)
  end
  if not self.stopping then
    for n, inst in ipairs(self.instances) do
      self:start(inst, COLORS[(n - 1) % #COLORS + 1])
      if self.stopping then break end
    end
  end
  self:loop()
  self:stop_redis()
  log.info("the job has ended with status %d", self.status)
  return self.status
end

local function print_plan(job)
  io.stdout:write(string.format("group %s, redis %s, grace %g s\n", job.group,
                                job.redis or "private", job.grace))
  for _, comp in ipairs(job.components) do
    local r = comp.restart
    local policy = r.policy == "never" and "never"
      or string.format("on-failure, max %d restarts, backoff %g s (max %g s)", r.max_restarts,
                       r.backoff, r.max_backoff)
    local args = #comp.args > 0 and " " .. table.concat(comp.args, " ") or ""
    io.stdout:write(string.format("%s x%d%s: %s%s; restart %s\n", comp.type, comp.count,
                                  comp.main and " (main)" or "", comp.script, args, policy))
  end
end

--- Runs `marohost launch` with the words after "launch"; returns the exit
-- status.
function launch.main(args)
  log.name("launch")
  local opts, status = parse_args(args)
  if not opts then return status end
  local job, errors = jobfile.load(opts.job, opts.job_args)
  if not job then
    for _, e in ipairs(errors) do
      -- Lua's own messages (syntax errors, a missing file) already name it.
      if e:sub(1, #opts.job) ~= opts.job then e = opts.job .. ": " .. e end
      io.stderr:write("marohost launch: ", e, "\n")
    end
    io.stderr:write("marohost launch: nothing was started\n")
    return EXIT_USAGE
  end
  if opts.check then
    print_plan(job)
    return EXIT_OK
  end
  local exe, err = sys.self_exe()
  if not exe then
    log.error("%s", err)
    return EXIT_FAILED
  end
  local sup <close>, serr = sys.supervisor()
  if not sup then
    log.error("%s", serr)
    return EXIT_FAILED
  end
  local run = new_run(job, opts, sup, exe)
  -- Whatever goes wrong in here, the supervisor's __close kills what is left
  -- and the private Redis's directory is removed.
  local ok, result = xpcall(run.run, debug.traceback, run)
  if not ok then
    log.error("internal error, stopping everything: %s", tostring(result))
    sup:close()
    if run.redis then sys.rmdir(run.redis.dir) end
    return EXIT_FAILED
  end
  return result or EXIT_FAILED
end

return launch
