-- marohost launch across real hosts: network namespaces on a bridge
-- (spec/support/netns.lua), a redis-server on host r and one launcher per
-- host (`ip netns exec NS marohost launch --host a job.lua`) for a job placed
-- on hosts a and b. Needs root and ip(8); elsewhere every test is pending and
-- says why.
local SPEC_DIR = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
if SPEC_DIR:sub(1, 1) ~= "/" then SPEC_DIR = (os.getenv("PWD") or ".") .. "/" .. SPEC_DIR end
local procs = dofile(SPEC_DIR .. "/support/procs.lua")
local netns = dofile(SPEC_DIR .. "/support/netns.lua")
local SCRIPTS = SPEC_DIR .. "/scripts/launch/netns"
local GROUP = "netns-job"
local TIMEOUT = 60 -- seconds for a launcher's whole run

local available, why_not = netns.available()

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function touch(path)
  write(path, "")
end

-- Placement as the job file says: worker.1, worker.3 on a; worker.2, worker.4 on b.
local PLACED = { ["master.1"] = "a", ["worker.1"] = "a", ["worker.2"] = "b", ["worker.3"] = "a",
                 ["worker.4"] = "b" }

describe("launch on hosts of their own", function()
  local net, dir

  after_each(function()
    if net then net:teardown() end
    net = nil
    procs.cleanup()
  end)

  -- The network, Redis on r, and the job's launchers on a and b. With
  -- closed, Redis has a password that the job file takes from JOB_REDIS, and
  -- both launchers get the same group key file (docs/deploy.md's recipe).
  local function start_job(mode, closed)
    dir = procs.tmpdir()
    net = netns.network({ "r", "a", "b" })
    local redis_dir = procs.tmpdir()
    local password = closed and "pw-" .. require("maro.core").uuid():sub(1, 8) or nil
    local argv = { "redis-server", "--bind", net.address.r, "--port", "6379", "--save", "",
                   "--appendonly", "no", "--protected-mode", "no", "--dir", redis_dir }
    if password then
      argv[#argv + 1] = "--requirepass"
      argv[#argv + 1] = password
    end
    net:spawn("r", argv)
    -- Reached from a, over the bridge.
    procs.wait_until(function()
      local _, out = net:sh("a", (password and "REDISCLI_AUTH=" .. password .. " " or "")
                                 .. "redis-cli -h " .. net.address.r .. " ping")
      return out:match("PONG")
    end, 10, "the Redis on host r")
    local url = net.address.r .. ":6379"
    local key = dir .. "/group.key"
    if closed then
      url = "redis://:" .. password .. "@" .. url
      assert.is_true(os.execute(procs.quote(procs.MAROHOST) .. " keygen " .. procs.quote(key)))
    end
    write(dir .. "/job.lua", string.format([[
      return { group = %q, redis = os.getenv("JOB_REDIS"), grace = 2,
        hosts = { a = { address = %q }, b = { address = %q } },
        components = {
          master = { script = %q, main = true, hosts = { "a" },
                     env = { NS_DIR = %q, NS_MODE = %q, NS_WORKERS = 4, NS_N = 1000 } },
          worker = { script = %q, count = 4, hosts = { "a", "b" },
                     restart = { policy = "on-failure", max_restarts = 2, backoff = 0.2 } } } }
    ]], GROUP, net.address.a, net.address.b, SCRIPTS .. "/master.lua",
        dir, mode, SCRIPTS .. "/worker.lua"))
    local launchers = {}
    for _, h in ipairs({ "a", "b" }) do
      local argv = { procs.MAROHOST, "launch", "--host", h, dir .. "/job.lua" }
      if closed then table.insert(argv, 3, "--group-key") table.insert(argv, 4, key) end
      launchers[h] = net:spawn(h, argv, { JOB_REDIS = url, REDISCLI_AUTH = password })
    end
    return launchers, password
  end

  local function redis_cli(...)
    local args = { "redis-cli", "-h", net.address.r, "--raw" }
    for _, a in ipairs({ ... }) do args[#args + 1] = procs.quote(a) end
    local _, out = net:sh("r", (net.password and "REDISCLI_AUTH=" .. net.password .. " " or "")
                               .. table.concat(args, " "))
    return out
  end

  -- {name = {host =, port =, text =}} of the registrations in Redis now.
  local function members()
    local found = {}
    for key in redis_cli("keys", "maro:" .. GROUP .. ":member:*"):gmatch("[^\n]+") do
      local name = key:match(":member:(.*)$")
      local text = redis_cli("get", key)
      local host, port = text:match("tcp://([^:\n]+):(%d+)")
      if name and host then found[name] = { host = host, port = tonumber(port), text = text } end
    end
    return found
  end

  local function wait_members(what, cond)
    return procs.wait_until(function()
      for _, p in ipairs(net.procs) do
        if not p.running() then error("ended before the members registered: " .. p.report(), 0) end
      end
      local m = members()
      for name in pairs(PLACED) do
        if not m[name] then return false end
      end
      return (not cond or cond(m)) and m
    end, 30, what or "every member to register")
  end

  local function assert_ends(launchers)
    for _, h in ipairs({ "a", "b" }) do
      local status = launchers[h].wait(TIMEOUT)
      assert.are.equal(0, status, launchers[h].report())
    end
  end

  it("completes a job placed on two hosts, each member at an address the others reach", function()
    if not available then
      pending("network namespaces cannot be made here: " .. why_not)
      return
    end
    local launchers = start_job("sum")
    local m = wait_members()
    for name, reg in pairs(m) do
      local host = PLACED[name]
      assert.is_not_nil(host, "a member the job does not have: " .. name)
      -- The address of the host it runs on: not loopback, not 127.0.1.1.
      assert.are.equal(net.address[host], reg.host, name .. ": " .. reg.text)
      assert.is_nil(reg.host:match("^127%."), name)
      -- A TCP connection from every other host reaches it.
      for _, other in ipairs({ "r", "a", "b" }) do
        if other ~= host then
          local ok, out = net:sh(other, string.format(
            "timeout 5 bash -c 'exec 3<>/dev/tcp/%s/%d'", reg.host, reg.port))
          assert.is_true(ok, name .. " at " .. reg.host .. ":" .. reg.port .. " from " .. other
                         .. ": " .. out)
        end
      end
    end
    touch(dir .. "/go")
    assert_ends(launchers)
    local a_out = launchers.a.stdout()
    assert.matches("master%.1 | the sum of 1%.%.1000 is 500500\n", a_out)
    -- Each launcher started what is placed on its host, and only that.
    for name, host in pairs(PLACED) do
      for _, h in ipairs({ "a", "b" }) do
        local started = launchers[h].stderr():find("started " .. name .. " (pid", 1, true)
        assert.are.equal(h == host, started ~= nil, name .. " on " .. h)
      end
    end
  end)

  it("restarts a worker killed on one host there, and nowhere else", function()
    if not available then
      pending("network namespaces cannot be made here: " .. why_not)
      return
    end
    local launchers = start_job("sum")
    local before = wait_members()
    local pid = tonumber(launchers.b.stderr():match("started worker%.2 %(pid (%d+)%)"))
    assert.is_not_nil(pid, launchers.b.stderr())
    assert.is_true(os.execute("kill -KILL " .. pid))
    procs.wait_until(function()
      return launchers.b.stderr():find("restarted worker.2 (pid", 1, true)
    end, 20, "host b's launcher to restart worker.2")
    -- The new run registers, on b.
    local after = wait_members("worker.2 to register again", function(m)
      return m["worker.2"].port ~= before["worker.2"].port
    end)
    assert.are.equal(net.address.b, after["worker.2"].host)
    touch(dir .. "/go")
    assert_ends(launchers)
    assert.matches("master%.1 | the sum of 1%.%.1000 is 500500\n", launchers.a.stdout())
    -- Host a's launcher restarted nothing (its master only saw worker.2 move).
    assert.is_nil(launchers.a.stderr():find("restarted worker", 1, true), launchers.a.stderr())
    assert.is_nil(launchers.a.stderr():find("restarting", 1, true), launchers.a.stderr())
    local _, restarts = launchers.b.stderr():gsub("restarted ", "")
    assert.are.equal(1, restarts, launchers.b.stderr())
  end)

  it("loses no accepted message while a host's link is cut for a few seconds", function()
    if not available then
      pending("network namespaces cannot be made here: " .. why_not)
      return
    end
    local launchers = start_job("stream")
    wait_members()
    touch(dir .. "/go")
    procs.wait_until(function()
      return launchers.a.stdout():find("master.1 | accepted 50\n", 1, true)
    end, 20, "the master to have sent 50 tasks")
    -- Cut b off until its members have dropped out of Redis (their
    -- heartbeats cannot reach it), then bring the link back.
    net:cut("b")
    local ok, err = pcall(procs.wait_until, function()
      local m = members()
      return not m["worker.2"] and not m["worker.4"]
    end, 15, "host b's members to expire in Redis")
    net:restore("b")
    assert(ok, err)
    touch(dir .. "/restored")
    local status = launchers.a.wait(TIMEOUT)
    local out = launchers.a.stdout()
    local accepted, refused, answered = out:match("accepted (%d+) refused (%d+) answered (%d+)")
    assert.is_not_nil(accepted, launchers.a.report())
    assert.is_true(tonumber(accepted) > 100, out)
    assert.are.equal(accepted, answered, "accepted " .. accepted .. " refused " .. refused
                     .. " answered " .. answered .. "\n" .. launchers.a.report())
    assert.are.equal(0, status, launchers.a.report())
    assert.are.equal(0, launchers.b.wait(TIMEOUT), launchers.b.report())
  end)

  it("runs a closed group (Redis password, group key) across hosts", function()
    if not available then
      pending("network namespaces cannot be made here: " .. why_not)
      return
    end
    local launchers, password = start_job("sum", true)
    net.password = password
    local m = wait_members()
    -- Closed for real: every registration is signed and carries a CURVE key.
    for name in pairs(PLACED) do
      assert.matches("\ncurve %S+\n", m[name].text, 1)
      assert.matches("\nmac %x+\n*$", m[name].text)
    end
    assert.matches("^%x+\n*$", redis_cli("get", "maro:" .. GROUP .. ":closed"))
    touch(dir .. "/go")
    assert_ends(launchers)
    assert.matches("master%.1 | the sum of 1%.%.1000 is 500500\n", launchers.a.stdout())
    for _, h in ipairs({ "a", "b" }) do
      local all = launchers[h].stdout() .. launchers[h].stderr()
      assert.is_nil(all:find(password, 1, true), "the password shows in " .. h .. "'s output")
      assert.matches("using the job's Redis at redis://:%*%*%*@", launchers[h].stderr())
      assert.matches("group key: .*group%.key", launchers[h].stderr())
    end
  end)

  it("leaves no namespace, link or process behind", function()
    if not available then
      pending("network namespaces cannot be made here: " .. why_not)
      return
    end
    local n = netns.network({ "x", "y" })
    local p = n:spawn("x", { "sleep", "600" })
    assert.is_true(p.running())
    n:teardown()
    assert.is_false(p.running())
    assert.are.same({}, netns.leftovers())
    -- Nothing was added to this machine's own network.
    local links = io.popen("ip -br link"):read("a")
    assert.is_nil(links:match("%f[%w]vx[@ ]"), links)
  end)
end)
