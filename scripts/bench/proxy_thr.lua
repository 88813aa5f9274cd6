--- Throughput through maro.Proxy: the sender isends N messages of SIZE payload
-- bytes, the receiver receives and counts them and times the first to the
-- last, as bench_zmq_raw thr does.
--   marohost proxy_thr.lua receiver|sender [N] [SIZE] [new|reuse|session|fast]
-- How the sender sends, and the receiver reads:
--   new      a new Message per isend; the receiver reads msg.tag and msg.payload
--   reuse    one Message isent N times (what building costs, by difference)
--   session  a new SessionMessage of type NOTIFICATION per isend, as scripts
--            usually write it; the receiver reads msg.tag and msg.payload
--   fast     proxy:isend_to and proxy:receive_values (the fast path)
-- The receiver prints "thr_msgs_per_s X" and "thr_mib_per_s X"; when it has
-- them all it tells the sender, which waits for that before leaving.
local maro = require("maro")
local common = dofile((arg[0]:match("^(.*/)") or "./") .. "proxy_common.lua")

local role, n_arg, size_arg, build = ...
local n = common.int_arg(n_arg, "N", 200000)
local size = common.int_arg(size_arg, "SIZE", 64)
build = build or "new"
if build ~= "new" and build ~= "reuse" and build ~= "session" and build ~= "fast" then
  error(("the fourth argument must be new, reuse, session or fast, got %q"):format(build))
end
local TIMEOUT = 60

if role == "sender" then
  local proxy = maro.Proxy{ component_type = "sender", expected_peers = { receiver = 1 } }
  local receiver = proxy.peers.receiver[1]
  local payload = string.rep("x", size)
  if build == "reuse" then
    local msg = maro.Message{ tag = "data", source = proxy.name, destination = receiver,
                              payload = payload }
    for _ = 1, n do
      proxy:isend(msg)
    end
  elseif build == "session" then
    local name, notification = proxy.name, maro.SessionType.NOTIFICATION
    for _ = 1, n do
      proxy:isend(maro.SessionMessage{ tag = "data", source = name, destination = receiver,
                                       payload = payload, session_type = notification })
    end
  elseif build == "fast" then
    for _ = 1, n do
      proxy:isend_to(receiver, "data", payload)
    end
  else
    for _ = 1, n do
      proxy:isend(maro.Message{ tag = "data", source = proxy.name, destination = receiver,
                                payload = payload })
    end
  end
  local done = proxy:receive_once(TIMEOUT)
  if done == nil or done.tag ~= "done" then
    error(("the receiver did not confirm %d messages within %d s"):format(n, TIMEOUT))
  end
  proxy:close()
elseif role == "receiver" then
  local proxy = maro.Proxy{ component_type = "receiver", expected_peers = { sender = 1 } }
  local count, first, last = 0, nil, nil
  -- Reading the payload is part of receiving it (the raw receiver copies
  -- the bytes out too). True once all n have come.
  local function got(tag, payload)
    if tag ~= "data" then
      return false
    end
    if #payload ~= size then
      error(("message %d has %d payload bytes, expected %d"):format(count + 1, #payload, size))
    end
    count = count + 1
    if count == 1 then
      first = maro.now()
    end
    if count == n then
      last = maro.now()
      return true
    end
    return false
  end
  -- The sender's name is read once, from the last message, as a loop that
  -- reads tag and payload would.
  local sender
  if build == "fast" then
    for tag, payload, source in proxy:receive_values(TIMEOUT) do
      if got(tag, payload) then sender = source; break end
    end
  else
    for msg in proxy:receive(TIMEOUT) do
      if got(msg.tag, msg.payload) then sender = msg.source; break end
    end
  end
  if sender then
    proxy:isend(maro.Message{ tag = "done", source = proxy.name, destination = sender })
  end
  if count < n then
    error(("received %d of %d messages before a %d s silence (the proxy dropped %s)"):format(
      count, n, TIMEOUT, tostring(proxy.dropped)))
  end
  local rate = (n - 1) / (last - first)
  print(("thr_msgs_per_s %.1f"):format(rate))
  print(("thr_mib_per_s %.1f"):format(rate * size / (1024 * 1024)))
  proxy:close()
else
  error("usage: proxy_thr.lua receiver|sender [N] [SIZE] [new|reuse|session|fast]")
end
