--- maro.launch.group_key: the group key file a run gives its instances
-- (docs/launch.md, "The group key"): the job's; for a run of the whole job
-- here, a new one in a private directory, removed at the end; for a --host
-- run without one, none (each host's launcher would make a different key).
local core = require("maro.core")
local log = require("maro.log")

local sys = core.launch

local group_key = {}

--- Returns {path = PATH or nil (an open group), dir = the directory this
-- run made for a new key, or nil}; or nil after logging why the run cannot
-- have the key it needs.
function group_key.provide(job, host)
  if job.group_key then
    log.info("group key: %s", job.group_key)
    return { path = job.group_key }
  end
  if host then
    -- Each host's launcher would make a different one: a key must be shared.
    log.warn("the job names no group key: its group is open to anyone who reaches its Redis; "
             .. "make one with 'marohost keygen PATH', copy it to every host (mode 0600) and "
             .. "give it with group_key or --group-key")
    return {}
  end
  local new = core.group_key_new
  if not new then
    log.error("this marohost cannot make group keys (maro.core.group_key_new is missing); "
              .. "give the job one with group_key or --group-key")
    return nil
  end
  local dir, err = sys.mkdtemp("marohost-key")
  if not dir then
    log.error("cannot make a group key for the job: %s", err)
    return nil
  end
  local path = dir .. "/group.key"
  local ok, werr = sys.write_private(path, new())
  if not ok then
    log.error("cannot make a group key for the job: %s", werr)
    group_key.remove({ dir = dir })
    return nil
  end
  log.info("a new group key for this run: %s (removed at the end)", path)
  return { path = path, dir = dir }
end

--- Removes the directory of a key that this run made, if any.
function group_key.remove(key)
  if not (key and key.dir) then return end
  local ok, err = sys.rmdir(key.dir)
  if not ok then log.warn("%s", err) end
  key.dir = nil
end

return group_key
