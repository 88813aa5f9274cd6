--- maro.launch.plan: this run's part of a checked job. Which instances it
-- starts (those the job file places on --host NAME, or all), which of them
-- end it, whether --host fits the job, and the plan that --check prints.
-- Where each instance goes is decided from the job file alone, by
-- maro.launch.job, so that the launchers of every host agree on it.
local redis_address = require("maro.launch.redis_address")

local plan = {}

--- The instances a run starts: those placed on host, or all when host is nil.
function plan.instances_here(job, host)
  local here = {}
  for _, inst in ipairs(job.instances) do
    if not host or inst.host == host then here[#here + 1] = inst end
  end
  return here
end

--- Marks (inst.main) which of them end the run when they have finished:
-- those of main components; when none of those runs here (a --host run of
-- workers), all.
function plan.mark_main(here)
  local any = false
  for _, inst in ipairs(here) do any = any or inst.comp.main end
  for _, inst in ipairs(here) do inst.main = inst.comp.main or not any end
end

--- The checks that concern this run rather than the job file: what is
-- wrong with --host for this job, or nil.
function plan.check(job, opts)
  if opts.host then
    if not job.hosts then
      return string.format("--host %s: the job names no hosts (add hosts = {%s = {address = "
                           .. "...}, ...}, or run it without --host)", opts.host, opts.host)
    end
    if not job.hosts[opts.host] then
      return string.format("--host %s: the job has no host '%s' (its hosts: %s)", opts.host,
                           opts.host, table.concat(job.hosts.names, ", "))
    end
    if not job.redis then
      return string.format("--host %s: a job run on several hosts needs a Redis that every "
                           .. "host reaches: give redis = ... in the job file, or --redis URL",
                           opts.host)
    end
  end
  return nil
end

local function names_of(list)
  local names = {}
  for _, inst in ipairs(list) do names[#names + 1] = inst.name end
  return #names > 0 and table.concat(names, ", ") or "nothing"
end

--- Writes the plan to out (`marohost launch --check`): the job's settings,
-- each component, where each instance runs, and what this run starts.
function plan.print(out, job, opts)
  out:write(string.format("group %s, redis %s, grace %g s\n", job.group,
                          job.redis_info and redis_address.mask(job.redis_info) or "private",
                          job.grace))
  out:write("group key: ", job.group_key
            or (opts.host and "none (the group is open)" or "new for each run"), "\n")
  for _, comp in ipairs(job.components) do
    local r = comp.restart
    local policy = r.policy == "never" and "never"
      or string.format("on-failure, max %d restarts, backoff %g s (max %g s)", r.max_restarts,
                       r.backoff, r.max_backoff)
    local args = #comp.args > 0 and " " .. table.concat(comp.args, " ") or ""
    local hosts = comp.hosts and "; on " .. table.concat(comp.hosts, ", ") or ""
    out:write(string.format("%s x%d%s: %s%s; restart %s%s\n", comp.type, comp.count,
                            comp.main and " (main)" or "", comp.script, args, policy, hosts))
  end
  if job.hosts then
    for _, name in ipairs(job.hosts.names) do
      local h = job.hosts[name]
      out:write(string.format("host %s (%s): %s\n", name,
                              h.address or "address: the route to Redis",
                              names_of(plan.instances_here(job, name))))
    end
  end
  local here = plan.instances_here(job, opts.host)
  plan.mark_main(here)
  local main = {}
  for _, inst in ipairs(here) do
    if inst.main then main[#main + 1] = inst end
  end
  out:write(string.format("this run%s starts %s; it ends when %s %s ended\n",
                          opts.host and " (--host " .. opts.host .. ")" or "", names_of(here),
                          names_of(main), #main == 1 and "has" or "have"))
end

return plan
