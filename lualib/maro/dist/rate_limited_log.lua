--- maro.dist.rate_limited_log: the log lines of a worker that can repeat
-- with every message (a message no event wants, a handler's error, an error
-- reply that cannot be sent), each kind written at most once per interval;
-- the next line, or a line when the worker is idle after the interval, says
-- how many were held back.
--
--   local lines = rate_limited_log.new(interval)
--   lines:unwanted(msg)               -- a message no event wants was dropped
--   lines:handler_error(label, err)   -- a handler raised err (with its traceback)
--   lines:error_reply_failed(label, request, err)  -- its error reply was not sent
--   lines:flush()                     -- while idle: the counts held back
--   lines:held()                      -- lines held back and not told yet
local log = require("maro.log")

-- The interval when maro.dist is given no log_interval.
local LOG_INTERVAL = 5
-- Tags of unwanted messages counted by name between two such lines; the
-- rest are counted together, so that a flood of distinct tags costs no
-- memory.
local MAX_UNWANTED_TAGS = 16
-- Handlers whose errors have a limiter of their own; the errors of any
-- further handler share one.
local MAX_ERROR_LIMITERS = 64

local Lines = {}
Lines.__index = Lines

-- "1 more error", "2 more errors"; plural: when it is not what .. "s"
local function count(n, what, plural)
  if n == 1 then
    return string.format("%d %s", n, what)
  end
  return string.format("%d %s", n, plural or what .. "s")
end

-- ---- messages no event wants ----------------------------------------------

-- "'a' 3, 'b' 1, 5 with other tags": the unwanted messages held back.
local function held_tags(u)
  local list = {}
  for tag, n in pairs(u.tags) do
    list[#list + 1] = { tag, n }
  end
  table.sort(list, function(a, b) return a[2] > b[2] or a[2] == b[2] and a[1] < b[1] end)
  local out = {}
  for i, t in ipairs(list) do
    out[i] = string.format("'%s' %d", t[1], t[2])
  end
  if u.other > 0 then
    out[#out + 1] = string.format("%d with other tags", u.other)
  end
  u.tags, u.ntags, u.other = {}, 0, 0
  return table.concat(out, ", ")
end

--- A message no event wants is dropped. It is often a typo in an event, so
-- it is said, but at most once per interval: a flood of them must not
-- flood the log, nor fill memory with their tags.
function Lines:unwanted(msg)
  local u = self.unwanted_state
  local pass, held = u.limiter:pass()
  if not pass then
    local tag = msg.tag
    if u.tags[tag] then
      u.tags[tag] = u.tags[tag] + 1
    elseif u.ntags < MAX_UNWANTED_TAGS then
      u.tags[tag] = 1
      u.ntags = u.ntags + 1
    else
      u.other = u.other + 1
    end
    return
  end
  local more = ""
  if held > 0 then
    more = string.format(" (and %d more since the last such line, tagged %s)", held,
      held_tags(u))
  end
  log.warn("dist: no event wants a message tagged '%s' (from '%s'); such messages are "
    .. "dropped%s", msg.tag, msg.source, more)
end

-- ---- handler errors ---------------------------------------------------------

-- The limiter of a handler's errors (one per event, up to a bound).
local function error_limiter(lines, label)
  local lims = lines.error_limiters
  local lim = lims.by_label[label]
  if lim then
    return lim
  end
  if lims.count >= MAX_ERROR_LIMITERS then
    return lims.other
  end
  lim = log.limiter(lines.interval)
  lim.label = label
  lims.by_label[label] = lim
  lims.count = lims.count + 1
  return lim
end

local function held_errors(held)
  if held == 0 then
    return ""
  end
  return string.format(" (%s since the last such line not logged)", count(held, "more error"))
end

--- A handler's error: at most one line per handler and interval, then its
-- traceback, one log line per line as Lua prints it.
function Lines:handler_error(label, err)
  local pass, held = error_limiter(self, label):pass()
  if pass then
    log.error("dist: the handler of %s raised an error (the worker keeps serving)%s: %s",
      label, held_errors(held), err)
  end
end

-- ---- error replies that could not be sent -------------------------------------

--- The error reply to a task request could not be sent (its requester left,
-- or the handler closed the proxy): one line per interval for all handlers.
function Lines:error_reply_failed(label, request, err)
  local pass, held = self.reply_limiter:pass()
  if pass then
    local more = held > 0 and string.format(" (%s since the last such line not logged)",
      count(held, "more such failure")) or ""
    log.warn("dist: the handler of %s raised an error, and the error reply to '%s' (session "
      .. "%s) could not be sent%s: %s", label, request.source, request.session_id, more, err)
  end
end

-- ---- while idle ---------------------------------------------------------------

--- The counts of what the limiters held back, once their interval has run
-- out, so that the end of a flood is told too.
function Lines:flush()
  local u = self.unwanted_state
  if u.limiter:due() then
    local _, held = u.limiter:pass()
    log.warn("dist: dropped %s that no event wants since the last such line, tagged %s",
      count(held, "more message"), held_tags(u))
  end
  local lims = self.error_limiters
  for _, lim in pairs(lims.by_label) do
    if lim:due() then
      local _, held = lim:pass()
      log.error("dist: the handler of %s raised %s since the last such line (not logged)",
        lim.label, count(held, "more error"))
    end
  end
  if lims.other:due() then
    local _, held = lims.other:pass()
    log.error("dist: handlers raised %s since the last such line (not logged)",
      count(held, "more error"))
  end
  if self.reply_limiter:due() then
    local _, held = self.reply_limiter:pass()
    log.warn("dist: %s could not be sent since the last such line (not logged)",
      count(held, "more error reply", "more error replies"))
  end
end

--- The lines held back and not told yet.
function Lines:held()
  local held = self.unwanted_state.limiter.held + self.error_limiters.other.held
    + self.reply_limiter.held
  for _, lim in pairs(self.error_limiters.by_label) do
    held = held + lim.held
  end
  return held
end

local M = {}

--- The log of one worker; interval: seconds (default 5).
function M.new(interval)
  interval = interval or LOG_INTERVAL
  return setmetatable({
    interval = interval,
    unwanted_state = { limiter = log.limiter(interval), tags = {}, ntags = 0, other = 0 },
    error_limiters = { by_label = {}, count = 0, other = log.limiter(interval) },
    reply_limiter = log.limiter(interval),
  }, Lines)
end

return M
