-- Waits (bounded) until every file named in its arguments exists.
local deadline = os.time() + 20
for _, path in ipairs({ ... }) do
  while not io.open(path, "r") do
    assert(os.time() < deadline, "timed out waiting for " .. path)
    os.execute("sleep 0.05")
  end
end
print("all there")
