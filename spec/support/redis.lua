--- spec/support/redis.lua: a private redis-server on a free loopback port,
-- with persistence off, for one spec file.
local procs = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "procs.lua")

local M = {}

local Redis = {}
Redis.__index = Redis

local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local out = p:read("a")
  p:close()
  return out
end

--- Runs redis-cli against this server; returns its output.
function Redis:cli(...)
  local parts = { "redis-cli", "-h", "127.0.0.1", "-p", tostring(self.port), "--raw" }
  for _, a in ipairs({ ... }) do
    parts[#parts + 1] = procs.quote(a)
  end
  return sh(table.concat(parts, " "))
end

--- The member keys of a group (the live registrations).
function Redis:members(group)
  local names = {}
  for line in self:cli("keys", "maro:" .. group .. ":member:*"):gmatch("[^\n]+") do
    names[#names + 1] = line:match(":member:(.*)$")
  end
  table.sort(names)
  return names
end

function Redis:stop()
  if self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    procs.wait_until(function()
      return os.execute("kill -0 " .. self.pid .. " 2>/dev/null") ~= true
    end, 10, "redis-server to stop")
    self.pid = nil
  end
end

--- Faults: SIGKILL (no goodbye, nothing saved), a restart on the same port
-- with no data, and a freeze (SIGSTOP) and thaw (SIGCONT).
function Redis:kill()
  if self.pid then
    os.execute("kill -KILL " .. self.pid .. " 2>/dev/null")
    procs.wait_until(function()
      return os.execute("kill -0 " .. self.pid .. " 2>/dev/null") ~= true
    end, 10, "redis-server to die")
    self.pid = nil
  end
end

function Redis:restart_empty()
  self:kill()
  local fresh = M.start(self.port)
  self.pid = fresh.pid
end

function Redis:freeze()
  os.execute("kill -STOP " .. self.pid)
end

function Redis:thaw()
  os.execute("kill -CONT " .. self.pid)
end

--- Registers a member by hand, as a peer in another language would (docs/protocol.md):
-- its registration for a minute, and its place in its type's index. incarnation: 16 hex
-- digits; extra: more lines (a CURVE key, say).
function Redis:register(group, name, type, address, incarnation, extra)
  local text = table.concat({ "maro 2", "type " .. type, "address " .. address,
    "incarnation " .. incarnation, "started 0", "stats sent=0 received=0 buffered=0 dropped=0",
    extra }, "\n") .. "\n"
  self:cli("set", "maro:" .. group .. ":member:" .. name, text, "px", "60000")
  self:cli("zadd", "maro:" .. group .. ":type:" .. type, tostring(1e15), name)
end

--- Every key of a group.
function Redis:keys(group)
  local keys = {}
  for line in self:cli("keys", "maro:" .. group .. ":*"):gmatch("[^\n]+") do
    keys[#keys + 1] = line
  end
  table.sort(keys)
  return keys
end

local function port_is_free(port)
  -- (another service there makes redis-server exit, and start() tries again)
  return not sh("redis-cli -h 127.0.0.1 -p " .. port .. " ping"):match("PONG")
end
M.port_is_free = port_is_free

--- A free loopback port (nothing listens there right now).
function M.free_port()
  local seed = tonumber(require("maro.core").uuid():sub(1, 8), 16)
  for i = 0, 50 do
    local port = 20000 + (seed + i * 7919) % 40000
    if port_is_free(port) then
      return port
    end
  end
  error("no free port found")
end

--- Starts redis-server on a free port (or on the given one).
function M.start(fixed_port)
  for _ = 1, fixed_port and 50 or 5 do -- a fixed port may take a moment to be free again
    local port = fixed_port or M.free_port()
    local dir = procs.tmpdir()
    local cmd = string.format(
      "redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no --dir %s "
        .. "--daemonize no >%s/log 2>&1 & echo $!", port, procs.quote(dir), procs.quote(dir))
    local pid = tonumber(sh(cmd):match("%d+"))
    local self = setmetatable({ port = port, pid = pid, address = "127.0.0.1:" .. port }, Redis)
    local ok = pcall(procs.wait_until, function()
      if self:cli("ping"):match("PONG") then
        return true
      end
      if os.execute("kill -0 " .. pid .. " 2>/dev/null") ~= true then
        error("exited", 0)
      end
    end, 10, "redis-server to answer")
    if ok then
      return self
    end
    os.execute("kill " .. pid .. " 2>/dev/null")
  end
  error("cannot start redis-server")
end

--- For a describe block: starts a private Redis before its tests, and after
-- them ends every process spawned through procs and stops the server. The
-- block's setup and teardown are passed in: busted gives them to spec files,
-- not to the files those load. Returns a handle whose fields and methods
-- reach the running server.
function M.for_block(setup, teardown, procs)
  local server
  setup(function()
    server = M.start()
  end)
  teardown(function()
    procs.cleanup()
    if server then
      server:stop()
    end
  end)
  return setmetatable({}, {
    __index = function(_, key)
      local value = assert(server, "the private Redis is not running")[key]
      if type(value) == "function" then
        return function(_, ...)
          return value(server, ...)
        end
      end
      return value
    end,
  })
end

return M
