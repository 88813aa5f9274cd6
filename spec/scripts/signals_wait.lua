-- Opens an in-process group (no Redis), prints "ready" and waits in a
-- receive for 30 s: spec/signals_spec.lua looks at which signals the
-- process catches meanwhile.
local testing = require("maro.testing")
local g = testing.group{ master = 1 }
print("ready")
io.stdout:flush()
g.master[1]:receive_once(30)
g:close()
