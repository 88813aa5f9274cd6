--- The master of the scatter example: splits a list of 100 numbers among the
-- sum workers and a list of 20 numbers among the product workers, scatters
-- the parts as tasks, and checks that the replies add (and multiply) up.
--   marohost master.lua [--immediate]
-- With --immediate it uses iscatter and collects the replies with
-- receive_by_id; otherwise scatter() waits for them itself.
local maro = require("maro")

io.stdout:setvbuf("line")
local immediate = (...) == "--immediate"
local TIMEOUT = 10

local proxy = maro.Proxy{
  component_type = "master",
  expected_peers = { sum_worker = 5, product_worker = 5 },
}

local function random_list(length, low, high)
  local list = {}
  for i = 1, length do
    list[i] = math.random(low, high)
  end
  return list
end

-- Factors stay within 1..8 so that the product of all 20 fits a 64-bit integer.
local sum_list = random_list(100, 0, 9)
local product_list = random_list(20, 1, 8)
print(("%s: a list of %d numbers to sum and one of %d to multiply"):format(
  proxy.name, #sum_list, #product_list))

-- Appends one {destination, payload} pair per peer, each with its share of list
-- (the last one also takes what does not divide evenly).
local function assign(jobs, list, peers)
  local share = #list // #peers
  for i, peer in ipairs(peers) do
    local last = i == #peers and #list or i * share
    jobs[#jobs + 1] = { peer, table.move(list, (i - 1) * share + 1, last, 1, {}) }
  end
end

local peers = proxy.peers
local jobs = {}
assign(jobs, sum_list, peers.sum_worker)
assign(jobs, product_list, peers.product_worker)

local replies, pending
if immediate then
  local session_ids = proxy:iscatter("job", maro.SessionType.TASK, jobs)
  -- Work with a higher priority could be done here while the workers compute.
  replies, pending = proxy:receive_by_id(session_ids, TIMEOUT)
else
  replies, pending = proxy:scatter("job", maro.SessionType.TASK, jobs, TIMEOUT)
end

local sum, product = 0, 1
for _, msg in ipairs(replies) do
  if msg.tag == "sum" then
    print(("%s: %s replied with the sum %d"):format(proxy.name, msg.source, msg.payload))
    sum = sum + msg.payload
  elseif msg.tag == "product" then
    print(("%s: %s replied with the product %d"):format(proxy.name, msg.source, msg.payload))
    product = product * msg.payload
  end
end

local expected_sum, expected_product = 0, 1
for _, n in ipairs(sum_list) do
  expected_sum = expected_sum + n
end
for _, n in ipairs(product_list) do
  expected_product = expected_product * n
end

local ok = true
local function check(what, got, expected)
  local good = got == expected
  print(("%s: %s %d, expected %d: %s"):format(proxy.name, what, got, expected,
                                              good and "correct" or "WRONG"))
  ok = ok and good
end
check("sum", sum, expected_sum)
check("product", product, expected_product)
if #replies ~= #jobs or #pending > 0 then
  print(("%s: %d of %d replies arrived within %d s"):format(proxy.name, #replies, #jobs, TIMEOUT))
  ok = false
end

proxy:close()
os.exit(ok and 0 or 1)
