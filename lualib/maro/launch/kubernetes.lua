--- maro.launch.kubernetes: a checked job as Kubernetes manifests
-- (`marohost launch --emit kubernetes`). docs/deploy.md says what each
-- object is for and how the job file's settings map onto them.
--
--   Secret     <job>-secrets      the group key file; the Redis password
--   ConfigMap  <job>-scripts      the components' scripts, mounted at /maro/job
--   Deployment <job>-maro-redis   a Redis with a password, unless the job names one
--   Service    <job>-maro-redis
--   Service    <job>-<type>       headless, one per component
--   StatefulSet <job>-<type>      components that are not main (they serve)
--   Job        <job>-<type>       main components (they run to completion)
--
-- Component names are the pod names, <job>-<type>-<ordinal> (ordinal from
-- 0), the same for a StatefulSet's pods and an indexed Job's.
local core = require("maro.core")
local yaml = require("maro.launch.yaml")
local redis_address = require("maro.launch.redis_address")

local kubernetes = {}

local map = yaml.map

kubernetes.DEFAULT_IMAGE = "marohost:latest"
local REDIS_IMAGE = "redis:7"
local SCRIPTS_DIR = "/maro/job"
local KEY_DIR = "/maro/key"
local KEY_FILE = "group.key"
local SECRET_DIR = "/maro/secret"
local USER_ID = 10001 -- the image's user "maro"
local CONFIGMAP_MAX = 1000 * 1000 -- bytes; Kubernetes allows 1 MiB with the object

-- A name Kubernetes takes (an RFC 1123 label: a-z, 0-9 and '-').
local function dns(s)
  return (s:lower():gsub("[^a-z0-9]+", "-"):gsub("^%-+", ""):gsub("%-+$", ""))
end

local function random_hex(bytes)
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = f:read(bytes)
  f:close()
  return (b:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  if not s then return nil, "cannot read " .. path end
  return s
end

local function basename(p)
  return p:match("([^/]*)$")
end

local function labels(base, component)
  return map{
    { "app.kubernetes.io/name", "marohost" },
    { "app.kubernetes.io/instance", base },
    { "app.kubernetes.io/component", component },
  }
end

local function metadata(name, base, component)
  return map{ { "name", name }, { "labels", labels(base, component) } }
end

local function env_value(name, v)
  return map{ { "name", name }, { "value", v } }
end

local function env_field(name, path)
  return map{ { "name", name },
              { "valueFrom", map{ { "fieldRef", map{ { "fieldPath", path } } } } } }
end

local function env_secret(name, secret, key)
  return map{ { "name", name }, { "valueFrom", map{
    { "secretKeyRef", map{ { "name", secret }, { "key", key } } } } } }
end

-- The scripts of the job, one ConfigMap key each (the file's name).
local function collect_scripts(job)
  local data, key_of, by_key, size = {}, {}, {}, 0
  for _, comp in ipairs(job.components) do
    if not key_of[comp.script] then
      local key = basename(comp.script)
      if not key:match("^[%w._%-]+$") then
        return nil, string.format("components.%s.script: the file name %q cannot be a ConfigMap "
                                  .. "key (use letters, digits, '.', '_' and '-')", comp.type, key)
      end
      if by_key[key] then
        return nil, string.format("components.%s.script: %s and %s have the same file name; "
                                  .. "the ConfigMap needs them apart", comp.type, by_key[key],
                                  comp.script)
      end
      local text, err = read_file(comp.script)
      if not text then return nil, string.format("components.%s.script: %s", comp.type, err) end
      if not utf8.len(text) then
        return nil, string.format("components.%s.script: %s is not UTF-8 text", comp.type,
                                  comp.script)
      end
      size = size + #text
      key_of[comp.script], by_key[key] = key, comp.script
      data[#data + 1] = { key, text }
    end
  end
  if size > CONFIGMAP_MAX then
    return nil, string.format("the scripts add up to %d bytes; a ConfigMap holds about 1 MB", size)
  end
  table.sort(data, function(a, b) return a[1] < b[1] end)
  return data, key_of
end

-- The Redis of the job as an instance sees it, and the Secret's entries.
local function redis_env(job, names, secret_data)
  if not job.redis then
    local password = random_hex(16)
    secret_data[#secret_data + 1] = { "redis-password", password }
    return {
      env_secret("MARO_REDIS_PASSWORD", names.secret, "redis-password"),
      env_value("MARO_REDIS", string.format("redis://:$(MARO_REDIS_PASSWORD)@%s:6379",
                                            names.redis)),
    }
  end
  if job.redis_info.password then
    secret_data[#secret_data + 1] = { "redis-url", job.redis }
    return { env_secret("MARO_REDIS", names.secret, "redis-url") }
  end
  return { env_value("MARO_REDIS", job.redis) }
end

local function redis_objects(base, names)
  local component = "redis"
  local pod_labels = labels(base, component)
  local probe = map{ { "tcpSocket", map{ { "port", 6379 } } }, { "periodSeconds", 2 } }
  return {
    map{
      { "apiVersion", "v1" }, { "kind", "Service" },
      { "metadata", metadata(names.redis, base, component) },
      { "spec", map{
        { "selector", pod_labels },
        { "ports", { map{ { "name", "redis" }, { "port", 6379 }, { "targetPort", 6379 } } } },
      } },
    },
    map{
      { "apiVersion", "apps/v1" }, { "kind", "Deployment" },
      { "metadata", metadata(names.redis, base, component) },
      { "spec", map{
        { "replicas", 1 },
        { "selector", map{ { "matchLabels", pod_labels } } },
        { "template", map{
          { "metadata", map{ { "labels", pod_labels } } },
          { "spec", map{
            { "containers", { map{
              { "name", "redis" },
              { "image", REDIS_IMAGE },
              -- No persistence: the registry is rebuilt by the heartbeats.
              { "args", { "--save", "", "--appendonly", "no",
                          "--requirepass", "$(REDIS_PASSWORD)" } },
              { "env", { env_secret("REDIS_PASSWORD", names.secret, "redis-password") } },
              { "ports", { map{ { "name", "redis" }, { "containerPort", 6379 } } } },
              { "readinessProbe", probe },
            } } },
          } },
        } },
      } },
    },
  }
end

-- The pod spec of a component's instances.
local function pod_spec(job, comp, names, opts, script_key, redis_vars, restart_policy)
  local env = {}
  local kind_job = restart_policy ~= "Always"
  if kind_job then
    -- Defined here, first, so that MARO_COMPONENT_NAME can use it.
    env[#env + 1] = env_field("JOB_COMPLETION_INDEX",
                              "metadata.annotations['batch.kubernetes.io/job-completion-index']")
    env[#env + 1] = env_value("MARO_COMPONENT_NAME",
                              names.component[comp.type] .. "-$(JOB_COMPLETION_INDEX)")
  else
    env[#env + 1] = env_field("MARO_COMPONENT_NAME", "metadata.name")
  end
  env[#env + 1] = env_value("MARO_GROUP", job.group)
  env[#env + 1] = env_value("MARO_COMPONENT_TYPE", comp.type)
  for _, e in ipairs(redis_vars) do env[#env + 1] = e end
  env[#env + 1] = env_field("MARO_ADVERTISED_ADDRESS", "status.podIP")
  env[#env + 1] = env_value("MARO_GROUP_KEY_FILE", KEY_DIR .. "/" .. KEY_FILE)
  local own = {}
  for k in pairs(comp.env) do own[#own + 1] = k end
  table.sort(own)
  for _, k in ipairs(own) do env[#env + 1] = env_value(k, comp.env[k]) end

  local command = { "marohost", SCRIPTS_DIR .. "/" .. script_key }
  table.move(comp.args, 1, #comp.args, 3, command)
  local security = map{ { "runAsNonRoot", true }, { "runAsUser", USER_ID },
                        { "runAsGroup", USER_ID } }
  local container_security = map{ { "allowPrivilegeEscalation", false },
                                  { "capabilities", map{ { "drop", { "ALL" } } } } }
  return map{
    { "restartPolicy", restart_policy },
    { "subdomain", kind_job and names.component[comp.type] or nil },
    { "terminationGracePeriodSeconds", math.ceil(job.grace) },
    { "securityContext", security },
    -- The key must be readable by its owner only (the proxy refuses it
    -- otherwise), and a Secret volume's files belong to root: a copy of
    -- mode 0600 in a memory volume belongs to the user that runs marohost.
    { "initContainers", { map{
      { "name", "group-key" },
      { "image", opts.image },
      { "imagePullPolicy", "IfNotPresent" },
      { "command", { "install", "-m", "600", SECRET_DIR .. "/" .. KEY_FILE,
                     KEY_DIR .. "/" .. KEY_FILE } },
      { "securityContext", container_security },
      { "volumeMounts", {
        map{ { "name", "secret" }, { "mountPath", SECRET_DIR }, { "readOnly", true } },
        map{ { "name", "key" }, { "mountPath", KEY_DIR } },
      } },
    } } },
    { "containers", { map{
      { "name", dns(comp.type) },
      { "image", opts.image },
      { "imagePullPolicy", "IfNotPresent" },
      { "command", command },
      { "env", env },
      { "securityContext", container_security },
      { "volumeMounts", {
        map{ { "name", "scripts" }, { "mountPath", SCRIPTS_DIR }, { "readOnly", true } },
        map{ { "name", "key" }, { "mountPath", KEY_DIR }, { "readOnly", true } },
      } },
    } } },
    { "volumes", {
      map{ { "name", "scripts" }, { "configMap", map{ { "name", names.scripts } } } },
      map{ { "name", "secret" }, { "secret", map{
        { "secretName", names.secret },
        { "items", { map{ { "key", "group-key" }, { "path", KEY_FILE } } } },
        { "defaultMode", 256 }, -- 0400
      } } },
      map{ { "name", "key" }, { "emptyDir", map{ { "medium", "Memory" } } } },
    } },
  }
end

local function component_objects(job, comp, base, names, opts, script_key, redis_vars)
  local name = names.component[comp.type]
  local component = dns(comp.type)
  local pod_labels = labels(base, component)
  local objects = {
    map{
      { "apiVersion", "v1" }, { "kind", "Service" },
      { "metadata", metadata(name, base, component) },
      { "spec", map{
        { "clusterIP", "None" },
        { "selector", pod_labels },
        -- Members find each other through Redis, not DNS: no ports here.
        { "publishNotReadyAddresses", true },
      } },
    },
  }
  local r = comp.restart
  if comp.main then
    local policy = r.policy == "on-failure" and "OnFailure" or "Never"
    objects[#objects + 1] = map{
      { "apiVersion", "batch/v1" }, { "kind", "Job" },
      { "metadata", metadata(name, base, component) },
      { "spec", map{
        { "completionMode", "Indexed" },
        { "completions", comp.count },
        { "parallelism", comp.count },
        -- The launcher counts restarts per instance, a Job for all its pods.
        { "backoffLimit", r.policy == "on-failure" and r.max_restarts * comp.count or 0 },
        { "template", map{
          { "metadata", map{ { "labels", pod_labels } } },
          { "spec", pod_spec(job, comp, names, opts, script_key, redis_vars, policy) },
        } },
      } },
    }
  else
    objects[#objects + 1] = map{
      { "apiVersion", "apps/v1" }, { "kind", "StatefulSet" },
      { "metadata", metadata(name, base, component) },
      { "spec", map{
        { "serviceName", name },
        { "replicas", comp.count },
        -- All at once, as the launcher starts them: the proxies wait for
        -- their expected peers themselves.
        { "podManagementPolicy", "Parallel" },
        { "selector", map{ { "matchLabels", pod_labels } } },
        { "template", map{
          { "metadata", map{ { "labels", pod_labels } } },
          { "spec", pod_spec(job, comp, names, opts, script_key, redis_vars, "Always") },
        } },
      } },
    }
  end
  return objects
end

--- The manifests of a checked job (maro.launch.job) as YAML text, or nil
-- and what is wrong. opts.image: the container image.
function kubernetes.manifests(job, opts)
  opts = { image = opts and opts.image or kubernetes.DEFAULT_IMAGE }
  local base = dns(job.group)
  if base == "" then
    return nil, string.format("group %q has no letter or digit to name Kubernetes objects by",
                              job.group)
  end
  local names = {
    secret = base .. "-secrets", scripts = base .. "-scripts", redis = base .. "-maro-redis",
    component = {},
  }
  local taken = { [names.secret] = "the Secret", [names.scripts] = "the ConfigMap",
                  [names.redis] = "the Redis" }
  for _, comp in ipairs(job.components) do
    local n = base .. "-" .. dns(comp.type)
    if dns(comp.type) == "" or taken[n] then
      return nil, string.format("components.%s: its Kubernetes name %q is also %s's; rename the "
                                .. "component", comp.type, n, taken[n] or "nobody")
    end
    -- A StatefulSet's pods add "-<ordinal>" and a revision hash label to it.
    if #n > 52 then
      return nil, string.format("components.%s: its Kubernetes name %q is longer than 52 "
                                .. "characters; shorten the group or the component type",
                                comp.type, n)
    end
    taken[n], names.component[comp.type] = "component " .. comp.type, n
  end

  local scripts, key_of = collect_scripts(job)
  if not scripts then return nil, key_of end

  local key_text
  if job.group_key then
    local err
    key_text, err = read_file(job.group_key)
    if not key_text then return nil, "group key: " .. err end
  elseif core.group_key_new then
    key_text = core.group_key_new()
  else
    return nil, "this marohost cannot make group keys (maro.core.group_key_new is missing): "
      .. "give one with --group-key PATH"
  end
  local secret_data = { { "group-key", key_text } }
  local redis_vars = redis_env(job, names, secret_data)

  local docs = {
    map{
      { "apiVersion", "v1" }, { "kind", "Secret" },
      { "metadata", metadata(names.secret, base, "secrets") },
      { "type", "Opaque" },
      { "stringData", map(secret_data) },
    },
    map{
      { "apiVersion", "v1" }, { "kind", "ConfigMap" },
      { "metadata", metadata(names.scripts, base, "scripts") },
      { "data", map(scripts) },
    },
  }
  if not job.redis then
    for _, o in ipairs(redis_objects(base, names)) do docs[#docs + 1] = o end
  end
  for _, comp in ipairs(job.components) do
    for _, o in ipairs(component_objects(job, comp, base, names, opts, key_of[comp.script],
                                         redis_vars)) do
      docs[#docs + 1] = o
    end
  end

  local comments = {
    string.format("Kubernetes manifests of job %s (group %s), written by marohost launch "
                  .. "--emit kubernetes.", job.path or "?", job.group),
    "The Secret holds the group key" .. (job.redis_info and job.redis_info.password
      and " and the Redis URL with its password" or (job.redis and "" or
      " and the Redis password")) .. ": keep this text as secret as the key.",
    "Apply with: kubectl apply -f FILE    Remove with: kubectl delete -f FILE",
  }
  if job.redis then
    comments[#comments + 1] = "Redis: the job's own, at " .. redis_address.mask(job.redis_info)
  end
  if job.hosts then
    comments[#comments + 1] = "The job file's hosts are not used here: Kubernetes places the pods."
  end
  return yaml.documents(docs, comments)
end

return kubernetes
