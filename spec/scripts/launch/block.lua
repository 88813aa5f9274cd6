-- A job that runs until it is stopped: every instance writes its pid to
-- <dir>/<name>.ready, then blocks opening the FIFO <dir>/fifo (which nobody
-- writes). Arguments: that directory and the grace period (default 5).
local dir, grace = ...
assert(dir, "block.lua needs a directory")
return {
  group = "block",
  grace = tonumber(grace) or 5,
  components = {
    master = { script = "block_forever.lua", main = true, env = { BLOCK_DIR = dir } },
    worker = { script = "block_forever.lua", count = 2, env = { BLOCK_DIR = dir } },
  },
}
