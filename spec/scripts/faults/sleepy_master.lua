-- The rejoin scenario of spec/proxy_faults_spec.lua: a master (with the
-- rejoin cache unless CACHE=0) that, once it has talked to worker_1 and worker_2, computes
-- outside the proxy (os.execute, no proxy call) until the file MARKER
-- exists, then scatters to both workers by name and waits for both replies.
-- Meanwhile the spec restarts worker_1 under its name.
local maro = require("maro")

local marker = ...
local cache = os.getenv("CACHE") ~= "0"
local proxy = maro.Proxy{ component_type = "master", component_name = "master",
  expected_peers = { worker = 2 }, enable_rejoin = cache,
  enable_message_cache_for_rejoin = cache }

local replies = proxy:scatter("hello", maro.SessionType.TASK,
  { { "worker_1", "first" }, { "worker_2", "first" } }, 10)
assert(#replies == 2, "the first scatter was answered")
print("sleeping")
io.stdout:flush()
local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end
while not exists(marker) do
  os.execute("sleep 0.1") -- outside the proxy: no call reads its socket or membership
end
os.execute("sleep 2")
local got, pending = proxy:scatter("again", maro.SessionType.TASK,
  { { "worker_1", "second" }, { "worker_2", "second" } }, 20)
local from = {}
for _, r in ipairs(got) do from[#from + 1] = r.source .. "=" .. tostring(r.payload) end
table.sort(from)
print("replies " .. table.concat(from, " ") .. " pending " .. #pending)
proxy:ibroadcast("worker", "stop", maro.SessionType.NOTIFICATION, nil)
print("closed " .. proxy:close())
