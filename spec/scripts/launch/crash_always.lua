-- A job whose worker always fails. Argument: a file that counts the runs.
local runs = assert(..., "crash_always.lua needs a file")
return {
  group = "crash-always",
  grace = 2,
  components = {
    worker = { script = "fail.lua", args = { runs },
               restart = { policy = "on-failure", max_restarts = 2, backoff = 0.05 } },
  },
}
