--- maro.dist.dispatch: a received message into the worker's register table,
-- and the events it satisfies to their handlers.
--
--   local calls = dispatch.message(st, msg)       -- push, then run what fired
--   local calls = dispatch.fired(st, st.rt:get()) -- run what fired
--
-- st is the worker's state: instance, proxy, rt (its register table), lines
-- (its rate_limited_log) and errors (a count this module raises).
--
-- A handler that raises is logged, and each task request it was given is
-- answered with the error (proxy:reply(request, {error = text})), so that
-- its requester does not wait for a reply that will never come.
local Message = require("maro.core").Message

-- The most bytes of an error text that proxy:reply sends.
local MAX_ERROR = 4096

local M = {}

-- The traceback of a handler's error, without the frames of dist itself.
local function traceback(err)
  local tb = debug.traceback(tostring(err), 2)
  return (tb:gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
end

-- The task requests among a handler's messages, or nil. Noted before the
-- call: the handler may change its list.
local function task_requests(messages)
  local requests
  for i = 1, #messages do
    local msg = messages[i]
    if msg.session_type == "task" and msg.session_stage == "task_request" then
      requests = requests or {}
      requests[#requests + 1] = msg
    end
  end
  return requests
end

-- What a requester is told: the first line of the error's message (the
-- traceback's first line is the message's), never empty, cut at a
-- character boundary to what a header holds.
local function error_text(tb, label)
  local text = tb:match("^[^\n]*")
  if text == "" then
    return "the handler of " .. label .. " raised an error without a message"
  end
  if #text > MAX_ERROR then
    local cut = MAX_ERROR
    while cut > 0 and text:byte(cut + 1) & 0xC0 == 0x80 do -- a UTF-8 continuation byte
      cut = cut - 1
    end
    text = text:sub(1, cut)
  end
  return text
end

-- The error reply to a request, without a payload: proxy:reply keeps the
-- payload of the message it is given, so it is given a copy of the
-- request's header alone.
local function reply_error(proxy, request, text)
  local header = Message{ tag = request.tag, source = request.source,
    destination = request.destination, session_id = request.session_id,
    session_type = "task", session_stage = "task_request" }
  proxy:reply(header, { error = text })
end

-- Answers each request with the error; one that cannot be sent (its
-- requester left, the handler closed the proxy) is logged.
local function answer_requests(st, label, requests, tb)
  local text = error_text(tb, label)
  for _, request in ipairs(requests) do
    local ok, err = pcall(reply_error, st.proxy, request, text)
    if not ok then
      st.lines:error_reply_failed(label, request, tostring(err))
    end
  end
end

--- Calls the handler of each fired event ({entry, messages}, as rt:get()
-- gives them); after an error (logged, its task requests answered) the next
-- one runs. Returns the number of handler calls.
function M.fired(st, fired)
  local calls = 0
  for _, f in ipairs(fired) do
    local entry, messages = f[1], f[2]
    calls = calls + 1
    local requests = task_requests(messages)
    local ok, err = xpcall(entry.fn, traceback, st.instance, st.proxy, messages)
    if not ok then
      err = tostring(err)
      st.errors = st.errors + 1
      st.lines:handler_error(entry.label, err)
      if requests then
        answer_requests(st, entry.label, requests, err)
      end
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
