--- maro.launch.job: reads a job file and checks every key before anything
-- starts. The format is documented in docs/launch.md.
local job = {}

local DEFAULT_GRACE = 5
local DEFAULT_MAX_RESTARTS = 3
local DEFAULT_BACKOFF = 1
local DEFAULT_MAX_BACKOFF = 30

local TOP_KEYS = { "group", "redis", "grace", "components" }
local COMPONENT_KEYS = { "script", "count", "args", "env", "main", "restart" }
local RESTART_KEYS = { "policy", "max_restarts", "backoff", "max_backoff" }
local POLICIES = { never = true, ["on-failure"] = true }

-- Set by the launcher: a job must not change them.
local RESERVED_ENV = {
  MARO_GROUP = true, MARO_COMPONENT_TYPE = true, MARO_COMPONENT_NAME = true,
  MARO_COMPONENT_INDEX = true, MARO_REDIS = true, MARO_TAKE_OVER_NAME = true,
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

local function check_redis(c, v)
  if v == nil then return nil end
  if type(v) == "table" and #v == 2 then v = tostring(v[1]) .. ":" .. tostring(v[2]) end
  local host, port = nil, nil
  if type(v) == "string" then host, port = v:match("^([^:]+):(%d+)$") end
  port = tonumber(port)
  if not host or not port or port < 1 or port > 65535 then
    c.add("redis", "must be an address \"host:port\" (or absent for a private Redis), got %s",
          describe(v))
    return nil
  end
  return v
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

local function check_component(c, dir, ctype, v)
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
    comp.script = v.script
    if v.script:sub(1, 1) ~= "/" and dir ~= "." then comp.script = dir .. "/" .. v.script end
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
  return comp
end

--- Checks a job table; returns the job with defaults filled in, or nil and
-- the list of problems ("key.path: what is wrong").
-- dir: the folder that script paths are relative to.
function job.check(t, dir)
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
  out.redis = check_redis(c, t.redis)
  out.grace = check_number(c, "grace", t.grace, DEFAULT_GRACE, 0)
  if type(t.components) ~= "table" or next(t.components) == nil then
    c.add("components", "must be a table of components {worker = {script = ...}, ...}, got %s",
          type(t.components) == "table" and "an empty table" or describe(t.components))
  else
    for _, ctype in ipairs(sorted_keys(t.components)) do
      local comp = check_component(c, dir or ".", ctype, t.components[ctype])
      if comp then out.components[#out.components + 1] = comp end
    end
  end
  if #c.errors > 0 then return nil, c.errors end
  -- With no component marked main, the job waits for all of them.
  local any_main = false
  for _, comp in ipairs(out.components) do any_main = any_main or comp.main end
  for _, comp in ipairs(out.components) do comp.main = comp.main or not any_main end
  return out
end

--- Runs the job file (with args as ...) and checks what it returns.
-- Returns the job, or nil and the list of problems.
function job.load(path, args)
  local env = setmetatable({}, { __index = _G })
  local chunk, err = loadfile(path, "t", env)
  if not chunk then return nil, { err } end
  local ok, t = pcall(chunk, table.unpack(args or {}))
  if not ok then return nil, { "running the job file: " .. tostring(t) } end
  local dir = path:match("^(.*)/[^/]*$") or "."
  if dir == "" then dir = "/" end
  local result, errors = job.check(t, dir)
  if result then result.path = path end
  return result, errors
end

return job
