--- spec/support/netns.lua: hosts of their own for integration specs, as
-- Linux network namespaces on one bridge. Each host is a namespace with one
-- veth link to a switch namespace that holds the bridge; addresses exist
-- only inside those namespaces (10.231.0.0/24 by default), so nothing is
-- added to this machine's own network, and nothing outside it is reached.
--
--   local netns = dofile(".../support/netns.lua")
--   local ok, why = netns.available()        -- root and ip(8), or why not
--   local net = netns.network{ "r", "a", "b" }
--   net.address.a                            -- "10.231.0.2"
--   local p = net:spawn("a", { "marohost", "launch", ... }, { VAR = "x" })
--   net:cut("a"); net:restore("a")           -- a's link down and up
--   net:teardown()                           -- processes, links, namespaces
--
-- Namespaces are named mhs<pid>-<n><host>, after the process that made
-- them: network() first removes those of earlier processes that are gone
-- (a spec run that was killed before its teardown).
local procs = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "procs.lua")
local quote = procs.quote

local M = {}

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok == true, out
end

-- Runs a command that must succeed; raises with its output otherwise.
local function must(cmd)
  local ok, out = sh(cmd)
  if not ok then error("netns: `" .. cmd .. "` failed: " .. out, 3) end
  return out
end

-- The namespaces that exist now, as a set.
local function namespaces()
  local _, list = sh("ip netns list")
  local set = {}
  for line in list:gmatch("[^\n]+") do set[line:match("^(%S+)")] = true end
  return set
end

local function my_pid()
  return io.open("/proc/self/stat"):read("n")
end

--- true when namespaces can be made here; else false and why not.
function M.available()
  local ok, out = sh("id -u")
  if not ok or out:match("%d+") ~= "0" then
    return false, "network namespaces need root (id -u is " .. (out:match("%d+") or "?") .. ")"
  end
  if not sh("command -v ip") then return false, "ip(8) is not installed (Debian: iproute2)" end
  local probe = string.format("mhs%d-probe", my_pid())
  local made, why = sh("ip netns add " .. probe)
  if not made then return false, "ip netns add fails here: " .. why:gsub("%s+$", "") end
  local bridge, bwhy = sh("ip -n " .. probe .. " link add br0 type bridge")
  sh("ip netns del " .. probe)
  if not bridge then return false, "cannot make a bridge here: " .. bwhy:gsub("%s+$", "") end
  return true
end

-- Namespaces left by spec processes that are gone.
local function remove_stale()
  for name in pairs(namespaces()) do
    local pid = tonumber(name:match("^mhs(%d+)%-"))
    if pid and not io.open("/proc/" .. pid .. "/stat") then
      local _, pids = sh("ip netns pids " .. name)
      for p in pids:gmatch("%d+") do sh("kill -KILL " .. p) end
      sh("ip netns del " .. name)
    end
  end
end

local Net = {}
Net.__index = Net

local serial = 0

--- Makes one namespace per host name (a list), all on one bridge, with
-- addresses PREFIX.2, PREFIX.3, ... in the order given (opts.prefix,
-- default "10.231.0"; the first host gets .1).
function M.network(hosts, opts)
  opts = opts or {}
  remove_stale()
  serial = serial + 1
  local tag = string.format("mhs%d-%d", my_pid(), serial)
  local self = setmetatable({ tag = tag, switch = tag .. "sw", ns = {}, address = {},
                              port = {}, procs = {}, made = {} }, Net)
  local ok, err = pcall(function()
    must("ip netns add " .. self.switch)
    self.made[#self.made + 1] = self.switch
    must("ip -n " .. self.switch .. " link add br0 type bridge")
    must("ip -n " .. self.switch .. " link set br0 up")
    for i, h in ipairs(hosts) do
      assert(h:match("^%w+$") and #h <= 8, "netns: host names are short words")
      local ns = tag .. h
      local port = "v" .. h -- the switch's side of h's link
      must("ip netns add " .. ns)
      self.made[#self.made + 1] = ns
      self.ns[h], self.port[h] = ns, port
      self.address[h] = (opts.prefix or "10.231.0") .. "." .. i
      must(string.format("ip link add eth0 netns %s type veth peer name %s netns %s", ns, port,
                         self.switch))
      must(string.format("ip -n %s link set %s master br0 up", self.switch, port))
      must(string.format("ip -n %s addr add %s/24 dev eth0", ns, self.address[h]))
      must(string.format("ip -n %s link set eth0 up", ns))
      must(string.format("ip -n %s link set lo up", ns))
    end
  end)
  if not ok then
    self:teardown()
    error(err, 2)
  end
  return self
end

--- The command prefix that runs a command on host h.
function Net:exec(h)
  return "ip netns exec " .. assert(self.ns[h], "netns: no host " .. tostring(h))
end

--- Runs a shell command on host h; returns true/false and its output.
function Net:sh(h, cmd)
  return sh(self:exec(h) .. " sh -c " .. quote(cmd))
end

--- Starts argv on host h in the background with extra environment
-- variables; its stdout and stderr go to files. Returns a handle with pid,
-- status(), running(), stdout(), stderr(), kill(sig), wait(timeout).
function Net:spawn(h, argv, env)
  local dir = procs.tmpdir()
  local p = { host = h, dir = dir, out = dir .. "/out", err = dir .. "/err",
              status_file = dir .. "/status", name = table.concat(argv, " ") }
  local parts = { self:exec(h), "env", "--default-signal=INT" }
  for k, v in pairs(env or {}) do parts[#parts + 1] = quote(k .. "=" .. tostring(v)) end
  for _, a in ipairs(argv) do parts[#parts + 1] = quote(a) end
  os.execute(string.format(
    "( %s >%s 2>%s </dev/null & echo $! >%s/pid.tmp; mv %s/pid.tmp %s/pid; wait $!; "
      .. "echo $? >%s.tmp; mv %s.tmp %s ) >/dev/null 2>&1 &",
    table.concat(parts, " "), quote(p.out), quote(p.err), quote(dir), quote(dir), quote(dir),
    quote(p.status_file), quote(p.status_file), quote(p.status_file)))
  p.pid = procs.wait_until(function()
    local s = procs.read_file(dir .. "/pid")
    return s and tonumber(s:match("%d+"))
  end, 10, "the process of " .. p.name .. " to start")
  function p.status()
    local s = procs.read_file(p.status_file)
    return s and tonumber(s:match("%d+"))
  end
  function p.running() return p.status() == nil end
  function p.stdout() return procs.read_file(p.out) or "" end
  function p.stderr() return procs.read_file(p.err) or "" end
  function p.kill(sig) os.execute("kill -" .. (sig or "TERM") .. " " .. p.pid .. " 2>/dev/null") end
  function p.report()
    return string.format("%s on %s: status %s\n-- stdout:\n%s\n-- stderr:\n%s", p.name, h,
                         tostring(p.status()), p.stdout(), p.stderr())
  end
  function p.wait(timeout)
    local ok = pcall(procs.wait_until, p.status, timeout)
    if not ok then error("timed out waiting for the end of " .. p.report(), 2) end
    return p.status()
  end
  self.procs[#self.procs + 1] = p
  return p
end

--- Takes host h's link down (on the switch's side: h sees no carrier).
function Net:cut(h)
  must(string.format("ip -n %s link set %s down", self.switch, self.port[h]))
end

function Net:restore(h)
  must(string.format("ip -n %s link set %s up", self.switch, self.port[h]))
end

--- Ends every process of the network (those it spawned, then anything
-- else left in its namespaces) and removes the namespaces, with their links
-- and the bridge. Safe to call twice and after a failed network().
function Net:teardown()
  for _, p in ipairs(self.procs) do
    if p.running() then p.kill("KILL") end
  end
  for _, ns in ipairs(self.made) do
    local _, pids = sh("ip netns pids " .. ns)
    for pid in pids:gmatch("%d+") do sh("kill -KILL " .. pid) end
  end
  for _, p in ipairs(self.procs) do
    pcall(procs.wait_until, function() return not p.running() end, 5)
  end
  for i = #self.made, 1, -1 do
    local ns = self.made[i]
    -- A process that is still exiting keeps the namespace busy a moment.
    pcall(procs.wait_until, function()
      sh("ip netns del " .. ns)
      return not namespaces()[ns]
    end, 5, "namespace " .. ns .. " to go")
  end
  self.made, self.procs = {}, {}
end

--- The namespaces of this process that still exist (for checks after a
-- teardown).
function M.leftovers()
  local left, prefix = {}, "mhs" .. my_pid() .. "-"
  for name in pairs(namespaces()) do
    if name:sub(1, #prefix) == prefix then left[#left + 1] = name end
  end
  table.sort(left)
  return left
end

return M
