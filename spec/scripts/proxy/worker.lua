-- A worker for the proxy specs. Configured by the environment (MARO_REDIS,
-- MARO_GROUP, MARO_COMPONENT_NAME, HEARTBEAT_EXPIRY); expects one master.
-- Serves by tag until a "stop" message arrives.
local maro = require("maro")

local proxy = maro.Proxy{ component_type = "worker", expected_peers = { master = 1 },
  heartbeat_expiry = tonumber(os.getenv("HEARTBEAT_EXPIRY")) }
print("joined " .. proxy.name)
io.stdout:flush()

local held = {} -- tasks acknowledged and not answered yet, by session id

local handlers = {}

function handlers.sum(msg)
  local s = 0
  for _, v in ipairs(msg.payload) do
    s = s + v
  end
  proxy:reply(msg, { payload = s })
end

function handlers.product(msg)
  local s = 1
  for _, v in ipairs(msg.payload) do
    s = s * v
  end
  proxy:reply(msg, { payload = s })
end

function handlers.echo(msg)
  proxy:reply(msg) -- tag and payload kept
end

function handlers.ignore()
end

function handlers.whoami(msg)
  proxy:reply(msg, { tag = "iam", payload = proxy.name })
end

-- Acknowledges now, answers when the master says "finish".
function handlers.slow(msg)
  proxy:reply(msg, { ack = true })
  held[#held + 1] = msg
end

function handlers.finish()
  for _, m in ipairs(held) do
    proxy:reply(m, { payload = "done " .. m.payload })
  end
  held = {}
end

-- Passes the message on to payload.to, which reports it to the master.
function handlers.relay(msg)
  proxy:forward(msg, msg.payload.to, { tag = "report" })
end

function handlers.report(msg)
  proxy:forward(msg, "master", { tag = "reported",
    payload = { via = msg.source, by = proxy.name, to = msg.payload.to } })
end

-- Sends payload.n messages back, each a reply in the same session.
function handlers.burst(msg)
  for i = 1, msg.payload.n do
    proxy:reply(msg, { payload = i })
  end
end

for msg in proxy:receive() do
  if msg.tag == "stop" then
    break
  end
  local h = handlers[msg.tag]
  if h then
    h(msg)
  else
    io.stderr:write("worker: unknown tag " .. msg.tag .. "\n")
  end
end
proxy:close()
print("left " .. (proxy.closed and "closed" or "open"))
