--- maro.dist.dispatch: a received message into the worker's register table,
-- and the events it satisfies to their handlers.
--
--   local calls = dispatch.message(st, msg)       -- push, then run what fired
--   local calls = dispatch.fired(st, st.rt:get()) -- run what fired
--
-- st is the worker's state: instance, proxy, rt (its register table), lines
-- (its rate_limited_log) and errors (a count this module raises).
local M = {}

-- The traceback of a handler's error, without the frames of dist itself.
local function traceback(err)
  local tb = debug.traceback(tostring(err), 2)
  return (tb:gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
end

--- Calls the handler of each fired event ({entry, messages}, as rt:get()
-- gives them); an error is logged and the next one runs. Returns the number
-- of handler calls.
function M.fired(st, fired)
  local calls = 0
  for _, f in ipairs(fired) do
    local entry, messages = f[1], f[2]
    calls = calls + 1
    local ok, err = xpcall(entry.fn, traceback, st.instance, st.proxy, messages)
    if not ok then
      st.errors = st.errors + 1
      st.lines:handler_error(entry.label, tostring(err))
    end
  end
  return calls
end

--- Pushes msg into the register table and runs the handlers of what it
-- satisfied; a message that no event wants is dropped with a warning.
-- Returns the number of handler calls.
function M.message(st, msg)
  if st.rt:push(msg) == 0 then
    st.lines:unwanted(msg)
    return 0
  end
  return M.fired(st, st.rt:get())
end

return M
