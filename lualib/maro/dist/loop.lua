--- maro.dist.loop: a worker's receive loop. It receives, looks at the
-- handler file between messages, notices a change of peers while idle, and
-- hands each message to dispatch.
--
--   local calls = loop.serve(st, deadline)   -- until deadline (nil: for ever),
--                                            -- st.stopped or the proxy closes
--
-- st is the worker's state (see maro.dist.worker).
local core = require("maro.core")
local dispatch = require("maro.dist.dispatch")
local reload = require("maro.dist.reload")

local now = core.now

-- While a receive waits, the watcher's descriptors are part of the proxy's
-- wait (proxy:watch_fd): a save or SIGHUP ends the wait at once. Only when
-- the proxy cannot take them (it watches too many descriptors already, or is
-- not a maro.Proxy) is the watcher looked at this often instead.
local WATCH_INTERVAL = 0.1
-- The receive still returns now and then, to notice a change of peers that
-- satisfies a percentage event without a new message.
local PEERS_INTERVAL = 0.5
-- Past step()'s deadline, at most this many messages already queued are
-- still handled, so that step(0) takes what is there without running forever
-- under a flood.
local STEP_DRAIN = 1024

local M = {}

local function closed(st)
  return st.proxy.closed == true
end

-- Reloads when the file was saved or SIGHUP came; messages handed back by
-- removed events may satisfy an added one at once. Returns handler calls.
local function check_reload(st)
  if reload.due(st) then
    return dispatch.fired(st, st.rt:get())
  end
  return 0
end

-- Peers that left can satisfy a percentage with what is buffered already:
-- look when the proxy's peer set changed, not only when a message came.
local function check_peers(st)
  local ok, v = pcall(function() return st.proxy.peers_version end)
  if ok and v ~= nil and v ~= st.peers_version then
    st.peers_version = v
    return dispatch.fired(st, st.rt:get())
  end
  return 0
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
function M.serve(st, deadline)
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
      calls = calls + dispatch.message(st, msg)
      if deadline and now() >= deadline then
        extra = extra + 1
        if extra >= STEP_DRAIN then
          break
        end
      end
    else
      -- Woken by the watcher, or the slice ran out: look at it now.
      reload.look_soon(st)
      if not closed(st) then
        calls = calls + check_peers(st)
      end
      st.lines:flush()
      if deadline and now() >= deadline then
        break
      end
    end
  end
  return calls
end

return M
