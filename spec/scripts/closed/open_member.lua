-- A member that joins and leaves at once, for spec/closed_group_spec.lua:
-- what it logs about the address it binds is what the spec reads.
local maro = require("maro")

local proxy = maro.Proxy{ component_type = "solo" }
print("joined " .. proxy.address)
proxy:close()
