--- maro.log: log lines on stderr, with a level (docs/api.md, "maro.log").
--
--   log.info("joined %s as %s", group, name)   -- string.format arguments
--   log.level("debug"); log.name("worker.3")
--   local lim = log.limiter(5)                 -- a repeated line at most every 5 s
--   local pass, held = lim:pass()
local core = require("maro.core")

local log = {}

local LEVELS = "error, warn, info, debug"
-- The C writer keeps a name of at most this many bytes.
local MAX_NAME = 63

-- What a bad argument was, for an error message: a number or a short string
-- as itself, anything else by its type.
local function given(v)
  if v ~= v then
    return "nan"
  end
  if math.type(v) then
    return tostring(v)
  end
  if type(v) == "string" then
    return #v > 40 and string.format("a string of %d bytes", #v) or string.format("%q", v)
  end
  return v == nil and "nothing" or type(v)
end

-- Every line of text is a log line of its own, with the level and the
-- prefix (the C writer turns a newline into a space, so that one call is
-- one line: a traceback would be squashed).
local function write(level, text)
  if not text:find("[\r\n]") then
    core.log(level, text)
    return
  end
  text = text:gsub("\r\n", "\n"):gsub("\n$", "")
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    core.log(level, (line:gsub("\r", " ")))
  end
end

local function emitter(level)
  local name = "maro.log." .. level
  return function(fmt, ...)
    if type(fmt) ~= "string" and math.type(fmt) == nil then
      error(name .. "(fmt, ...): fmt must be a string, got " .. given(fmt), 2)
    end
    local text = fmt
    if select("#", ...) > 0 then
      local ok, s = pcall(string.format, fmt, ...)
      if not ok then
        -- string.format's own argument numbers are this function's too.
        error(name .. "(fmt, ...): " .. tostring(s):gsub(" to '[%w.]*format'", ""), 2)
      end
      text = s
    end
    write(level, tostring(text))
  end
end

log.error = emitter("error")
log.warn = emitter("warn")
log.info = emitter("info")
log.debug = emitter("debug")

--- log.level([level]): returns the current level; with an argument, sets it
-- first ("error", "warn", "info" or "debug", any case; "warning" is "warn").
function log.level(level)
  if level == nil then
    return core.log_level()
  end
  if type(level) ~= "string" or not pcall(core.log_level, level) then
    error("maro.log.level(level): level must be one of " .. LEVELS .. ", got "
      .. given(level), 2)
  end
  return core.log_level()
end

--- log.name(name): sets the name shown in every line (default:
-- MARO_COMPONENT_NAME, else "marohost").
function log.name(name)
  if type(name) ~= "string" or name == "" then
    error("maro.log.name(name): name must be a non-empty string, got " .. given(name), 2)
  end
  if #name > MAX_NAME then
    error(string.format("maro.log.name(name): name must be at most %d bytes, got %d bytes",
      MAX_NAME, #name), 2)
  end
  core.log_name(name)
end

-- ---- limiters ---------------------------------------------------------------

local Limiter = {}
Limiter.__index = Limiter

--- lim:pass() -> true, held | false: true when a line may be written now, with
-- the number of lines held back since the last one that passed; false (and
-- one more held back) while the interval since that line runs.
function Limiter:pass()
  local t = core.now()
  if t < self._next then
    self.held = self.held + 1
    return false
  end
  local held = self.held
  self.held = 0
  self._next = t + self.interval
  return true, held
end

--- lim:due() -> true when lines were held back and the interval has run out:
-- a summary of them may be written now (its pass() returns true).
function Limiter:due()
  return self.held > 0 and core.now() >= self._next
end

Limiter.__tostring = function(lim)
  return string.format("log limiter (every %g s, %d held back)", lim.interval, lim.held)
end

--- log.limiter([interval]): a limiter that lets a repeated line through at
-- most once per interval seconds (default 5), and counts what it held back.
function log.limiter(interval)
  if interval == nil then
    interval = 5
  end
  if math.type(interval) == nil or interval ~= interval or interval <= 0
    or interval == math.huge then
    error("maro.log.limiter(interval): interval must be a finite number of seconds > 0, got "
      .. given(interval), 2)
  end
  return setmetatable({ interval = interval, _next = -math.huge, held = 0 }, Limiter)
end

return log
