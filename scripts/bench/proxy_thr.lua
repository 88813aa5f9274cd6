--- Throughput through maro.Proxy: the sender isends N messages of SIZE payload
-- bytes, the receiver receives and counts them and times the first to the
-- last, as bench_zmq_raw thr does.
--   marohost proxy_thr.lua receiver|sender [N] [SIZE] [new|reuse]
-- The sender builds a new Message for every isend (new, the default), or
-- isends one Message N times (reuse), which shows what building costs.
-- The receiver prints "thr_msgs_per_s X" and "thr_mib_per_s X"; when it has
-- them all it tells the sender, which waits for that before leaving.
local maro = require("maro")
local common = dofile((arg[0]:match("^(.*/)") or "./") .. "proxy_common.lua")

local role, n_arg, size_arg, build = ...
local n = common.int_arg(n_arg, "N", 200000)
local size = common.int_arg(size_arg, "SIZE", 64)
build = build or "new"
if build ~= "new" and build ~= "reuse" then
  error(("the fourth argument must be new or reuse, got %q"):format(build))
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
  for msg in proxy:receive(TIMEOUT) do
    if msg.tag == "data" then
      -- Reading the payload is part of receiving it (the raw receiver copies
      -- the bytes out too).
      if #msg.payload ~= size then
        error(("message %d has %d payload bytes, expected %d"):format(count + 1, #msg.payload, size))
      end
      count = count + 1
      if count == 1 then
        first = maro.now()
      end
      if count == n then
        last = maro.now()
        proxy:isend(maro.Message{ tag = "done", source = proxy.name, destination = msg.source })
        break
      end
    end
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
  error("usage: proxy_thr.lua receiver|sender [N] [SIZE] [new|reuse]")
end
