--- maro.dist: a local class as a distributed worker driven by conditional
-- events, with handlers that can be reloaded from their file while the worker
-- runs (docs/dist.md).
--
--   local Worker = maro.dist(proxy, handlers [, {max_buffered = n}])(WorkerClass)
--   local w = Worker(...)            -- or Worker.new(...)
--   w:launch()                       -- until w:stop() or proxy:close()
--   w:step(timeout)                  -- what arrives within timeout, then return
local core = require("maro.core")
local log = require("maro.log")
local handlers_file = require("maro.dist.handlers")

local now = core.now

-- While a receive waits, the watcher's descriptors are part of the proxy's
-- wait (proxy:watch_fd): a save or SIGHUP ends the wait at once. Only when
-- the proxy cannot take them (it watches too many descriptors already, or is
-- not a maro.Proxy) is the watcher looked at this often instead.
local WATCH_INTERVAL = 0.1
-- The receive still returns now and then, to notice a change of peers that
-- satisfies a percentage event without a new message.
local PEERS_INTERVAL = 0.5
-- Under traffic the watcher is looked at before a message at most this often:
-- a read() per message would cost more than the reload latency it saves.
local CHECK_INTERVAL = 0.01
-- Past step()'s deadline, at most this many messages already queued are
-- still handled, so that step(0) takes what is there without running forever
-- under a flood.
local STEP_DRAIN = 1024
-- A warning or error that can repeat with every message is written at most
-- once per this many seconds per kind (option log_interval); the next line
-- says how many were held back meanwhile.
local LOG_INTERVAL = 5
-- Tags of unwanted messages counted by name between two such lines; the
-- rest are counted together, so that a flood of distinct tags costs no
-- memory.
local MAX_UNWANTED_TAGS = 16
-- Handlers whose errors have a limiter of their own; the errors of any
-- further handler share one.
local MAX_ERROR_LIMITERS = 64

-- The methods of the wrapper; the same names on the instance are hidden.
local METHODS = { launch = true, step = true, stop = true, reload = true }

local state_of = setmetatable({}, { __mode = "k" }) -- wrapper -> its private state

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
  if v == nil then
    return "nothing"
  end
  return type(v)
end

-- The private state of a worker, or an error naming the call.
local function worker_state(w, method)
  local st = state_of[w]
  if not st then
    error("dist: " .. method .. ": must be called on a dist worker, as w:" .. method
      .. ", got " .. given(w), 3)
  end
  return st
end

-- A registered handler: the register table hands it back with its messages,
-- and it knows its event for the log.
local Entry = {}
Entry.__index = Entry
Entry.__call = function(e, ...)
  return e.fn(...)
end

--- The register table's entry list for a checked {label, event, fn} list.
local function entries(list)
  local out = {}
  for i, h in ipairs(list) do
    out[i] = { h.event, setmetatable({ fn = h.fn, label = h.label }, Entry) }
  end
  return out
end

local function names(labels)
  if #labels == 0 then
    return "none"
  end
  return table.concat(labels, ", ")
end

-- ---- dispatch -------------------------------------------------------------

-- The traceback of a handler's error, without the frames of dist itself.
local function traceback(err)
  local tb = debug.traceback(tostring(err), 2)
  return (tb:gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
end

-- The limiter of a handler's errors (one per event, up to a bound).
local function error_limiter(st, label)
  local lims = st.error_limiters
  local lim = lims.by_label[label]
  if lim then
    return lim
  end
  if lims.count >= MAX_ERROR_LIMITERS then
    return lims.other
  end
  lim = log.limiter(st.log_interval)
  lim.label = label
  lims.by_label[label] = lim
  lims.count = lims.count + 1
  return lim
end

-- "1 more error", "2 more errors"
local function count(n, what)
  return string.format("%d %s%s", n, what, n == 1 and "" or "s")
end

local function held_errors(held)
  if held == 0 then
    return ""
  end
  return string.format(" (%s since the last such line not logged)", count(held, "more error"))
end

-- A handler's error: at most one line per handler and interval, then its
-- traceback, one log line per line as Lua prints it.
local function log_handler_error(st, label, err)
  local pass, held = error_limiter(st, label):pass()
  if pass then
    log.error("dist: the handler of %s raised an error (the worker keeps serving)%s: %s",
      label, held_errors(held), err)
  end
end

local function dispatch(st, fired)
  local calls = 0
  for _, f in ipairs(fired) do
    local entry, messages = f[1], f[2]
    calls = calls + 1
    local ok, err = xpcall(entry.fn, traceback, st.instance, st.proxy, messages)
    if not ok then
      st.errors = st.errors + 1
      log_handler_error(st, entry.label, tostring(err))
    end
  end
  return calls
end

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

-- A message no event wants is dropped. It is often a typo in an event, so
-- it is said, but at most once per interval: a flood of them must not
-- flood the log, nor fill memory with their tags.
local function unwanted(st, msg)
  local u = st.unwanted
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

-- While the worker is idle: the counts of what the limiters held back, once
-- their interval has run out, so that the end of a flood is told too.
local function flush_held(st)
  local u = st.unwanted
  if u.limiter:due() then
    local _, held = u.limiter:pass()
    log.warn("dist: dropped %s that no event wants since the last such line, tagged %s",
      count(held, "more message"), held_tags(u))
  end
  local lims = st.error_limiters
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
end

local function handle(st, msg)
  if st.rt:push(msg) == 0 then
    unwanted(st, msg)
    return 0
  end
  return dispatch(st, st.rt:get())
end

-- ---- reload ---------------------------------------------------------------

--- Loads the handler file again and swaps it in, or logs why not. Returns
-- true when the new handlers are in place.
local function reload(st, why)
  local list, err = handlers_file.load(st.path)
  if not list then
    st.failed_reloads = st.failed_reloads + 1
    log.error("dist: reload of %s (%s) failed; the old handlers stay: %s", st.path, why, err)
    return false
  end
  local ok, summary = pcall(st.rt.replace, st.rt, entries(list))
  if not ok then
    st.failed_reloads = st.failed_reloads + 1
    log.error("dist: reload of %s (%s) failed; the old handlers stay: %s", st.path, why,
      tostring(summary))
    return false
  end
  st.reloads = st.reloads + 1
  local moved = ""
  if summary.rematched > 0 or summary.released > 0 then
    moved = string.format("; %d buffered messages matched again by added events, %d no "
      .. "longer wanted", summary.rematched, summary.released)
  end
  log.info("dist: reloaded %s (%s): added %s; removed %s; kept %s%s", st.path, why,
    names(summary.added), names(summary.removed), names(summary.kept), moved)
  return true
end

-- Reloads when the file was saved or SIGHUP came; messages handed back by
-- removed events may satisfy an added one at once. Returns handler calls.
local function check_reload(st)
  if not st.watcher then
    return 0
  end
  local t = now()
  if t < st.next_check then
    return 0
  end
  st.next_check = t + CHECK_INTERVAL
  local why = st.watcher:changed()
  if why and reload(st, why == "SIGHUP" and "SIGHUP" or "file saved") then
    return dispatch(st, st.rt:get())
  end
  return 0
end

-- Peers that left can satisfy a percentage with what is buffered already:
-- look when the proxy's peer set changed, not only when a message came.
local function check_peers(st)
  local ok, v = pcall(function() return st.proxy.peers_version end)
  if ok and v ~= nil and v ~= st.peers_version then
    st.peers_version = v
    return dispatch(st, st.rt:get())
  end
  return 0
end

-- ---- the loop -------------------------------------------------------------

local function closed(st)
  return st.proxy.closed == true
end

-- Receives one message within wait seconds. With a watcher, its descriptors
-- join the proxy's wait for this receive only: a handler's own blocking send
-- must not be cut short by a save.
local function receive(st, wait)
  local proxy, fds = st.proxy, st.watch_fds
  if wait == 0 or not fds then
    return proxy:receive_once(wait)
  end
  if not st.proxy_watches or not proxy:watch_fd(table.unpack(fds)) then
    return proxy:receive_once(math.min(wait, WATCH_INTERVAL)) -- the watcher is polled instead
  end
  local ok, msg = pcall(proxy.receive_once, proxy, wait)
  proxy:unwatch_fd(table.unpack(fds))
  if not ok then
    error(msg, 0)
  end
  return msg
end

--- Receives and dispatches until deadline (a maro.now() time, or nil for
-- ever) or stop/close; returns the number of handler calls.
local function serve(st, deadline)
  local calls, extra = 0, 0
  while not st.stopped and not closed(st) do
    calls = calls + check_reload(st)
    local wait
    if deadline then
      wait = math.max(deadline - now(), 0)
    end
    if not wait or wait > PEERS_INTERVAL then
      wait = PEERS_INTERVAL
    end
    local msg = receive(st, wait)
    if msg then
      calls = calls + handle(st, msg)
      if deadline and now() >= deadline then
        extra = extra + 1
        if extra >= STEP_DRAIN then
          break
        end
      end
    else
      -- Woken by the watcher, or the slice ran out: look at it now. (A
      -- descriptor left readable would end every wait at once.)
      st.next_check = 0
      if not closed(st) then
        calls = calls + check_peers(st)
      end
      flush_held(st)
      if deadline and now() >= deadline then
        break
      end
    end
  end
  return calls
end

local function running_guard(st, what)
  if st.running then
    error("dist: " .. what .. "() called while the worker is already serving (from a handler?)",
      3)
  end
end

local Wrapper = {}

function Wrapper.launch(w)
  local st = worker_state(w, "launch()")
  running_guard(st, "launch")
  st.stopped = false
  st.running = true
  local ok, err = pcall(serve, st, nil)
  st.running = false
  if not ok then
    error(err, 0)
  end
end

function Wrapper.step(w, timeout)
  local st = worker_state(w, "step(timeout)")
  if timeout ~= nil and (math.type(timeout) == nil or timeout ~= timeout or timeout < 0
    or timeout == math.huge) then
    error("dist: step(timeout): timeout must be a finite number of seconds >= 0 (or nil), got "
      .. given(timeout), 2)
  end
  running_guard(st, "step")
  st.stopped = false
  st.running = true
  local ok, calls = pcall(serve, st, now() + (timeout or 0))
  st.running = false
  if not ok then
    error(calls, 0)
  end
  return calls
end

function Wrapper.stop(w)
  local st = worker_state(w, "stop()")
  st.stopped = true
end

--- Reloads the handler file now (as a save or SIGHUP would); returns true
-- when the new handlers are in place.
function Wrapper.reload(w)
  local st = worker_state(w, "reload()")
  if not st.path then
    error("dist: reload() needs handlers given as a file path", 2)
  end
  if st.running then
    error("dist: reload() called from a handler; reloads happen between dispatches", 2)
  end
  return reload(st, "reload()")
end

-- ---- the wrapper ----------------------------------------------------------

local WrapperMeta = {}

function WrapperMeta.__index(w, k)
  if METHODS[k] then
    return Wrapper[k]
  end
  local st = state_of[w]
  local v = st.instance[k]
  if type(v) ~= "function" then
    return v
  end
  -- w:method(...) runs with the instance as self.
  local bound = st.bound[v]
  if not bound then
    bound = function(self, ...)
      if self == w then
        self = st.instance
      end
      return v(self, ...)
    end
    st.bound[v] = bound
  end
  return bound
end

function WrapperMeta.__newindex(w, k, v)
  if METHODS[k] then
    error("dist: '" .. tostring(k) .. "' is a method of the worker and cannot be assigned", 2)
  end
  state_of[w].instance[k] = v
end

function WrapperMeta.__tostring(w)
  local st = state_of[w]
  return "dist worker(" .. tostring(st.instance) .. ")"
end

local function callable(v)
  local mt = getmetatable(v)
  return type(v) == "function" or type(mt) == "table" and mt.__call ~= nil
end

-- Whether Class has a `new` field (a userdata class may raise on lookups).
local function has_new(Class)
  local ok, v = pcall(function() return Class.new end)
  return ok and v ~= nil
end

local function make_instance(Class, ...)
  local instance
  if has_new(Class) then
    instance = Class.new(...)
  else
    instance = Class(...)
  end
  local t = type(instance)
  if t ~= "table" and t ~= "userdata" then
    error("dist: the class constructor returned " .. t .. ", not an instance", 3)
  end
  return instance
end

-- ---- maro.dist ------------------------------------------------------------

-- A proxy is a maro.Proxy, or any object with receive_once (a test double).
local function proxy_like(p)
  local t = type(p)
  if t ~= "table" and t ~= "userdata" then
    return false
  end
  local ok, v = pcall(function() return p.receive_once end)
  return ok and callable(v)
end

local function dist(proxy, handlers, options)
  local log_interval
  if not proxy_like(proxy) then
    error("maro.dist(proxy, handlers): proxy must be a maro.Proxy (an object with "
      .. "receive_once), got " .. given(proxy), 2)
  end
  local path, list, text
  if type(handlers) == "string" then
    if handlers == "" then
      error("maro.dist(proxy, handlers): handlers must be a table {[event] = handler} or the "
        .. "path of a Lua file returning one, got \"\"", 2)
    end
    local err
    path = handlers
    list, err, text = handlers_file.load(path)
    if not list then
      error("maro.dist: " .. err, 2)
    end
  elseif type(handlers) == "table" then
    local err
    list, err = handlers_file.check(handlers, nil)
    if not list then
      error("maro.dist: " .. err, 2)
    end
  else
    error("maro.dist(proxy, handlers): handlers must be a table {[event] = handler} or the "
      .. "path of a Lua file returning one, got " .. given(handlers), 2)
  end

  if options ~= nil then
    if type(options) ~= "table" then
      error("maro.dist(proxy, handlers, options): options must be a table such as "
        .. "{ max_buffered = 4096 }, got " .. given(options), 2)
    end
    local interval = options.log_interval
    if interval ~= nil and (math.type(interval) == nil or interval ~= interval
      or interval <= 0 or interval == math.huge) then
      error("maro.dist(proxy, handlers, options): options.log_interval must be a finite "
        .. "number of seconds > 0, got " .. given(interval), 2)
    end
    -- The rest are the register table's.
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
      error("maro.dist(proxy, handlers, options): options: " .. err, 2)
    end
    options, log_interval = rt_options, interval
  end

  return function(Class)
    if not has_new(Class) and not callable(Class) then
      error("maro.dist(proxy, handlers)(Class): Class must have a 'new' function or be "
        .. "callable, got " .. given(Class), 2)
    end
    local Worker = {}
    function Worker.new(...)
      local instance = make_instance(Class, ...)
      local rt = core.RegisterTable(proxy, options)
      rt:replace(entries(list))
      local st = {
        proxy = proxy, instance = instance, rt = rt, path = path, bound = {},
        log_interval = log_interval or LOG_INTERVAL,
        unwanted = { limiter = log.limiter(log_interval or LOG_INTERVAL), tags = {}, ntags = 0,
          other = 0 },
        error_limiters = { by_label = {}, count = 0,
          other = log.limiter(log_interval or LOG_INTERVAL) },
        errors = 0, reloads = 0, failed_reloads = 0, next_check = 0,
        stopped = false, running = false,
      }
      if path then
        st.watcher = core.Watcher(path, { sighup = true })
        st.watch_fds = { st.watcher:fd(), st.watcher:hup_fd() }
        -- Can the proxy wake on them? (Tried once; a full proxy falls back to polling.)
        local ok, taken = pcall(function()
          return proxy:watch_fd(table.unpack(st.watch_fds))
        end)
        st.proxy_watches = ok and taken == true
        if st.proxy_watches then
          proxy:unwatch_fd(table.unpack(st.watch_fds))
        end
        -- A save between the first load and the watch would go unnoticed.
        if handlers_file.read(path) ~= text then
          reload(st, "file saved")
        end
      end
      local w = setmetatable({}, WrapperMeta)
      state_of[w] = st
      return w
    end
    return setmetatable(Worker, {
      __call = function(_, ...)
        return Worker.new(...)
      end,
    })
  end
end

--- The state a test or a tool may look at: reloads, failed reloads, handler
-- errors, and the register table's stats.
local function stats(w)
  local st = state_of[w]
  if not st then
    error("maro.dist.stats(w): w must be a dist worker, got " .. given(w), 2)
  end
  local held = st.unwanted.limiter.held + st.error_limiters.other.held
  for _, lim in pairs(st.error_limiters.by_label) do
    held = held + lim.held
  end
  return { reloads = st.reloads, failed_reloads = st.failed_reloads, errors = st.errors,
    held = held, events = st.rt:events(), table = st.rt:stats() }
end

--- The local instance behind a worker.
local function instance(w)
  local st = state_of[w]
  if not st then
    error("maro.dist.instance(w): w must be a dist worker, got " .. given(w), 2)
  end
  return st.instance
end

--- True while the worker serves (inside launch() or step()): maro.testing
-- does not step a worker that is busy already.
local function serving(w)
  local st = state_of[w]
  if not st then
    error("maro.dist.serving(w): w must be a dist worker, got " .. given(w), 2)
  end
  return st.running
end

--- The proxy a worker serves.
local function proxy_of(w)
  local st = state_of[w]
  if not st then
    error("maro.dist.proxy_of(w): w must be a dist worker, got " .. given(w), 2)
  end
  return st.proxy
end

--- True when w is a dist worker.
local function is_worker(w)
  return state_of[w] ~= nil
end

return setmetatable({ stats = stats, instance = instance, serving = serving,
  proxy_of = proxy_of, is_worker = is_worker }, {
  __call = function(_, proxy, handlers, options)
    return dist(proxy, handlers, options)
  end,
})
