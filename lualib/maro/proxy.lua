--- maro.proxy: maro.Proxy. The options, their environment defaults and
-- their checks are declared once, in C (host/proxy/proxy_options.c); the
-- reference is docs/api.md.
local core = require("maro.core")

return { new = core.Proxy }
