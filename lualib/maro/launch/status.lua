--- maro.launch.status: the exit statuses of `marohost launch` (docs/launch.md,
-- "How a job ends") and the words for how one of its processes ended.
local status = {}

status.OK = 0      -- every main instance exited 0
status.FAILED = 1  -- an instance failed for good, or the job could not start
status.USAGE = 2   -- a usage error or an error in the job file; nothing started
status.BY_SIGNAL = { INT = 130, TERM = 143 }

--- "exited with status N" or "was killed by SIGNAME", for an exit event of
-- the supervisor.
function status.describe(ev)
  if ev.code then return "exited with status " .. ev.code end
  return "was killed by SIG" .. tostring(ev.signal)
end

--- Whether an exit event is a failure: a status other than 0, or a signal.
function status.failed(ev)
  return ev.code ~= 0
end

return status
