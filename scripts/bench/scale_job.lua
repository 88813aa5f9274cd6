--- The job of the scale benchmark (scripts/bench/scale.sh): one master and
-- N members in one group, on the launcher's private Redis.
--   marohost launch scripts/bench/scale_job.lua N STOP_FILE
-- Every instance prints "started T PID" and "joined T" (T: maro.now()
-- seconds, one clock for every process of the machine). Once STOP_FILE
-- exists, the master broadcasts "stop" and the members leave. The
-- instances take heartbeat and refresh intervals from the launcher's
-- environment (scale_common.lua).
local members = math.tointeger(tonumber((...) or 200))
local stop_file = select(2, ...) or error("scale_job.lua: give N and STOP_FILE")

return {
  group = "scale-bench",
  components = {
    master = { script = "scale_master.lua", main = true, args = { members, stop_file } },
    member = { script = "scale_member.lua", count = members },
  },
}
