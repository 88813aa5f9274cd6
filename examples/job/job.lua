--- A master and its workers on this machine, with a private Redis:
--   marohost launch examples/job/job.lua [WORKERS [N]]
-- The master splits the numbers 1..N among the workers, scatters the parts
-- as tasks and prints the sum. The job ends when the master has finished
-- (it is the only main component); the workers are then stopped.
-- A worker that fails is restarted under its name, up to 3 times.
local workers = math.tointeger(tonumber((...) or 4))
local n = math.tointeger(tonumber(select(2, ...) or 1000))
if not (workers and workers >= 1 and n and n >= workers) then
  error("usage: marohost launch examples/job/job.lua [WORKERS [N]], whole numbers with "
        .. "1 <= WORKERS <= N", 0)
end

return {
  group = "sum-job",
  -- redis = "127.0.0.1:6379",  -- a Redis of your own; absent: a private one
  components = {
    master = {
      script = "master.lua",
      main = true,
      args = { n },
      env = { SUM_WORKERS = workers },
    },
    worker = {
      script = "worker.lua",
      count = workers,
      restart = { policy = "on-failure", max_restarts = 3, backoff = 0.5 },
    },
  },
}
