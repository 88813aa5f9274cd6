-- Dies on its first run (a marker file tells runs apart), succeeds on the next.
local name = os.getenv("MARO_COMPONENT_NAME")
local dir = os.getenv("MARKERS")
local first = dir .. "/" .. name .. ".first"
local f = io.open(first, "r")
if not f then
  f = assert(io.open(first, "w"))
  f:close()
  print(string.format("first run of %s incarnation=%s take_over_from=%s", name,
    os.getenv("MARO_INCARNATION"), os.getenv("MARO_TAKE_OVER_FROM")))
  io.stdout:flush()
  if name == "worker.1" then
    local pid = io.open("/proc/self/stat"):read("n")
    os.execute("kill -KILL " .. pid)
    while true do end -- not reached: SIGKILL is on its way
  end
  os.exit(1)
end
f:close()
print(string.format("second run of %s type=%s group=%s redis=%s incarnation=%s take_over_from=%s",
  name, os.getenv("MARO_COMPONENT_TYPE"), os.getenv("MARO_GROUP"), os.getenv("MARO_REDIS"),
  os.getenv("MARO_INCARNATION"), os.getenv("MARO_TAKE_OVER_FROM")))
f = assert(io.open(dir .. "/" .. name .. ".second", "w"))
f:close()
