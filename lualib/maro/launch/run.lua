--- maro.launch.run: one run of a job on this machine. It gets the group key
-- and the job's Redis ready, starts this run's instances, restarts those
-- that fail by their restart policy, and stops everything when the job ends
-- (docs/launch.md: "The restart policy", "How a job ends").
--
-- The process work (spawning, output lines, signals, reaping) is C, in the
-- supervisor of maro.core.launch; this module decides what to start,
-- restart and stop.
local core = require("maro.core")
local log = require("maro.log")
local status = require("maro.launch.status")
local plan = require("maro.launch.plan")
local group_key = require("maro.launch.group_key")
local redis_server = require("maro.launch.redis_server")

local run = {}

-- Foreground colours for the name prefixes, one per instance in turn.
local COLORS = { 36, 33, 32, 35, 34, 91, 96, 93, 92, 95, 94 }

-- The run: its instances, the private Redis, the group key and the timers.
-- An instance's state is "new", "running", "waiting" (for a restart),
-- "done" (exited 0), "failed" (for good) or "stopped" (by the launcher).
local Run = {}
Run.__index = Run

--- A run of job with the options of the command line, under the
-- supervisor sup, starting instances with the marohost executable exe.
function run.new(job, opts, sup, exe)
  local self = setmetatable({
    job = job, opts = opts, sup = sup, exe = exe,
    instances = {}, by_pid = {},
    stopping = false, status = nil, kill_at = nil,
  }, Run)
  local width = 0
  for _, placed in ipairs(plan.instances_here(job, opts.host)) do
    width = math.max(width, #placed.name)
    self.instances[#self.instances + 1] = {
      name = placed.name, comp = placed.comp, index = placed.index, host = placed.host,
      restarts = 0, state = "new",
    }
  end
  plan.mark_main(self.instances)
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
  local server, ok, signal = redis_server.start(self.sup, self:prefix("redis"))
  self.redis = server
  if server and server.pid then self.by_pid[server.pid] = server end
  if signal then self:on_signal(signal) end
  return ok
end

function Run:stop_redis()
  if not self.redis then return end
  self.redis:stop()
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
  env.MARO_GROUP_KEY_FILE = self.group_key.path or false
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
    self:stop(status.FAILED)
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

-- Begins stopping everything; code is the job's exit status.
function Run:stop(code)
  if self.stopping then return end
  self.stopping = true
  self.status = self.status or code
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
    self:stop(status.BY_SIGNAL[sig] or status.FAILED)
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

-- An instance has failed: restart it after its backoff, or, when its policy
-- allows no more restarts, stop the job.
function Run:on_failure(inst, ev)
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
    log.warn("%s %s; restarting it in %.3g s (restart %d of %d)", inst.name,
             status.describe(ev), delay, inst.restarts, policy.max_restarts)
    return
  end
  inst.state = "failed"
  if policy.policy == "on-failure" then
    log.error("%s %s and has used all its %d restarts; stopping the job", inst.name,
              status.describe(ev), policy.max_restarts)
  else
    log.error("%s %s (its restart policy is \"never\"); stopping the job", inst.name,
              status.describe(ev))
  end
  self:stop(status.FAILED)
end

function Run:on_exit(inst, ev)
  self.by_pid[ev.pid] = nil
  inst.pid = nil
  if self.stopping then
    inst.state = "stopped"
    log.debug("%s %s", inst.name, status.describe(ev))
    return
  end
  if status.failed(ev) then
    self:on_failure(inst, ev)
    return
  end
  inst.state = "done"
  log.info("%s %s", inst.name, status.describe(ev))
  if self:main_done() then
    log.info("every main instance has finished; stopping the job")
    self:stop(status.OK)
  end
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
          local how = self.redis:exited(ev)
          if not self.stopping then
            log.error("the private Redis %s; stopping the job", how)
            self:stop(status.FAILED)
          end
        elseif who then
          self:on_exit(who, ev)
        end
      end
    end
    self:fire_timers(core.now())
  end
end

--- Runs the job to its end; returns the exit status.
function Run:run()
  if #self.instances == 0 then
    log.warn("the job places no instance on host %s; nothing to run", self.opts.host)
    return status.OK
  end
  self.group_key = group_key.provide(self.job, self.opts.host)
  if not self.group_key then
    self:stop(status.FAILED)
  elseif self.job.redis then
    redis_server.check(self.job.redis_info)
  elseif not self:start_redis() then
    self:stop(status.FAILED)
  end
  if not self.stopping then
    for n, inst in ipairs(self.instances) do
      self:start(inst, COLORS[(n - 1) % #COLORS + 1])
      if self.stopping then break end
    end
  end
  self:loop()
  self:stop_redis()
  group_key.remove(self.group_key)
  log.info("the job has ended with status %d", self.status)
  return self.status
end

--- After an internal error, once the supervisor has killed every process:
-- removes the temporary directories of the private Redis and the group key.
function Run:abandon()
  if self.redis and self.redis.dir then core.launch.rmdir(self.redis.dir) end
  if self.group_key and self.group_key.dir then core.launch.rmdir(self.group_key.dir) end
end

return run
