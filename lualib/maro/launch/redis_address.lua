--- maro.launch.redis_address: the address of a job's Redis, in the forms a Proxy
-- takes: "host:port", "[v6]:port", "host" (port 6379), {host, port}, and
-- "redis://[[user]:password@]host[:port][/db]". The launcher hands the text
-- to instances unchanged (in MARO_REDIS) and shows it only masked.
local redis_address = {}

local DEFAULT_PORT = 6379

local function parse_hostport(s)
  local host, port = s:match("^%[([%x:.]+)%]:?(%d*)$")
  if not host then
    host, port = s:match("^([%w_.%-]+):?(%d*)$")
  end
  if not host then return nil end
  if port == "" then
    port = DEFAULT_PORT
  else
    port = tonumber(port)
    if port < 1 or port > 65535 then return nil end
  end
  return host, math.tointeger(port)
end

--- Parses an address. Returns {text=, host=, port=, user=, password=, db=}
-- (text is the address as a Proxy takes it), or nil and what is wrong.
function redis_address.parse(v)
  if type(v) == "table" then
    local host, port = v[1], math.tointeger(tonumber(v[2]))
    if #v ~= 2 or type(host) ~= "string" or not port then
      return nil, "a table address must be {host, port}"
    end
    v = (host:find(":", 1, true) and "[" .. host .. "]" or host) .. ":" .. port
  end
  if type(v) ~= "string" then return nil, "must be a string" end
  local a = { text = v }
  local rest = v:match("^redis://(.*)$")
  if not rest then
    a.host, a.port = parse_hostport(v)
    if not a.host then return nil, "is not \"host:port\", \"host\" or a redis:// URL" end
    return a
  end
  -- The password may hold any character but '@' ends it: the last '@' wins.
  local userinfo, hostpart = rest:match("^(.*)@([^@]*)$")
  if userinfo then
    local user, password = userinfo:match("^([^:]*):(.*)$")
    if not user then
      return nil, "is a redis:// URL whose part before '@' is not \"user:password\" or "
        .. "\":password\""
    end
    if password == "" then return nil, "is a redis:// URL with an empty password" end
    a.user, a.password = user ~= "" and user or nil, password
  else
    hostpart = rest
  end
  local hp, db = hostpart:match("^([^/]*)/(.*)$")
  if hp then
    if not db:match("^%d+$") then
      return nil, "is a redis:// URL whose database (after '/') is not a number"
    end
    a.db, hostpart = tonumber(db), hp
  end
  a.host, a.port = parse_hostport(hostpart)
  if not a.host then
    return nil, "is a redis:// URL without a valid host[:port]"
  end
  return a
end

--- The address with its password replaced by ***, fit for any output.
-- Takes the text or a parsed address; text that does not parse is shown as
-- "(an address that cannot be read)" lest it holds a password.
function redis_address.mask(a)
  if type(a) ~= "table" then
    local parsed = redis_address.parse(a)
    if not parsed then return "(an address that cannot be read)" end
    a = parsed
  end
  if not a.password then return a.text end
  local host = a.host:find(":", 1, true) and "[" .. a.host .. "]" or a.host
  return string.format("redis://%s:***@%s:%d%s", a.user or "", host, a.port,
                       a.db and "/" .. a.db or "")
end

return redis_address
