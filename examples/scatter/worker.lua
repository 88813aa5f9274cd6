--- A worker of the scatter example: answers every "job" with the sum or the
-- product of the numbers it carries, until it is stopped.
--   marohost worker.lua sum|product
local maro = require("maro")

io.stdout:setvbuf("line")
local kind = ...
local operations = {
  sum = function(numbers)
    local sum = 0
    for _, n in ipairs(numbers) do
      sum = sum + n
    end
    return sum
  end,
  product = function(numbers)
    local product = 1
    for _, n in ipairs(numbers) do
      product = product * n
    end
    return product
  end,
}
local operation = operations[kind]
if operation == nil then
  error(("usage: worker.lua sum|product (got %s)"):format(tostring(kind)))
end

local proxy = maro.Proxy{ component_type = kind .. "_worker", expected_peers = { master = 1 } }

for msg in proxy:receive() do
  print(("%s: %q from %s, payload {%s}"):format(proxy.name, msg.tag, msg.source,
                                               table.concat(msg.payload, ", ")))
  if msg.tag == "job" then
    proxy:reply(msg, { tag = kind, payload = operation(msg.payload) })
  end
end
