-- marohost launch with the Proxy's rejoin options: a worker killed between
-- two rounds of tasks is restarted by the launcher under its name, and what
-- the master sent it while it was down reaches the new process; no task is
-- sent twice and none is lost.
local SPEC_DIR = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
local procs = dofile(SPEC_DIR .. "/support/procs.lua")
local SCRIPTS = SPEC_DIR .. "/scripts/rejoin"
local TIMEOUT = 40

describe("launch with the rejoin options", function()
  after_each(function()
    procs.cleanup()
  end)

  it("loses no task of a worker that crashes and is restarted", function()
    local dir = procs.tmpdir()
    local out, err = dir .. "/launch.out", dir .. "/launch.err"
    local _, _, code = os.execute(string.format(
      "timeout -k 5 %d %s launch %s %s >%s 2>%s </dev/null", TIMEOUT, procs.quote(procs.MAROHOST),
      procs.quote(SCRIPTS .. "/job.lua"), procs.quote(dir), procs.quote(out), procs.quote(err)))
    local o, e = procs.read_file(out) or "", procs.read_file(err) or ""
    assert.are.equal(0, code, o .. e)
    assert.matches("worker%.2 | crashing", o)
    assert.matches("worker%.2 was killed by SIGKILL; restarting it", e)
    assert.matches("worker%.2 | second run", o)
    assert.matches("peer 'worker%.2' rejoined group 'rejoin%-job' at tcp://[^ ]+ after [%d.]+ s; "
      .. "sending the 1 message kept for it", o .. e)
    assert.matches("master%.1 | round 2: worker%.2 answered 218875", o)
    assert.matches("master%.1 | the sum of 1%.%.1000 is 500500\n", o)
  end)
end)
