-- A job that completes: every instance prints and exits 0; no component is
-- marked main, so the job waits for all of them.
return {
  group = "complete",
  components = {
    master = { script = "say.lua", args = { "master says", 42 } },
    worker = { script = "say.lua", count = 3, args = { "worker says" },
               env = { JOB_COLOR = "blue" } },
  },
}
