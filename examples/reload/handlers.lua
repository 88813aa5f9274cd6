--- The reload example's handlers. Edit this file while examples/reload/run.sh
-- runs: change the greeting below, save, and the next reply uses it.
-- `that.greeted` counts on across reloads; a local here would not.
local GREETING = "hello"

return {
  ["master:tick:1"] = function(that, proxy, messages)
    that.greeted = that.greeted + 1
    proxy:reply(messages[1], { payload = ("%s #%d"):format(GREETING, that.greeted) })
  end,
}
