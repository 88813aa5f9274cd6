--- The job example on two hosts, a and b (docs/deploy.md):
--   a$ JOB_REDIS=redis://:PASSWORD@10.0.0.1:6379 marohost launch --host a \
--        --group-key /etc/marohost/sum-job.key examples/job/hosts.lua
--   b$ (the same with --host b)
-- The master and workers 1 and 3 run on a, workers 2 and 4 on b. Each
-- host's launcher starts its part; b's ends when its workers have ended,
-- which they do when the master tells them to stop. The addresses of the
-- hosts come from JOB_HOST_A and JOB_HOST_B, the Redis from JOB_REDIS (or
-- --redis URL), so the file itself holds no address and no password.
--   marohost launch --check examples/job/hosts.lua   shows the placement.
local workers = math.tointeger(tonumber((...) or 4))
local n = math.tointeger(tonumber(select(2, ...) or 1000))
if not (workers and workers >= 1 and n and n >= workers) then
  error("usage: marohost launch [--host a|b] examples/job/hosts.lua [WORKERS [N]], whole "
        .. "numbers with 1 <= WORKERS <= N", 0)
end

return {
  group = "sum-job",
  redis = os.getenv("JOB_REDIS"),
  hosts = {
    a = { address = os.getenv("JOB_HOST_A") or "10.0.0.2" },
    b = { address = os.getenv("JOB_HOST_B") or "10.0.0.3" },
  },
  components = {
    master = {
      script = "master.lua",
      main = true,
      hosts = { "a" },
      args = { n },
      env = { SUM_WORKERS = workers },
    },
    worker = {
      script = "worker.lua",
      count = workers,
      hosts = { "a", "b" },
      restart = { policy = "on-failure", max_restarts = 3, backoff = 0.5 },
    },
  },
}
