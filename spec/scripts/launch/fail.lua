-- Appends a line to the file given as argument, then exits 3.
local f = assert(io.open((...), "a"))
f:write(os.getenv("MARO_COMPONENT_NAME"), "\n")
f:close()
print("failing")
os.exit(3)
