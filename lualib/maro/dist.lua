--- maro.dist: a local class as a distributed worker driven by conditional
-- events, with handlers that can be reloaded from their file while the worker
-- runs (docs/dist.md).
--
--   local Worker = maro.dist(proxy, handlers [, {max_buffered = n}])(WorkerClass)
--   local w = Worker(...)            -- or Worker.new(...)
--   w:launch()                       -- until w:stop() or proxy:close()
--   w:step(timeout)                  -- what arrives within timeout, then return
--
-- This module checks what it is given and makes workers. The parts of a
-- worker are under maro.dist.*; each requires only those listed below it:
--
--   worker            the object a script holds: its state and methods
--   loop              receiving; when to look at the file and at the peers
--   dispatch          a message into the register table, what fired to handlers
--   reload            the watch on the handler file, and the swap
--   handlers          a handler table or file, loaded and checked
--   rate_limited_log  log lines that could repeat with every message
--   args              what maro.dist and step() accept
--
-- They load on first use: require("maro") brings this module along, and a
-- script that never makes a worker should not pay for compiling them (each
-- process of a job starts with it).
local args, handlers_file, worker

local function load_parts()
  if not worker then
    args = require("maro.dist.args")
    handlers_file = require("maro.dist.handlers")
    worker = require("maro.dist.worker")
  end
end

local function given(v)
  return args.given(v)
end

local function make_instance(Class, ...)
  local instance
  if args.has_new(Class) then
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

local function dist(proxy, handlers, options)
  load_parts()
  if not args.proxy_like(proxy) then
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

  local rt_options, log_interval, err = args.options(options)
  if err then
    error("maro.dist(proxy, handlers, options): " .. err, 2)
  end

  return function(Class)
    if not args.has_new(Class) and not args.callable(Class) then
      error("maro.dist(proxy, handlers)(Class): Class must have a 'new' function or be "
        .. "callable, got " .. given(Class), 2)
    end
    local Worker = {}
    function Worker.new(...)
      return worker.new{ proxy = proxy, instance = make_instance(Class, ...), list = list,
        path = path, text = text, rt_options = rt_options, log_interval = log_interval }
    end
    return setmetatable(Worker, {
      __call = function(_, ...)
        return Worker.new(...)
      end,
    })
  end
end

-- The state of a worker for the functions below, or an error naming the call.
local function state(w, fn)
  load_parts()
  local st = worker.state(w)
  if not st then
    error("maro.dist." .. fn .. "(w): w must be a dist worker, got " .. given(w), 3)
  end
  return st
end

--- The state a test or a tool may look at: reloads, failed reloads, handler
-- errors, and the register table's stats.
local function stats(w)
  local st = state(w, "stats")
  return { reloads = st.reloads, failed_reloads = st.failed_reloads, errors = st.errors,
    held = st.lines:held(), events = st.rt:events(), table = st.rt:stats() }
end

--- The local instance behind a worker.
local function instance(w)
  return state(w, "instance").instance
end

--- True while the worker serves (inside launch() or step()): maro.testing
-- does not step a worker that is busy already.
local function serving(w)
  return state(w, "serving").running
end

--- The proxy a worker serves.
local function proxy_of(w)
  return state(w, "proxy_of").proxy
end

--- True when w is a dist worker.
local function is_worker(w)
  load_parts()
  return worker.state(w) ~= nil
end

return setmetatable({ stats = stats, instance = instance, serving = serving,
  proxy_of = proxy_of, is_worker = is_worker }, {
  __call = function(_, proxy, handlers, options)
    return dist(proxy, handlers, options)
  end,
})
