--- maro.launch: `marohost launch job.lua` runs every component of a job on
-- this machine, each instance as its own marohost process, with a private
-- Redis when the job names none; `--host NAME` runs only the instances that
-- the job file places on that host, and `--emit kubernetes` prints the job as
-- Kubernetes manifests instead. The job file, the restart policy, how a job
-- ends and its exit status are described in docs/launch.md; running on
-- several hosts and on Kubernetes in docs/deploy.md.
--
-- The process work (spawning, output, signals, reaping) is C in
-- maro.core.launch; this module decides what to start, restart and stop.
local core = require("maro.core")
local log = require("maro.log")
local jobfile = require("maro.launch.job")
local redis_address = require("maro.launch.redis_address")

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
  --check            check the job file, print where each instance runs and
                     what would start, start nothing
  --host NAME        run only the instances the job file places on host NAME
                     (its hosts table); they advertise that host's address
  --redis URL        the job's Redis ("host:port" or redis://[[user]:pw@]host
                     [:port][/db]) instead of the job file's
  --group-key PATH   the group key file (marohost keygen) instead of the job
                     file's group_key
  --emit kubernetes  print Kubernetes manifests for the whole job, start nothing
  --image IMAGE      with --emit: the container image (default marohost:latest)
  --log-level LEVEL  error, warn, info (default) or debug, for the launcher
                     and (through MARO_LOG_LEVEL) for the instances
  -h, --help         show this help
Options come before the job file; words after it go to the job file.

Every instance gets MARO_GROUP, MARO_COMPONENT_TYPE, MARO_COMPONENT_NAME
(e.g. worker.3), MARO_COMPONENT_INDEX, MARO_REDIS, MARO_INCARNATION (new for
every start) and MARO_GROUP_KEY_FILE in its environment; with --host also
MARO_ADVERTISED_ADDRESS. A restart gets MARO_TAKE_OVER_FROM, the incarnation
of the run it replaces, so that it takes over that run's name and no other.
A job run without --host that names no group key gets a new one, removed at
the end. Ctrl-C or SIGTERM stops the job: SIGTERM to every instance, then
SIGKILL after the job's grace period, then the private Redis.

Exit status: 0 when every main instance exited 0; 1 when an instance failed
for good (or the job could not start); 2 for a usage or job file error;
130 after SIGINT, 143 after SIGTERM.
]]

local function usage_error(fmt, ...)
  io.stderr:write("marohost launch: ", string.format(fmt, ...), "\n",
                  "usage: marohost launch [options] job.lua [args...]  (--help for more)\n")
  return EXIT_USAGE
end

-- Options that take a value: the field of opts and what the value is.
local VALUE_OPTIONS = {
  ["--host"] = { key = "host", what = "a host name of the job file" },
  ["--redis"] = { key = "redis", what = "host:port or a redis:// URL" },
  ["--group-key"] = { key = "group_key", what = "the path of a group key file" },
  ["--emit"] = { key = "emit", what = "kubernetes" },
  ["--image"] = { key = "image", what = "a container image" },
}

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
    elseif VALUE_OPTIONS[a] then
      local v = args[i + 1]
      if not v or v == "" then
        return nil, usage_error("'%s' needs an argument (%s)", a, VALUE_OPTIONS[a].what)
      end
      opts[VALUE_OPTIONS[a].key] = v
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
  if opts.emit and opts.emit ~= "kubernetes" then
    return nil, usage_error("'--emit %s': the only format is 'kubernetes'", opts.emit)
  end
  if opts.image and not opts.emit then
    return nil, usage_error("'--image' goes with '--emit kubernetes'")
  end
  if opts.emit and (opts.host or opts.check) then
    return nil, usage_error("'--emit' writes the whole job: it does not go with '%s'",
                            opts.host and "--host" or "--check")
  end
  if opts.host and not opts.host:match("^[%a_][%w_%-]*$") then
    return nil, usage_error("'--host %s': a host name is letters, digits, _ and -", opts.host)
  end
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

-- The instances this run starts: those placed on opts.host, or all.
local function instances_here(job, host)
  local here = {}
  for _, inst in ipairs(job.instances) do
    if not host or inst.host == host then here[#here + 1] = inst end
  end
  return here
end

-- Which of them end the run when they have finished: those of main
-- components; when none of those runs here (a --host run of workers), all.
local function mark_main(here)
  local any = false
  for _, inst in ipairs(here) do any = any or inst.comp.main end
  for _, inst in ipairs(here) do inst.main = inst.comp.main or not any end
end

local function new_run(job, opts, sup, exe)
  local self = setmetatable({
    job = job, opts = opts, sup = sup, exe = exe,
    instances = {}, by_pid = {},
    stopping = false, status = nil, kill_at = nil,
  }, Run)
  local width = 0
  for _, placed in ipairs(instances_here(job, opts.host)) do
    width = math.max(width, #placed.name)
    self.instances[#self.instances + 1] = {
      name = placed.name, comp = placed.comp, index = placed.index, host = placed.host,
      restarts = 0, state = "new",
    }
  end
  mark_main(self.instances)
  if not job.redis then width = math.max(width, #"redis") end
  self.width = width
  return self
end

-- 16 lowercase hex digits, new for every start of an instance.
local function new_incarnation()
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(8)
  f:close()
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
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

-- The Redis address and the group key reach an instance only through its
-- environment: a command line is visible to every user of the machine.
function Run:instance_env(inst)
  local env = {}
  for k, v in pairs(inst.comp.env) do env[k] = v end
  env.MARO_GROUP = self.job.group
  env.MARO_COMPONENT_TYPE = inst.comp.type
  env.MARO_COMPONENT_NAME = inst.name
  env.MARO_COMPONENT_INDEX = tostring(inst.index)
  env.MARO_REDIS = self.job.redis or self.redis.address
  env.MARO_GROUP_KEY_FILE = self.group_key or false
  -- Without --host, everything runs here: what the launcher's own
  -- environment says (if anything) holds for its instances.
  local host = inst.host and self.job.hosts[inst.host]
  env.MARO_ADVERTISED_ADDRESS = self.opts.host and host and host.address or nil
  if self.opts.log_level and not inst.comp.env.MARO_LOG_LEVEL then
    env.MARO_LOG_LEVEL = self.opts.log_level
  end
  env.MARO_INCARNATION = inst.incarnation
  -- The launcher has reaped the previous run, which it started itself: its
  -- registration is stale, and the restart may take over that one (and only
  -- that one) at once instead of waiting for it to expire. A name that a
  -- member this launcher did not start holds is never taken.
  env.MARO_TAKE_OVER_FROM = inst.previous_incarnation or false
  return env
end

-- The same argv and environment every time (but the incarnations): a
-- restarted instance is the same member of the group as before.
function Run:start(inst, color)
  local argv = { self.exe, inst.comp.script }
  table.move(inst.comp.args, 1, #inst.comp.args, 3, argv)
  inst.color = inst.color or color
  inst.previous_incarnation = inst.incarnation
  inst.incarnation = new_incarnation()
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
    log.info("started %s (pid %d): %s%s", inst.name, pid, inst.comp.script,
             self.opts.host and string.format(" on host %s", inst.host) or "")
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
    if inst.main and inst.state ~= "done" then return false end
  end
  return true
end

-- What its proxy says when the name is held by another live member (the
-- proxy's wording, old and new).
local function name_taken(ev)
  local line = ev.last_err
  return line and (line:find("already used by a live member", 1, true)
                   or line:find("name '[^']*' is taken") or line:find("name is taken", 1, true))
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
  if name_taken(ev) then
    log.error("%s could not join group '%s': its name is held by a live member that this "
              .. "launcher did not start (another launcher of this job, or a process of an "
              .. "earlier run); that member keeps it", inst.name, self.job.group)
  end
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

-- A Redis of the job's own is only checked: the job may still start before
-- it, and the instances retry.
function Run:check_redis()
  local a = self.job.redis_info
  local ok, err = sys.redis_ping(a.host, a.port, 1, a.password, a.user)
  if ok then
    log.info("using the job's Redis at %s", redis_address.mask(a))
  else
    log.warn("the job's Redis at %s does not answer PING (%s); starting the job anyway",
             redis_address.mask(a), err)
  end
end

-- The group key the instances get: the job's, or for a run of the whole job
-- here a new one in a private directory, removed at the end. Returns false
-- after logging why there is none.
function Run:make_group_key()
  if self.job.group_key then
    self.group_key = self.job.group_key
    log.info("group key: %s", self.group_key)
    return true
  end
  if self.opts.host then
    -- Each host's launcher would make a different one: a key must be shared.
    log.warn("the job names no group key: its group is open to anyone who reaches its Redis; "
             .. "make one with 'marohost keygen PATH', copy it to every host (mode 0600) and "
             .. "give it with group_key or --group-key")
    return true
  end
  local new = core.group_key_new
  if not new then
    log.error("this marohost cannot make group keys (maro.core.group_key_new is missing); "
              .. "give the job one with group_key or --group-key")
    return false
  end
  local dir, err = sys.mkdtemp("marohost-key")
  if not dir then
    log.error("cannot make a group key for the job: %s", err)
    return false
  end
  self.key_dir = dir
  local path = dir .. "/group.key"
  local ok, werr = sys.write_private(path, new())
  if not ok then
    log.error("cannot make a group key for the job: %s", werr)
    return false
  end
  self.group_key = path
  log.info("a new group key for this run: %s (removed at the end)", path)
  return true
end

function Run:remove_group_key()
  if not self.key_dir then return end
  local ok, err = sys.rmdir(self.key_dir)
  if not ok then log.warn("%s", err) end
  self.key_dir = nil
end

function Run:run()
  if #self.instances == 0 then
    log.warn("the job places no instance on host %s; nothing to run", self.opts.host)
    return EXIT_OK
  end
  if not self:make_group_key() then
    self:stop(EXIT_FAILED)
  elseif self.job.redis then
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
  self:remove_group_key()
  log.info("the job has ended with status %d", self.status)
  return self.status
end

local function names_of(list)
  local names = {}
  for _, inst in ipairs(list) do names[#names + 1] = inst.name end
  return #names > 0 and table.concat(names, ", ") or "nothing"
end

local function print_plan(job, opts)
  local out = io.stdout
  out:write(string.format("group %s, redis %s, grace %g s\n", job.group,
                          job.redis_info and redis_address.mask(job.redis_info) or "private",
                          job.grace))
  out:write("group key: ", job.group_key
            or (opts.host and "none (the group is open)" or "new for each run"), "\n")
  for _, comp in ipairs(job.components) do
    local r = comp.restart
    local policy = r.policy == "never" and "never"
      or string.format("on-failure, max %d restarts, backoff %g s (max %g s)", r.max_restarts,
                       r.backoff, r.max_backoff)
    local args = #comp.args > 0 and " " .. table.concat(comp.args, " ") or ""
    local hosts = comp.hosts and "; on " .. table.concat(comp.hosts, ", ") or ""
    out:write(string.format("%s x%d%s: %s%s; restart %s%s\n", comp.type, comp.count,
                            comp.main and " (main)" or "", comp.script, args, policy, hosts))
  end
  if job.hosts then
    for _, name in ipairs(job.hosts.names) do
      local h = job.hosts[name]
      out:write(string.format("host %s (%s): %s\n", name,
                              h.address or "address: the route to Redis",
                              names_of(instances_here(job, name))))
    end
  end
  local here = instances_here(job, opts.host)
  mark_main(here)
  local main = {}
  for _, inst in ipairs(here) do
    if inst.main then main[#main + 1] = inst end
  end
  out:write(string.format("this run%s starts %s; it ends when %s %s ended\n",
                          opts.host and " (--host " .. opts.host .. ")" or "", names_of(here),
                          names_of(main), #main == 1 and "has" or "have"))
end

-- The checks that concern this run rather than the job file.
local function check_run(job, opts)
  if opts.host then
    if not job.hosts then
      return string.format("--host %s: the job names no hosts (add hosts = {%s = {address = "
                           .. "...}, ...}, or run it without --host)", opts.host, opts.host)
    end
    if not job.hosts[opts.host] then
      return string.format("--host %s: the job has no host '%s' (its hosts: %s)", opts.host,
                           opts.host, table.concat(job.hosts.names, ", "))
    end
    if not job.redis then
      return string.format("--host %s: a job run on several hosts needs a Redis that every "
                           .. "host reaches: give redis = ... in the job file, or --redis URL",
                           opts.host)
    end
  end
  return nil
end

--- Runs `marohost launch` with the words after "launch"; returns the exit
-- status.
function launch.main(args)
  log.name("launch")
  local opts, status = parse_args(args)
  if not opts then return status end
  local job, errors = jobfile.load(opts.job, opts.job_args,
                                   { redis = opts.redis, group_key = opts.group_key })
  if job then
    local err = check_run(job, opts)
    if err then errors, job = { err }, nil end
  end
  if not job then
    for _, e in ipairs(errors) do
      -- Lua's own messages (syntax errors, a missing file) already name it;
      -- so do the messages about options.
      if e:sub(1, #opts.job) ~= opts.job and e:sub(1, 2) ~= "--" then e = opts.job .. ": " .. e end
      io.stderr:write("marohost launch: ", e, "\n")
    end
    io.stderr:write("marohost launch: nothing was started\n")
    return EXIT_USAGE
  end
  if opts.check then
    print_plan(job, opts)
    return EXIT_OK
  end
  if opts.emit then
    local text, err = require("maro.launch.kubernetes").manifests(job, { image = opts.image })
    if not text then
      io.stderr:write("marohost launch: ", err, "\n")
      return EXIT_FAILED
    end
    io.stdout:write(text)
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
  -- and the private Redis's and the group key's directories are removed.
  local ok, result = xpcall(run.run, debug.traceback, run)
  if not ok then
    log.error("internal error, stopping everything: %s", tostring(result))
    sup:close()
    if run.redis then sys.rmdir(run.redis.dir) end
    if run.key_dir then sys.rmdir(run.key_dir) end
    return EXIT_FAILED
  end
  return result or EXIT_FAILED
end

return launch
