--- maro.proxy: the Proxy constructor's options, their environment defaults
-- and checks (docs/proxy.md); the proxy itself is C (maro.core.Proxy).
local core = require("maro.core")

local M = {}

local DEFAULT_REDIS = "127.0.0.1:6379"

-- The rejoin options (docs/proxy.md, "Rejoining"); minimal_peers is parsed apart.
local BOOLEANS = {
  enable_rejoin = true,
  enable_message_cache_for_rejoin = true,
  take_over_name = true,
}

local NUMBERS = {
  max_redis_connect_retries = true,
  initial_redis_connect_retry_interval = true,
  max_peer_discovery_retries = true,
  initial_peer_discovery_retry_interval = true,
  max_peer_discovery_retry_interval = true,
  heartbeat_interval = true,
  heartbeat_expiry = true,
  peer_refresh_interval = true,
  max_buffered_messages = true,
  max_sessions = true,
  linger = true,
  send_hwm = true,
  recv_hwm = true,
  max_message_size = true,
  peers_catch_lifetime = true,
  timeout_for_minimal_peer_number = true,
}

local STRINGS = {
  group_name = true,
  component_type = true,
  component_name = true,
  advertised_address = true,
  bind_address = true,
}

local function fail(msg)
  error("maro.Proxy: " .. msg, 3)
end

local function env(name)
  local v = os.getenv(name)
  if v == "" then
    return nil
  end
  return v
end

--- "host:port", "[v6]:port", "host" or {host, port} -> host, port
local function parse_redis(addr, from)
  local host, port
  if type(addr) == "table" then
    host, port = addr[1] or addr.host, addr[2] or addr.port
  elseif type(addr) == "string" then
    host, port = addr:match("^%[(.+)%]:(%d+)$")
    if not host then
      host, port = addr:match("^([^:]+):(%d+)$")
    end
    if not host and addr:match("^[^:]+$") then
      host, port = addr, 6379
    end
  else
    fail(from .. " must be \"host:port\" or {host, port}, got " .. type(addr))
  end
  port = tonumber(port)
  if type(host) ~= "string" or host == "" or not port or port < 1 or port > 65535
    or port % 1 ~= 0 then
    fail(from .. " must be \"host:port\" or {host, port}, got " .. tostring(
      type(addr) == "table" and ("{" .. tostring(addr[1]) .. ", " .. tostring(addr[2]) .. "}")
      or addr))
  end
  return host, math.tointeger(port)
end

--- {type = count} or {{type, count}, ...} -> sorted list of {type, count}
local function parse_expected(e, what)
  what = what or "expected_peers"
  local out = {}
  if e == nil then
    return out
  end
  if type(e) ~= "table" then
    fail(what .. " must be {type = count} or a list of {type, count}, got " .. type(e))
  end
  local function add(t, n, where)
    if type(t) ~= "string" or t == "" then
      fail(where .. ": the peer type must be a non-empty string")
    end
    if math.type(n) ~= "integer" and not (type(n) == "number" and n % 1 == 0) or n < 0 then
      fail(where .. ": the count of '" .. t .. "' must be a non-negative integer, got "
        .. tostring(n))
    end
    out[#out + 1] = { t, math.tointeger(n) }
  end
  for k, v in pairs(e) do
    if math.type(k) == "integer" then
      if type(v) ~= "table" then
        fail(what .. "[" .. k .. "] must be a {type, count} pair")
      end
      add(v[1], v[2], what .. "[" .. k .. "]")
    else
      add(k, v, what .. "." .. tostring(k))
    end
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

--- minimal_peers: a count for every destination type, or {type = count}
-- -> count for any type (0: none), list of {type, count}
local function parse_minimal(m)
  if m == nil then
    return 0, {}
  end
  if type(m) == "number" then
    if m < 0 or m % 1 ~= 0 then
      fail("minimal_peers must be a non-negative integer or {type = count}, got " .. tostring(m))
    end
    return math.tointeger(m), {}
  end
  if type(m) ~= "table" then
    fail("minimal_peers must be a count or {type = count}, got " .. type(m))
  end
  return 0, parse_expected(m, "minimal_peers")
end

--- maro.Proxy{...}: joins the group and returns the proxy.
function M.new(opts)
  if opts == nil then
    opts = {}
  end
  if type(opts) ~= "table" then
    fail("expects a table of options, e.g. maro.Proxy{group_name = ..., component_type = ...}")
  end
  local cfg = {}
  for k, v in pairs(opts) do
    if STRINGS[k] then
      if type(v) ~= "string" or v == "" then
        fail("option '" .. k .. "' must be a non-empty string, got " .. type(v))
      end
      cfg[k] = v
    elseif NUMBERS[k] then
      if type(v) ~= "number" or v < 0 then
        fail("option '" .. k .. "' must be a non-negative number, got " .. tostring(v))
      end
      cfg[k] = v
    elseif BOOLEANS[k] then
      if type(v) ~= "boolean" then
        fail("option '" .. k .. "' must be true or false, got " .. tostring(v))
      end
      cfg[k] = v
    elseif k == "max_length_for_message_cache" then
      if math.type(v) ~= "integer" and not (type(v) == "number" and v % 1 == 0) or v < 1 then
        fail("option 'max_length_for_message_cache' must be a positive integer, got "
          .. tostring(v))
      end
      cfg[k] = v
    elseif k == "send_timeout" then
      if v ~= false and (type(v) ~= "number" or v < 0) then
        fail("option 'send_timeout' must be a non-negative number of seconds or false")
      end
      cfg[k] = v
    elseif k == "hub" then
      -- maro.testing's in-process hub (undocumented here; see docs/testing.md)
      if type(v) ~= "userdata" then
        fail("option 'hub' must be a hub from maro.testing, got " .. type(v))
      end
      cfg.hub = v
    elseif k ~= "expected_peers" and k ~= "redis_address" and k ~= "minimal_peers" then
      fail("unknown option '" .. tostring(k) .. "' (see docs/proxy.md)")
    end
  end
  cfg.group_name = cfg.group_name or env("MARO_GROUP")
  if not cfg.group_name then
    fail("no group: give group_name or set MARO_GROUP")
  end
  cfg.component_type = cfg.component_type or env("MARO_COMPONENT_TYPE")
  if not cfg.component_type then
    fail("no component type: give component_type or set MARO_COMPONENT_TYPE")
  end
  cfg.component_name = cfg.component_name or env("MARO_COMPONENT_NAME")
    or (cfg.component_type .. "_" .. core.uuid():gsub("-", ""))
  cfg.advertised_address = cfg.advertised_address or env("MARO_ADVERTISED_ADDRESS")
  if cfg.take_over_name == nil then cfg.take_over_name = env("MARO_TAKE_OVER_NAME") == "1" end
  if not cfg.hub then -- a hub needs no Redis
    local redis, from = opts.redis_address, "redis_address"
    if redis == nil then
      redis, from = env("MARO_REDIS") or DEFAULT_REDIS, "MARO_REDIS"
    end
    cfg.redis_host, cfg.redis_port = parse_redis(redis, from)
  end
  cfg.expected_peers = parse_expected(opts.expected_peers)
  cfg.minimal_peers_any, cfg.minimal_peers = parse_minimal(opts.minimal_peers)
  if cfg.enable_message_cache_for_rejoin and not cfg.enable_rejoin then
    fail("enable_message_cache_for_rejoin needs enable_rejoin = true")
  end
  local ok, proxy = pcall(core.Proxy, cfg)
  if not ok then
    error(proxy, 2)
  end
  return proxy
end

return M
