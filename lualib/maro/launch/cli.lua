--- maro.launch.cli: the command line of `marohost launch`, its options and
-- its usage (docs/launch.md).
local log = require("maro.log")
local status = require("maro.launch.status")

local cli = {}

cli.USAGE = [[
usage: marohost launch [options] job.lua [args...]
Runs every component of a job on this machine, each instance as its own
marohost process, with a private Redis when the job names none. The job file
is Lua returning a table; args reach it as ... (see docs/launch.md).

Options:
  --check            check the job file, print where each instance runs and
                     what would start, start nothing
  --host NAME        run only the instances the job file places on host NAME
                     (its hosts table); they advertise that host's address
  --redis URL        the job's Redis ("host:port" or redis://[[user]:pw@]host
                     [:port][/db]) instead of the job file's
  --group-key PATH   the group key file (marohost keygen) instead of the job
                     file's group_key
  --emit kubernetes  print Kubernetes manifests for the whole job, start nothing
  --image IMAGE      with --emit: the container image (default marohost:latest)
  --log-level LEVEL  error, warn, info (default) or debug, for the launcher
                     and (through MARO_LOG_LEVEL) for the instances
  -h, --help         show this help
Options come before the job file; words after it go to the job file.

Every instance gets MARO_GROUP, MARO_COMPONENT_TYPE, MARO_COMPONENT_NAME
(e.g. worker.3), MARO_COMPONENT_INDEX, MARO_REDIS, MARO_INCARNATION (new for
every start) and MARO_GROUP_KEY_FILE in its environment; with --host also
MARO_ADVERTISED_ADDRESS. A restart gets MARO_TAKE_OVER_FROM, the incarnation
of the run it replaces, so that it takes over that run's name and no other.
A job run without --host that names no group key gets a new one, removed at
the end. Ctrl-C or SIGTERM stops the job: SIGTERM to every instance, then
SIGKILL after the job's grace period, then the private Redis.

Exit status: 0 when every main instance exited 0; 1 when an instance failed
for good (or the job could not start); 2 for a usage or job file error;
130 after SIGINT, 143 after SIGTERM.
]]

local function usage_error(fmt, ...)
  io.stderr:write("marohost launch: ", string.format(fmt, ...), "\n",
                  "usage: marohost launch [options] job.lua [args...]  (--help for more)\n")
  return status.USAGE
end

-- Options that take a value: the field of opts and what the value is.
local VALUE_OPTIONS = {
  ["--host"] = { key = "host", what = "a host name of the job file" },
  ["--redis"] = { key = "redis", what = "host:port or a redis:// URL" },
  ["--group-key"] = { key = "group_key", what = "the path of a group key file" },
  ["--emit"] = { key = "emit", what = "kubernetes" },
  ["--image"] = { key = "image", what = "a container image" },
}

-- The options that do not go together, or nil.
local function check_combinations(opts)
  if opts.emit and opts.emit ~= "kubernetes" then
    return usage_error("'--emit %s': the only format is 'kubernetes'", opts.emit)
  end
  if opts.image and not opts.emit then
    return usage_error("'--image' goes with '--emit kubernetes'")
  end
  if opts.emit and (opts.host or opts.check) then
    return usage_error("'--emit' writes the whole job: it does not go with '%s'",
                       opts.host and "--host" or "--check")
  end
  if opts.host and not opts.host:match("^[%a_][%w_%-]*$") then
    return usage_error("'--host %s': a host name is letters, digits, _ and -", opts.host)
  end
  return nil
end

--- Reads the words after "launch". Returns the options: check, host, redis,
-- group_key, emit, image, log_level (already set as the launcher's level),
-- job (the job file) and job_args; or nil and the exit status after the
-- usage or an error was printed.
function cli.parse(args)
  local opts = { job_args = {} }
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then
      io.stdout:write(cli.USAGE)
      return nil, status.OK
    elseif a == "--check" then
      opts.check = true
    elseif a == "--log-level" then
      local level = args[i + 1]
      if not level then return nil, usage_error("'--log-level' needs an argument") end
      if not pcall(log.level, level) then
        return nil, usage_error("unknown log level '%s' (error, warn, info, debug)", level)
      end
      opts.log_level = level
      i = i + 1
    elseif VALUE_OPTIONS[a] then
      local v = args[i + 1]
      if not v or v == "" then
        return nil, usage_error("'%s' needs an argument (%s)", a, VALUE_OPTIONS[a].what)
      end
      opts[VALUE_OPTIONS[a].key] = v
      i = i + 1
    elseif a == "--" then
      i = i + 1
      break
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, usage_error("unrecognized option '%s'", a)
    else
      break
    end
    i = i + 1
  end
  opts.job = args[i]
  if not opts.job then return nil, usage_error("no job file given") end
  table.move(args, i + 1, #args, 1, opts.job_args)
  local bad = check_combinations(opts)
  if bad then return nil, bad end
  return opts
end

return cli
