-- Announces itself, then blocks without using the CPU until a signal ends it.
local dir = os.getenv("BLOCK_DIR")
local name = os.getenv("MARO_COMPONENT_NAME")
local pid = io.open("/proc/self/stat"):read("n")
local tmp = dir .. "/" .. name .. ".tmp"
local f = assert(io.open(tmp, "w"))
f:write(pid, "\n")
f:close()
assert(os.rename(tmp, dir .. "/" .. name .. ".ready"))
print(name .. " is blocking")
io.stdout:flush()
io.open(dir .. "/fifo", "r") -- opening a FIFO for reading waits for a writer
