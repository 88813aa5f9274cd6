-- marohost launch --emit kubernetes: the manifests are read back with
-- Debian's Python YAML reader (python3-yaml, a YAML 1.1 reader, the
-- strictest about unquoted words) and checked: the objects, their names, the
-- environment of every instance, and that every reference between objects
-- (ConfigMap and Secret keys, Service selectors, serviceName) finds its
-- target.
local SPEC_DIR = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
local procs = dofile(SPEC_DIR .. "/support/procs.lua")
local quote = procs.quote
local EXAMPLE = SPEC_DIR .. "/../examples/job"
local PYTHON = "/usr/bin/python3"
local TO_LUA = SPEC_DIR .. "/scripts/launch/yaml_to_lua.py"

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- Runs the launcher; returns status, stdout, stderr.
local function launch(args, dir)
  local out, err = dir .. "/out.yaml", dir .. "/err"
  local _, _, code = os.execute(string.format("timeout 30 %s launch %s >%s 2>%s </dev/null",
    quote(procs.MAROHOST), args, quote(out), quote(err)))
  return code, procs.read_file(out) or "", procs.read_file(err) or ""
end

-- The YAML documents as Lua tables, read by Python's YAML reader.
local function parse(dir)
  local text, code = sh(string.format("%s %s <%s 2>&1", PYTHON, quote(TO_LUA),
                                      quote(dir .. "/out.yaml")))
  assert(code == 0, "the YAML reader refused the manifests: " .. text)
  return assert(load(text, "manifests", "t", {}))()
end

local function python_yaml()
  local _, code = sh(PYTHON .. " -c 'import yaml' 2>/dev/null")
  return code == 0
end

local function by_kind(docs)
  local t = {}
  for _, d in ipairs(docs) do
    t[d.kind] = t[d.kind] or {}
    t[d.kind][d.metadata.name] = d
  end
  return t
end

local function kinds(docs)
  local list = {}
  for _, d in ipairs(docs) do list[#list + 1] = d.kind .. " " .. d.metadata.name end
  return list
end

local function env_of(container)
  local env, order = {}, {}
  for i, e in ipairs(container.env or {}) do
    env[e.name] = e
    order[e.name] = i
  end
  return env, order
end

local function pod_templates(objects)
  local list = {}
  for _, kind in ipairs({ "StatefulSet", "Job", "Deployment" }) do
    for name, o in pairs(objects[kind] or {}) do
      list[#list + 1] = { kind = kind, name = name, object = o, template = o.spec.template }
    end
  end
  return list
end

-- Every label of selector is on labels.
local function selects(selector, labels)
  for k, v in pairs(selector) do
    if labels[k] ~= v then return false end
  end
  return next(selector) ~= nil
end

-- The references of every pod to ConfigMaps and Secrets, and of every
-- Service to pods, resolve.
local function check_references(objects)
  for _, w in ipairs(pod_templates(objects)) do
    local spec = w.template.spec
    local volumes = {}
    for _, v in ipairs(spec.volumes or {}) do
      volumes[v.name] = v
      if v.configMap then
        local cm = objects.ConfigMap[v.configMap.name]
        assert.is_not_nil(cm, w.name .. ": volume " .. v.name .. " names a missing ConfigMap")
      end
      if v.secret then
        local s = objects.Secret[v.secret.secretName]
        assert.is_not_nil(s, w.name .. ": volume " .. v.name .. " names a missing Secret")
        for _, item in ipairs(v.secret.items or {}) do
          assert.is_not_nil(s.stringData[item.key], w.name .. ": Secret key " .. item.key)
        end
      end
    end
    local containers = {}
    for _, c in ipairs(spec.containers) do containers[#containers + 1] = c end
    for _, c in ipairs(spec.initContainers or {}) do containers[#containers + 1] = c end
    for _, c in ipairs(containers) do
      for _, m in ipairs(c.volumeMounts or {}) do
        assert.is_not_nil(volumes[m.name], w.name .. "/" .. c.name .. " mounts a missing volume "
                          .. m.name)
      end
      for _, e in ipairs(c.env or {}) do
        local ref = e.valueFrom and e.valueFrom.secretKeyRef
        if ref then
          local s = objects.Secret[ref.name]
          assert.is_not_nil(s, w.name .. ": " .. e.name .. " names a missing Secret")
          assert.is_not_nil(s.stringData[ref.key], w.name .. ": " .. e.name .. " names key "
                            .. ref.key)
        end
      end
    end
    if w.kind ~= "Job" then
      assert.is_true(selects(w.object.spec.selector.matchLabels, w.template.metadata.labels),
                     w.name .. ": its selector does not match its pods")
    end
    if w.kind == "StatefulSet" then
      local svc = objects.Service[w.object.spec.serviceName]
      assert.is_not_nil(svc, w.name .. ": serviceName names a missing Service")
      assert.are.equal("None", svc.spec.clusterIP)
    end
  end
  for name, svc in pairs(objects.Service) do
    local matched = 0
    for _, w in ipairs(pod_templates(objects)) do
      if selects(svc.spec.selector, w.template.metadata.labels) then matched = matched + 1 end
    end
    assert.are.equal(1, matched, "Service " .. name .. " selects the pods of " .. matched
                     .. " workloads")
  end
end

local function assert_dns_names(docs)
  for _, d in ipairs(docs) do
    local n = d.metadata.name
    assert.is_truthy(#n <= 63 and n:match("^[a-z0-9][-a-z0-9]*$") and not n:match("%-$"), n)
  end
end

describe("launch --emit kubernetes", function()
  local dir

  before_each(function()
    dir = procs.tmpdir()
  end)

  after_each(function()
    procs.cleanup()
  end)

  it("writes the example job as manifests that reference each other", function()
    if not python_yaml() then
      pending(PYTHON .. " with the yaml module is missing (Debian: apt-get install python3-yaml)")
      return
    end
    local code, out, err = launch("--emit kubernetes --image registry.example/maro:1.2 "
                                  .. quote(EXAMPLE .. "/job.lua") .. " 4 1000", dir)
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    local docs = parse(dir)
    assert.are.same({
      "Secret sum-job-secrets", "ConfigMap sum-job-scripts",
      "Service sum-job-maro-redis", "Deployment sum-job-maro-redis",
      "Service sum-job-master", "Job sum-job-master",
      "Service sum-job-worker", "StatefulSet sum-job-worker",
    }, kinds(docs))
    assert_dns_names(docs)
    local objects = by_kind(docs)
    check_references(objects)

    -- The scripts, byte for byte, where the command finds them.
    local cm = objects.ConfigMap["sum-job-scripts"]
    assert.are.equal(procs.read_file(EXAMPLE .. "/master.lua"), cm.data["master.lua"])
    assert.are.equal(procs.read_file(EXAMPLE .. "/worker.lua"), cm.data["worker.lua"])

    -- A new group key in the Secret, in the form of a key file.
    local secret = objects.Secret["sum-job-secrets"]
    assert.matches("\nmaro%-group%-key%-1 [%w+/=]+\n$", secret.stringData["group-key"])
    local password = secret.stringData["redis-password"]
    assert.matches("^%x+$", password)
    assert.is_true(#password >= 32)

    -- The Redis: a password from the Secret, its Service in front.
    local redis = objects.Deployment["sum-job-maro-redis"].spec.template.spec.containers[1]
    assert.are.same({ "--save", "", "--appendonly", "no", "--requirepass", "$(REDIS_PASSWORD)" },
                    redis.args)
    assert.are.same({ name = "sum-job-secrets", key = "redis-password" },
                    env_of(redis).REDIS_PASSWORD.valueFrom.secretKeyRef)
    assert.are.same({ { name = "redis", port = 6379, targetPort = 6379 } },
                    objects.Service["sum-job-maro-redis"].spec.ports)

    -- Workers: a StatefulSet of 4 whose pods name the instances.
    local sts = objects.StatefulSet["sum-job-worker"]
    assert.are.equal(4, sts.spec.replicas)
    assert.are.equal("Always", sts.spec.template.spec.restartPolicy)
    local worker = sts.spec.template.spec.containers[1]
    assert.are.equal("registry.example/maro:1.2", worker.image)
    assert.are.same({ "marohost", "/maro/job/worker.lua" }, worker.command)
    local env, order = env_of(worker)
    assert.are.same({ fieldPath = "metadata.name" }, env.MARO_COMPONENT_NAME.valueFrom.fieldRef)
    assert.are.equal("sum-job", env.MARO_GROUP.value)
    assert.are.equal("worker", env.MARO_COMPONENT_TYPE.value)
    assert.are.same({ fieldPath = "status.podIP" }, env.MARO_ADVERTISED_ADDRESS.valueFrom.fieldRef)
    assert.are.equal("redis://:$(MARO_REDIS_PASSWORD)@sum-job-maro-redis:6379",
                     env.MARO_REDIS.value)
    assert.is_true(order.MARO_REDIS_PASSWORD < order.MARO_REDIS, "$(...) needs the name before")
    assert.are.same({ name = "sum-job-secrets", key = "redis-password" },
                    env.MARO_REDIS_PASSWORD.valueFrom.secretKeyRef)
    -- The key file is where the environment says, written by the init
    -- container from the Secret with mode 0600.
    assert.are.equal("/maro/key/group.key", env.MARO_GROUP_KEY_FILE.value)
    local init = sts.spec.template.spec.initContainers[1]
    assert.are.same({ "install", "-m", "600", "/maro/secret/group.key", "/maro/key/group.key" },
                    init.command)
    assert.are.equal("registry.example/maro:1.2", init.image)

    -- The master: a Job (main), its instance named by its completion index.
    local job = objects.Job["sum-job-master"]
    assert.are.equal("Indexed", job.spec.completionMode)
    assert.are.equal(1, job.spec.completions)
    assert.are.equal(0, job.spec.backoffLimit) -- restart "never"
    assert.are.equal("Never", job.spec.template.spec.restartPolicy)
    assert.are.equal("sum-job-master", job.spec.template.spec.subdomain)
    local master = job.spec.template.spec.containers[1]
    assert.are.same({ "marohost", "/maro/job/master.lua", "1000" }, master.command)
    env, order = env_of(master)
    assert.are.equal("sum-job-master-$(JOB_COMPLETION_INDEX)", env.MARO_COMPONENT_NAME.value)
    assert.is_true(order.JOB_COMPLETION_INDEX < order.MARO_COMPONENT_NAME)
    assert.are.equal("4", env.SUM_WORKERS.value)
    assert.are.equal("master", env.MARO_COMPONENT_TYPE.value)
  end)

  it("uses the job's Redis and the given key, and keeps the password in the Secret", function()
    if not python_yaml() then
      pending(PYTHON .. " with the yaml module is missing (Debian: apt-get install python3-yaml)")
      return
    end
    local key = dir .. "/group.key"
    local _, kcode = sh(string.format("%s keygen %s 2>&1", quote(procs.MAROHOST), quote(key)))
    assert.are.equal(0, kcode)
    write(dir .. "/w.lua", "print('on')\n")
    write(dir .. "/job.lua", [[
      return { group = "Two_Hosts.job", redis = "redis://app:s3cr3t-pw@redis.internal:6380/2",
        hosts = { a = { address = "10.0.0.2" }, b = { address = "10.0.0.3" } },
        components = {
          master = { script = "w.lua", main = true, hosts = { "a" },
                     restart = { max_restarts = 2 }, env = { MODE = "on", OCTAL = "0755" } },
          worker = { script = "w.lua", count = 3, hosts = { "a", "b" } } } }
    ]])
    local code, out, err = launch("--emit kubernetes --group-key " .. quote(key) .. " "
                                  .. quote(dir .. "/job.lua"), dir)
    assert.are.equal(0, code, err)
    -- The password is in the Secret's entry and nowhere else.
    local _, count = out:gsub("s3cr3t%-pw", "")
    assert.are.equal(1, count, out)
    assert.matches("# Redis: the job's own, at redis://app:%*%*%*@redis%.internal:6380/2\n", out)
    assert.matches("# The job file's hosts are not used here", out)
    local docs = parse(dir)
    assert.are.same({
      "Secret two-hosts-job-secrets", "ConfigMap two-hosts-job-scripts",
      "Service two-hosts-job-master", "Job two-hosts-job-master",
      "Service two-hosts-job-worker", "StatefulSet two-hosts-job-worker",
    }, kinds(docs))
    local objects = by_kind(docs)
    check_references(objects)
    local secret = objects.Secret["two-hosts-job-secrets"].stringData
    assert.are.equal(procs.read_file(key), secret["group-key"])
    assert.are.equal("redis://app:s3cr3t-pw@redis.internal:6380/2", secret["redis-url"])
    assert.is_nil(secret["redis-password"])
    -- Both components run the same script: one ConfigMap key.
    assert.are.same({ ["w.lua"] = "print('on')\n" },
                    objects.ConfigMap["two-hosts-job-scripts"].data)
    local job = objects.Job["two-hosts-job-master"]
    assert.are.equal("OnFailure", job.spec.template.spec.restartPolicy)
    assert.are.equal(2, job.spec.backoffLimit)
    local env = env_of(job.spec.template.spec.containers[1])
    assert.are.same({ name = "two-hosts-job-secrets", key = "redis-url" },
                    env.MARO_REDIS.valueFrom.secretKeyRef)
    assert.are.equal("Two_Hosts.job", env.MARO_GROUP.value)
    -- Words YAML 1.1 would take for a boolean or a number stay strings.
    assert.are.equal("on", env.MODE.value)
    assert.are.equal("0755", env.OCTAL.value)
    assert.are.equal(3, objects.StatefulSet["two-hosts-job-worker"].spec.replicas)
  end)

  it("makes a new group key for every run without --group-key", function()
    local _, out1 = launch("--emit kubernetes " .. quote(EXAMPLE .. "/job.lua"), dir)
    local _, out2 = launch("--emit kubernetes " .. quote(EXAMPLE .. "/job.lua"), dir)
    local k1 = out1:match("maro%-group%-key%-1 ([%w+/=]+)")
    local k2 = out2:match("maro%-group%-key%-1 ([%w+/=]+)")
    assert.is_not_nil(k1)
    assert.is_not_nil(k2)
    assert.are_not.equal(k1, k2)
  end)

  it("refuses what does not make sense for manifests", function()
    local code, out, err = launch("--emit kubernetes --host a " .. quote(EXAMPLE .. "/job.lua"),
                                  dir)
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("'%-%-emit' writes the whole job: it does not go with '%-%-host'", err)
    code, _, err = launch("--emit helm " .. quote(EXAMPLE .. "/job.lua"), dir)
    assert.are.equal(2, code)
    assert.matches("'%-%-emit helm': the only format is 'kubernetes'", err)
    code, _, err = launch("--image x " .. quote(EXAMPLE .. "/job.lua"), dir)
    assert.are.equal(2, code)
    assert.matches("'%-%-image' goes with '%-%-emit kubernetes'", err)
    -- Two component types that Kubernetes would give the same name.
    write(dir .. "/w.lua", "")
    write(dir .. "/job.lua", [[return { group = "g", components = {
      a_b = { script = "w.lua" }, ["a-b"] = { script = "w.lua" } } }]])
    code, out, err = launch("--emit kubernetes " .. quote(dir .. "/job.lua"), dir)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("components%.a_b: its Kubernetes name \"g%-a%-b\" is also component a%-b's", err)
  end)

  it("passes kubectl's own checks, when kubectl can check without a cluster", function()
    if not os.execute("command -v kubectl >/dev/null 2>&1") then
      pending("kubectl is not installed (Debian: kubernetes-client)")
      return
    end
    local code, _, err = launch("--emit kubernetes " .. quote(EXAMPLE .. "/job.lua"), dir)
    assert.are.equal(0, code, err)
    -- A client-side dry run still asks a server which kinds exist.
    local out, kcode = sh(string.format("KUBECONFIG=/dev/null timeout 20 kubectl apply "
      .. "--dry-run=client --validate=false -f %s 2>&1", quote(dir .. "/out.yaml")))
    if kcode ~= 0 and (out:find("connection refused", 1, true)
                       or out:find("unable to recognize", 1, true)) then
      pending("kubectl needs an API server even for --dry-run=client; none here: "
              .. (out:match("[^\n]*\n?$") or out))
      return
    end
    assert.are.equal(0, kcode, out)
  end)
end)
