--- maro.launch: `marohost launch job.lua` runs every component of a job on
-- this machine, each instance as its own marohost process, with a private
-- Redis when the job names none; `--host NAME` runs only the instances that
-- the job file places on that host, `--check` prints the plan, and
-- `--emit kubernetes` prints the job as Kubernetes manifests instead. The
-- job file, the restart policy, how a job ends and its exit status are
-- described in docs/launch.md; running on several hosts and on Kubernetes
-- in docs/deploy.md.
--
-- The modules under maro.launch, each using only those below it:
--
--   cli            the command line and its usage
--   run            starts, restarts and stops the instances of a run
--   redis_server   the private redis-server, or a check of the job's Redis
--   group_key      the group key file the instances get
--   kubernetes     the job as manifests (with yaml)
--   plan           this run's part of the job; what --check prints
--   job            reads and checks the job file, places instances on hosts
--   redis_address  reads and masks Redis addresses
--   status         exit statuses, and how a process ended
local core = require("maro.core")
local log = require("maro.log")
local status = require("maro.launch.status")
local cli = require("maro.launch.cli")
local jobfile = require("maro.launch.job")
local plan = require("maro.launch.plan")
local run = require("maro.launch.run")

local sys = core.launch

local launch = {}

-- Reads and checks the job file and the options that concern it. Returns
-- the job, or nil after printing every problem.
local function load_job(opts)
  local job, errors = jobfile.load(opts.job, opts.job_args,
                                   { redis = opts.redis, group_key = opts.group_key })
  if job then
    local err = plan.check(job, opts)
    if err then errors, job = { err }, nil end
  end
  if job then return job end
  for _, e in ipairs(errors) do
    -- Lua's own messages (syntax errors, a missing file) already name it;
    -- so do the messages about options.
    if e:sub(1, #opts.job) ~= opts.job and e:sub(1, 2) ~= "--" then e = opts.job .. ": " .. e end
    io.stderr:write("marohost launch: ", e, "\n")
  end
  io.stderr:write("marohost launch: nothing was started\n")
  return nil
end

local function emit(job, opts)
  local text, err = require("maro.launch.kubernetes").manifests(job, { image = opts.image })
  if not text then
    io.stderr:write("marohost launch: ", err, "\n")
    return status.FAILED
  end
  io.stdout:write(text)
  return status.OK
end

--- Runs `marohost launch` with the words after "launch"; returns the exit
-- status.
function launch.main(args)
  log.name("launch")
  local opts, code = cli.parse(args)
  if not opts then return code end
  local job = load_job(opts)
  if not job then return status.USAGE end
  if opts.check then
    plan.print(io.stdout, job, opts)
    return status.OK
  end
  if opts.emit then return emit(job, opts) end
  local exe, err = sys.self_exe()
  if not exe then
    log.error("%s", err)
    return status.FAILED
  end
  local sup <close>, serr = sys.supervisor()
  if not sup then
    log.error("%s", serr)
    return status.FAILED
  end
  local r = run.new(job, opts, sup, exe)
  -- Whatever goes wrong in here, the supervisor's __close kills what is left
  -- and the private Redis's and the group key's directories are removed.
  local ok, result = xpcall(r.run, debug.traceback, r)
  if not ok then
    log.error("internal error, stopping everything: %s", tostring(result))
    sup:close()
    r:abandon()
    return status.FAILED
  end
  return result or status.FAILED
end

return launch
