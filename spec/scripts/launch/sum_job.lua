-- The example job (examples/job) with workers that die in the middle of
-- their first task. Argument: a directory for the marker files.
local dir = assert(..., "sum_job.lua needs a directory")
return {
  group = "sum-job-crash",
  components = {
    master = { script = "../../../examples/job/master.lua", main = true, args = { 900 },
               env = { SUM_WORKERS = 3, SUM_RESEND_AFTER = 1 } },
    worker = { script = "sum_worker.lua", count = 3, env = { MARKERS = dir },
               restart = { policy = "on-failure", max_restarts = 2, backoff = 0.1 } },
  },
}
