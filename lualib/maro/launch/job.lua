--- maro.launch.job: reads a job file and checks every key before anything
-- starts, and places every instance on a host. The format is documented in
-- docs/launch.md.
local redis_address = require("maro.launch.redis_address")

local job = {}

local DEFAULT_GRACE = 5
local DEFAULT_MAX_RESTARTS = 3
local DEFAULT_BACKOFF = 1
local DEFAULT_MAX_BACKOFF = 30

local TOP_KEYS = { "group", "redis", "group_key", "grace", "hosts", "components" }
local COMPONENT_KEYS = { "script", "count", "args", "env", "main", "restart", "hosts" }
local HOST_KEYS = { "address" }
local RESTART_KEYS = { "policy", "max_restarts", "backoff", "max_backoff" }
local POLICIES = { never = true, ["on-failure"] = true }

-- Set by the launcher: a job must not change them.
local RESERVED_ENV = {
  MARO_GROUP = true, MARO_COMPONENT_TYPE = true, MARO_COMPONENT_NAME = true,
  MARO_COMPONENT_INDEX = true, MARO_REDIS = true, MARO_INCARNATION = true,
  MARO_TAKE_OVER_FROM = true, MARO_ADVERTISED_ADDRESS = true, MARO_GROUP_KEY_FILE = true,
}

local function describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return "a " .. type(v)
end

local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- A checker collects every problem, each under the key path it concerns,
-- so that one run shows them all.
local function new_checker()
  local c = { errors = {} }
  function c.add(path, fmt, ...)
    c.errors[#c.errors + 1] = path .. ": " .. string.format(fmt, ...)
  end
  function c.known(t, path, allowed)
    local set = {}
    for _, k in ipairs(allowed) do set[k] = true end
    for _, k in ipairs(sorted_keys(t)) do
      if not set[k] then
        local where = path == "" and tostring(k) or path .. "." .. tostring(k)
        local hint = ""
        if type(k) == "string" then
          for _, a in ipairs(allowed) do
            if distance(k, a) <= 2 then hint = "; did you mean '" .. a .. "'?" break end
          end
        end
        c.add(where, "unknown key%s (known keys: %s)", hint, table.concat(allowed, ", "))
      end
    end
  end
  return c
end

local function check_number(c, path, v, default, min, integer)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v == math.huge or v < min
     or (integer and math.type(v) ~= "integer" and v ~= math.floor(v)) then
    c.add(path, "must be a%s number >= %s, got %s", integer and " whole" or "", min, describe(v))
    return default
  end
  return integer and math.tointeger(v) or v
end

-- where: "redis" in the job file, "--redis" on the command line. The value
-- may hold a password: it is never quoted back, only masked.
local function check_redis(c, where, v)
  if v == nil then return nil end
  local a, why = redis_address.parse(v)
  if not a then
    -- Text with an '@' may hold a password: it is not repeated.
    local shown = describe(v)
    if type(v) == "string" and v:find("@", 1, true) then shown = "the address given" end
    c.add(where, "must be an address \"host:port\" or "
          .. "\"redis://[[user]:password@]host[:port][/db]\" "
          .. "(or absent for a private Redis); %s %s", shown, why)
    return nil
  end
  return a
end

local function check_restart(c, path, v)
  local r = { policy = "never", max_restarts = 0, backoff = DEFAULT_BACKOFF,
              max_backoff = DEFAULT_MAX_BACKOFF }
  if v == nil then return r end
  if type(v) == "string" then v = { policy = v } end
  if type(v) ~= "table" then
    c.add(path, "must be \"never\", \"on-failure\" or a table {policy = ..., max_restarts = ..., "
          .. "backoff = ...}, got %s", describe(v))
    return r
  end
  c.known(v, path, RESTART_KEYS)
  local policy = v.policy == nil and "on-failure" or v.policy
  if not POLICIES[policy] then
    c.add(path .. ".policy", "must be \"never\" or \"on-failure\", got %s", describe(policy))
    return r
  end
  r.policy = policy
  if policy == "on-failure" then
    r.max_restarts = check_number(c, path .. ".max_restarts", v.max_restarts, DEFAULT_MAX_RESTARTS,
                                  0, true)
  elseif v.max_restarts ~= nil then
    c.add(path .. ".max_restarts", "has no meaning with policy \"never\"")
  end
  r.backoff = check_number(c, path .. ".backoff", v.backoff, DEFAULT_BACKOFF, 0)
  r.max_backoff = check_number(c, path .. ".max_backoff", v.max_backoff,
                               math.max(DEFAULT_MAX_BACKOFF, r.backoff), 0)
  if r.max_backoff < r.backoff then
    c.add(path .. ".max_backoff", "must not be below backoff (%s), got %s", r.backoff, r.max_backoff)
  end
  return r
end

local function check_args(c, path, v)
  if v == nil then return {} end
  if type(v) ~= "table" then
    c.add(path, "must be a list of strings, got %s", describe(v))
    return {}
  end
  local n = #v
  for _, k in ipairs(sorted_keys(v)) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      c.add(path .. "." .. tostring(k), "unknown key: args is a list of strings")
    end
  end
  local out = {}
  for i = 1, n do
    local a = v[i]
    if type(a) ~= "string" and type(a) ~= "number" then
      c.add(path .. "[" .. i .. "]", "must be a string or a number, got %s", describe(a))
    else
      out[i] = tostring(a)
    end
  end
  return out
end

local function check_env(c, path, v)
  if v == nil then return {} end
  if type(v) ~= "table" then
    c.add(path, "must be a table {NAME = \"value\", ...}, got %s", describe(v))
    return {}
  end
  local out = {}
  for _, k in ipairs(sorted_keys(v)) do
    local val = v[k]
    local where = path .. "." .. tostring(k)
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
      c.add(path, "%s is not an environment variable name", describe(k))
    elseif RESERVED_ENV[k] then
      c.add(where, "is set by the launcher and cannot be changed here")
    elseif type(val) ~= "string" and type(val) ~= "number" then
      c.add(where, "must be a string or a number, got %s", describe(val))
    else
      out[k] = tostring(val)
    end
  end
  return out
end

local function readable(path)
  local f = io.open(path, "r")
  if not f then return false end
  -- io.open succeeds on a directory; reading it fails.
  local ok = f:read(0) ~= nil or f:read("a") ~= nil
  f:close()
  return ok
end

-- A path in the job file is relative to the job file's folder.
local function job_relative(dir, p)
  if p:sub(1, 1) == "/" or dir == "." then return p end
  return dir .. "/" .. p
end

-- A host name: what --host takes and component hosts lists name.
local HOST_NAME = "^[%a_][%w_%-]*$"

-- hosts = { a = { address = "10.0.0.2" }, ... } -> { names = {sorted}, a = {...} }
local function check_hosts(c, v)
  if v == nil then return nil end
  if type(v) ~= "table" or next(v) == nil then
    c.add("hosts", "must be a table of hosts {a = {address = \"10.0.0.2\"}, ...}, got %s",
          type(v) == "table" and "an empty table" or describe(v))
    return nil
  end
  local hosts = { names = {} }
  for _, name in ipairs(sorted_keys(v)) do
    local h = v[name]
    local path = "hosts." .. tostring(name)
    if type(name) ~= "string" or not name:match(HOST_NAME) then
      c.add("hosts", "%s is not a host name: use a name of letters, digits, _ and -",
            describe(name))
    elseif type(h) ~= "table" then
      c.add(path, "must be a table {address = \"10.0.0.2\"}, got %s", describe(h))
    else
      c.known(h, path, HOST_KEYS)
      local addr = h.address
      if addr ~= nil and (type(addr) ~= "string" or not addr:match("^[%w_.:%-]+$")) then
        c.add(path .. ".address", "must be the address (IP or DNS name) that instances placed on "
              .. "%s advertise, got %s", name, describe(addr))
        addr = nil
      end
      hosts[name] = { name = name, address = addr }
      hosts.names[#hosts.names + 1] = name
    end
  end
  return hosts
end

-- A component's hosts list; nil when the job names no hosts.
local function check_component_hosts(c, path, v, hosts)
  if not hosts then
    if v ~= nil then
      c.add(path, "the job names no hosts: add hosts = {NAME = {address = ...}, ...} at the top")
    end
    return nil
  end
  if v == nil then
    c.add(path, "missing: the job names hosts (%s), so every component must name the hosts "
          .. "it runs on", table.concat(hosts.names, ", "))
    return nil
  end
  if type(v) ~= "table" or #v == 0 then
    c.add(path, "must be a non-empty list of host names {\"a\", ...}, got %s",
          type(v) == "table" and "an empty table" or describe(v))
    return nil
  end
  local out, seen = {}, {}
  for _, k in ipairs(sorted_keys(v)) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then
      c.add(path .. "." .. tostring(k), "unknown key: hosts is a list of host names")
    end
  end
  for i, name in ipairs(v) do
    if type(name) ~= "string" or not hosts[name] then
      c.add(path .. "[" .. i .. "]", "%s is not one of the job's hosts (%s)", describe(name),
            table.concat(hosts.names, ", "))
    elseif seen[name] then
      c.add(path .. "[" .. i .. "]", "names host %q twice", name)
    else
      seen[name] = true
      out[#out + 1] = name
    end
  end
  return out
end

local function check_component(c, dir, ctype, v, hosts)
  local path = "components." .. tostring(ctype)
  if type(ctype) ~= "string" or not ctype:match("^[%a_][%w_%-]*$") then
    c.add("components", "%s is not a component type: use a name of letters, digits, _ and -",
          describe(ctype))
    return nil
  end
  if type(v) ~= "table" then
    c.add(path, "must be a table {script = ..., count = ...}, got %s", describe(v))
    return nil
  end
  c.known(v, path, COMPONENT_KEYS)
  local comp = { type = ctype }
  if type(v.script) ~= "string" or v.script == "" then
    c.add(path .. ".script", "must be the path of a Lua script (relative to the job file), got %s",
          describe(v.script))
  else
    comp.script = job_relative(dir, v.script)
    if not readable(comp.script) then
      c.add(path .. ".script", "cannot read %s", comp.script)
    end
  end
  comp.count = check_number(c, path .. ".count", v.count, 1, 1, true)
  comp.args = check_args(c, path .. ".args", v.args)
  comp.env = check_env(c, path .. ".env", v.env)
  if v.main ~= nil and type(v.main) ~= "boolean" then
    c.add(path .. ".main", "must be true or false, got %s", describe(v.main))
  end
  comp.main = v.main == true
  comp.restart = check_restart(c, path .. ".restart", v.restart)
  comp.hosts = check_component_hosts(c, path .. ".hosts", v.hosts, hosts)
  return comp
end

local function check_group_key(c, where, v, dir)
  if v == nil then return nil end
  if type(v) ~= "string" or v == "" then
    c.add(where, "must be the path of a group key file (made by marohost keygen), got %s",
          describe(v))
    return nil
  end
  local p = dir and job_relative(dir, v) or v
  if not readable(p) then c.add(where, "cannot read the group key file %s", p) end
  return p
end

--- Checks a job table; returns the job with defaults filled in, or nil and
-- the list of problems ("key.path: what is wrong").
-- dir: the folder that script paths are relative to.
-- given: what the command line sets instead of the job file: redis (an
-- address, --redis) and group_key (a path relative to the working
-- directory, --group-key).
--
-- The job: group, redis (nil: a private one), redis_info (the parsed
-- address), group_key (a path or nil), grace, hosts (nil, or {names = {...},
-- NAME = {name =, address =}}), any_main (some component says main = true),
-- components (sorted by type, each with type, script, count, args, env, main,
-- restart, hosts) and instances (in start order, each with name, comp, index
-- and host: where it is placed, nil when the job names no hosts).
function job.check(t, dir, given)
  given = given or {}
  local c = new_checker()
  if type(t) ~= "table" then
    return nil, { "the job file must return a table {group = ..., components = {...}}, it returned "
                  .. describe(t) }
  end
  c.known(t, "", TOP_KEYS)
  local out = { components = {} }
  if type(t.group) ~= "string" or not t.group:match("^[%w_.%-]+$") then
    c.add("group", "must be the group name (letters, digits, _ . -), got %s", describe(t.group))
  end
  out.group = t.group
  if given.redis ~= nil then
    out.redis_info = check_redis(c, "--redis", given.redis)
  else
    out.redis_info = check_redis(c, "redis", t.redis)
  end
  out.redis = out.redis_info and out.redis_info.text
  if given.group_key ~= nil then
    out.group_key = check_group_key(c, "--group-key", given.group_key)
  else
    out.group_key = check_group_key(c, "group_key", t.group_key, dir or ".")
  end
  out.grace = check_number(c, "grace", t.grace, DEFAULT_GRACE, 0)
  out.hosts = check_hosts(c, t.hosts)
  if type(t.components) ~= "table" or next(t.components) == nil then
    c.add("components", "must be a table of components {worker = {script = ...}, ...}, got %s",
          type(t.components) == "table" and "an empty table" or describe(t.components))
  else
    for _, ctype in ipairs(sorted_keys(t.components)) do
      local comp = check_component(c, dir or ".", ctype, t.components[ctype], out.hosts)
      if comp then out.components[#out.components + 1] = comp end
    end
  end
  if #c.errors > 0 then return nil, c.errors end
  -- With no component marked main, the job waits for all of them.
  local any_main = false
  for _, comp in ipairs(out.components) do any_main = any_main or comp.main end
  for _, comp in ipairs(out.components) do comp.main = comp.main or not any_main end
  out.any_main = any_main
  -- Placement is decided here, from the one file, so that every host's
  -- launcher agrees on it and names are unique across the job: instance i
  -- of a component goes to its hosts in turn.
  out.instances = {}
  for _, comp in ipairs(out.components) do
    for i = 1, comp.count do
      out.instances[#out.instances + 1] = {
        name = comp.type .. "." .. i, comp = comp, index = i,
        host = comp.hosts and comp.hosts[(i - 1) % #comp.hosts + 1],
      }
    end
  end
  return out
end

--- Runs the job file (with args as ...) and checks what it returns; given
-- as for job.check. Returns the job, or nil and the list of problems.
function job.load(path, args, given)
  local env = setmetatable({}, { __index = _G })
  local chunk, err = loadfile(path, "t", env)
  if not chunk then return nil, { err } end
  local ok, t = pcall(chunk, table.unpack(args or {}))
  if not ok then return nil, { "running the job file: " .. tostring(t) } end
  local dir = path:match("^(.*)/[^/]*$") or "."
  if dir == "" then dir = "/" end
  local result, errors = job.check(t, dir, given)
  if result then result.path = path end
  return result, errors
end

return job
