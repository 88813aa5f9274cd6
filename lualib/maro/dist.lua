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

-- The methods of the wrapper; the same names on the instance are hidden.
local METHODS = { launch = true, step = true, stop = true, reload = true }

local state_of = setmetatable({}, { __mode = "k" }) -- wrapper -> its private state

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

local function dispatch(st, fired)
  local calls = 0
  for _, f in ipairs(fired) do
    local entry, messages = f[1], f[2]
    calls = calls + 1
    local ok, err = xpcall(entry.fn, traceback, st.instance, st.proxy, messages)
    if not ok then
      st.errors = st.errors + 1
      log.error("dist: the handler of %s raised an error (the worker keeps serving): %s",
        entry.label, tostring(err))
    end
  end
  return calls
end

local function handle(st, msg)
  if st.rt:push(msg) == 0 then
    -- Nothing waits for it now: say so once per tag, it may be a typo in an event.
    local tag = msg.tag
    if not st.unwanted[tag] then
      st.unwanted[tag] = true
      log.warn("dist: no event wants a message tagged '%s' (from '%s'); such messages are "
        .. "dropped", tag, msg.source)
    end
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
  local st = state_of[w] or error("dist: launch() must be called on a worker", 2)
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
  local st = state_of[w] or error("dist: step() must be called on a worker", 2)
  if timeout ~= nil and (type(timeout) ~= "number" or timeout < 0) then
    error("dist: step(timeout): timeout must be a non-negative number of seconds", 2)
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
  local st = state_of[w] or error("dist: stop() must be called on a worker", 2)
  st.stopped = true
end

--- Reloads the handler file now (as a save or SIGHUP would); returns true
-- when the new handlers are in place.
function Wrapper.reload(w)
  local st = state_of[w] or error("dist: reload() must be called on a worker", 2)
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

local function make_instance(Class, ...)
  local ok_new, has_new = pcall(function() return Class.new ~= nil end)
  local instance
  if ok_new and has_new then
    instance = Class.new(...)
  elseif type(Class) == "function" or getmetatable(Class) and getmetatable(Class).__call then
    instance = Class(...)
  else
    error("dist: the class must have a 'new' function or be callable, got " .. type(Class), 3)
  end
  local t = type(instance)
  if t ~= "table" and t ~= "userdata" then
    error("dist: the class constructor returned " .. t .. ", not an instance", 3)
  end
  return instance
end

-- ---- maro.dist ------------------------------------------------------------

local function dist(proxy, handlers, options)
  if proxy == nil then
    error("maro.dist(proxy, handlers): proxy is nil", 2)
  end
  local path, list, text
  if type(handlers) == "string" then
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
      .. "path of a Lua file returning one, got " .. type(handlers), 2)
  end

  if options ~= nil then
    local ok, err = pcall(core.RegisterTable, nil, options)
    if not ok then
      error("maro.dist: options: " .. tostring(err), 2)
    end
  end

  return function(Class)
    local Worker = {}
    function Worker.new(...)
      local instance = make_instance(Class, ...)
      local rt = core.RegisterTable(proxy, options)
      rt:replace(entries(list))
      local st = {
        proxy = proxy, instance = instance, rt = rt, path = path, bound = {},
        unwanted = {}, errors = 0, reloads = 0, failed_reloads = 0, next_check = 0,
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
  local st = state_of[w] or error("maro.dist.stats(w): not a dist worker", 2)
  return { reloads = st.reloads, failed_reloads = st.failed_reloads, errors = st.errors,
    events = st.rt:events(), table = st.rt:stats() }
end

--- The local instance behind a worker.
local function instance(w)
  local st = state_of[w] or error("maro.dist.instance(w): not a dist worker", 2)
  return st.instance
end

--- True while the worker serves (inside launch() or step()): maro.testing
-- does not step a worker that is busy already.
local function serving(w)
  local st = state_of[w] or error("maro.dist.serving(w): not a dist worker", 2)
  return st.running
end

--- The proxy a worker serves.
local function proxy_of(w)
  local st = state_of[w] or error("maro.dist.proxy_of(w): not a dist worker", 2)
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
