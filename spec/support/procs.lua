--- spec/support/procs.lua: runs marohost processes for integration specs,
-- each with its own output files, and collects their exit status within a
-- deadline. Waiting polls a condition until a deadline; it never sleeps in
-- place of a condition.
local M = {}

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

local function abspath(p)
  if p:sub(1, 1) == "/" then
    return p
  end
  local pwd = os.getenv("PWD") or io.popen("pwd"):read("l")
  return pwd .. "/" .. p
end

--- The marohost under test: $MAROHOST, else the interpreter running busted.
local function find_marohost()
  local env = os.getenv("MAROHOST")
  if env and env ~= "" then
    return abspath(env)
  end
  local i = -1
  while arg and arg[i - 1] do
    i = i - 1
  end
  local interp = arg and arg[i]
  if interp and interp:match("marohost$") then
    return abspath(interp)
  end
  return abspath("build/marohost")
end
M.MAROHOST = find_marohost()

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local s = f:read("a")
  f:close()
  return s
end
M.read_file = read_file

--- Sleeps a little; only between checks of a condition.
local function nap(seconds)
  os.execute("sleep " .. string.format("%.3f", seconds))
end

local function now()
  return require("maro.core").now()
end
M.now = now

--- Polls fn until it returns a true value (returned) or timeout seconds pass
-- (then raises an error naming what did not happen).
function M.wait_until(fn, timeout, what)
  local deadline = now() + timeout
  local pause = 0.01
  while true do
    local v = fn()
    if v then
      return v
    end
    if now() >= deadline then
      error("timed out after " .. timeout .. " s waiting for " .. (what or "a condition"), 2)
    end
    nap(pause)
    pause = math.min(pause * 2, 0.2)
  end
end

--- A scratch directory, removed by M.cleanup.
local dirs = {}
function M.tmpdir()
  local p = io.popen("mktemp -d /tmp/maro-spec.XXXXXX")
  local d = p:read("l")
  p:close()
  dirs[#dirs + 1] = d
  return d
end

local Proc = {}
Proc.__index = Proc

--- Starts `marohost script args...` in the background with extra
-- environment variables; returns a handle.
function M.spawn(script, args, env)
  local dir = M.tmpdir()
  local self = setmetatable({ dir = dir, out = dir .. "/out", err = dir .. "/err",
    status_file = dir .. "/status", pid_file = dir .. "/pid", script = script }, Proc)
  -- A shell starts background commands with SIGINT ignored; undo that, so
  -- that specs can send SIGINT as a terminal would.
  local parts = { "env", "--default-signal=INT" }
  for k, v in pairs(env or {}) do
    parts[#parts + 1] = quote(k .. "=" .. tostring(v))
  end
  parts[#parts + 1] = quote(M.MAROHOST)
  parts[#parts + 1] = quote(script)
  for _, a in ipairs(args or {}) do
    parts[#parts + 1] = quote(a)
  end
  -- The subshell records the pid, waits, and writes the status (128 + signal
  -- number for a process a signal ended) atomically.
  local cmd = string.format(
    "( %s >%s 2>%s </dev/null & echo $! >%s.tmp; mv %s.tmp %s; wait $!; echo $? >%s.tmp; "
      .. "mv %s.tmp %s ) >/dev/null 2>&1 &",
    table.concat(parts, " "), quote(self.out), quote(self.err), quote(self.pid_file),
    quote(self.pid_file), quote(self.pid_file), quote(self.status_file),
    quote(self.status_file), quote(self.status_file))
  os.execute(cmd)
  self.pid = M.wait_until(function()
    local s = read_file(self.pid_file)
    return s and tonumber(s:match("%d+"))
  end, 10, "the process of " .. script .. " to start")
  return self
end

function Proc:status()
  local s = read_file(self.status_file)
  return s and tonumber(s:match("%d+"))
end

--- Waits for the exit; returns the status (raises after timeout seconds).
function Proc:wait(timeout)
  local ok, status = pcall(M.wait_until, function() return self:status() end, timeout or 30)
  if not ok then
    error("timed out waiting for the exit of " .. self.script .. "\n" .. self:report(), 2)
  end
  return status
end

function Proc:stdout() return read_file(self.out) or "" end
function Proc:stderr() return read_file(self.err) or "" end

function Proc:kill(signal)
  os.execute("kill -" .. (signal or "TERM") .. " " .. self.pid .. " 2>/dev/null")
end

function Proc:running()
  return self:status() == nil
end

--- Waits until the process printed a line matching pattern on stdout.
function Proc:wait_output(pattern, timeout)
  return M.wait_until(function()
    local out = self:stdout()
    if out:match(pattern) then
      return out
    end
    if not self:running() then
      error("process " .. self.script .. " exited (" .. tostring(self:status())
        .. ") before printing " .. pattern .. "\n-- stdout:\n" .. out .. "\n-- stderr:\n"
        .. self:stderr(), 0)
    end
  end, timeout or 20, "output matching " .. pattern .. " from " .. self.script)
end

--- A summary for assertion messages.
function Proc:report()
  return "status " .. tostring(self:status()) .. "\n-- stdout:\n" .. self:stdout()
    .. "\n-- stderr:\n" .. self:stderr()
end

--- Ends what is still running and removes the scratch directories.
local spawned = {}
local spawn = M.spawn
function M.spawn(...)
  local p = spawn(...)
  spawned[#spawned + 1] = p
  return p
end

function M.cleanup()
  for _, p in ipairs(spawned) do
    if p:running() then
      p:kill("KILL")
    end
  end
  spawned = {}
  for _, d in ipairs(dirs) do
    os.execute("rm -rf " .. quote(d))
  end
  dirs = {}
end

return M
