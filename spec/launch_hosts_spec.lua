-- marohost launch with a job file for several hosts, on this machine: the
-- placement, --host runs, the environment every instance gets (advertised
-- address, group key, Redis URL), and two launchers of one job that must not
-- take each other's names. spec/launch_netns_spec.lua runs such jobs on
-- hosts of their own.
local SPEC_DIR = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
if SPEC_DIR:sub(1, 1) ~= "/" then SPEC_DIR = (os.getenv("PWD") or ".") .. "/" .. SPEC_DIR end
local procs = dofile(SPEC_DIR .. "/support/procs.lua")
local redis_support = dofile(SPEC_DIR .. "/support/redis.lua")
local quote = procs.quote
local SCRIPTS = SPEC_DIR .. "/scripts/launch"
local TIMEOUT = 40

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

-- Runs the launcher to its end; returns status, stdout, stderr.
local function launch(args, dir, env)
  local out, err = dir .. "/launch.out", dir .. "/launch.err"
  local _, _, code = os.execute(string.format("%s timeout -k 5 %d %s launch %s >%s 2>%s </dev/null",
    env or "", TIMEOUT, quote(procs.MAROHOST), args, quote(out), quote(err)))
  return code, procs.read_file(out) or "", procs.read_file(err) or ""
end

local function lines_of(s, prefix)
  local out = {}
  for line in s:gmatch("[^\n]+") do
    if line:sub(1, #prefix) == prefix then out[#out + 1] = line end
  end
  return out
end

-- A job of hosts a and b on loopback addresses of their own. With main, its
-- master (on a) is the job's only main component; without, the job ends when
-- every instance has printed its line.
local function two_host_job(dir, redis_address, extra, main)
  write(dir .. "/job.lua", string.format([[
    return { group = "hosts-job", redis = %s, grace = 2,
      hosts = { a = { address = "127.0.0.2" }, b = { address = "127.0.0.3" } },
      components = {
        master = { script = %q, main = %s, hosts = { "a" } },
        worker = { script = %q, count = 3, hosts = { "a", "b" }, env = { EXPECT_REDIS = %q } },
        %s
      } }
  ]], redis_address and string.format("%q", redis_address) or "nil", SCRIPTS .. "/env.lua",
      tostring(main == true), SCRIPTS .. "/env.lua", redis_address or "", extra or ""))
  return dir .. "/job.lua"
end

describe("launch with hosts", function()
  local redis = redis_support.for_block(setup, teardown, procs)

  after_each(function()
    procs.cleanup()
  end)

  it("prints where every instance runs (--check)", function()
    local dir = procs.tmpdir()
    local job = two_host_job(dir, "redis://:pw-not-shown@127.0.0.1:1", nil, true)
    local code, out, err = launch("--check " .. quote(job), dir)
    assert.are.equal(0, code, err)
    assert.matches("^group hosts%-job, redis redis://:%*%*%*@127%.0%.0%.1:1, grace 2 s\n", out)
    assert.matches("\nmaster x1 %(main%): .-env%.lua; restart never; on a\n", out)
    assert.matches("\nworker x3: .-env%.lua; restart never; on a, b\n", out)
    assert.matches("\nhost a %(127%.0%.0%.2%): master%.1, worker%.1, worker%.3\n", out)
    assert.matches("\nhost b %(127%.0%.0%.3%): worker%.2\n", out)
    assert.matches("\nthis run starts master%.1, worker%.1, worker%.2, worker%.3; it ends when "
                   .. "master%.1 has ended\n", out)
    assert.is_nil(out:find("pw-not-shown", 1, true))
    code, out = launch("--check --host b " .. quote(job), dir)
    assert.are.equal(0, code)
    assert.matches("\nthis run %(%-%-host b%) starts worker%.2; it ends when worker%.2 has ended\n",
                   out)
    assert.matches("\ngroup key: none %(the group is open%)\n", out)
  end)

  it("says which component names no hosts, and which hosts do not exist", function()
    local dir = procs.tmpdir()
    local job = two_host_job(dir, nil, string.format("lone = { script = %q },",
                                                      SCRIPTS .. "/env.lua"))
    local code, out, err = launch("--check " .. quote(job), dir)
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("components%.lone%.hosts: missing: the job names hosts %(a, b%), so every "
                   .. "component must name the hosts it runs on\n", err)
    job = two_host_job(dir, nil)
    code, _, err = launch("--host c " .. quote(job), dir)
    assert.are.equal(2, code)
    assert.matches("%-%-host c: the job has no host 'c' %(its hosts: a, b%)", err)
    code, _, err = launch("--host a " .. quote(job), dir)
    assert.are.equal(2, code)
    assert.matches("%-%-host a: a job run on several hosts needs a Redis that every host reaches",
                   err)
    code, _, err = launch("--host a " .. quote(SCRIPTS .. "/complete.lua"), dir)
    assert.are.equal(2, code)
    assert.matches("%-%-host a: the job names no hosts", err)
  end)

  it("runs only the instances placed on --host, advertising its address", function()
    local dir = procs.tmpdir()
    local job = two_host_job(dir, redis.address)
    local code, out, err = launch("--host a " .. quote(job), dir)
    assert.are.equal(0, code, err)
    assert.are.same({}, lines_of(out, "worker.2 "))
    for _, name in ipairs({ "master.1", "worker.1", "worker.3" }) do
      local lines = lines_of(out, name .. " | ")
      assert.are.equal(1, #lines, out)
      assert.matches("^" .. name:gsub("%.", "%%.") .. " | " .. name:gsub("%.", "%%.")
                     .. " advertised=127%.0%.0%.2 key=nil ", lines[1])
      assert.matches("started " .. name:gsub("%.", "%%.") .. " %(pid %d+%): .- on host a", err)
    end
    assert.matches("redis_as_expected=true redis_in_cmdline=false", out)
    assert.matches("its group is open to anyone who reaches its Redis", err)
    -- With a main component on a, b has no main instance: the run ends when
    -- what it started has ended.
    job = two_host_job(dir, redis.address, nil, true)
    code, out, err = launch("--host b " .. quote(job), dir)
    assert.are.equal(0, code, err)
    local lines = lines_of(out, "worker.2 | ")
    assert.are.equal(1, #lines, out)
    assert.matches("^worker%.2 | worker%.2 advertised=127%.0%.0%.3 ", lines[1])
    assert.are.same({}, lines_of(out, "master.1 "))
    assert.matches("every main instance has finished", err)
  end)

  it("gives a run of the whole job a new group key of its own, removed at the end", function()
    local dir = procs.tmpdir()
    local code, out, err = launch(quote(two_host_job(dir, redis.address)), dir)
    assert.are.equal(0, code, err)
    local keys = {}
    for name, advertised, key, mode, dir_mode in out:gmatch(
        "| ([%w.]+) advertised=(%S+) key=(%S+) key_mode=(%S+) key_dir_mode=(%S+)") do
      keys[#keys + 1] = { name = name, advertised = advertised, key = key, mode = mode,
                          dir_mode = dir_mode }
    end
    assert.are.equal(4, #keys, out)
    for _, k in ipairs(keys) do
      -- Without --host nothing is advertised for the launcher: all run here.
      assert.are.equal("nil", k.advertised)
      assert.are.equal(keys[1].key, k.key)
      assert.are.equal("600", k.mode)
      assert.are.equal("700", k.dir_mode)
    end
    assert.matches("a new group key for this run: " .. keys[1].key:gsub("%p", "%%%0"), err)
    assert.is_false(exists(keys[1].key))
    assert.is_false(exists(keys[1].key:match("^(.*)/")))
  end)

  it("passes the Redis URL and the group key only through the environment", function()
    local dir = procs.tmpdir()
    local key = dir .. "/group.key"
    assert.is_true(os.execute(quote(procs.MAROHOST) .. " keygen " .. quote(key)))
    -- A Redis of its own, with a password.
    local server = redis_support.start()
    finally(function() server:stop() end)
    server:cli("config", "set", "requirepass", "s3cret-Pw")
    local url = "redis://:s3cret-Pw@127.0.0.1:" .. server.port .. "/0"
    local job = two_host_job(dir, url)
    local code, out, err = launch("--group-key " .. quote(key) .. " " .. quote(job), dir)
    assert.are.equal(0, code, err)
    -- The launcher authenticated: it says the Redis answers.
    assert.matches("using the job's Redis at redis://:%*%*%*@127%.0%.0%.1:" .. server.port
                   .. "/0\n", err)
    assert.is_nil((out .. err):find("s3cret-Pw", 1, true))
    local lines = lines_of(out, "worker.1 | ")
    assert.matches(" key=" .. key:gsub("%p", "%%%0") .. " key_mode=600 ", lines[1])
    assert.matches("redis_as_expected=true redis_in_cmdline=false", lines[1])
    -- --redis wins over the job file's, and is masked as well.
    code, out, err = launch("--check --redis redis://u:other-Pw@10.0.0.9 " .. quote(job), dir)
    assert.are.equal(0, code, err)
    assert.matches("redis redis://u:%*%*%*@10%.0%.0%.9:6379,", out)
    assert.is_nil(out:find("other-Pw", 1, true))
  end)

  it("two launchers of one job: a name held by the other's live member is not taken", function()
    local dir = procs.tmpdir()
    -- One key for both launchers: without, each would make its own.
    assert.is_true(os.execute(quote(procs.MAROHOST) .. " keygen " .. quote(dir .. "/group.key")))
    write(dir .. "/job.lua", string.format([[
      return { group = "two-launchers", redis = %q, grace = 2, group_key = "group.key",
        hosts = { a = { address = "127.0.0.2" }, b = { address = "127.0.0.3" } },
        components = {
          worker = { script = %q, count = 2, hosts = { "a", "b" },
                     restart = { policy = "on-failure", max_restarts = 1, backoff = 0.1 } } } }
    ]], redis.address, SCRIPTS .. "/member.lua"))
    -- The first launcher runs host a's part: worker.1.
    local first = procs.spawn("launch", { "--host", "a", dir .. "/job.lua" })
    local out = first:wait_output("worker%.1 | worker%.1 joined at (tcp://[%d.:]+)", 20)
    local address = out:match("worker%.1 | worker%.1 joined at (tcp://[%d.:]+)")
    assert.matches("^tcp://127%.0%.0%.2:", address)
    -- The second runs the whole job here: worker.1 again, and worker.2.
    local second = procs.spawn("launch", { dir .. "/job.lua" })
    local status = second:wait(TIMEOUT)
    local err = second:stderr()
    assert.are.equal(1, status, second:report())
    assert.matches("worker%.1 could not join group 'two%-launchers': its name is held by a live "
                   .. "member that this launcher did not start", err)
    assert.matches("worker%.1 exited with status 1 and has used all its 1 restarts", err)
    -- Its restart offered to take over its own earlier run, nothing else.
    assert.matches("restarted worker%.1 %(pid %d+%), restart 1 of 1", err)
    -- The first launcher's worker.1 kept its name and its registration.
    assert.is_true(first:running())
    assert.is_nil(first:stderr():find("restart", 1, true), first:stderr())
    local registration = redis:cli("get", "maro:two-launchers:member:worker.1")
    assert.is_truthy(registration:find(address, 1, true), registration)
    first:kill("TERM")
    assert.are.equal(143, first:wait(20))
  end)
end)
