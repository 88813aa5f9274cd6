--- maro.launch.redis_server: the job's Redis while a run lasts. A job that
-- names none gets a private redis-server on 127.0.0.1 and a free port,
-- started before its instances and stopped after them (docs/launch.md,
-- "The private Redis"); a Redis of the job's own is only checked.
local core = require("maro.core")
local log = require("maro.log")
local status = require("maro.launch.status")
local redis_address = require("maro.launch.redis_address")

local sys = core.launch

local redis_server = {}

local START_TIMEOUT = 5 -- seconds for a private Redis to answer PING
local STOP_TIMEOUT = 5  -- seconds between SIGTERM and SIGKILL for it
local PORT_TRIES = 3    -- another process may take the free port first
local COLOR = 90        -- of its output lines' prefix

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

--- A Redis of the job's own is only checked: the job may still start before
-- it, and the instances retry. a is the parsed address (job.redis_info).
function redis_server.check(a)
  local ok, err = sys.redis_ping(a.host, a.port, 1, a.password, a.user)
  if ok then
    log.info("using the job's Redis at %s", redis_address.mask(a))
  else
    log.warn("the job's Redis at %s does not answer PING (%s); starting the job anyway",
             redis_address.mask(a), err)
  end
end

-- A private Redis: pid (while it runs), port, address (once it answers),
-- dir (its temporary directory, until stopped).
local Server = {}
Server.__index = Server

-- Spawns it on a free port and waits until it answers PING. Returns true;
-- or false after logging why, with the signal that came meanwhile if one
-- did. What was made is in self either way, for stop().
function Server:start_on_free_ports()
  for _ = 1, PORT_TRIES do
    local port, perr = sys.free_port()
    if not port then
      log.error("cannot start the private Redis: %s", perr)
      return false
    end
    local dir = self.dir
    local pid, serr = self.sup:spawn{
      path = self.path,
      argv = { self.program, "--port", tostring(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning",
               -- Its log stays out of the job's output unless it fails.
               "--logfile", dir .. "/redis.log" },
      prefix = self.prefix, color = COLOR,
      -- Its own process group: a terminal's Ctrl-C must not stop it before
      -- the instances that use it have stopped.
      own_group = true, death_signal = "TERM",
    }
    if not pid then
      log.error("cannot start the private Redis: %s", serr)
      return false
    end
    self.pid, self.port = pid, port
    local deadline = core.now() + START_TIMEOUT
    local exited, last = false, nil
    while core.now() < deadline do
      for _, ev in ipairs(self.sup:wait(0.05)) do
        if ev.kind == "signal" then
          return false, ev.signal
        elseif ev.pid == pid then
          exited = status.describe(ev)
          self.pid = nil
        end
      end
      if exited then break end
      local ok, perr2 = sys.redis_ping("127.0.0.1", port, 0.2)
      if ok then
        self.address = "127.0.0.1:" .. port
        log.info("private Redis at %s (pid %d, dir %s)", self.address, pid, dir)
        return true
      end
      last = perr2
    end
    if not exited then
      log.error("the private Redis (pid %d) did not answer on 127.0.0.1:%d within %d s (%s)%s",
                pid, port, START_TIMEOUT, tostring(last), log_tail(dir .. "/redis.log"))
      return false
    end
    log.warn("the private Redis %s on port %d%s; trying another port", exited, port,
             log_tail(dir .. "/redis.log"))
  end
  log.error("cannot start the private Redis: it exited %d times", PORT_TRIES)
  return false
end

--- Starts a private Redis under sup, its output lines behind prefix.
-- Returns the server and true once it answers; or the server (nil when
-- nothing was made), false and the signal that came meanwhile if one did,
-- after logging why. A server returned must be stopped either way.
function redis_server.start(sup, prefix)
  local program = os.getenv("MARO_REDIS_SERVER") or "redis-server"
  local path = find_program(program)
  if not path then
    log.error("cannot find %s on PATH: install Redis (redis-server) or give the job a redis "
              .. "address", program)
    return nil, false
  end
  local dir, err = sys.mkdtemp("marohost-redis")
  if not dir then
    log.error("cannot start the private Redis: %s", err)
    return nil, false
  end
  local self = setmetatable({ sup = sup, prefix = prefix, program = program, path = path,
                              dir = dir }, Server)
  return self, self:start_on_free_ports()
end

--- Notes that it has exited (an exit event for self.pid); returns how, with
-- the end of its log, for a message.
function Server:exited(ev)
  self.pid = nil
  return status.describe(ev) .. log_tail(self.dir .. "/redis.log")
end

--- SIGTERM, a grace period, SIGKILL; then the temporary directory goes. A
-- signal to the launcher meanwhile kills it at once.
function Server:stop()
  if self.pid then
    self.sup:kill(self.pid, "TERM")
    local deadline = core.now() + STOP_TIMEOUT
    while self.pid do
      local left = deadline - core.now()
      if left <= 0 then
        log.warn("the private Redis (pid %d) did not stop within %d s; killing it", self.pid,
                 STOP_TIMEOUT)
        self.sup:kill(self.pid, "KILL")
        deadline = math.huge
        left = nil
      end
      for _, ev in ipairs(self.sup:wait(left)) do
        if ev.kind == "exit" and ev.pid == self.pid then
          self.pid = nil
        elseif ev.kind == "signal" and self.pid and deadline < math.huge then
          -- Stopping already; another signal means at once.
          log.warn("the private Redis (pid %d) is still running after a second SIG%s; killing it",
                   self.pid, ev.signal)
          self.sup:kill(self.pid, "KILL")
          deadline = math.huge
        end
      end
    end
  end
  log.debug("the private Redis has stopped")
  self:remove_dir()
end

--- Removes its temporary directory (after it has stopped, or when the
-- supervisor has killed everything).
function Server:remove_dir()
  if not self.dir then return end
  local ok, err = sys.rmdir(self.dir)
  if not ok then log.warn("%s", err) end
  self.dir = nil
end

return redis_server
