-- A job whose workers die on their first run: worker.1 by SIGKILL, worker.2
-- with os.exit(1). The master waits (main) until both workers have had a
-- second run. Argument: a directory for the marker files.
local dir = assert(..., "crash_once.lua needs a directory")
return {
  group = "crash-once",
  components = {
    master = { script = "wait_for.lua", main = true,
               args = { dir .. "/worker.1.second", dir .. "/worker.2.second" } },
    worker = { script = "crash_once_worker.lua", count = 2, env = { MARKERS = dir },
               restart = { policy = "on-failure", max_restarts = 2, backoff = 0.05 } },
  },
}
