--- maro.dist.worker: one worker. It holds the worker's private state and is
-- the object a script gets: its methods launch, step, stop and reload, and
-- every other name forwarded to the instance.
--
--   local w = worker.new{ proxy = p, instance = obj, list = checked_handlers,
--                         path = file_or_nil, text = what_was_loaded,
--                         rt_options = opts_or_nil, log_interval = s_or_nil }
--   local st = worker.state(w)   -- nil when w is not a worker
local core = require("maro.core")
local args = require("maro.dist.args")
local handlers_file = require("maro.dist.handlers")
local loop = require("maro.dist.loop")
local rate_limited_log = require("maro.dist.rate_limited_log")
local reload = require("maro.dist.reload")

local now = core.now
local given = args.given

-- The methods of the wrapper; the same names on the instance are hidden.
local METHODS = { launch = true, step = true, stop = true, reload = true }

local state_of = setmetatable({}, { __mode = "k" }) -- wrapper -> its private state

-- The private state of a worker, or an error naming the call.
local function worker_state(w, method)
  local st = state_of[w]
  if not st then
    error("dist: " .. method .. ": must be called on a dist worker, as w:" .. method
      .. ", got " .. given(w), 3)
  end
  return st
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
  local ok, err = pcall(loop.serve, st, nil)
  st.running = false
  if not ok then
    error(err, 0)
  end
end

function Wrapper.step(w, timeout)
  local st = worker_state(w, "step(timeout)")
  local ok, err = args.timeout(timeout)
  if not ok then
    error("dist: step(timeout): " .. err, 2)
  end
  running_guard(st, "step")
  st.stopped = false
  st.running = true
  local done, calls = pcall(loop.serve, st, now() + (timeout or 0))
  st.running = false
  if not done then
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
  return reload.now(st, "reload()")
end

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

local M = {}

--- A new worker: its own register table with the checked handler list, and
-- a watch on the handler file when there is one.
function M.new(o)
  local rt = core.RegisterTable(o.proxy, o.rt_options)
  rt:replace(handlers_file.entries(o.list))
  local st = {
    proxy = o.proxy, instance = o.instance, rt = rt, path = o.path, bound = {},
    lines = rate_limited_log.new(o.log_interval),
    errors = 0, reloads = 0, failed_reloads = 0, next_check = 0,
    stopped = false, running = false,
  }
  if o.path then
    reload.watch(st, o.text)
  end
  local w = setmetatable({}, WrapperMeta)
  state_of[w] = st
  return w
end

--- The private state of w, or nil when w is not a worker.
function M.state(w)
  return state_of[w]
end

return M
