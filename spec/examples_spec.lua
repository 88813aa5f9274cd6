-- Every example runs with its one documented command and succeeds: the
-- README names these commands, so they must keep working.
local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  return (os.getenv("PWD") or io.popen("pwd"):read("l")) .. "/" .. p
end

local MAROHOST = abspath(os.getenv("MAROHOST") or "build/marohost")
local ROOT = MAROHOST:match("^(.*)/[^/]+/[^/]+$")

local function run(cmd)
  local out = os.tmpname()
  local _, _, code = os.execute(("cd %s && MAROHOST=%s timeout 120 %s >%s 2>&1 </dev/null")
    :format(ROOT, MAROHOST, cmd, out))
  local f = assert(io.open(out, "rb"))
  local text = f:read("a")
  f:close()
  os.remove(out)
  return code, text
end

describe("examples", function()
  local cases = {
    { "examples/send/run.sh", "send: master exited with status 0" },
    { "examples/scatter/run.sh", "scatter: master exited with status 0" },
    { "examples/broadcast/run.sh", "broadcast: master exited with status 0" },
    { "examples/dist/run.sh", "dist: master exited with status 0" },
    { "examples/reload/run.sh --demo", "reload: master exited with status 0" },
    { "examples/job/run.sh 3 300", "the sum of 1..300 is 45150" },
    { MAROHOST .. " examples/messages/messages.lua", "numbers[4] = 4.5 (float)" },
  }
  for _, case in ipairs(cases) do
    it("runs " .. case[1], function()
      local code, out = run(case[1])
      assert.are.equal(0, code, out)
      assert.matches(case[2], out, 1, true)
    end)
  end
end)
