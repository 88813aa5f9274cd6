-- A job for spec/launch_rejoin_spec.lua: a master that sums 1..N in two
-- rounds of tasks over two workers, with the rejoin options on and no code
-- of its own to send anything again; worker.2 dies by SIGKILL between the
-- rounds and the launcher starts it again under its name. Argument: a
-- directory for the marker files.
local dir = assert(..., "job.lua needs a directory")
return {
  group = "rejoin-job",
  components = {
    master = { script = "job_master.lua", main = true, args = { 1000 } },
    worker = { script = "job_worker.lua", count = 2, env = { MARKERS = dir },
               -- The restart comes after the master saw the worker go, so
               -- that the second round is kept for it meanwhile.
               restart = { policy = "on-failure", max_restarts = 1, backoff = 2 } },
  },
}
