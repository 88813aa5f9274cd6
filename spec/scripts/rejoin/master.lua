-- A master for spec/proxy_rejoin_spec.lua, with the rejoin options on. It
-- talks to worker_1; the spec SIGKILLs that worker once the master printed
-- "ready", and the master then exercises one mode (the first argument):
--   cache N   sends N messages while the worker is down ("sent"), waits
--             until it is back and then tells it to stop
--   nocache   a send while the worker is down (no cache) must fail
--   bound M   the cache holds M messages; the M+1st send must fail
--   expire    3 messages are kept, the lifetime (1 s) passes, and a send
--             then fails as for an unknown peer
-- Errors are printed as "error: ..." on stdout.
local maro = require("maro")

local mode, count = ...
count = tonumber(count) or 0

local proxy = maro.Proxy{ component_type = "master", component_name = "master",
  expected_peers = { worker = 1 }, heartbeat_interval = 0.2, heartbeat_expiry = 0.6,
  peer_refresh_interval = 0.2, enable_rejoin = true,
  enable_message_cache_for_rejoin = mode ~= "nocache",
  max_length_for_message_cache = mode == "bound" and count or nil,
  peers_catch_lifetime = mode == "expire" and 1 or 30 }

local function say(s)
  print(s)
  io.stdout:flush()
end

local function msg(payload)
  return maro.Message{ tag = "work", source = "master", destination = "worker_1",
    payload = payload }
end

-- Receives (nothing is expected) until cond() holds; false after timeout s.
local function wait_for(cond, timeout)
  local deadline = maro.now() + timeout
  while not cond() do
    if maro.now() >= deadline then
      return false
    end
    proxy:receive_once(0.05)
  end
  return true
end

local function has_worker()
  return proxy.peers.worker ~= nil
end

proxy:isend(msg(0))
say("ready")
if not wait_for(function() return not has_worker() end, 20) then
  say("error: worker_1 never went down")
  os.exit(1)
end
say("down")

if mode == "cache" then
  for i = 1, count do
    proxy:isend(msg(i))
  end
  say("sent")
  if not wait_for(has_worker, 30) then
    say("error: worker_1 never came back")
    os.exit(1)
  end
  proxy:isend(maro.Message{ tag = "stop", source = "master", destination = "worker_1" })
  say("back")
elseif mode == "nocache" then
  local ok, err = pcall(proxy.isend, proxy, msg(1))
  say(ok and "sent" or ("error: " .. err))
elseif mode == "bound" then
  for i = 1, count do
    proxy:isend(msg(i))
  end
  say("kept " .. count)
  local ok, err = pcall(proxy.isend, proxy, msg(count + 1))
  say(ok and "sent" or ("error: " .. err))
elseif mode == "expire" then
  for i = 1, 3 do
    proxy:isend(msg(i))
  end
  say("kept 3")
  -- Keep sending until the lifetime passed and the peer is forgotten.
  local deadline = maro.now() + 10
  local kept, ok, err = 3, true, nil
  while ok and maro.now() < deadline do
    proxy:receive_once(0.2)
    ok, err = pcall(proxy.isend, proxy, msg(99))
    if ok then -- kept as well: the peer is still remembered
      kept = kept + 1
    end
  end
  say("kept total " .. kept)
  say(ok and "sent" or ("error: " .. err))
end
proxy:close()
