--- maro.log: one line per event on stderr, with a level.
-- maro.log.info("joined %s as %s", group, name); maro.log.level("debug")
local core = require("maro.core")

local log = {}

local function emitter(level)
  return function(fmt, ...)
    if select("#", ...) > 0 then
      fmt = string.format(fmt, ...)
    end
    core.log(level, tostring(fmt))
  end
end

log.error = emitter("error")
log.warn = emitter("warn")
log.info = emitter("info")
log.debug = emitter("debug")

--- Returns the current level; with an argument, sets it first.
log.level = core.log_level

--- Sets the name shown in every line (default "marohost").
log.name = core.log_name

return log
