-- The master for the proxy specs: runs the scenarios named on the command
-- line against five workers (worker_1..worker_5), printing "ok <scenario>"
-- for each, then stops the workers. An assertion failure exits non-zero.
local maro = require("maro")

local N = 5
-- A small receive buffer, so that the "bound" scenario reaches it.
local BOUND = 20
local proxy = maro.Proxy{ component_type = "master", component_name = "master",
  expected_peers = { worker = N }, max_buffered_messages = BOUND }
print("joined " .. proxy.name)
io.stdout:flush()

local function check(cond, ...)
  if not cond then
    error(string.format(...), 2)
  end
end

local function worker(i)
  return "worker_" .. i
end

local function task(tag, dest, payload, extra)
  local t = { tag = tag, source = proxy.name, destination = dest, payload = payload }
  for k, v in pairs(extra or {}) do
    t[k] = v
  end
  return maro.SessionMessage(t)
end

local scenarios = {}

function scenarios.peers()
  local peers = proxy.peers
  check(#peers.worker == N, "expected %d workers, got %d", N, #peers.worker)
  for i = 1, N do
    check(peers.worker[i] == worker(i), "peer %d is %s", i, tostring(peers.worker[i]))
  end
  peers.worker[1] = "changed"
  check(proxy.peers.worker[1] == worker(1), "proxy.peers must be a fresh copy")
  check(math.type(proxy.peers_version) == "integer", "peers_version is an integer")
  check(proxy.group_name == os.getenv("MARO_GROUP"), "group_name")
  check(proxy.component_type == "master", "component_type")
end

function scenarios.send()
  for i = 1, N do
    local m = task("sum", worker(i), { i, 10, 100 })
    local replies, pending = proxy:send(m, 10)
    check(#replies == 1 and #pending == 0, "send to %s: %d replies, %d pending", worker(i),
      #replies, #pending)
    local r = replies[1]
    check(r.payload == i + 110, "sum from %s is %s", worker(i), tostring(r.payload))
    check(r.source == worker(i) and r.destination == "master", "reply names %s -> %s",
      r.source, r.destination)
    check(r.session_id == m.session_id, "reply keeps the session id")
    check(r.message_id ~= m.message_id, "reply has its own message id")
    check(r.session_stage == "task_complete", "stage %s", tostring(r.session_stage))
    check(r.tag == "sum", "reply keeps the tag")
  end
  -- A plain message echoed with its payload kept, nested tables and all.
  local payload = { list = { 1, 2.5, "three", true }, map = { a = { b = { c = "deep" } } } }
  local m = maro.Message{ tag = "echo", source = "master", destination = worker(3),
    payload = payload }
  local replies = proxy:send(m, 10)
  check(#replies == 1, "echo: %d replies", #replies)
  local p = replies[1].payload
  check(p.list[2] == 2.5 and math.type(p.list[1]) == "integer" and p.list[3] == "three"
    and p.map.a.b.c == "deep", "echoed payload differs")
  check(replies[1].session_type == nil, "a plain message's reply has no session type")
  -- isend returns the session id; the reply comes by receive_by_id.
  local ids = proxy:isend(task("sum", worker(1), { 1, 2 }))
  check(#ids == 1 and type(ids[1]) == "string" and #ids[1] == 36, "isend returns {id}")
  local r2 = proxy:receive_by_id(ids, 10)
  check(#r2 == 1 and r2[1].payload == 3, "isend + receive_by_id")
end

function scenarios.notification()
  local m = task("echo", worker(2), "hello", { session_type = maro.SessionType.NOTIFICATION })
  check(m.session_stage == "notification_request", "request stage")
  local replies, pending = proxy:send(m, 10)
  check(#replies == 1 and #pending == 0, "notification reply")
  check(replies[1].session_stage == "notification_receive", "stage %s",
    tostring(replies[1].session_stage))
  check(replies[1].session_type == "notification", "type")
  check(proxy:session_stage(m.session_id) == nil, "a finished session is forgotten")
end

function scenarios.scatter()
  -- The original's example: sums and products over the same data.
  local data, sums, products = {}, {}, {}
  for i = 1, N do
    data[i] = { i, i + 1, i + 2 }
    sums[#sums + 1] = { worker(i), data[i] }
    products[#products + 1] = { worker(i), data[i] }
  end
  local replies, pending = proxy:scatter("sum", maro.SessionType.TASK, sums, 10)
  check(#replies == N and #pending == 0, "scatter sum: %d replies, %d pending", #replies,
    #pending)
  local total, want = 0, 0
  for i = 1, N do
    want = want + 3 * i + 3
  end
  for _, r in ipairs(replies) do
    total = total + r.payload
  end
  check(total == want, "sum total %d, want %d", total, want)
  local ids = proxy:iscatter("product", maro.SessionType.TASK, products)
  check(#ids == N, "iscatter returns one id per destination")
  local seen = {}
  for _, id in ipairs(ids) do
    check(not seen[id], "distinct session ids")
    seen[id] = true
  end
  local r2, p2 = proxy:receive_by_id(ids, 10)
  check(#r2 == N and #p2 == 0, "iscatter + receive_by_id")
  local ptotal, pwant = 0, 0
  for i = 1, N do
    pwant = pwant + i * (i + 1) * (i + 2)
  end
  for _, r in ipairs(r2) do
    ptotal = ptotal + r.payload
  end
  check(ptotal == pwant, "product total %d, want %d", ptotal, pwant)
end

function scenarios.broadcast()
  local replies, pending = proxy:broadcast("worker", "whoami", maro.SessionType.TASK, nil, 10)
  check(#replies == N and #pending == 0, "broadcast: %d replies, %d pending", #replies, #pending)
  local names = {}
  for _, r in ipairs(replies) do
    check(r.tag == "iam" and r.payload == r.source, "reply %s names %s", r.source,
      tostring(r.payload))
    check(not names[r.source], "one reply per worker")
    names[r.source] = true
  end
  for i = 1, N do
    check(names[worker(i)], "%s replied", worker(i))
  end
  local ids = proxy:ibroadcast("worker", "echo", maro.SessionType.NOTIFICATION, { x = 1 })
  check(#ids == N, "ibroadcast returns the id once per peer")
  for i = 2, N do
    check(ids[i] == ids[1], "the same id")
  end
  local r2 = proxy:receive_by_id(ids, 10)
  check(#r2 == N, "ibroadcast + receive_by_id: %d", #r2)
  for _, r in ipairs(r2) do
    check(r.session_stage == "notification_receive" and r.payload.x == 1, "notification replies")
  end
  local ok, err = pcall(proxy.broadcast, proxy, "nobody", "echo", nil, nil, 1)
  check(not ok and err:match("no connected peers of type 'nobody'"), "broadcast to no one: %s",
    tostring(err))
end

function scenarios.out_of_order()
  -- One worker answers in order, so A's reply arrives before B's and is kept.
  local a = proxy:isend(task("echo", worker(1), "A"))[1]
  local b = proxy:isend(task("echo", worker(1), "B"))[1]
  local c = proxy:isend(task("echo", worker(1), "C"))[1]
  local rb = proxy:receive_by_id({ b }, 10)
  check(#rb == 1 and rb[1].payload == "B", "B first")
  local ra, pa = proxy:receive_by_id({ a }, 0) -- already here: 0 only looks
  check(#ra == 1 and ra[1].payload == "A" and #pa == 0, "A kept while waiting for B")
  local rc = proxy:receive_once(10)
  check(rc and rc.payload == "C" and rc.session_id == c, "C by receive_once")
  -- Interleaved across workers, taken in reverse order one by one.
  local list = {}
  for i = 1, N do
    list[i] = { worker(i), { i } }
  end
  local ids = proxy:iscatter("sum", "task", list)
  for i = N, 1, -1 do
    local r, p = proxy:receive_by_id({ ids[i] }, 10)
    check(#r == 1 and #p == 0 and r[1].payload == i and r[1].source == worker(i),
      "reply %d out of order", i)
  end
  -- Kept messages come back to receive in arrival order.
  local x = proxy:isend(task("echo", worker(2), 1))[1]
  local y = proxy:isend(task("echo", worker(2), 2))[1]
  local z = proxy:isend(task("echo", worker(2), 3))[1]
  local rz = proxy:receive_by_id({ z }, 10)
  check(#rz == 1, "z")
  local got = {}
  for m in proxy:receive(1) do
    got[#got + 1] = m.session_id
    if #got == 2 then
      break
    end
  end
  check(got[1] == x and got[2] == y, "receive gives the kept messages in arrival order")
  check(proxy:receive_once(0.2) == nil, "nothing left over")
end

function scenarios.timeout()
  local lost = proxy:isend(task("ignore", worker(4), nil))[1]
  local fine = proxy:isend(task("echo", worker(4), "here"))[1]
  local t0 = maro.now()
  local replies, pending = proxy:receive_by_id({ lost, fine }, 0.5)
  local dt = maro.now() - t0
  check(#replies == 1 and replies[1].session_id == fine, "the answered one")
  check(#pending == 1 and pending[1] == lost, "the pending id")
  check(dt >= 0.5 and dt < 3, "waited %.3f s", dt)
  local r2, p2 = proxy:send(task("ignore", worker(5), nil), 0.2)
  check(#r2 == 0 and #p2 == 1, "send timeout: replies %d pending %d", #r2, #p2)
  t0 = maro.now()
  check(proxy:receive_once(0) == nil, "0 only looks")
  check(maro.now() - t0 < 0.5, "0 returns at once")
  -- The same id twice (as after a broadcast) waits for two replies.
  local id = proxy:isend(task("echo", worker(1), "once"))[1]
  local r3, p3 = proxy:receive_by_id({ id, id }, 0.5)
  check(#r3 == 1 and #p3 == 1 and p3[1] == id, "one of two replies")
end

function scenarios.ack()
  local m = task("slow", worker(3), "x")
  local ids = proxy:isend(m)
  check(proxy:session_stage(ids[1]) == "task_request", "request stage before the ack")
  local replies, pending = proxy:receive_by_id(ids, 0.5)
  check(#replies == 0 and #pending == 1, "an ack does not end the wait")
  check(proxy:session_stage(ids[1]) == "task_receive", "stage after the ack: %s",
    tostring(proxy:session_stage(ids[1])))
  proxy:isend(maro.Message{ tag = "finish", source = "master", destination = worker(3) })
  replies, pending = proxy:receive_by_id(ids, 10)
  check(#replies == 1 and #pending == 0, "the final reply")
  check(replies[1].payload == "done x" and replies[1].session_stage == "task_complete", "final")
  check(proxy:session_stage(ids[1]) == nil, "forgotten when complete")
  check(proxy:receive_once(0.2) == nil, "the ack is never returned")
end

function scenarios.forward()
  local m = task("relay", worker(1), { to = worker(2) })
  local replies = proxy:receive_by_id(proxy:isend(m), 10)
  check(#replies == 1, "forwarded report")
  local r = replies[1]
  check(r.tag == "reported" and r.source == worker(2) and r.session_id == m.session_id,
    "report %s from %s", r.tag, r.source)
  check(r.payload.via == worker(1) and r.payload.by == worker(2) and r.payload.to == worker(2),
    "forward sets the source and keeps the payload unless given")
end

function scenarios.unknown()
  local ok, err = pcall(proxy.isend, proxy, task("echo", "nobody", nil))
  check(not ok, "sending to an unknown name fails")
  check(err:find("unknown destination 'nobody'", 1, true) and
    err:find("group '" .. proxy.group_name .. "'", 1, true), "error: %s", err)
  ok, err = pcall(proxy.send, proxy, task("echo", worker(1), nil), -1)
  check(not ok and err:match("timeout must be nil"), "negative timeout: %s", tostring(err))
  ok, err = pcall(proxy.isend, proxy, task("echo", worker(1), { f = print }))
  check(not ok and err:match("payload"), "a function payload: %s", tostring(err))
  -- A failed send leaves the proxy working.
  local r = proxy:send(task("echo", worker(1), "still"), 10)
  check(#r == 1 and r[1].payload == "still", "still works")
end

function scenarios.bound()
  -- 50 replies arrive while waiting for an id nobody answers: at the bound
  -- the wait ends early (logged), and nothing is lost.
  local id = proxy:isend(maro.Message{ tag = "burst", source = "master", destination = worker(1),
    payload = { n = 50 } })[1]
  local t0 = maro.now()
  local replies, pending = proxy:receive_by_id({ "nobody-answers-this" }, 10)
  check(#replies == 0 and #pending == 1, "nothing for that id")
  check(maro.now() - t0 < 9, "the wait ended at the bound")
  check(proxy.buffered == BOUND, "buffered %d", proxy.buffered)
  for i = 1, 50 do
    local m = proxy:receive_once(10)
    check(m and m.session_id == id and m.payload == i, "message %d of the burst: %s", i,
      m and tostring(m.payload))
  end
  check(proxy:receive_once(0.2) == nil, "nothing more")
end

local names = { ... }
if #names == 0 or names[1] == "all" then
  names = { "peers", "send", "notification", "scatter", "broadcast", "out_of_order", "timeout",
    "ack", "forward", "unknown", "bound" }
end
for _, name in ipairs(names) do
  local f = scenarios[name]
  check(f, "no scenario %s", name)
  f()
  print("ok " .. name)
  io.stdout:flush()
end
proxy:ibroadcast("worker", "stop", maro.SessionType.NOTIFICATION, nil)
proxy:close()
print("done")
