--- maro.dist.args: what maro.dist and its workers accept, and how a bad
-- argument is told. Every check returns a value or nil and a message; the
-- caller raises, so that the error points at its own caller.
--
--   local opts, interval = args.options(options)  -- or nil, "options: ..."
--   local ok, err = args.timeout(t)                -- step(timeout)
local core = require("maro.core")

local M = {}

--- What a bad argument was, for an error message: a number or a short
-- string as itself, anything else by its type.
function M.given(v)
  if v ~= v then
    return "nan"
  end
  if math.type(v) then
    return tostring(v)
  end
  if type(v) == "string" then
    return #v > 40 and string.format("a string of %d bytes", #v) or string.format("%q", v)
  end
  if v == nil then
    return "nothing"
  end
  return type(v)
end

local given = M.given

--- True for a function, or a value whose metatable has __call.
function M.callable(v)
  local mt = getmetatable(v)
  return type(v) == "function" or type(mt) == "table" and mt.__call ~= nil
end

--- Whether Class has a `new` field (a userdata class may raise on lookups).
function M.has_new(Class)
  local ok, v = pcall(function() return Class.new end)
  return ok and v ~= nil
end

--- A proxy is a maro.Proxy, or any object with receive_once (a test double).
function M.proxy_like(p)
  local t = type(p)
  if t ~= "table" and t ~= "userdata" then
    return false
  end
  local ok, v = pcall(function() return p.receive_once end)
  return ok and M.callable(v)
end

--- The options of maro.dist: returns the register table's options (every key
-- but log_interval) and log_interval, or nil and what is wrong.
function M.options(options)
  if options == nil then
    return nil, nil
  end
  if type(options) ~= "table" then
    return nil, nil, "options must be a table such as { max_buffered = 4096 }, got "
      .. given(options)
  end
  local interval = options.log_interval
  if interval ~= nil and (math.type(interval) == nil or interval ~= interval
    or interval <= 0 or interval == math.huge) then
    return nil, nil, "options.log_interval must be a finite number of seconds > 0, got "
      .. given(interval)
  end
  -- The rest are the register table's: it checks them itself.
  local rt_options = {}
  for k, v in pairs(options) do
    if k ~= "log_interval" then
      rt_options[k] = v
    end
  end
  local ok, err = pcall(core.RegisterTable, nil, rt_options)
  if not ok then
    err = tostring(err)
    if err:find("unknown option", 1, true) then
      err = err .. "; maro.dist also takes log_interval"
    end
    return nil, nil, "options: " .. err
  end
  return rt_options, interval
end

--- step()'s timeout: nil, or a finite number >= 0.
function M.timeout(timeout)
  if timeout ~= nil and (math.type(timeout) == nil or timeout ~= timeout or timeout < 0
    or timeout == math.huge) then
    return false, "timeout must be a finite number of seconds >= 0 (or nil), got "
      .. given(timeout)
  end
  return true
end

return M
