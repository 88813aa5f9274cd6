-- version 1 of the handlers that spec/reload_spec.lua rewrites
local VERSION = "v1"

return {
  ["master:ping:1"] = function(that, proxy, messages)
    proxy:reply(messages[1], { payload = { version = VERSION, count = that:bump() } })
  end,
  [{ "master:left:1", "master:right:1", "AND" }] = function(that, proxy, messages)
    proxy:reply(messages[1], { tag = "pair", payload = { version = VERSION, n = #messages } })
  end,
  ["master:exit:1"] = function(that, proxy, messages)
    proxy:reply(messages[1], { payload = { count = that.count } })
    proxy:close()
  end,
}
